#include "cli_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace custodia::cli {
namespace {

std::string errno_text(int err) {
    return std::strerror(err);
}

Error io_error(std::string_view what, const std::string& path, int err) {
    return make_error(Errc::io, std::string(what) + " " + path + ": " + errno_text(err));
}

// The signal handler may only touch async-signal-safe state: a fixed buffer
// holding the temporary's name, and unlink(2).
char g_pending_temp[PATH_MAX] = {};
volatile sig_atomic_t g_pending_set = 0;

extern "C" void remove_temp_and_die(int sig) {
    if (g_pending_set != 0) {
        ::unlink(g_pending_temp);
    }
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_cleanup_handlers() {
    static bool installed = false;
    if (installed) {
        return;
    }
    installed = true;
    struct sigaction action {};
    action.sa_handler = remove_temp_and_die;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        ::sigaction(sig, &action, nullptr);
    }
}

void set_pending_temp(const std::string& path) {
    g_pending_set = 0;
    if (path.size() < sizeof g_pending_temp) {
        std::memcpy(g_pending_temp, path.c_str(), path.size() + 1);
        g_pending_set = 1;
    }
}

void clear_pending_temp() {
    g_pending_set = 0;
}

std::pair<std::string, std::string> split_dir_base(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) {
        return {".", path};
    }
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Status fsync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return io_error("open directory", dir, errno);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
        return io_error("fsync directory", dir, err);
    }
    return {};
}

}  // namespace

Result<InputFile> InputFile::open(const std::string& path) {
    if (path == "-") {
        return InputFile(STDIN_FILENO, false, "standard input");
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return io_error("cannot open", path, errno);
    }
    return InputFile(fd, true, path);
}

InputFile::InputFile(InputFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      owned_(std::exchange(other.owned_, false)),
      name_(std::move(other.name_)) {}

InputFile::~InputFile() {
    if (owned_ && fd_ >= 0) {
        ::close(fd_);
    }
}

Result<AtomicOutputFile> AtomicOutputFile::create(const std::string& path, unsigned mode,
                                                  bool honour_umask) {
    if (path.empty() || path.back() == '/') {
        return make_error(Errc::io, "output path " + path + " names a directory");
    }
    install_cleanup_handlers();
    if (honour_umask) {
        const mode_t mask = ::umask(0);
        ::umask(mask);
        mode &= ~static_cast<unsigned>(mask);
    }
    auto file = core::NewFile::create(path, mode);
    if (!file) {
        return std::move(file).error();
    }
    if (!file->temporary_path().empty()) {
        set_pending_temp(file->temporary_path());
    }
    return AtomicOutputFile(std::move(file).value());
}

AtomicOutputFile::~AtomicOutputFile() {
    if (file_.fd() < 0 && file_.temporary_path().empty()) {
        return;  // moved from, or committed
    }
    file_.discard();
    clear_pending_temp();
}

Status AtomicOutputFile::commit() {
    Status s = file_.commit(core::NewFile::Replace::yes);
    clear_pending_temp();
    return s;
}

Result<crypto::SecretBytes> read_secret_file(const std::string& path, std::size_t max_size) {
    auto input = InputFile::open(path);
    if (!input) {
        return std::move(input).error();
    }
    // One byte more than allowed tells "exactly max_size" from "too big".
    crypto::SecretBytes buffer(max_size + 1);
    std::size_t used = 0;
    while (used < buffer.size()) {
        const ssize_t n = ::read(input->fd(), buffer.data() + used, buffer.size() - used);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return io_error("cannot read", input->name(), errno);
        }
        if (n == 0) {
            break;
        }
        used += static_cast<std::size_t>(n);
    }
    if (used > max_size) {
        return make_error(Errc::limit,
                          input->name() + " is larger than " + std::to_string(max_size) + " bytes");
    }
    return crypto::SecretBytes::copy_of(buffer.span().first(used));
}

Status write_all(int fd, std::span<const std::uint8_t> data, std::string_view what) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_error(Errc::io,
                              "cannot write " + std::string(what) + ": " + errno_text(errno));
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

Status write_new_file(const std::string& path, std::span<const std::uint8_t> data, unsigned mode) {
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) {
        return io_error("cannot create", path, errno);
    }
    Status status = write_all(fd, data, path);
    if (status && ::fsync(fd) != 0) {
        status = io_error("fsync", path, errno);
    }
    if (::close(fd) != 0 && status) {
        status = io_error("close", path, errno);
    }
    if (!status) {
        ::unlink(path.c_str());
        return status;
    }
    return fsync_directory(split_dir_base(path).first);
}

}  // namespace custodia::cli
