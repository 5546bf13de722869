#include "custodia/core/new_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "durable_file.h"

namespace custodia::core {

namespace {

std::filesystem::path directory_of(const std::filesystem::path& path) {
    return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// ".<name>.custodia-tmp-<random>" next to `final_path`: hidden, and never
// mistaken for output.
std::string temporary_name_for(const std::filesystem::path& final_path) {
    const auto suffix = crypto::to_hex(crypto::system_random().bytes<6>());
    return (directory_of(final_path) /
            ("." + final_path.filename().string() + ".custodia-tmp-" + suffix))
        .string();
}

std::string proc_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

Result<NewFile> NewFile::create(const std::filesystem::path& final_path, unsigned mode) {
    if (final_path.filename().empty())
        return make_error(Errc::io, "output path " + final_path.string() + " names a directory");
    const auto dir = directory_of(final_path);
    // Unnamed first. Linking it in later goes through /proc/self/fd.
    int fd = -1;
    if (::access("/proc/self/fd", X_OK) == 0) {
        fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        // Only "this file system has no O_TMPFILE" falls back; anything else
        // (no such directory, no permission, no space) is the answer.
        if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return errno_error("cannot create a file in " + dir.string(), errno);
    }
    std::string temp;
    if (fd < 0) {
        for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
            temp = temporary_name_for(final_path);
            fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (fd < 0 && errno != EEXIST)
                return errno_error("cannot create a temporary file in " + dir.string(), errno);
        }
        if (fd < 0)
            return make_error(Errc::io, "cannot find a free temporary name in " + dir.string());
    }
    NewFile file(fd, std::move(temp), final_path);
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0)
        return errno_error("cannot set the mode of " + final_path.filename().string(), errno);
    return file;
}

NewFile::NewFile(NewFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      temp_path_(std::exchange(other.temp_path_, {})),
      final_path_(std::move(other.final_path_)) {}

NewFile::~NewFile() {
    discard();
}

void NewFile::discard() noexcept {
    if (fd_ >= 0) ::close(fd_);  // an unnamed inode is freed here
    fd_ = -1;
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
    temp_path_.clear();
}

Status NewFile::commit(Replace replace, SyncDirectory sync) {
    if (fd_ < 0) return make_error(Errc::internal, final_path_.string() + " was already closed");
    if (::fsync(fd_) != 0) {
        const int err = errno;
        discard();
        return errno_error("fsync of " + final_path_.filename().string() + " failed", err);
    }
    Status named = name_it(replace);
    discard();  // closes; the temporary name is gone once named
    if (!named) return named;
    if (sync == SyncDirectory::no) return {};
    return fsync_directory(directory_of(final_path_));
}

Status NewFile::name_it(Replace replace) {
    const std::string target = final_path_.string();
    if (!temp_path_.empty()) {
        if (replace == Replace::yes) {
            if (::rename(temp_path_.c_str(), target.c_str()) != 0)
                return errno_error("cannot rename to " + target, errno);
        } else if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, target.c_str(),
                               RENAME_NOREPLACE) != 0) {
            const int err = errno;
            if (err != EINVAL && err != ENOSYS)
                return errno_error("cannot rename to " + target, err);
            // No RENAME_NOREPLACE here: link() refuses to replace too.
            if (::link(temp_path_.c_str(), target.c_str()) != 0)
                return errno_error("cannot link to " + target, errno);
            ::unlink(temp_path_.c_str());
        }
        temp_path_.clear();
        return {};
    }
    const std::string self = proc_path(fd_);
    if (replace == Replace::no) {
        if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) != 0)
            return errno_error("cannot create " + target, errno);
        return {};
    }
    // Replacing: a name of our own for an instant (the file is complete and
    // durable by now), then an atomic rename over the old file.
    for (int attempt = 0; attempt < 8; ++attempt) {
        const std::string temp = temporary_name_for(final_path_);
        if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            if (errno == EEXIST) continue;
            return errno_error("cannot create " + target, errno);
        }
        if (::rename(temp.c_str(), target.c_str()) != 0) {
            const int err = errno;
            ::unlink(temp.c_str());
            return errno_error("cannot rename to " + target, err);
        }
        return {};
    }
    return make_error(Errc::io, "cannot find a free temporary name next to " + target);
}

}  // namespace custodia::core
