#include "durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace custodia::core {

namespace {
constexpr std::size_t kWriteBuffer = 1 << 20;
constexpr std::size_t kDirectWrite = std::size_t{64} * 1024;
// Write-back is started for every this many bytes written; the range before
// the previous one is waited for, so at most about two windows are dirty.
constexpr std::uint64_t kWriteBehindWindow = 8u << 20;

Status write_all(int fd, std::span<const std::uint8_t> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("write failed", errno);
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
}
}  // namespace

void UniqueFd::reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

Status UniqueFd::close_checked() {
    const int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return errno_error("close failed", errno);
    return {};
}

Error errno_error(const std::string& what, int err) {
    return make_error(Errc::io, what + ": " + std::generic_category().message(err));
}

Result<UniqueFd> open_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("cannot open directory " + dir.filename().string(), errno);
    return UniqueFd(fd);
}

Status fsync_fd(int fd, std::string_view what) {
    if (::fsync(fd) != 0) return errno_error("fsync of " + std::string(what) + " failed", errno);
    return {};
}

Status fsync_directory(const std::filesystem::path& dir) {
    auto fd = open_directory(dir);
    if (!fd) return std::move(fd).error();
    return fsync_fd(fd->get(), "directory " + dir.filename().string());
}

Status make_directory_durably(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        const auto parent = dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
        return fsync_directory(parent);
    }
    if (errno != EEXIST) return errno_error("cannot create " + dir.filename().string(), errno);
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(Errc::io, dir.filename().string() + " exists and is not a directory");
    return {};
}

Status replace_file_durably(const std::filesystem::path& path,
                            std::span<const std::uint8_t> bytes) {
    const std::filesystem::path tmp = path.native() + ".tmp";
    {
        UniqueFd fd(
            ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid()) return errno_error("cannot create " + tmp.filename().string(), errno);
        if (auto s = write_all(fd.get(), bytes); !s) return s;
        if (auto s = fsync_fd(fd.get(), tmp.filename().string()); !s) return s;
        if (auto s = fd.close_checked(); !s) return s;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return errno_error("cannot rename " + tmp.filename().string(), errno);
    return fsync_directory(path.has_parent_path() ? path.parent_path() : ".");
}

Result<std::optional<std::vector<std::uint8_t>>> read_small_file(const std::filesystem::path& path,
                                                                 std::size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        if (errno == ENOENT) return std::optional<std::vector<std::uint8_t>>{};
        return errno_error("cannot open " + path.filename().string(), errno);
    }
    std::vector<std::uint8_t> out;
    std::uint8_t buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("cannot read " + path.filename().string(), errno);
        }
        if (n == 0) break;
        out.insert(out.end(), buf, buf + n);
        if (out.size() > limit)
            return make_error(Errc::limit, path.filename().string() + " is unexpectedly large");
    }
    return std::optional<std::vector<std::uint8_t>>{std::move(out)};
}

WriteBehindSink::WriteBehindSink(int fd) : fd_(fd) {
    buffer_.reserve(kWriteBuffer);
}

WriteBehindSink::~WriteBehindSink() = default;

Status WriteBehindSink::drain() {
    if (buffer_.empty()) return {};
    if (auto s = write_all(fd_, buffer_); !s) return s;
    written_ += buffer_.size();
    buffer_.clear();
    return start_write_back();
}

Status WriteBehindSink::start_write_back() {
    if (written_ - synced_up_to_ >= kWriteBehindWindow) {
        const auto start = static_cast<off64_t>(synced_up_to_);
        const auto length = static_cast<off64_t>(written_ - synced_up_to_);
        // Advisory: a file system without it still gets the final fsync.
        (void)::sync_file_range(fd_, start, length, SYNC_FILE_RANGE_WRITE);
        if (synced_up_to_ >= kWriteBehindWindow)
            (void)::sync_file_range(fd_, 0, start, SYNC_FILE_RANGE_WAIT_BEFORE);
        synced_up_to_ = written_;
    }
    return {};
}

Status WriteBehindSink::write(std::span<const std::uint8_t> data) {
    // A sealed chunk (64 KiB) is large enough to go to the kernel as it is;
    // copying it into the buffer first would cost the sealing thread a pass
    // over every byte.
    if (buffer_.empty() && data.size() >= kDirectWrite) {
        if (auto s = write_all(fd_, data); !s) return s;
        written_ += data.size();
        return start_write_back();
    }
    while (!data.empty()) {
        const std::size_t n = std::min(data.size(), kWriteBuffer - buffer_.size());
        buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        data = data.subspan(n);
        if (buffer_.size() == kWriteBuffer)
            if (auto s = drain(); !s) return s;
    }
    return {};
}

Status WriteBehindSink::flush_and_sync() {
    if (auto s = drain(); !s) return s;
    return fsync_fd(fd_, "blob");
}

}  // namespace custodia::core
