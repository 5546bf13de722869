// The custody log in vault.db: entries as RFC 6962 leaves, their perfect
// interior nodes, and signed checkpoints (docs/FORMAT.md, "Custody log").
//
// CustodyLog keeps only the right edge of the tree in memory (one hash per
// set bit of the size), so appending and signing a new tree head never read
// old entries, and opening a vault costs O(log n) lookups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "custodia/core/database.h"
#include "custodia/core/merkle.h"
#include "custodia/core/note.h"
#include "custodia/core/vault.h"

namespace custodia::core {

// Leaf hashes and stored interior nodes of the first `size` leaves.
class DatabaseLeafHashes final : public LeafHashes {
  public:
    DatabaseLeafHashes(Database& db, std::uint64_t size) : db_(db), size_(size) {}
    std::uint64_t size() const override { return size_; }
    [[nodiscard]] Status read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                          std::vector<MerkleHash>& out) const override;
    [[nodiscard]] Result<MerkleHash> range_hash(std::uint64_t begin,
                                                std::uint64_t end) const override;
    // The perfect subtree hash at (level, index); level 0 is a leaf.
    [[nodiscard]] Result<MerkleHash> node(unsigned level, std::uint64_t index) const;

  private:
    Database& db_;
    std::uint64_t size_;
    // Prepared once: a proof reads a few nodes, an export many proofs.
    mutable std::optional<Statement> leaf_query_;
    mutable std::optional<Statement> node_query_;
};

// Who signs checkpoints: the device key under the origin's name.
struct CheckpointSigner {
    std::string origin;  // also the signed-note key name
    const crypto::Ed25519SecretKey* key = nullptr;

    [[nodiscard]] Result<NoteVerifierKey> verifier() const;
};

// A checkpoint note that verified under the device key, with its parsed text.
struct VerifiedCheckpoint {
    std::string note;  // the exact signed-note bytes
    Checkpoint checkpoint;
};

// Parses a signed note and checks the device key signed it as a checkpoint
// of `origin`. Errc::malformed or Errc::auth_failed (for verify()'s report).
[[nodiscard]] Result<VerifiedCheckpoint> parse_device_checkpoint(std::string_view note,
                                                                 const NoteVerifierKey& verifier);

class CustodyLog {
  public:
    // Restores the right edge from the stored nodes.
    [[nodiscard]] static Result<CustodyLog> load(Database& db);

    std::uint64_t size() const noexcept { return size_; }
    MerkleHash root() const;

    // Appends one entry inside the caller's open transaction. On failure
    // the caller rolls back the transaction and restores a copy of this log.
    [[nodiscard]] Result<CustodyEntry> append(Database& db, CustodyEvent event,
                                              const Timestamp& time,
                                              const std::optional<CaseId>& case_id,
                                              const std::optional<ItemId>& item_id,
                                              std::string details);

    // Signs a checkpoint of the current tree and stores it, inside the
    // caller's transaction, after checking it extends (consistency proof)
    // the last stored checkpoint and `outside` (vault.checkpoint), if given.
    // Older checkpoints nobody cosigned or timestamped are dropped: the new
    // one covers them. Returns the signed note.
    [[nodiscard]] Result<std::string> sign_checkpoint(Database& db, const CheckpointSigner& signer,
                                                      const std::optional<Checkpoint>& outside,
                                                      std::int64_t now_unix_ms);

  private:
    std::uint64_t size_ = 0;
    // (level, hash) of each perfect subtree on the right edge, largest first.
    std::vector<std::pair<unsigned, MerkleHash>> edge_;
};

// Checks that a tree of `to.size` leaves stored in `db` with root `to.root`
// extends `from` (same tree, or a consistency proof from it verifies).
[[nodiscard]] Status check_extends(Database& db, const Checkpoint& from, const Checkpoint& to);

// The latest stored checkpoint, if any (not yet verified).
[[nodiscard]] Result<std::optional<std::string>> latest_checkpoint_note(Database& db);

}  // namespace custodia::core
