#include "age_commands.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

#include "cli_files.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::cli {
namespace {

namespace age = crypto::age;

// Identity files hold a handful of 74-character lines; anything this large
// is not one, and reading it into locked memory would only waste it.
constexpr std::size_t kMaxIdentityFileSize = 1 << 20;
// Large enough that a read or write syscall is not the bottleneck, a few
// STREAM chunks at a time.
constexpr std::size_t kCopyBufferSize = 256 * 1024;

bool is_stdio(const std::string& path) {
    return path.empty() || path == "-";
}

std::string now_rfc3339_utc() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return std::string(text, n);
}

void print_line(std::ostream& out, const std::string& line) {
    out << line << '\n' << std::flush;
}

// Reads every identity of every file named. A file that is not an identity
// file is an argument error, not a verification failure of the input.
std::optional<Failure> load_identities(const std::vector<std::string>& files,
                                       std::vector<age::Identity>& identities) {
    for (const auto& file : files) {
        const std::string name = file == "-" ? "standard input" : file;
        auto text = read_secret_file(file, kMaxIdentityFileSize);
        if (!text) {
            return failure_from(text.error(), "identity file");
        }
        auto parsed = age::parse_identity_file(text->view());
        if (!parsed) {
            return usage_failure(name + ": " + parsed.error().message);
        }
        if (parsed->empty()) {
            return usage_failure("identity file " + name + " holds no identity");
        }
        for (auto& identity : *parsed) {
            identities.push_back(std::move(identity));
        }
    }
    return std::nullopt;
}

std::optional<Failure> check_single_stdin(const std::vector<std::string>& identity_files,
                                          const std::string& input) {
    const auto from_stdin =
        std::count(identity_files.begin(), identity_files.end(), std::string("-")) +
        (input == "-" ? 1 : 0);
    if (from_stdin > 1) {
        return usage_failure("standard input can be read only once: name the input file");
    }
    return std::nullopt;
}

// Pumps `in` into `out` through one reusable buffer: memory use does not
// depend on the size of the input.
Status pump(crypto::ByteSource& in, crypto::ByteSink& out) {
    std::vector<std::uint8_t> buffer(kCopyBufferSize);
    for (;;) {
        auto n = in.read(buffer);
        if (!n) {
            return std::move(n).error();
        }
        if (*n == 0) {
            return {};
        }
        auto written = out.write(std::span<const std::uint8_t>(buffer).first(*n));
        if (!written) {
            return written;
        }
    }
}

// Where a verb's output goes: stdout, or a temporary that becomes `path`.
class Output {
  public:
    static Result<Output> open(const std::string& path, unsigned mode, bool honour_umask) {
        if (is_stdio(path)) {
            return Output(std::nullopt, "standard output");
        }
        auto file = AtomicOutputFile::create(path, mode, honour_umask);
        if (!file) {
            return std::move(file).error();
        }
        return Output(std::move(file).value(), path);
    }
    int fd() const { return file_ ? file_->fd() : STDOUT_FILENO; }
    const std::string& name() const { return name_; }
    Status commit() { return file_ ? file_->commit() : Status{}; }

  private:
    Output(std::optional<AtomicOutputFile> file, std::string name)
        : file_(std::move(file)), name_(std::move(name)) {}
    std::optional<AtomicOutputFile> file_;
    std::string name_;
};

}  // namespace

CommandOutcome run_keygen(const KeygenOptions& options) {
    const auto identity = age::Identity::generate(crypto::system_random());
    const std::string recipient = identity.recipient().to_string();
    const crypto::SecretBytes file = age::format_identity_file(identity, now_rfc3339_utc());
    if (is_stdio(options.output)) {
        if (auto s = write_all(STDOUT_FILENO, file.span(), "standard output"); !s) {
            return failure_from(s.error(), "keygen");
        }
        // As age-keygen: the public key goes to the terminal even when the
        // identity itself is redirected to a file.
        if (::isatty(STDOUT_FILENO) == 0) {
            print_line(std::cerr, "Public key: " + recipient);
        }
        return std::nullopt;
    }
    if (auto s = write_new_file(options.output, file.span(), 0600); !s) {
        return failure_from(s.error(), "keygen");
    }
    print_line(std::cerr, "Public key: " + recipient);
    print_line(std::cout, recipient);
    return std::nullopt;
}

CommandOutcome run_recipient(const RecipientOptions& options) {
    std::vector<age::Identity> identities;
    if (auto failure = load_identities(options.identity_files, identities)) {
        return failure;
    }
    for (const auto& identity : identities) {
        print_line(std::cout, identity.recipient().to_string());
    }
    if (!std::cout) {
        return failure_from(make_error(Errc::io, "cannot write standard output"), "recipient");
    }
    return std::nullopt;
}

CommandOutcome run_encrypt(const EncryptOptions& options) {
    std::vector<age::Recipient> recipients;
    for (const auto& text : options.recipients) {
        auto recipient = age::Recipient::parse(text);
        if (!recipient) {
            return usage_failure("invalid recipient \"" + text +
                                 "\": " + recipient.error().message);
        }
        recipients.push_back(*recipient);
    }
    if (is_stdio(options.output) && ::isatty(STDOUT_FILENO) != 0) {
        return usage_failure("refusing to write binary age output to a terminal: use -o FILE");
    }
    auto input = InputFile::open(options.input);
    if (!input) {
        return failure_from(input.error(), "encrypt");
    }
    // Ciphertext is meant to travel: it gets the usual mode for new files.
    auto output = Output::open(options.output, 0666, true);
    if (!output) {
        return failure_from(output.error(), "encrypt");
    }
    crypto::FdSink sink(output->fd());
    auto encryptor = age::Encryptor::create(sink, recipients, crypto::system_random());
    if (!encryptor) {
        return failure_from(encryptor.error(), "encrypt");
    }
    crypto::FdSource source(input->fd());
    if (auto s = pump(source, **encryptor); !s) {
        return failure_from(s.error(), "encrypt " + input->name() + " to " + output->name());
    }
    if (auto s = (*encryptor)->finish(); !s) {
        return failure_from(s.error(), "encrypt " + input->name() + " to " + output->name());
    }
    if (auto s = output->commit(); !s) {
        return failure_from(s.error(), "encrypt");
    }
    return std::nullopt;
}

CommandOutcome run_decrypt(const DecryptOptions& options) {
    if (auto failure = check_single_stdin(options.identity_files, options.input)) {
        return failure;
    }
    std::vector<age::Identity> identities;
    if (auto failure = load_identities(options.identity_files, identities)) {
        return failure;
    }
    auto input = InputFile::open(options.input);
    if (!input) {
        return failure_from(input.error(), "decrypt");
    }
    crypto::FdSource source(input->fd());
    auto decryptor = age::Decryptor::open(source, identities);
    if (!decryptor) {
        return failure_from(decryptor.error(), "decrypt " + input->name());
    }
    // Plaintext evidence stays private to its owner until they decide otherwise.
    auto output = Output::open(options.output, 0600, false);
    if (!output) {
        return failure_from(output.error(), "decrypt");
    }
    crypto::FdSink sink(output->fd());
    if (auto s = pump(**decryptor, sink); !s) {
        return failure_from(s.error(), "decrypt " + input->name());
    }
    if (auto s = output->commit(); !s) {
        return failure_from(s.error(), "decrypt");
    }
    return std::nullopt;
}

}  // namespace custodia::cli
