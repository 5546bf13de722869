#include "vault_commands.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>
#include <variant>

#include "cli_files.h"
#include "custodia/core/bundle_custody.h"
#include "custodia/core/bundle_reader.h"
#include "custodia/core/bundle_report_html.h"
#include "custodia/core/bundle_summary.h"
#include "custodia/core/vault.h"
#include "custodia/core/vault_header.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/stream_io.h"
#include "media_types.h"
#include "passphrase_input.h"
#include "progress_bar.h"
#include "sync_commands.h"
#include "vault_output.h"

namespace custodia::cli {
namespace {

namespace fs = std::filesystem;
using core::Vault;

// A testimony typed or dictated is text; more than this is not one.
constexpr std::size_t kMaxTestimonySize = 16u << 20;
constexpr std::size_t kIdLength = 32;

// ---- Output -------------------------------------------------------------------------------

// Straight to the descriptor, unbuffered: an id is on stdout (acknowledged)
// the moment the write returns, even if the process is killed right after.
Status print(std::string_view text) {
    return write_all(STDOUT_FILENO,
                     {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                     "standard output");
}

void note(std::string_view text) {
    (void)write_all(STDERR_FILENO,
                    {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                    "standard error");
}

bool stderr_is_terminal() {
    return ::isatty(STDERR_FILENO) != 0;
}

CommandOutcome printed(Status status, std::string_view verb) {
    if (!status) {
        return failure_from(status.error(), verb);
    }
    return std::nullopt;
}

// ---- Input checks ---------------------------------------------------------------------------

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t code = 0;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            length = 2;
            code = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            length = 3;
            code = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            length = 4;
            code = c & 0x07u;
        } else {
            return false;
        }
        if (i + length > text.size()) {
            return false;
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) {
                return false;
            }
            code = (code << 6) | (next & 0x3Fu);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return false;
        }
        i += length;
    }
    return true;
}

// A file name from disk may be any bytes; the vault keeps names as UTF-8.
// Invalid bytes become U+FFFD, and the user is told.
std::string utf8_file_name(const std::string& name) {
    if (is_valid_utf8(name)) {
        return name;
    }
    std::string out;
    for (std::size_t i = 0; i < name.size();) {
        bool taken = false;
        for (std::size_t length = 4; length >= 1 && !taken; --length) {
            if (i + length <= name.size() &&
                is_valid_utf8(std::string_view(name).substr(i, length))) {
                out.append(name, i, length);
                i += length;
                taken = true;
            }
        }
        if (!taken) {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

bool is_id(std::string_view text) {
    if (text.size() != kIdLength) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::optional<Failure> check_id(std::string_view text, std::string_view what) {
    if (!is_id(text)) {
        return usage_failure("\"" + std::string(text) + "\" is not " + std::string(what) +
                             " id (32 lower-case hex characters)");
    }
    return std::nullopt;
}

std::optional<Failure> check_text(const std::string& text, std::string_view what) {
    if (!is_valid_utf8(text)) {
        return usage_failure(std::string(what) + " is not valid UTF-8");
    }
    return std::nullopt;
}

// ---- The vault's place and opening it -------------------------------------------------------

Result<fs::path> vault_directory(const VaultGlobals& globals) {
    if (!globals.vault_dir.empty()) {
        return fs::path(globals.vault_dir);
    }
    // XDG Base Directory: a relative XDG_DATA_HOME is invalid and ignored.
    if (const char* data = std::getenv("XDG_DATA_HOME"); data != nullptr && data[0] == '/') {
        return fs::path(data) / "custodia";
    }
    const char* home = std::getenv("HOME");
    if (home == nullptr || home[0] == '\0') {
        const passwd* entry = ::getpwuid(::getuid());
        home = entry != nullptr ? entry->pw_dir : nullptr;
    }
    if (home == nullptr || home[0] == '\0') {
        return make_error(Errc::io, "cannot find the home directory: use --vault DIR");
    }
    return fs::path(home) / ".local" / "share" / "custodia";
}

// Reading a passphrase fails for two kinds of reason: the command line or
// environment is wrong (no source, empty, mismatch: a usage error) or the
// system failed (the table's mapping).
Failure passphrase_failure(const Error& error) {
    if (error.code == Errc::malformed) {
        return usage_failure(error.message);
    }
    return failure_from(error, "passphrase");
}

struct OpenVault {
    std::unique_ptr<Vault> vault;
    fs::path dir;
    crypto::SecretBytes passphrase;  // empty after a recovery-key unlock
};

Failure open_failure(const Error& error, const fs::path& dir) {
    if (error.code == Errc::wrong_passphrase) {
        return Failure{ExitCode::wrong_key,
                       "the passphrase does not open the vault at " + dir.string()};
    }
    return failure_from(error, "cannot open the vault at " + dir.string());
}

std::optional<Failure> no_vault_failure(const fs::path& dir) {
    return Failure{ExitCode::failure, "there is no vault at " + dir.string() +
                                          "; create one with `custodia-cli init`"};
}

std::variant<OpenVault, Failure> open_vault(const VaultGlobals& globals) {
    auto dir = vault_directory(globals);
    if (!dir) {
        return failure_from(dir.error(), "vault");
    }
    if (!Vault::exists(*dir)) {
        return *no_vault_failure(*dir);
    }
    if (!globals.recovery_key_file.empty()) {
        if (!globals.passphrase_file.empty()) {
            return usage_failure("give either --passphrase-file or --recovery-key-file, not both");
        }
        auto key = read_secret_line_file(globals.recovery_key_file);
        if (!key) {
            return failure_from(key.error(), "recovery key");
        }
        // A typo is caught by the key's own checksum before any slot is tried.
        if (auto parsed = core::RecoveryKey::parse(key->view()); !parsed) {
            return usage_failure(globals.recovery_key_file +
                                 " does not hold a recovery key: " + parsed.error().message);
        }
        auto vault = Vault::open_with_recovery_key(*dir, *key, crypto::system_random(),
                                                   core::system_clock());
        if (!vault) {
            if (vault.error().code == Errc::wrong_passphrase) {
                return Failure{ExitCode::wrong_key,
                               "the recovery key does not open the vault at " + dir->string()};
            }
            return open_failure(vault.error(), *dir);
        }
        return OpenVault{std::move(vault).value(), *dir, {}};
    }
    // After repeated failures the vault makes the next attempt wait; say so
    // before asking, not after the passphrase was typed.
    if (auto wait = core::unlock_wait_remaining(*dir, std::chrono::system_clock::now());
        wait && wait->count() > 0) {
        return Failure{ExitCode::failure, "too many failed unlock attempts; try again in " +
                                              std::to_string(wait->count()) + " s"};
    }
    auto passphrase =
        read_passphrase(globals.passphrase_file, "Passphrase for " + dir->string() + ": ");
    if (!passphrase) {
        return passphrase_failure(passphrase.error());
    }
    auto vault = Vault::open(*dir, *passphrase, crypto::system_random(), core::system_clock());
    if (!vault) {
        return open_failure(vault.error(), *dir);
    }
    return OpenVault{std::move(vault).value(), *dir, std::move(passphrase).value()};
}

// The core reports an unknown id as Errc::malformed with this text; the CLI
// calls that a usage error (the command line names something absent), not
// a verification failure.
bool is_unknown_item(const Error& error) {
    return error.code == Errc::malformed && error.message.rfind("no item with this id", 0) == 0;
}

Result<bool> case_exists(Vault& vault, const std::string& id) {
    auto cases = vault.list_cases();
    if (!cases) {
        return std::move(cases).error();
    }
    for (const auto& c : *cases) {
        if (c.id == id) {
            return true;
        }
    }
    return false;
}

std::optional<Failure> check_case(Vault& vault, const std::string& id) {
    auto known = case_exists(vault, id);
    if (!known) {
        return failure_from(known.error(), "cannot read the cases");
    }
    if (!*known) {
        return usage_failure("there is no case " + id +
                             " in this vault (`custodia-cli case list` shows them)");
    }
    return std::nullopt;
}

std::optional<Failure> check_item_exists(Vault& vault, const std::string& id,
                                         std::string_view what) {
    auto item = vault.get_item(id);
    if (!item) {
        if (is_unknown_item(item.error())) {
            return usage_failure("there is no item " + id + " in this vault (" + std::string(what) +
                                 ")");
        }
        return failure_from(item.error(), "cannot read item " + id);
    }
    return std::nullopt;
}

// ---- Item metadata ----------------------------------------------------------------------------

// Everything about the metadata that can be checked without the vault.
std::variant<core::ItemFields, Failure> fields_from(const ItemMetadataOptions& m) {
    core::ItemFields f;
    if (!m.kind.empty()) {
        auto kind = core::parse_item_kind(m.kind);
        if (!kind) {
            return usage_failure("unknown kind \"" + m.kind +
                                 "\" (testimony, audio, video, photo, document, note)");
        }
        f.kind = *kind;
    }
    for (const auto& [text, what] :
         {std::pair<const std::string&, std::string_view>{m.title, "--title"},
          {m.description, "--description"},
          {m.witness, "--witness"},
          {m.language, "--language"}}) {
        if (auto failure = check_text(text, what)) {
            return *failure;
        }
    }
    f.title = m.title;
    f.description = m.description;
    f.witness = m.witness;
    f.language = m.language;
    for (const auto& [list, what] :
         {std::pair<const std::vector<std::string>&, std::string_view>{m.tags, "--tag"},
          {m.consent_scope, "--consent-scope"}}) {
        for (const auto& entry : list) {
            if (entry.empty()) {
                return usage_failure(std::string(what) + " needs a non-empty value");
            }
            for (char c : entry) {
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                    return usage_failure(std::string(what) +
                                         " values cannot hold control characters");
                }
            }
            if (auto failure = check_text(entry, what)) {
                return *failure;
            }
        }
    }
    f.tags = m.tags;
    if (!m.consent.empty()) {
        std::string spelled = m.consent;
        for (char& c : spelled) {
            if (c == '-') {
                c = '_';
            }
        }
        auto type = core::parse_consent_type(spelled);
        if (!type) {
            return usage_failure("unknown consent \"" + m.consent +
                                 "\" (written, oral-recorded, none)");
        }
        f.consent.type = *type;
    }
    f.consent.scope = m.consent_scope;
    if (!m.consent_recorded_in.empty()) {
        if (auto failure = check_id(m.consent_recorded_in, "an item")) {
            return *failure;
        }
        f.consent.recorded_in = m.consent_recorded_in;
    }
    if (!m.derived_from.empty()) {
        if (auto failure = check_id(m.derived_from, "an item")) {
            return *failure;
        }
        f.derived_from = m.derived_from;
    }
    if (m.lat.has_value() != m.lon.has_value()) {
        return usage_failure("a location needs both --lat and --lon");
    }
    if (m.accuracy && !m.lat) {
        return usage_failure("--accuracy needs --lat and --lon");
    }
    if (m.lat) {
        if (!std::isfinite(*m.lat) || *m.lat < -90 || *m.lat > 90) {
            return usage_failure("--lat must be between -90 and 90");
        }
        if (!std::isfinite(*m.lon) || *m.lon < -180 || *m.lon > 180) {
            return usage_failure("--lon must be between -180 and 180");
        }
        if (m.accuracy && (!std::isfinite(*m.accuracy) || *m.accuracy < 0)) {
            return usage_failure("--accuracy must be a distance in metres, 0 or more");
        }
        // Typed on the command line, not measured by a receiver: the record says so.
        f.location = core::Location{*m.lat, *m.lon, m.accuracy, "typed"};
    }
    return f;
}

// References to other items must exist before anything is written.
std::optional<Failure> check_references(Vault& vault, const core::ItemFields& fields) {
    if (fields.derived_from) {
        if (auto failure = check_item_exists(vault, *fields.derived_from, "--derived-from")) {
            return failure;
        }
    }
    if (fields.consent.recorded_in) {
        if (auto failure =
                check_item_exists(vault, *fields.consent.recorded_in, "--consent-recorded-in")) {
            return failure;
        }
    }
    return std::nullopt;
}

// ---- Cancellation of a long add ----------------------------------------------------------------

std::atomic<bool> g_cancel_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler sets it");

extern "C" void request_cancel(int) {
    g_cancel_requested.store(true);
}

// The first Ctrl-C asks the running import to stop cleanly (the vault rolls
// it back); a second one ends the process at once (which is safe too: an
// import cut short leaves nothing but a temporary that the next open removes).
class CancelOnInterrupt {
  public:
    CancelOnInterrupt() {
        struct sigaction action {};
        action.sa_handler = request_cancel;
        action.sa_flags = SA_RESETHAND;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGINT, &action, &previous_);
    }
    ~CancelOnInterrupt() { ::sigaction(SIGINT, &previous_, nullptr); }
    CancelOnInterrupt(const CancelOnInterrupt&) = delete;
    CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

  private:
    struct sigaction previous_ {};
};

// An input file, held open while it is imported. Every input is opened once
// before the vault is, so that a typo in the third name stops the command
// before the first file is added; each is then opened again for its import,
// so that `add *.jpg` over a phone's thousands of photos does not run out of
// descriptors.
class InputToImport {
  public:
    static std::variant<InputToImport, Failure> open(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return failure_from(make_error(Errc::io, std::strerror(errno)), "cannot open " + path);
        }
        InputToImport input(fd);
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            return failure_from(make_error(Errc::io, std::strerror(errno)), "cannot read " + path);
        }
        if (S_ISDIR(st.st_mode)) {
            return usage_failure(path + " is a directory; name the files in it");
        }
        input.size_ = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
        return input;
    }
    InputToImport(InputToImport&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}
    InputToImport& operator=(InputToImport&&) = delete;
    InputToImport(const InputToImport&) = delete;
    InputToImport& operator=(const InputToImport&) = delete;
    ~InputToImport() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }

    int fd() const { return fd_; }
    std::uint64_t size() const { return size_; }

  private:
    explicit InputToImport(int fd) : fd_(fd) {}
    int fd_;
    std::uint64_t size_ = 0;
};

std::string base_name(const std::string& path) {
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') {
        trimmed.pop_back();
    }
    const auto slash = trimmed.find_last_of('/');
    return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

}  // namespace

std::variant<std::unique_ptr<core::Vault>, Failure> open_vault_for_verb(
    const VaultGlobals& globals) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    return std::move(std::get<OpenVault>(opened).vault);
}

namespace {

Failure import_failure(const Error& error, const std::string& what) {
    if (error.code == Errc::cancelled) {
        return Failure{ExitCode::failure, what + ": cancelled before it was added"};
    }
    return failure_from(error, what);
}

}  // namespace

// ---- Verbs -------------------------------------------------------------------------------------

CommandOutcome run_status(const VaultGlobals& globals, const StatusOptions& options) {
    auto dir = vault_directory(globals);
    if (!dir) {
        return failure_from(dir.error(), "status");
    }
    const bool exists = Vault::exists(*dir);
    if (options.json) {
        return printed(print(dump_json({{"vault", dir->string()}, {"exists", exists}})), "status");
    }
    std::string text = "Vault: " + dir->string() + "\n";
    text += exists ? "A vault exists here. It is locked: each command asks for its passphrase.\n"
                   : "There is no vault here yet. Create one with: custodia-cli init\n";
    return printed(print(text), "status");
}

CommandOutcome run_init(const VaultGlobals& globals, const InitOptions& options) {
    auto dir = vault_directory(globals);
    if (!dir) {
        return failure_from(dir.error(), "init");
    }
    if (Vault::exists(*dir)) {
        if (options.if_missing) {
            return printed(
                print("A vault already exists at " + dir->string() + "; nothing was changed.\n"),
                "init");
        }
        return Failure{ExitCode::failure,
                       "a vault already exists at " + dir->string() + "; refusing to replace it"};
    }
    if (auto failure = check_text(options.investigator, "--investigator")) {
        return failure;
    }
    if (!globals.recovery_key_file.empty()) {
        return usage_failure("init creates a new recovery key; --recovery-key-file is for opening");
    }

    core::VaultOptions vault_options;
    vault_options.investigator = options.investigator;
    const char* insecure = std::getenv(kInsecureTestKdfEnv);
    const bool insecure_kdf = insecure != nullptr && std::string_view(insecure) == "1";
    if (insecure_kdf) {
        // libsodium's floor: one pass over 8 KiB. Guessing the passphrase then
        // costs an attacker next to nothing.
        vault_options.kdf.calibrate = false;
        vault_options.kdf.opslimit = 1;
        vault_options.kdf.memlimit = 8192;
        note(
            "custodia-cli: WARNING: CUSTODIA_INSECURE_TEST_KDF=1 is set. This vault's passphrase\n"
            "custodia-cli: WARNING: is protected by the CHEAPEST possible key derivation, made "
            "for\n"
            "custodia-cli: WARNING: automated tests only. Never keep real evidence in this "
            "vault.\n");
    }

    if (terminal_available() && globals.passphrase_file.empty() &&
        std::getenv(kPassphraseEnv) == nullptr) {
        note("Creating a vault at " + dir->string() +
             ".\nChoose a passphrase: several words you can remember, at least " +
             std::to_string(kMinNewPassphraseSize) + " characters.\n");
    }
    auto passphrase = read_new_passphrase(globals.passphrase_file, kPassphraseEnv, "Passphrase: ");
    if (!passphrase) {
        return passphrase_failure(passphrase.error());
    }
    if (dir->has_parent_path()) {
        std::error_code ec;
        fs::create_directories(dir->parent_path(), ec);
        if (ec) {
            return Failure{ExitCode::failure,
                           "cannot create " + dir->parent_path().string() + ": " + ec.message()};
        }
    }
    if (!insecure_kdf && stderr_is_terminal()) {
        note("Calibrating the key derivation (a few seconds)…\n");
    }
    auto created = Vault::create(*dir, *passphrase, vault_options, crypto::system_random(),
                                 core::system_clock());
    if (!created) {
        return failure_from(created.error(), "cannot create the vault at " + dir->string());
    }
    const auto device_key = created->vault->device_key();
    std::string head = "Created a new vault at " + dir->string() + ".\n";
    if (!options.investigator.empty()) {
        head += "Investigator: " + options.investigator + "\n";
    }
    head +=
        "\n"
        "RECOVERY KEY. Write it down now, on paper, and keep it away from this device.\n"
        "It opens the vault if the passphrase is lost. It is shown only this once and\n"
        "is stored nowhere:\n"
        "\n"
        "    ";
    if (auto s = print(head); !s) {
        return failure_from(s.error(), "init");
    }
    // The recovery key goes from locked memory to the descriptor directly.
    if (auto s = write_all(STDOUT_FILENO, created->recovery_key.span(), "standard output"); !s) {
        return failure_from(s.error(), "init");
    }
    return printed(
        print("\n\n"
              "Device public key (minisign). Anyone can check this device's signatures with it;\n"
              "`custodia-cli identity` prints it again:\n" +
              device_key.to_base64() + "\n"),
        "init");
}

CommandOutcome run_case_create(const VaultGlobals& globals, const CaseCreateOptions& options) {
    if (options.title.empty()) {
        return usage_failure("a case needs a title");
    }
    if (auto failure = check_text(options.title, "the title")) {
        return failure;
    }
    if (auto failure = check_text(options.description, "--description")) {
        return failure;
    }
    for (const auto& r : options.recipients) {
        if (auto parsed = crypto::age::Recipient::parse(r); !parsed) {
            return usage_failure("invalid recipient \"" + r + "\": " + parsed.error().message);
        }
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    auto created = vault.create_case(options.title, options.description, options.recipients);
    if (!created) {
        return failure_from(created.error(), "cannot create the case");
    }
    if (stderr_is_terminal()) {
        note("Created case \"" + created->title + "\".\n");
    }
    return printed(print(created->id + "\n"), "case create");
}

CommandOutcome run_case_list(const VaultGlobals& globals, const JsonOption& options) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto cases = std::get<OpenVault>(opened).vault->list_cases();
    if (!cases) {
        return failure_from(cases.error(), "case list");
    }
    if (options.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& c : *cases) {
            out.push_back(case_json(c));
        }
        return printed(print(dump_json(out)), "case list");
    }
    if (cases->empty()) {
        return printed(print("No cases yet. Create one with: custodia-cli case create TITLE\n"),
                       "case list");
    }
    return printed(print(cases_table(*cases)), "case list");
}

CommandOutcome run_add(const VaultGlobals& globals, const AddOptions& options) {
    if (auto failure = check_id(options.case_id, "a case")) {
        return failure;
    }
    auto fields = fields_from(options.metadata);
    if (auto* failure = std::get_if<Failure>(&fields)) {
        return *failure;
    }
    if (auto failure = check_text(options.mime_type, "--mime-type")) {
        return failure;
    }
    for (const auto& path : options.files) {
        auto input = InputToImport::open(path);
        if (auto* failure = std::get_if<Failure>(&input)) {
            return *failure;
        }
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    if (auto failure = check_case(vault, options.case_id)) {
        return failure;
    }
    const auto& base_fields = std::get<core::ItemFields>(fields);
    if (auto failure = check_references(vault, base_fields)) {
        return failure;
    }

    CancelOnInterrupt cancel_on_interrupt;
    std::size_t added = 0;
    for (const auto& path : options.files) {
        auto opened_input = InputToImport::open(path);
        if (auto* failure = std::get_if<Failure>(&opened_input)) {
            return *failure;
        }
        const auto& input = std::get<InputToImport>(opened_input);
        const std::string name = utf8_file_name(base_name(path));
        if (name != base_name(path)) {
            note("custodia-cli: note: the name of " + name +
                 " is not valid UTF-8; it is recorded with U+FFFD in place of the invalid bytes\n");
        }
        const std::string mime =
            options.mime_type.empty() ? guess_media_type(name) : options.mime_type;
        core::ItemFields item_fields = base_fields;
        if (options.metadata.kind.empty()) {
            item_fields.kind = kind_for_media_type(mime);
        }
        ProgressBar bar(name, input.size());
        core::Progress progress;
        progress.report = [&bar](std::uint64_t done, std::uint64_t) { bar.update(done); };
        progress.cancel = &g_cancel_requested;
        crypto::FdSource source(input.fd());
        auto id = vault.ingest(options.case_id, source, name, mime, item_fields, progress);
        bar.finish();
        if (!id) {
            std::string what = "cannot add " + path;
            if (added > 0) {
                what += " (the " + std::to_string(added) +
                        " files before it were added: their ids are on stdout)";
            }
            return import_failure(id.error(), what);
        }
        if (auto s = print(*id + "\n"); !s) {
            return failure_from(s.error(), "add");
        }
        ++added;
        if (stderr_is_terminal()) {
            note("Added " + name + " (" + human_size(input.size()) + ", " + mime + ")\n");
        }
    }
    return std::nullopt;
}

CommandOutcome run_testimony(const VaultGlobals& globals, const TestimonyOptions& options) {
    if (auto failure = check_id(options.case_id, "a case")) {
        return failure;
    }
    if (options.text_file.empty() == !options.text.has_value()) {
        return usage_failure(
            "give the testimony with exactly one of --text-file FILE or --text TEXT");
    }
    auto fields = fields_from(options.metadata);
    if (auto* failure = std::get_if<Failure>(&fields)) {
        return *failure;
    }
    auto& item_fields = std::get<core::ItemFields>(fields);
    if (options.metadata.kind.empty()) {
        item_fields.kind = core::ItemKind::testimony;
    }
    std::string text;
    if (options.text) {
        text = *options.text;
    } else {
        auto input = InputFile::open(options.text_file);
        if (!input) {
            return failure_from(input.error(), "testimony");
        }
        crypto::FdSource source(input->fd());
        std::vector<std::uint8_t> piece(64 * 1024);
        for (;;) {
            auto n = source.read(piece);
            if (!n) {
                return failure_from(n.error(), "cannot read " + input->name());
            }
            if (*n == 0) {
                break;
            }
            if (text.size() + *n > kMaxTestimonySize) {
                return usage_failure(input->name() + " is larger than " +
                                     human_size(kMaxTestimonySize) +
                                     "; add a recording or document with `custodia-cli add`");
            }
            text.append(reinterpret_cast<const char*>(piece.data()), *n);
        }
    }
    // Checked here, and said without quoting: testimony text never appears
    // in an error message.
    if (text.empty()) {
        return usage_failure("the testimony is empty");
    }
    if (!is_valid_utf8(text)) {
        return usage_failure("the testimony is not valid UTF-8 text");
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    if (auto failure = check_case(vault, options.case_id)) {
        return failure;
    }
    if (auto failure = check_references(vault, item_fields)) {
        return failure;
    }
    auto id = vault.add_testimony(options.case_id, text, item_fields);
    if (!id) {
        return import_failure(id.error(), "cannot add the testimony");
    }
    return printed(print(*id + "\n"), "testimony");
}

CommandOutcome run_list(const VaultGlobals& globals, const ListOptions& options) {
    std::optional<core::CaseId> case_id;
    if (!options.case_id.empty()) {
        if (auto failure = check_id(options.case_id, "a case")) {
            return failure;
        }
        case_id = options.case_id;
    }
    if (options.limit == 0) {
        return usage_failure("--limit must be at least 1");
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    if (case_id) {
        if (auto failure = check_case(vault, *case_id)) {
            return failure;
        }
    }
    auto items = vault.list_items(case_id, options.offset, options.limit);
    if (!items) {
        return failure_from(items.error(), "list");
    }
    if (options.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : *items) {
            out.push_back(item_json(item));
        }
        return printed(print(dump_json(out)), "list");
    }
    if (items->empty()) {
        if (options.offset > 0) {
            return printed(print("No more items.\n"), "list");
        }
        return printed(print(case_id ? "No items in this case yet.\n"
                                     : "No items yet. Start a case with\n"
                                       "  custodia-cli case create TITLE\n"
                                       "and import files into it with\n"
                                       "  custodia-cli add --case CASE FILE…\n"),
                       "list");
    }
    if (auto s = print(items_table(*items)); !s) {
        return failure_from(s.error(), "list");
    }
    if (items->size() == options.limit) {
        note("(more may follow: --offset " + std::to_string(options.offset + options.limit) +
             ")\n");
    }
    return std::nullopt;
}

CommandOutcome run_search(const VaultGlobals& globals, const SearchOptions& options) {
    if (options.query.empty()) {
        return usage_failure("search needs a query");
    }
    if (auto failure = check_text(options.query, "the query")) {
        return failure;
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto items = std::get<OpenVault>(opened).vault->search(options.query, options.limit);
    if (!items) {
        return failure_from(items.error(), "search");
    }
    if (options.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : *items) {
            out.push_back(item_json(item));
        }
        return printed(print(dump_json(out)), "search");
    }
    if (items->empty()) {
        return printed(print("Nothing matches.\n"), "search");
    }
    return printed(print(items_table(*items)), "search");
}

CommandOutcome run_show(const VaultGlobals& globals, const ShowOptions& options) {
    if (auto failure = check_id(options.item_id, "an item")) {
        return failure;
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    auto item = vault.get_item(options.item_id);
    if (!item) {
        if (is_unknown_item(item.error())) {
            return usage_failure("there is no item " + options.item_id + " in this vault");
        }
        return failure_from(item.error(), "show");
    }
    const bool signature_valid = vault.capture_signature_valid(*item);
    auto custody = vault.custody_log(options.item_id);
    if (!custody) {
        return failure_from(custody.error(), "cannot read the custody log");
    }
    std::optional<core::Case> owner;
    if (auto c = vault.get_case(item->case_id)) {
        owner = std::move(c).value();
    }
    if (options.json) {
        nlohmann::json out = item_json(*item);
        out["signature_valid"] = signature_valid;
        out["case_title"] = owner ? nlohmann::json(owner->title) : nlohmann::json(nullptr);
        nlohmann::json events = nlohmann::json::array();
        for (const auto& entry : *custody) {
            events.push_back(custody_entry_json(entry));
        }
        out["custody"] = events;
        return printed(print(dump_json(out)), "show");
    }
    return printed(print(item_details(*item, owner, signature_valid, *custody)), "show");
}

CommandOutcome run_extract(const VaultGlobals& globals, const ExtractOptions& options) {
    if (auto failure = check_id(options.item_id, "an item")) {
        return failure;
    }
    const bool to_stdout = options.output == "-";
    if (to_stdout && ::isatty(STDOUT_FILENO) != 0) {
        return usage_failure("refusing to write evidence to a terminal: use -o FILE");
    }
    if (!to_stdout && !options.force) {
        struct stat st {};
        if (::lstat(options.output.c_str(), &st) == 0) {
            return usage_failure(options.output +
                                 " already exists; choose another name (or --force to replace it)");
        }
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    auto item = vault.get_item(options.item_id);
    if (!item) {
        if (is_unknown_item(item.error())) {
            return usage_failure("there is no item " + options.item_id + " in this vault");
        }
        return failure_from(item.error(), "extract");
    }
    const std::uint64_t size = item->attachment ? item->attachment->size : 0;
    const std::string name = item->attachment ? item->attachment->original_name : item->id;

    // Extracted evidence is plaintext: private to its owner (0600, umask or
    // not), and under its final name only once all of it verified.
    std::optional<AtomicOutputFile> file;
    if (!to_stdout) {
        auto created = AtomicOutputFile::create(options.output, 0600, false);
        if (!created) {
            return failure_from(created.error(), "extract");
        }
        file.emplace(std::move(created).value());
    }
    crypto::FdSink sink(file ? file->fd() : STDOUT_FILENO);
    ProgressBar bar(name, size);
    core::Progress progress;
    progress.report = [&bar](std::uint64_t done, std::uint64_t) { bar.update(done); };
    Status extracted = vault.extract(options.item_id, sink, progress);
    bar.finish();
    if (!extracted) {
        return failure_from(extracted.error(), "cannot extract item " + options.item_id);
    }
    if (file) {
        if (auto s = file->commit(); !s) {
            return failure_from(s.error(), "extract");
        }
        return printed(
            print("Extracted " + name + " (" + std::to_string(size) + " bytes, SHA-256 " +
                  sha256_hex(*item->attachment) + ") to " + options.output + "\n"),
            "extract");
    }
    return std::nullopt;
}

CommandOutcome run_log(const VaultGlobals& globals, const JsonOption& options) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto entries = std::get<OpenVault>(opened).vault->custody_log();
    if (!entries) {
        return failure_from(entries.error(), "log");
    }
    if (options.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& entry : *entries) {
            out.push_back(custody_entry_json(entry));
        }
        return printed(print(dump_json(out)), "log");
    }
    std::string text;
    for (const auto& entry : *entries) {
        text += custody_line(entry);
    }
    return printed(print(text), "log");
}

CommandOutcome run_checkpoint(const VaultGlobals& globals) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto note_text = std::get<OpenVault>(opened).vault->checkpoint();
    if (!note_text) {
        return failure_from(note_text.error(), "checkpoint");
    }
    return printed(print(*note_text), "checkpoint");
}

CommandOutcome run_verify(const VaultGlobals& globals, const JsonOption& options) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    ProgressBar bar("verify", 0);
    core::Progress progress;
    progress.report = [&bar](std::uint64_t done, std::uint64_t) { bar.update(done); };
    auto report = vault.verify(progress);
    bar.finish();
    if (!report) {
        return failure_from(report.error(), "verify");
    }
    const std::size_t problems = report->problems.size();
    if (options.json) {
        if (auto s = print(dump_json(verify_report_json(*report))); !s) {
            return failure_from(s.error(), "verify");
        }
    } else if (report->ok()) {
        if (auto s = print("✓ The vault is intact: " + std::to_string(report->items_checked) +
                           " items match their signed SHA-256, and the custody log (" +
                           std::to_string(report->log_size) +
                           " entries) matches its signed checkpoint.\n");
            !s) {
            return failure_from(s.error(), "verify");
        }
    } else {
        std::string text;
        for (const auto& p : report->problems) {
            text += "✗ ";
            if (p.item_id) {
                text += "item " + *p.item_id + ": ";
            }
            text += p.what + ": " + p.message + "\n";
        }
        if (auto s = print(text); !s) {
            return failure_from(s.error(), "verify");
        }
    }
    if (problems > 0) {
        return Failure{ExitCode::verification_failed,
                       "verification failed: " + std::to_string(problems) +
                           (problems == 1 ? " problem" : " problems") + " found"};
    }
    return std::nullopt;
}

CommandOutcome run_passwd(const VaultGlobals& globals, const PasswdOptions& options) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& open = std::get<OpenVault>(opened);
    auto fresh = read_new_passphrase(options.new_passphrase_file, nullptr, "New passphrase: ");
    if (!fresh) {
        return passphrase_failure(fresh.error());
    }
    if (stderr_is_terminal()) {
        note("Protecting the new passphrase (a few seconds)…\n");
    }
    if (!globals.recovery_key_file.empty()) {
        // A forgotten passphrase: the recovery key that opened the vault
        // sets the new one.
        auto key = read_secret_line_file(globals.recovery_key_file);
        if (!key) {
            return failure_from(key.error(), "recovery key");
        }
        if (auto s = open.vault->reset_passphrase(*key, *fresh); !s) {
            return failure_from(s.error(), "cannot set the new passphrase");
        }
        return printed(print("The new passphrase is set. The recovery key still works; any "
                             "duress passphrase was removed and must be set again.\n"),
                       "passwd");
    }
    if (fresh->equals(open.passphrase.span())) {
        return usage_failure("the new passphrase is the current one; nothing was changed");
    }
    if (auto s = open.vault->change_passphrase(open.passphrase, *fresh); !s) {
        if (s.error().code == Errc::wrong_passphrase) {
            return Failure{ExitCode::wrong_key, "the current passphrase is not correct"};
        }
        return failure_from(s.error(), "cannot change the passphrase");
    }
    return printed(print("The passphrase was changed. The recovery key still works.\n"), "passwd");
}

CommandOutcome run_identity(const VaultGlobals& globals) {
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    return printed(print(std::get<OpenVault>(opened).vault->device_key().to_file()), "identity");
}

CommandOutcome run_wipe(const VaultGlobals& globals, const WipeOptions& options) {
    auto dir = vault_directory(globals);
    if (!dir) {
        return failure_from(dir.error(), "wipe");
    }
    if (!options.yes) {
        return usage_failure("wipe destroys the vault at " + dir->string() +
                             " and everything in it, for good; to go ahead, run "
                             "`custodia-cli wipe --yes`");
    }
    if (!Vault::exists(*dir)) {
        return no_vault_failure(*dir);
    }
    // No passphrase: a panic wipe must work for someone who cannot or must
    // not type it. The key slots go first (Vault::wipe), so even a wipe cut
    // short leaves nothing that can be decrypted.
    if (auto s = Vault::wipe(*dir); !s) {
        return failure_from(s.error(), "wipe");
    }
    std::string text = "The vault at " + dir->string() + " was destroyed.\n";
    // Only an empty directory is removed: --vault may name a directory that
    // holds other things too, and those are not ours to delete.
    if (::rmdir(dir->c_str()) != 0 && errno != ENOENT) {
        text += "Other files in " + dir->string() + " were left as they were.\n";
    }
    return printed(print(text), "wipe");
}

CommandOutcome run_duress_set(const VaultGlobals& globals, const DuressOptions& options) {
    if (!globals.recovery_key_file.empty()) {
        return usage_failure("duress set needs the current passphrase, not the recovery key");
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& open = std::get<OpenVault>(opened);
    if (options.duress_passphrase_file.empty() && terminal_available()) {
        note(
            "A duress passphrase opens what looks like this vault, empty, and destroys\n"
            "everything in it. Give it only when forced to.\n");
    }
    auto duress =
        read_new_passphrase(options.duress_passphrase_file, nullptr, "Duress passphrase: ");
    if (!duress) {
        return passphrase_failure(duress.error());
    }
    if (duress->equals(open.passphrase.span())) {
        return usage_failure("the duress passphrase must differ from the passphrase");
    }
    if (auto s = open.vault->set_duress_passphrase(open.passphrase, *duress); !s) {
        if (s.error().code == Errc::wrong_passphrase) {
            return Failure{ExitCode::wrong_key, "the passphrase is not correct"};
        }
        return failure_from(s.error(), "cannot set the duress passphrase");
    }
    return printed(print("The duress passphrase was set.\n"), "duress set");
}

// ---- Bundles ----------------------------------------------------------------------------------

namespace {

constexpr std::size_t kMaxBundleKeyFileSize = std::size_t{1} << 20;

std::optional<Failure> load_bundle_identities(const std::vector<std::string>& files,
                                              std::vector<crypto::age::Identity>& identities) {
    for (const auto& file : files) {
        auto text = read_secret_file(file, kMaxBundleKeyFileSize);
        if (!text) {
            return failure_from(text.error(), "identity file");
        }
        auto parsed = crypto::age::parse_identity_file(text->view());
        if (!parsed) {
            return usage_failure(file + ": " + parsed.error().message);
        }
        if (parsed->empty()) {
            return usage_failure("identity file " + file + " holds no identity");
        }
        for (auto& identity : *parsed) {
            identities.push_back(std::move(identity));
        }
    }
    return std::nullopt;
}

std::optional<Failure> load_device_key(const std::string& file,
                                       std::optional<crypto::minisign::PublicKey>& key) {
    if (file.empty()) {
        return std::nullopt;
    }
    auto text = read_secret_file(file, kMaxBundleKeyFileSize);
    if (!text) {
        return failure_from(text.error(), "device key");
    }
    auto parsed = crypto::minisign::PublicKey::parse(text->view());
    if (!parsed) {
        return usage_failure(file + ": not a minisign public key: " + parsed.error().message);
    }
    key = *parsed;
    return std::nullopt;
}

std::string_view outcome_name(core::CheckOutcome outcome) {
    switch (outcome) {
        case core::CheckOutcome::passed:
            return "passed";
        case core::CheckOutcome::failed:
            return "failed";
        case core::CheckOutcome::not_run:
            return "not_run";
    }
    return "not_run";
}

std::string_view file_outcome_name(core::FileOutcome outcome) {
    switch (outcome) {
        case core::FileOutcome::verified:
            return "verified";
        case core::FileOutcome::mismatch:
            return "mismatch";
        case core::FileOutcome::missing:
            return "missing";
        case core::FileOutcome::unlisted:
            return "unlisted";
        case core::FileOutcome::rejected:
            return "rejected";
    }
    return "rejected";
}

// Everything report.html shows, so that report.json is never the lesser record.
void add_summary_json(const core::BundleSummary& s, nlohmann::json& j) {
    if (!s.bundle_id.empty()) {
        j["created"] = s.created;
        j["case_title"] = s.case_title;
        j["case_description"] = s.case_description;
        j["device_key_id"] = s.device_key_id;
    }
    nlohmann::json items = nlohmann::json::array();
    for (const auto& i : s.items) {
        nlohmann::json item = {
            {"id", i.id},
            {"kind", i.kind},
            {"title", i.title},
            {"description", i.description},
            {"language", i.language},
            {"tags", i.tags},
            {"investigator", i.investigator},
            {"capture",
             {{"time", i.capture_time},
              {"local_time", i.capture_local},
              {"offset_minutes", i.offset_minutes ? nlohmann::json(*i.offset_minutes) : nullptr},
              {"clock_source", i.clock_source},
              {"location", i.capture_location}}},
            {"location", i.location},
            {"witness", i.witness},
            {"consent", i.consent},
            {"derived_from", i.derived_from},
            {"capture_signature",
             {{"ok", i.capture_signature_ok}, {"status", i.capture_signature}}}};
        if (!i.witness_identity.empty()) item["witness_identity"] = i.witness_identity;
        if (i.attachment) {
            item["attachment"] = {{"name", i.attachment->name},
                                  {"path", i.attachment->path},
                                  {"mime", i.attachment->mime},
                                  {"size", i.attachment->size},
                                  {"sha256", crypto::to_hex(i.attachment->sha256)},
                                  {"file_status", i.file_status}};
        } else {
            item["attachment"] = nullptr;
        }
        items.push_back(std::move(item));
    }
    j["items"] = std::move(items);
    nlohmann::json timeline = nlohmann::json::array();
    for (const auto& e : s.timeline) {
        timeline.push_back({{"index", e.index},
                            {"time", e.time},
                            {"local_time", e.local_time},
                            {"event", e.event},
                            {"case_id", e.case_id},
                            {"item_id", e.item_id},
                            {"item_title", e.item_title},
                            {"details", e.details},
                            {"proven", e.proven},
                            {"proof", e.proof}});
    }
    j["custody_timeline"] = std::move(timeline);
    if (s.checkpoint) {
        nlohmann::json signers = nlohmann::json::array();
        for (const auto& signer : s.checkpoint->signers)
            signers.push_back({{"name", signer.name}, {"key_id", signer.key_id}});
        j["checkpoint"] = {{"origin", s.checkpoint->origin},
                           {"tree_size", s.checkpoint->tree_size},
                           {"root_hash", s.checkpoint->root_hash},
                           {"signers", std::move(signers)},
                           {"verified", s.checkpoint->verified}};
    } else {
        j["checkpoint"] = nullptr;
        j["checkpoint_problem"] = s.checkpoint_problem;
    }
    if (s.envelope) {
        j["envelope"] = {{"bundle_id", s.envelope->bundle_id},
                         {"sha256", crypto::to_hex(s.envelope->sha256)},
                         {"size", s.envelope->size},
                         {"device_key_id", s.envelope->device_key_id},
                         {"created", s.envelope->created}};
    } else {
        j["envelope"] = nullptr;
    }
}

// Writes one report file into the opened folder, atomically (a reader never
// sees half a report).
std::optional<Failure> write_report_file(const fs::path& dir, const char* name,
                                         const std::string& text) {
    const std::string path = (dir / name).string();
    auto file = AtomicOutputFile::create(path, 0644, false);
    if (!file) {
        return failure_from(file.error(), "cannot write " + path);
    }
    crypto::FdSink sink(file->fd());
    if (auto s = sink.write(crypto::as_bytes(text)); !s) {
        return failure_from(s.error(), "cannot write " + path);
    }
    if (auto s = file->commit(); !s) {
        return failure_from(s.error(), "cannot write " + path);
    }
    return std::nullopt;
}

nlohmann::json bundle_report_json(const core::BundleReport& report) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : report.checks) {
        checks.push_back({{"name", c.name},
                          {"outcome", std::string(outcome_name(c.outcome))},
                          {"detail", c.detail},
                          {"required", c.required}});
    }
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : report.files) {
        files.push_back({{"path", f.path},
                         {"size", f.size},
                         {"outcome", std::string(file_outcome_name(f.outcome))},
                         {"detail", f.detail}});
    }
    std::string source = "none";
    if (report.device_key_source == core::DeviceKeySource::caller) source = "caller";
    if (report.device_key_source == core::DeviceKeySource::self_asserted) source = "self_asserted";
    nlohmann::json j = {{"ok", report.ok()},
                        {"checks", checks},
                        {"files", files},
                        {"failed_checks", report.failed_checks()},
                        {"device_key_source", source},
                        {"bundle_size", report.bundle_size}};
    if (report.manifest) {
        j["bundle_id"] = report.manifest->bundle_id();
        j["case_id"] = report.manifest->case_id();
        j["device_key"] = report.manifest->device_key().to_base64();
    }
    add_summary_json(core::summarize_bundle(report), j);
    return j;
}

std::string bundle_report_text(const core::BundleReport& report) {
    std::string text;
    for (const auto& c : report.checks) {
        const char* mark = c.outcome == core::CheckOutcome::passed   ? "✓ "
                           : c.outcome == core::CheckOutcome::failed ? "✗ "
                                                                     : "- ";
        text += mark + c.name;
        if (!c.detail.empty()) text += ": " + c.detail;
        text += "\n";
    }
    if (report.device_key_source == core::DeviceKeySource::self_asserted) {
        text +=
            "! The device key is the bundle's own (self-asserted): this proves integrity, "
            "not who made the bundle. Pass --device-key to check origin.\n";
    }
    return text;
}

CommandOutcome bundle_outcome(const core::BundleReport& report) {
    if (report.ok()) {
        return std::nullopt;
    }
    std::string names;
    for (const auto& n : report.failed_checks()) {
        if (!names.empty()) names += ", ";
        names += n;
    }
    return Failure{ExitCode::verification_failed, "bundle verification failed: " + names};
}

}  // namespace

CommandOutcome run_export(const VaultGlobals& globals, const ExportCliOptions& options) {
    if (auto failure = check_id(options.case_id, "a case")) {
        return failure;
    }
    for (const auto& id : options.item_ids) {
        if (auto failure = check_id(id, "an item")) {
            return failure;
        }
    }
    for (const auto& r : options.recipients) {
        if (auto parsed = crypto::age::Recipient::parse(r); !parsed) {
            return usage_failure("not an age recipient: " + r);
        }
    }
    if (options.output.empty() && !options.send) {
        return usage_failure("name the bundle file with -o OUT.custodia (optional with --send)");
    }
    if (!options.output.empty() && !options.output.ends_with(".custodia")) {
        return usage_failure("the bundle file name must end in .custodia");
    }
    if (!options.server.empty() && !options.send) {
        return usage_failure("--server goes with --send");
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    if (auto failure = check_case(vault, options.case_id)) {
        return failure;
    }
    std::string send_to;
    if (options.send) {
        auto chosen = choose_send_server(vault, options.server);
        if (auto* failure = std::get_if<Failure>(&chosen)) {
            return *failure;
        }
        send_to = std::get<std::string>(chosen);
    }
    ProgressBar bar("export", 0);
    core::Progress progress;
    progress.report = [&bar](std::uint64_t done, std::uint64_t) { bar.update(done); };
    core::ExportOptions export_options;
    export_options.allow_without_consent = options.allow_without_consent;
    if (options.send && options.output.empty()) {
        // Sealed straight into the outbox: no copy, nothing left by a crash.
        auto queued = vault.export_to_outbox(options.case_id, options.item_ids, options.recipients,
                                             options.include_witness_identities, send_to, progress,
                                             export_options);
        bar.finish();
        if (!queued) {
            return failure_from(queued.error(), "export");
        }
        print_queued(*queued, send_to);
        return printed(
            print("Sealed " + std::to_string(queued->items) + " items into the outbox (" +
                  human_size(queued->size) + ")\n" + queued->bundle_id + "\n"),
            "export");
    }
    auto exported = vault.export_bundle(options.case_id, options.item_ids, options.recipients,
                                        options.include_witness_identities, options.output,
                                        progress, export_options);
    bar.finish();
    if (!exported) {
        return failure_from(exported.error(), "export");
    }
    // Also kept at -o: the outbox holds its own copy.
    if (options.send) {
        if (auto failure = queue_for_sending(vault, *exported, send_to)) {
            return failure;
        }
    }
    return printed(
        print("Sealed " + std::to_string(exported->items) + " items into " +
              exported->bundle_path.string() + " (" + human_size(exported->size) + ") and " +
              exported->envelope_path.string() + "\n" + exported->bundle_id + "\n"),
        "export");
}

CommandOutcome run_witness_add(const VaultGlobals& globals, const WitnessAddOptions& options) {
    if (auto failure = check_id(options.case_id, "a case")) {
        return failure;
    }
    for (const auto& [text, what] :
         {std::pair<const std::string&, std::string>{options.pseudonym, "the pseudonym"},
          {options.name, "--name"},
          {options.contact, "--contact"},
          {options.notes, "--notes"}}) {
        if (auto failure = check_text(text, what)) {
            return failure;
        }
    }
    if (options.pseudonym.empty() || options.name.empty()) {
        return usage_failure("witness add needs a pseudonym and --name");
    }
    auto opened = open_vault(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) {
        return *failure;
    }
    auto& vault = *std::get<OpenVault>(opened).vault;
    if (auto failure = check_case(vault, options.case_id)) {
        return failure;
    }
    if (auto s = vault.set_witness_identity(options.case_id, options.pseudonym,
                                            {options.name, options.contact, options.notes});
        !s) {
        return failure_from(s.error(), "witness add");
    }
    return printed(print("Stored the identifying details of witness " + options.pseudonym +
                         " apart from the items; exports include them only with "
                         "--include-witness-identities.\n"),
                   "witness add");
}

CommandOutcome run_open_bundle(const OpenBundleOptions& options) {
    std::vector<crypto::age::Identity> identities;
    if (auto failure = load_bundle_identities(options.identity_files, identities)) {
        return failure;
    }
    core::BundleReadOptions read;
    if (auto failure = load_device_key(options.device_key_file, read.device_key)) {
        return failure;
    }
    read.extract_to = fs::path(options.output_dir);
    core::BundleCustodyVerifier custody(read.device_key);
    read.custody_verifier = &custody;
    ProgressBar bar("open", 0);
    core::Progress progress;
    progress.report = [&bar](std::uint64_t done, std::uint64_t) { bar.update(done); };
    auto report = core::verify_bundle_file(options.bundle, identities, read, progress);
    bar.finish();
    if (!report) {
        return failure_from(report.error(), "open");
    }
    // Both reports are written whatever the outcome: a failed bundle needs
    // its reasons on record as much as a good one.
    const fs::path dir(options.output_dir);
    if (auto failure =
            write_report_file(dir, "report.json", dump_json(bundle_report_json(*report)) + "\n")) {
        return failure;
    }
    if (auto failure =
            write_report_file(dir, "report.html",
                              core::bundle_report_html(*report, core::summarize_bundle(*report)))) {
        return failure;
    }
    if (auto s = print(bundle_report_text(*report) + "Reports: " + (dir / "report.html").string() +
                       " and report.json\n");
        !s) {
        return failure_from(s.error(), "open");
    }
    return bundle_outcome(*report);
}

CommandOutcome run_verify_bundle(const VerifyBundleOptions& options) {
    const std::string verb = options.verb.empty() ? "verify-bundle" : options.verb;
    std::error_code ec;
    const bool folder = fs::is_directory(fs::symlink_status(options.bundle, ec));
    std::vector<crypto::age::Identity> identities;
    if (!folder && options.identity_files.empty()) {
        return usage_failure(verb + ": a bundle file needs -i KEYFILE (an opened folder does not)");
    }
    if (auto failure = load_bundle_identities(options.identity_files, identities)) {
        return failure;
    }
    core::BundleReadOptions read;
    if (auto failure = load_device_key(options.device_key_file, read.device_key)) {
        return failure;
    }
    core::BundleCustodyVerifier custody(read.device_key);
    read.custody_verifier = &custody;
    auto report = folder ? core::verify_bundle_folder(options.bundle, read)
                         : core::verify_bundle_file(options.bundle, identities, read);
    if (!report) {
        return failure_from(report.error(), verb);
    }
    const std::string text =
        options.json ? dump_json(bundle_report_json(*report)) + "\n" : bundle_report_text(*report);
    if (auto s = print(text); !s) {
        return failure_from(s.error(), verb);
    }
    return bundle_outcome(*report);
}

}  // namespace custodia::cli
