#include "blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "custodia/core/vault_format.h"
#include "ids.h"

namespace custodia::core {

namespace {

bool is_shard_name(std::string_view name) {
    return name.size() == 2 && is_valid_id(std::string(name) + std::string(30, '0'));
}

}  // namespace

PendingBlob::~PendingBlob() {
    if (!committed_ && !tmp_path_.empty()) {
        fd_.reset();
        ::unlink(tmp_path_.c_str());
    }
}

std::filesystem::path BlobStore::path_of(const BlobId& id) const {
    return root_ / id.substr(0, 2) / id;
}

Result<PendingBlob> BlobStore::begin(const BlobId& id) const {
    if (!is_valid_id(id)) return make_error(Errc::internal, "malformed blob id");
    if (auto s = make_directory_durably(root_); !s) return std::move(s).error();
    const auto shard = root_ / id.substr(0, 2);
    if (auto s = make_directory_durably(shard); !s) return std::move(s).error();
    PendingBlob blob;
    blob.id_ = id;
    blob.final_path_ = shard / id;
    blob.tmp_path_ = shard / (id + std::string(vault_format::kTempSuffix));
    blob.fd_ = UniqueFd(
        ::open(blob.tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!blob.fd_.valid()) {
        const int err = errno;
        blob.tmp_path_.clear();  // not ours: never unlink it
        return errno_error("cannot create a blob file", err);
    }
    return blob;
}

Status BlobStore::commit(PendingBlob& blob) const {
    if (auto s = fsync_fd(blob.fd_.get(), "blob"); !s) return s;
    if (auto s = blob.fd_.close_checked(); !s) return s;
    // RENAME_NOREPLACE: a random 128-bit id never collides, but if it ever
    // did, an existing blob must not be replaced.
    if (::renameat2(AT_FDCWD, blob.tmp_path_.c_str(), AT_FDCWD, blob.final_path_.c_str(),
                    RENAME_NOREPLACE) != 0)
        return errno_error("cannot rename a blob into place", errno);
    blob.committed_ = true;
    return fsync_directory(blob.final_path_.parent_path());
}

Status BlobStore::remove(const BlobId& id) const {
    if (!is_valid_id(id)) return make_error(Errc::internal, "malformed blob id");
    const auto path = path_of(id);
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT) return {};
        return errno_error("cannot remove a blob", errno);
    }
    return fsync_directory(path.parent_path());
}

Result<UniqueFd> BlobStore::open_for_reading(const BlobId& id) const {
    if (!is_valid_id(id)) return make_error(Errc::malformed, "malformed blob id");
    UniqueFd fd(::open(path_of(id).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        if (errno == ENOENT) return make_error(Errc::io, "blob file is missing");
        return errno_error("cannot open a blob", errno);
    }
    return fd;
}

Result<BlobStore::Listing> BlobStore::list() const {
    Listing out;
    std::error_code ec;
    if (!std::filesystem::exists(root_, ec)) return out;
    for (std::filesystem::directory_iterator shard(root_, ec), end; !ec && shard != end;
         shard.increment(ec)) {
        const std::string shard_name = shard->path().filename().string();
        if (!is_shard_name(shard_name) || !shard->is_directory(ec)) continue;
        std::error_code inner;
        for (std::filesystem::directory_iterator f(shard->path(), inner), fend; !inner && f != fend;
             f.increment(inner)) {
            const std::string name = f->path().filename().string();
            if (!f->is_regular_file(inner)) continue;
            const std::string_view suffix = vault_format::kTempSuffix;
            if (name.size() == 32 + suffix.size() && name.ends_with(suffix) &&
                is_valid_id(name.substr(0, 32)) && name.starts_with(shard_name)) {
                out.temporaries.push_back(f->path());
            } else if (is_valid_id(name) && name.starts_with(shard_name)) {
                out.blobs.push_back(name);
            }
        }
        if (inner) return errno_error("cannot list blobs", inner.value());
    }
    if (ec) return errno_error("cannot list blobs", ec.value());
    return out;
}

}  // namespace custodia::core
