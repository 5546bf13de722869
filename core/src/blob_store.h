// <vault>/blobs/xx/<blob id>: one encrypted file per attachment, where xx is
// the id's first two hex digits (so no directory grows past a few thousand
// entries). A blob appears under its final name only once its bytes are
// fsynced; until then it is <blob id>.tmp, which nothing ever references.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "custodia/core/evidence.h"
#include "custodia/crypto/result.h"
#include "durable_file.h"

namespace custodia::core {

// A blob being written: removed again unless committed.
class PendingBlob {
  public:
    PendingBlob() = default;
    PendingBlob(PendingBlob&&) noexcept = default;
    PendingBlob& operator=(PendingBlob&&) noexcept = default;
    ~PendingBlob();

    int fd() const noexcept { return fd_.get(); }
    const BlobId& id() const noexcept { return id_; }

  private:
    friend class BlobStore;
    BlobId id_;
    std::filesystem::path tmp_path_;
    std::filesystem::path final_path_;
    UniqueFd fd_;
    bool committed_ = false;
};

class BlobStore {
  public:
    explicit BlobStore(std::filesystem::path root) : root_(std::move(root)) {}

    const std::filesystem::path& root() const noexcept { return root_; }
    std::filesystem::path path_of(const BlobId& id) const;

    // Creates blobs/xx/<id>.tmp (exclusively, mode 0600).
    [[nodiscard]] Result<PendingBlob> begin(const BlobId& id) const;
    // fsync, rename to the final name, fsync the directory.
    [[nodiscard]] Status commit(PendingBlob& blob) const;
    // Removes a committed blob (its key is already gone) and fsyncs the
    // directory. A blob that is not there is not an error.
    [[nodiscard]] Status remove(const BlobId& id) const;
    [[nodiscard]] Result<UniqueFd> open_for_reading(const BlobId& id) const;

    struct Listing {
        std::vector<BlobId> blobs;                       // well-named committed blobs
        std::vector<std::filesystem::path> temporaries;  // *.tmp left by a crash
    };
    // Everything under blobs/ that follows the naming scheme; anything else
    // is left alone and not reported.
    [[nodiscard]] Result<Listing> list() const;

  private:
    std::filesystem::path root_;
};

}  // namespace custodia::core
