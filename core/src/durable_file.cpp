#include "durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <thread>

#include "custodia/crypto/secret.h"

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

// Direct I/O: the sealing thread fills aligned pieces, a writer thread
// writes them. Offsets and lengths stay multiples of kBlock until the last
// piece, whose unaligned tail is written after O_DIRECT is turned off.
class WriteBehindSink::DirectWriter {
  public:
    static constexpr std::size_t kBlock = 4096;
    static constexpr std::size_t kPieceBytes = std::size_t{2} << 20;
    static constexpr std::size_t kPieces = 3;

    DirectWriter(int fd, int buffered_flags) : fd_(fd), buffered_flags_(buffered_flags) {
        for (std::size_t i = 0; i < kPieces; ++i) {
            pieces_[i].data = static_cast<std::uint8_t*>(std::aligned_alloc(kBlock, kPieceBytes));
            if (pieces_[i].data == nullptr) throw std::bad_alloc();
            free_.push_back(i);
        }
        thread_ = std::thread([this] { run(); });
    }

    ~DirectWriter() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        thread_.join();
        restore_buffered();
        for (auto& p : pieces_) {
            crypto::wipe(std::span(p.data, kPieceBytes));
            std::free(p.data);
        }
    }
    DirectWriter(const DirectWriter&) = delete;
    DirectWriter& operator=(const DirectWriter&) = delete;

    Status write(std::span<const std::uint8_t> data) {
        while (!data.empty()) {
            if (!current_) {
                auto i = acquire();
                if (!i) return failure();
                current_ = *i;
                pieces_[*current_].size = 0;
            }
            Piece& p = pieces_[*current_];
            const std::size_t n = std::min(data.size(), kPieceBytes - p.size);
            std::memcpy(p.data + p.size, data.data(), n);
            p.size += n;
            data = data.subspan(n);
            if (p.size == kPieceBytes) submit();
        }
        return {};
    }

    // Writes everything pending; the caller fsyncs.
    Status finish() {
        if (current_) submit();
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return (full_.empty() && !busy_) || error_; });
        if (error_) return *error_;
        return {};
    }

    std::uint64_t written() {
        std::lock_guard lock(mutex_);
        return written_;
    }

  private:
    struct Piece {
        std::uint8_t* data = nullptr;
        std::size_t size = 0;
    };

    std::optional<std::size_t> acquire() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || error_; });
        if (error_) return std::nullopt;
        const std::size_t i = free_.front();
        free_.pop_front();
        return i;
    }

    void submit() {
        {
            std::lock_guard lock(mutex_);
            full_.push_back(*current_);
        }
        current_.reset();
        changed_.notify_all();
    }

    Error failure() {
        std::lock_guard lock(mutex_);
        return error_ ? *error_ : make_error(Errc::io, "write failed");
    }

    void run() {
        for (;;) {
            std::size_t i = 0;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return !full_.empty() || stopping_; });
                if (stopping_) return;  // abandoned: the caller is not committing this file
                i = full_.front();
                full_.pop_front();
                busy_ = true;
            }
            // After a failure nothing more is written: the file is lost anyway.
            Status s = error_ ? Status{} : write_piece(pieces_[i]);
            {
                std::lock_guard lock(mutex_);
                busy_ = false;
                if (!s && !error_) error_ = s.error();
                free_.push_back(i);
            }
            changed_.notify_all();
        }
    }

    Status write_piece(const Piece& p) {
        std::span<const std::uint8_t> left(p.data, p.size);
        while (!left.empty()) {
            if (direct_ && left.size() < kBlock) restore_buffered();  // the tail
            const std::size_t want = direct_ ? left.size() / kBlock * kBlock : left.size();
            const ssize_t n = ::write(fd_, left.data(), want);
            if (n < 0) {
                if (errno == EINTR) continue;
                // A file system that accepted O_DIRECT but not these writes:
                // the same bytes again through the page cache.
                if (errno == EINVAL && direct_) {
                    restore_buffered();
                    continue;
                }
                return errno_error("write failed", errno);
            }
            left = left.subspan(static_cast<std::size_t>(n));
            {
                std::lock_guard lock(mutex_);
                written_ += static_cast<std::uint64_t>(n);
            }
            if (direct_ && static_cast<std::size_t>(n) % kBlock != 0) restore_buffered();
        }
        return {};
    }

    void restore_buffered() {
        if (!direct_) return;
        (void)::fcntl(fd_, F_SETFL, buffered_flags_);
        direct_ = false;
    }

    int fd_;
    int buffered_flags_;
    bool direct_ = true;  // the writer thread's, and the destructor's after join
    std::array<Piece, kPieces> pieces_{};
    std::optional<std::size_t> current_;  // being filled by the caller
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::size_t> free_;
    std::deque<std::size_t> full_;
    bool busy_ = false;
    bool stopping_ = false;
    std::optional<Error> error_;
    std::uint64_t written_ = 0;
    std::thread thread_;
};

WriteBehindSink::WriteBehindSink(int fd) : fd_(fd) {
    buffer_.reserve(kWriteBuffer);
}

WriteBehindSink::~WriteBehindSink() = default;

std::uint64_t WriteBehindSink::bytes_written() const noexcept {
    return direct_ ? direct_->written() : written_;
}

// Once the file is known to be large (1 MiB collected, nothing written yet):
// O_DIRECT where the file system takes it, at offset 0.
void WriteBehindSink::try_direct() {
    decided_ = true;
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::lseek(fd_, 0, SEEK_CUR) != 0) return;
    if (::fcntl(fd_, F_SETFL, flags | O_DIRECT) != 0) return;
    try {
        direct_ = std::make_unique<DirectWriter>(fd_, flags);
    } catch (const std::exception&) {  // no memory or no thread: the page cache
        (void)::fcntl(fd_, F_SETFL, flags);
        direct_.reset();
    }
}

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
    if (direct_) return direct_->write(data);
    // A sealed chunk (64 KiB) is large enough to go to the kernel as it is;
    // copying it into the buffer first would cost the sealing thread a pass
    // over every byte.
    if (decided_ && buffer_.empty() && data.size() >= kDirectWrite) {
        if (auto s = write_all(fd_, data); !s) return s;
        written_ += data.size();
        return start_write_back();
    }
    while (!data.empty()) {
        const std::size_t n = std::min(data.size(), kWriteBuffer - buffer_.size());
        buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        data = data.subspan(n);
        if (buffer_.size() < kWriteBuffer) continue;
        if (!decided_) try_direct();
        if (direct_) {
            auto s = direct_->write(buffer_);
            buffer_.clear();
            if (!s) return s;
            return direct_->write(data);
        }
        if (auto s = drain(); !s) return s;
    }
    return {};
}

Status WriteBehindSink::flush_and_sync() {
    if (direct_) {
        if (auto s = direct_->finish(); !s) return s;
    } else if (auto s = drain(); !s) {
        return s;
    }
    return fsync_fd(fd_, "blob");
}

}  // namespace custodia::core
