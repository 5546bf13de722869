// The custody log's Merkle tree: RFC 6962 / RFC 9162 hashing, tree heads,
// inclusion and consistency proofs, and a compact range for O(log n) appends.
//
// Hashing (RFC 9162 §2.1.1): a leaf is SHA-256(0x00 || entry), an interior
// node SHA-256(0x01 || left || right), the empty tree SHA-256(""). The tree
// over n leaves splits at the largest power of two below n, so a tree of any
// size has exactly one root and every proof has exactly one valid length.
//
// Verification takes attacker-controlled input (a bundle's proofs, a
// server's checkpoint): it never loops beyond the proof's 64-hash limit,
// never reads out of bounds, and says why it refused.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/result.h"

namespace custodia::core {

using MerkleHash = crypto::Sha256Digest;

// A proof never needs more hashes than the tree has levels, and a tree of at
// most 2^64 - 1 leaves has at most 64 levels below its root.
inline constexpr std::size_t kMaxProofHashes = 64;

MerkleHash leaf_hash(std::span<const std::uint8_t> entry);
MerkleHash leaf_hash(std::string_view entry);
MerkleHash node_hash(const MerkleHash& left, const MerkleHash& right);
MerkleHash empty_tree_hash();  // SHA-256 of the empty string

// Where the leaf hashes live. The vault keeps them in its database; tests and
// bundle verification keep them in memory (MemoryLeafHashes).
class LeafHashes {
  public:
    virtual ~LeafHashes() = default;

    virtual std::uint64_t size() const = 0;

    // Appends the leaf hashes with indices [begin, end) to out; end <= size().
    [[nodiscard]] virtual Status read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                                  std::vector<MerkleHash>& out) const = 0;

    // The Merkle tree hash of the leaves [begin, end) taken as a tree of their
    // own (MTH(D[begin:end]) in RFC 9162). The default reads the leaves in
    // chunks and folds them, O(end - begin); a source that stores interior
    // nodes overrides it.
    [[nodiscard]] virtual Result<MerkleHash> range_hash(std::uint64_t begin,
                                                        std::uint64_t end) const;
};

// The RFC 9162 tree head of the first tree_size leaves of a source.
[[nodiscard]] Result<MerkleHash> merkle_root(const LeafHashes& leaves, std::uint64_t tree_size);

// PATH(index, D[0:tree_size]) of RFC 9162 §2.1.3.1, leaf to root order.
[[nodiscard]] Result<std::vector<MerkleHash>> inclusion_proof(const LeafHashes& leaves,
                                                              std::uint64_t index,
                                                              std::uint64_t tree_size);

// PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1. Empty when old_size is
// 0 or equal to new_size.
[[nodiscard]] Result<std::vector<MerkleHash>> consistency_proof(const LeafHashes& leaves,
                                                                std::uint64_t old_size,
                                                                std::uint64_t new_size);

// The number of hashes a valid proof has; verification rejects any other
// count before hashing anything. Both require index < tree_size and
// old_size <= new_size respectively (they return 0 otherwise).
std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t tree_size) noexcept;
std::size_t consistency_proof_size(std::uint64_t old_size, std::uint64_t new_size) noexcept;

// RFC 9162 §2.1.3.2: the root a proof leads to, or why it cannot lead anywhere
// (Errc::malformed: index not below tree_size, wrong number of hashes).
[[nodiscard]] Result<MerkleHash> root_from_inclusion_proof(const MerkleHash& leaf,
                                                           std::uint64_t index,
                                                           std::uint64_t tree_size,
                                                           std::span<const MerkleHash> proof);

// Errc::malformed for a proof that cannot be valid for these sizes,
// Errc::auth_failed for a well-formed proof that leads to another root.
[[nodiscard]] Status verify_inclusion(const MerkleHash& leaf, std::uint64_t index,
                                      std::uint64_t tree_size, std::span<const MerkleHash> proof,
                                      const MerkleHash& root);

// RFC 9162 §2.1.4.2, plus the trivial cases the algorithm leaves to the
// caller: equal sizes need an empty proof and equal roots; an old size of 0
// needs an empty proof and the empty-tree hash as the old root.
[[nodiscard]] Status verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                                        const MerkleHash& old_root, const MerkleHash& new_root,
                                        std::span<const MerkleHash> proof);

// Splits concatenated 32-byte hashes (a proof as stored or transmitted).
[[nodiscard]] Result<std::vector<MerkleHash>> merkle_hashes_from_bytes(
    std::span<const std::uint8_t> bytes);

// The right edge of a growing tree: one perfect-subtree hash per set bit of
// the size, largest (leftmost) first. Appending a leaf merges at most
// log2(size) pairs and the root folds at most log2(size) hashes, so the log can
// append and sign a new tree head without touching old leaves.
class CompactRange {
  public:
    CompactRange() = default;

    // Restores a range saved with size() and hashes(); the number of hashes
    // must equal the number of set bits in size.
    [[nodiscard]] static Result<CompactRange> from_parts(std::uint64_t size,
                                                         std::vector<MerkleHash> hashes);

    void append(const MerkleHash& leaf);
    std::uint64_t size() const noexcept { return size_; }
    const std::vector<MerkleHash>& hashes() const noexcept { return hashes_; }
    MerkleHash root() const;

  private:
    std::uint64_t size_ = 0;
    std::vector<MerkleHash> hashes_;
};

// Leaf hashes in memory with every perfect interior node kept beside them
// (about 64 bytes per leaf), so range_hash, and with it every proof, costs
// O(log n) hashes instead of O(n).
class MemoryLeafHashes final : public LeafHashes {
  public:
    MemoryLeafHashes() = default;

    void append(const MerkleHash& leaf);
    void append_entry(std::span<const std::uint8_t> entry) { append(leaf_hash(entry)); }

    std::uint64_t size() const override { return levels_.empty() ? 0 : levels_[0].size(); }
    [[nodiscard]] Status read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                          std::vector<MerkleHash>& out) const override;
    [[nodiscard]] Result<MerkleHash> range_hash(std::uint64_t begin,
                                                std::uint64_t end) const override;

  private:
    // levels_[l][i] is the hash of the perfect subtree over leaves
    // [i * 2^l, (i + 1) * 2^l).
    std::vector<std::vector<MerkleHash>> levels_;
};

}  // namespace custodia::core
