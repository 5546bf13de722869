// custodia-cli: the command-line face of Custodia. Every verb shares one
// exit-status table (exit_codes.h) and one error format on stderr.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>

#include "age_commands.h"
#include "exit_codes.h"
#include "vault_cli.h"

namespace {

using custodia::cli::CommandOutcome;
using custodia::cli::ExitCode;

constexpr const char* kProgram = "custodia-cli";

// Keys and plaintext pass through this process's memory; a core file would
// put them on disk in the clear, and a dumpable process can be read by any
// other process of the same user through ptrace or /proc/<pid>/mem.
void forbid_core_dumps() {
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int report(const CommandOutcome& outcome) {
    if (!outcome) {
        return static_cast<int>(ExitCode::success);
    }
    std::cerr << kProgram << ": " << outcome->message << '\n';
    return static_cast<int>(outcome->code);
}

}  // namespace

int main(int argc, char** argv) {
    forbid_core_dumps();

    CLI::App app{"Custodia: evidence that holds up in court.", kProgram};
    app.footer(custodia::cli::exit_code_help());
    app.require_subcommand(1);
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return std::string(kProgram) + ": " + e.what() +
               "\nRun with --help for more information.\n";
    });

    // Repeatable options take one value per occurrence (allow_extra_args
    // false): CLI11 would otherwise let `-r age1… input.txt` swallow the
    // input file as a second recipient.
    custodia::cli::KeygenOptions keygen;
    auto* keygen_cmd = app.add_subcommand(
        "keygen", "Generate an age X25519 identity, as age-keygen does, and print its recipient.");
    keygen_cmd
        ->add_option("-o,--output", keygen.output,
                     "Write the identity file to FILE (mode 0600, never overwritten); "
                     "without it, the identity file goes to standard output")
        ->option_text("FILE");

    custodia::cli::RecipientOptions recipient;
    auto* recipient_cmd = app.add_subcommand(
        "recipient", "Print the age1… recipient of each identity in identity files.");
    recipient_cmd
        ->add_option("-i,--identity", recipient.identity_files, "Identity file (- for stdin)")
        ->option_text("FILE")
        ->allow_extra_args(false)
        ->required();

    custodia::cli::EncryptOptions encrypt;
    auto* encrypt_cmd =
        app.add_subcommand("encrypt", "Encrypt to age recipients (an age v1 file, as `age -e`).");
    encrypt_cmd->add_option("-r,--recipient", encrypt.recipients, "Recipient age1… (repeatable)")
        ->option_text("RECIPIENT")
        ->allow_extra_args(false)
        ->required();
    encrypt_cmd
        ->add_option("-o,--output", encrypt.output,
                     "Output file, written only when complete (default: stdout)")
        ->option_text("FILE");
    encrypt_cmd->add_option("input", encrypt.input, "Input file (default: stdin)")
        ->option_text("IN");

    custodia::cli::DecryptOptions decrypt;
    auto* decrypt_cmd =
        app.add_subcommand("decrypt", "Decrypt an age v1 file (as `age -d`) with identity files.");
    decrypt_cmd
        ->add_option("-i,--identity", decrypt.identity_files,
                     "Identity file (- for stdin, repeatable)")
        ->option_text("FILE")
        ->allow_extra_args(false)
        ->required();
    decrypt_cmd
        ->add_option("-o,--output", decrypt.output,
                     "Output file, written only when the whole input verified "
                     "(default: stdout, released chunk by chunk as each verifies)")
        ->option_text("FILE");
    decrypt_cmd->add_option("input", decrypt.input, "Input file (default: stdin)")
        ->option_text("IN");

    const custodia::cli::VaultVerbs vault_verbs(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints help, or the error via failure_message
        // --help is a successful parse as far as the user is concerned; every
        // other parse error is a usage error, whatever CLI11 would return.
        return code == static_cast<int>(CLI::ExitCodes::Success)
                   ? code
                   : static_cast<int>(ExitCode::usage);
    }

    try {
        if (keygen_cmd->parsed()) {
            return report(custodia::cli::run_keygen(keygen));
        }
        if (recipient_cmd->parsed()) {
            return report(custodia::cli::run_recipient(recipient));
        }
        if (encrypt_cmd->parsed()) {
            return report(custodia::cli::run_encrypt(encrypt));
        }
        if (decrypt_cmd->parsed()) {
            return report(custodia::cli::run_decrypt(decrypt));
        }
        if (auto outcome = vault_verbs.run()) {
            return report(*outcome);
        }
    } catch (const std::bad_alloc&) {
        std::cerr << kProgram << ": out of memory\n";
        return static_cast<int>(ExitCode::failure);
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": " << e.what() << '\n';
        return static_cast<int>(ExitCode::failure);
    }
    return static_cast<int>(ExitCode::usage);
}
