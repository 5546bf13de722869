#include "passphrase_input.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "cli_files.h"

namespace custodia::cli {
namespace {

constexpr const char* kTerminal = "/dev/tty";

// The terminal settings to put back if a signal ends the process while echo
// is off; otherwise the user's shell would stay blind afterwards. Only
// async-signal-safe state: a plain struct, a descriptor and a flag.
struct termios g_saved_termios {};
volatile sig_atomic_t g_terminal_fd = -1;

extern "C" void restore_terminal_and_die(int sig) {
    if (g_terminal_fd >= 0) {
        ::tcsetattr(g_terminal_fd, TCSAFLUSH, &g_saved_termios);
        ::write(g_terminal_fd, "\n", 1);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// Not SIGTSTP: after Ctrl-Z and `fg` the read would go on with echo back on.
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Echo off for as long as it lives; the previous settings and signal
// dispositions come back in the destructor.
class EchoOff {
  public:
    explicit EchoOff(int fd) : fd_(fd) {
        if (::tcgetattr(fd, &saved_) != 0) {
            return;
        }
        g_saved_termios = saved_;
        g_terminal_fd = fd;
        struct sigaction action {};
        action.sa_handler = restore_terminal_and_die;
        sigemptyset(&action.sa_mask);
        for (std::size_t i = 0; i < std::size(kRestoreSignals); ++i) {
            ::sigaction(kRestoreSignals[i], &action, &previous_[i]);
        }
        struct termios quiet = saved_;
        // Canonical mode stays on, so the line discipline still handles
        // backspace and Ctrl-U; only the echo goes.
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
        active_ = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
    ~EchoOff() {
        if (g_terminal_fd < 0) {
            return;
        }
        if (active_) {
            ::tcsetattr(fd_, TCSAFLUSH, &saved_);
        }
        g_terminal_fd = -1;
        for (std::size_t i = 0; i < std::size(kRestoreSignals); ++i) {
            ::sigaction(kRestoreSignals[i], &previous_[i], nullptr);
        }
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;

  private:
    int fd_;
    bool active_ = false;
    struct termios saved_ {};
    struct sigaction previous_[std::size(kRestoreSignals)]{};
};

class Terminal {
  public:
    Terminal() : fd_(::open(kTerminal, O_RDWR | O_NOCTTY | O_CLOEXEC)) {}
    ~Terminal() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    bool open() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    void say(std::string_view text) const {
        (void)write_all(fd_, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                        "the terminal");
    }

  private:
    int fd_;
};

// One line from the terminal, echo off, into locked memory. The buffer is
// filled by read(2) directly, so the passphrase exists nowhere else.
Result<crypto::SecretBytes> ask(const Terminal& terminal, std::string_view prompt) {
    crypto::SecretBytes buffer(kMaxPassphraseSize + 1);
    std::size_t used = 0;
    bool line_ended = false;
    bool too_long = false;
    {
        // Echo goes off (TCSAFLUSH drops anything typed ahead) before the
        // prompt appears; the other order loses an answer typed the moment
        // the prompt shows, and the program then waits for ever.
        EchoOff echo_off(terminal.fd());
        terminal.say(prompt);
        while (!line_ended) {
            if (used == buffer.size()) {
                // Keep reading to the end of the line so that the rest of an
                // over-long entry does not become the answer to the next prompt.
                too_long = true;
                used = 0;
            }
            const ssize_t n = ::read(terminal.fd(), buffer.data() + used, buffer.size() - used);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                const int err = errno;
                terminal.say("\n");
                return make_error(Errc::io,
                                  std::string("cannot read the terminal: ") + std::strerror(err));
            }
            if (n == 0) {
                break;  // Ctrl-D
            }
            const auto* start = buffer.data() + used;
            const auto* newline = static_cast<const std::uint8_t*>(
                std::memchr(start, '\n', static_cast<std::size_t>(n)));
            if (newline != nullptr) {
                used = static_cast<std::size_t>(newline - buffer.data());
                line_ended = true;
            } else {
                used += static_cast<std::size_t>(n);
            }
        }
    }
    terminal.say("\n");
    if (too_long) {
        return make_error(Errc::limit, "the passphrase is longer than " +
                                           std::to_string(kMaxPassphraseSize) + " bytes");
    }
    if (!line_ended && used == 0) {
        return make_error(Errc::cancelled, "no passphrase was entered");
    }
    return crypto::SecretBytes::copy_of(buffer.span().first(used));
}

Result<crypto::SecretBytes> from_environment(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) {
        return make_error(Errc::internal, "not set");
    }
    const std::string_view text(value);
    if (text.empty()) {
        return make_error(Errc::malformed, std::string(name) + " is set but empty");
    }
    if (text.size() > kMaxPassphraseSize) {
        return make_error(Errc::limit, std::string(name) + " is longer than " +
                                           std::to_string(kMaxPassphraseSize) + " bytes");
    }
    return crypto::SecretBytes::copy_of(text);
}

Status check_new(const crypto::SecretBytes& passphrase) {
    if (passphrase.size() < kMinNewPassphraseSize) {
        return make_error(Errc::malformed, "a new passphrase needs at least " +
                                               std::to_string(kMinNewPassphraseSize) +
                                               " characters");
    }
    return {};
}

Error no_source() {
    return make_error(Errc::malformed,
                      "no passphrase: there is no terminal to ask on; use --passphrase-file FILE "
                      "or set CUSTODIA_PASSPHRASE");
}

}  // namespace

bool terminal_available() {
    return Terminal().open();
}

Result<crypto::SecretBytes> read_secret_line_file(const std::string& path) {
    auto text = read_secret_file(path, kMaxPassphraseSize + 2);
    if (!text) {
        return std::move(text).error();
    }
    std::size_t size = text->size();
    if (size > 0 && text->data()[size - 1] == '\n') {
        --size;
        if (size > 0 && text->data()[size - 1] == '\r') {
            --size;
        }
    }
    if (size > kMaxPassphraseSize) {
        return make_error(Errc::limit, path + " holds more than " +
                                           std::to_string(kMaxPassphraseSize) + " bytes");
    }
    return crypto::SecretBytes::copy_of(text->span().first(size));
}

Result<crypto::SecretBytes> read_passphrase(const std::string& file, std::string_view prompt) {
    if (!file.empty()) {
        return read_secret_line_file(file);
    }
    if (std::getenv(kPassphraseEnv) != nullptr) {
        return from_environment(kPassphraseEnv);
    }
    Terminal terminal;
    if (!terminal.open()) {
        return no_source();
    }
    return ask(terminal, prompt);
}

Result<crypto::SecretBytes> read_new_passphrase(const std::string& file, const char* env_name,
                                                std::string_view prompt) {
    std::optional<crypto::SecretBytes> chosen;
    if (!file.empty()) {
        auto read = read_secret_line_file(file);
        if (!read) {
            return std::move(read).error();
        }
        chosen = std::move(read).value();
    } else if (env_name != nullptr && std::getenv(env_name) != nullptr) {
        auto read = from_environment(env_name);
        if (!read) {
            return std::move(read).error();
        }
        chosen = std::move(read).value();
    } else {
        Terminal terminal;
        if (!terminal.open()) {
            return no_source();
        }
        for (;;) {
            auto first = ask(terminal, prompt);
            if (!first) {
                return std::move(first).error();
            }
            if (auto s = check_new(*first); !s) {
                terminal.say(s.error().message + ". Please try again.\n");
                continue;
            }
            auto second = ask(terminal, "Repeat it: ");
            if (!second) {
                return std::move(second).error();
            }
            if (!first->equals(second->span())) {
                return make_error(Errc::malformed, "the two passphrases differ");
            }
            chosen = std::move(first).value();
            break;
        }
    }
    if (auto s = check_new(*chosen); !s) {
        return std::move(s).error();
    }
    return std::move(*chosen);
}

}  // namespace custodia::cli
