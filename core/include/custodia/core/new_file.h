// A file that appears under its final name only when it is complete and
// durable. Where the file system has them (ext4, xfs, btrfs, tmpfs) it is
// written as an unnamed O_TMPFILE inode that is linked in at commit: a crash
// or kill -9 before then leaves nothing behind, which matters most for
// decrypted evidence. Elsewhere (vfat USB sticks, some network file systems)
// a hidden temporary next to the final name is used, removed on every error
// path the process survives.
#pragma once

#include <filesystem>
#include <string>

#include "custodia/crypto/result.h"

namespace custodia::core {

class NewFile {
  public:
    enum class Replace { no, yes };

    // The file gets exactly `mode` (no umask).
    [[nodiscard]] static Result<NewFile> create(const std::filesystem::path& final_path,
                                                unsigned mode = 0600);
    NewFile(NewFile&& other) noexcept;
    NewFile& operator=(NewFile&&) = delete;
    NewFile(const NewFile&) = delete;
    ~NewFile();  // discards unless committed

    int fd() const noexcept { return fd_; }
    // The named temporary, or empty when the file has no name yet (the
    // unnamed case): what a signal handler would have to remove.
    const std::string& temporary_path() const noexcept { return temp_path_; }

    // fsync, close, name it (Replace::no refuses an existing file with
    // Errc::io), then fsync the directory unless the caller names more files
    // and fsyncs it once itself. The file is discarded if it is not named.
    enum class SyncDirectory { yes, no };
    [[nodiscard]] Status commit(Replace replace, SyncDirectory sync = SyncDirectory::yes);
    void discard() noexcept;

  private:
    NewFile(int fd, std::string temp_path, std::filesystem::path final_path)
        : fd_(fd), temp_path_(std::move(temp_path)), final_path_(std::move(final_path)) {}

    [[nodiscard]] Status name_it(Replace replace);

    int fd_ = -1;
    std::string temp_path_;  // empty: an unnamed inode
    std::filesystem::path final_path_;
};

}  // namespace custodia::core
