// File-system steps the vault's durability rests on: a file is durable once
// its bytes and the directory entry naming it have both been fsynced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "custodia/crypto/result.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

// An owned file descriptor.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    void reset() noexcept;
    // close(2) may report a deferred write error that a durable write must see.
    [[nodiscard]] Status close_checked();

  private:
    int fd_ = -1;
};

[[nodiscard]] Error errno_error(const std::string& what, int err);

[[nodiscard]] Result<UniqueFd> open_directory(const std::filesystem::path& dir);
[[nodiscard]] Status fsync_directory(const std::filesystem::path& dir);
[[nodiscard]] Status fsync_fd(int fd, std::string_view what);

// mkdir(dir, 0700) and an fsync of its parent when it did not exist yet.
[[nodiscard]] Status make_directory_durably(const std::filesystem::path& dir);

// Writes `bytes` to `<path>.tmp`, fsyncs, renames over `path` and fsyncs the
// directory: a crash leaves the old file or the new one, never a mix.
[[nodiscard]] Status replace_file_durably(const std::filesystem::path& path,
                                          std::span<const std::uint8_t> bytes);

// The whole file, if it exists and is at most `limit` bytes (Errc::limit if
// larger). nullopt when it does not exist.
[[nodiscard]] Result<std::optional<std::vector<std::uint8_t>>> read_small_file(
    const std::filesystem::path& path, std::size_t limit);

// Writes a file that is then fsynced once, as fast as the device allows.
// Small files are collected and written at the end. Past 1 MiB, where the
// file system supports it, the bytes go to the device with O_DIRECT from a
// writer thread (kept 2 MiB pieces in flight, no page-cache copy and no
// write-back for the kernel to do later: on the machines we measured, the
// buffered path spent more CPU in the kernel than the sealing itself).
// Elsewhere the kernel's write-back is started every few MiB, so that the
// final fsync has little left to wait for and dirty pages stay bounded.
class WriteBehindSink final : public crypto::ByteSink {
  public:
    explicit WriteBehindSink(int fd);
    ~WriteBehindSink() override;
    Status write(std::span<const std::uint8_t> data) override;
    // Writes what is pending and fsyncs the file.
    [[nodiscard]] Status flush_and_sync();
    // Bytes in the file; complete after flush_and_sync().
    std::uint64_t bytes_written() const noexcept;

    class DirectWriter;

  private:
    [[nodiscard]] Status drain();
    [[nodiscard]] Status start_write_back();
    void try_direct();

    int fd_;
    std::vector<std::uint8_t> buffer_;
    std::uint64_t written_ = 0;
    std::uint64_t synced_up_to_ = 0;
    bool decided_ = false;  // whether O_DIRECT was tried
    std::unique_ptr<DirectWriter> direct_;
};

}  // namespace custodia::core
