#include "custodia/core/merkle.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace custodia::core {
namespace {

// RFC 9162 §2.1.1 domain separation: a leaf can never be mistaken for a node.
constexpr std::uint8_t kLeafPrefix = 0x00;
constexpr std::uint8_t kNodePrefix = 0x01;

// Leaf hashes are read from a source in slices of this many, so folding a
// range of a database-backed log never holds the whole log in memory.
constexpr std::uint64_t kReadChunk = 4096;

// One hashing context per thread: the custody log hashes many short inputs,
// and setting up an OpenSSL context for each would cost more than the hash.
crypto::Sha256& thread_hasher() {
    thread_local crypto::Sha256 hasher;
    return hasher;
}

// Largest power of two strictly below n; n >= 2.
std::uint64_t split_point(std::uint64_t n) noexcept {
    return std::bit_floor(n - 1);
}

std::string describe_sizes(std::uint64_t a, std::uint64_t b) {
    return std::to_string(a) + " / " + std::to_string(b);
}

}  // namespace

MerkleHash leaf_hash(std::span<const std::uint8_t> entry) {
    crypto::Sha256& h = thread_hasher();
    const std::uint8_t prefix = kLeafPrefix;
    h.update(std::span<const std::uint8_t>(&prefix, 1));
    h.update(entry);
    return h.finish();
}

MerkleHash leaf_hash(std::string_view entry) {
    return leaf_hash(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(entry.data()), entry.size()));
}

MerkleHash node_hash(const MerkleHash& left, const MerkleHash& right) {
    std::uint8_t buf[1 + 2 * sizeof(MerkleHash)];
    buf[0] = kNodePrefix;
    std::memcpy(buf + 1, left.data(), left.size());
    std::memcpy(buf + 1 + left.size(), right.data(), right.size());
    crypto::Sha256& h = thread_hasher();
    h.update(std::span<const std::uint8_t>(buf, sizeof buf));
    return h.finish();
}

MerkleHash empty_tree_hash() {
    static const MerkleHash empty = crypto::sha256(std::span<const std::uint8_t>{});
    return empty;
}

// ---------------------------------------------------------------------------
// CompactRange

Result<CompactRange> CompactRange::from_parts(std::uint64_t size, std::vector<MerkleHash> hashes) {
    if (static_cast<std::size_t>(std::popcount(size)) != hashes.size())
        return make_error(Errc::malformed, "compact range: a tree of size " + std::to_string(size) +
                                               " has " + std::to_string(std::popcount(size)) +
                                               " edge hashes, not " +
                                               std::to_string(hashes.size()));
    CompactRange range;
    range.size_ = size;
    range.hashes_ = std::move(hashes);
    return range;
}

void CompactRange::append(const MerkleHash& leaf) {
    if (size_ == std::numeric_limits<std::uint64_t>::max())
        throw std::length_error("Merkle tree is full");
    // Each trailing set bit of the old size is a perfect subtree of the size
    // the new leaf is about to complete; merge them from the smallest up.
    MerkleHash carry = leaf;
    for (std::uint64_t s = size_; s & 1; s >>= 1) {
        carry = node_hash(hashes_.back(), carry);
        hashes_.pop_back();
    }
    hashes_.push_back(carry);
    ++size_;
}

MerkleHash CompactRange::root() const {
    if (hashes_.empty()) return empty_tree_hash();
    MerkleHash r = hashes_.back();
    for (std::size_t i = hashes_.size() - 1; i-- > 0;) r = node_hash(hashes_[i], r);
    return r;
}

// ---------------------------------------------------------------------------
// Sources

Result<MerkleHash> LeafHashes::range_hash(std::uint64_t begin, std::uint64_t end) const {
    if (begin > end || end > size())
        return make_error(Errc::malformed,
                          "leaf range " + describe_sizes(begin, end) + " outside the log");
    CompactRange range;
    std::vector<MerkleHash> chunk;
    for (std::uint64_t at = begin; at < end;) {
        const std::uint64_t stop = end - at > kReadChunk ? at + kReadChunk : end;
        chunk.clear();
        if (Status s = read_leaf_hashes(at, stop, chunk); !s) return std::move(s).error();
        if (chunk.size() != stop - at)
            return make_error(Errc::internal, "leaf hash source returned a short read");
        for (const MerkleHash& h : chunk) range.append(h);
        at = stop;
    }
    return range.root();
}

void MemoryLeafHashes::append(const MerkleHash& leaf) {
    if (levels_.empty()) levels_.emplace_back();
    levels_[0].push_back(leaf);
    // A level gains a parent whenever it reaches an even length.
    for (std::size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
        const std::vector<MerkleHash>& level = levels_[l];
        MerkleHash parent = node_hash(level[level.size() - 2], level[level.size() - 1]);
        if (levels_.size() == l + 1) levels_.emplace_back();
        levels_[l + 1].push_back(parent);
    }
}

Status MemoryLeafHashes::read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                          std::vector<MerkleHash>& out) const {
    if (begin > end || end > size())
        return make_error(Errc::malformed,
                          "leaf range " + describe_sizes(begin, end) + " outside the log");
    if (begin == end) return {};
    const std::vector<MerkleHash>& leaves = levels_[0];
    out.insert(out.end(), leaves.begin() + static_cast<std::ptrdiff_t>(begin),
               leaves.begin() + static_cast<std::ptrdiff_t>(end));
    return {};
}

Result<MerkleHash> MemoryLeafHashes::range_hash(std::uint64_t begin, std::uint64_t end) const {
    if (begin > end || end > size())
        return make_error(Errc::malformed,
                          "leaf range " + describe_sizes(begin, end) + " outside the log");
    const std::uint64_t count = end - begin;
    if (count == 0) return empty_tree_hash();
    // Every range a proof asks for starts on a multiple of the smallest power
    // of two >= its length; such a range is made of stored perfect subtrees,
    // one per set bit of its length. Anything else is folded leaf by leaf.
    const bool aligned = count <= (std::uint64_t{1} << 63) && begin % std::bit_ceil(count) == 0;
    if (!aligned) return LeafHashes::range_hash(begin, end);
    MerkleHash parts[64];
    std::size_t n = 0;
    std::uint64_t at = begin;
    for (int level = static_cast<int>(std::bit_width(count)) - 1; level >= 0; --level) {
        const std::uint64_t width = std::uint64_t{1} << level;
        if ((count & width) == 0) continue;
        parts[n++] = levels_[static_cast<std::size_t>(level)][at >> level];
        at += width;
    }
    MerkleHash r = parts[n - 1];
    for (std::size_t i = n - 1; i-- > 0;) r = node_hash(parts[i], r);
    return r;
}

// ---------------------------------------------------------------------------
// Tree heads and proofs

Result<MerkleHash> merkle_root(const LeafHashes& leaves, std::uint64_t tree_size) {
    if (tree_size > leaves.size())
        return make_error(Errc::malformed, "tree size " + std::to_string(tree_size) +
                                               " is beyond the log's " +
                                               std::to_string(leaves.size()) + " leaves");
    return leaves.range_hash(0, tree_size);
}

Result<std::vector<MerkleHash>> inclusion_proof(const LeafHashes& leaves, std::uint64_t index,
                                                std::uint64_t tree_size) {
    if (index >= tree_size)
        return make_error(Errc::malformed, "inclusion proof: leaf index not below tree size (" +
                                               describe_sizes(index, tree_size) + ")");
    if (tree_size > leaves.size())
        return make_error(Errc::malformed, "inclusion proof: tree size beyond the log");
    // PATH(m, D[n]) walked from the root down; the siblings come out root
    // first, and the proof lists them leaf first.
    std::vector<MerkleHash> path;
    std::uint64_t begin = 0, end = tree_size;
    while (end - begin > 1) {
        const std::uint64_t k = split_point(end - begin);
        Result<MerkleHash> sibling = index < begin + k ? leaves.range_hash(begin + k, end)
                                                       : leaves.range_hash(begin, begin + k);
        if (!sibling) return std::move(sibling).error();
        path.push_back(*sibling);
        if (index < begin + k)
            end = begin + k;
        else
            begin += k;
    }
    std::reverse(path.begin(), path.end());
    return path;
}

Result<std::vector<MerkleHash>> consistency_proof(const LeafHashes& leaves, std::uint64_t old_size,
                                                  std::uint64_t new_size) {
    if (old_size > new_size)
        return make_error(Errc::malformed, "consistency proof: old tree larger than new (" +
                                               describe_sizes(old_size, new_size) + ")");
    if (new_size > leaves.size())
        return make_error(Errc::malformed, "consistency proof: tree size beyond the log");
    std::vector<MerkleHash> proof;
    if (old_size == 0 || old_size == new_size) return proof;
    // SUBPROOF(m, D[n], b) walked from the root down. `whole` is b: true while
    // the old tree's root is itself a node on the way, which the verifier
    // already knows and so is left out.
    std::uint64_t begin = 0, end = new_size, m = old_size;
    bool whole = true;
    for (;;) {
        if (m == end - begin) {
            if (!whole) {
                Result<MerkleHash> h = leaves.range_hash(begin, end);
                if (!h) return std::move(h).error();
                proof.push_back(*h);
            }
            break;
        }
        const std::uint64_t k = split_point(end - begin);
        if (m <= k) {
            Result<MerkleHash> h = leaves.range_hash(begin + k, end);
            if (!h) return std::move(h).error();
            proof.push_back(*h);
            end = begin + k;
        } else {
            Result<MerkleHash> h = leaves.range_hash(begin, begin + k);
            if (!h) return std::move(h).error();
            proof.push_back(*h);
            begin += k;
            m -= k;
            whole = false;
        }
    }
    std::reverse(proof.begin(), proof.end());
    return proof;
}

std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t tree_size) noexcept {
    if (index >= tree_size) return 0;
    // Below the level where the paths to `index` and to the last leaf part,
    // every level contributes one sibling; above it, the path runs along the
    // right edge and only levels where `index` is a right child do.
    const int inner = static_cast<int>(std::bit_width(index ^ (tree_size - 1)));
    const std::uint64_t above = inner >= 64 ? 0 : index >> inner;
    return static_cast<std::size_t>(inner + std::popcount(above));
}

std::size_t consistency_proof_size(std::uint64_t old_size, std::uint64_t new_size) noexcept {
    if (old_size == 0 || old_size >= new_size) return 0;
    // The proof is the inclusion path, in the new tree, of the last perfect
    // subtree of the old one, plus that subtree itself unless it is the
    // whole old tree (which the verifier already has as the old root).
    const int level = std::countr_zero(old_size);
    const std::uint64_t node = (old_size - 1) >> level;
    const std::uint64_t last = (new_size - 1) >> level;
    return inclusion_proof_size(node, last + 1) + (node != 0 ? 1 : 0);
}

Result<MerkleHash> root_from_inclusion_proof(const MerkleHash& leaf, std::uint64_t index,
                                             std::uint64_t tree_size,
                                             std::span<const MerkleHash> proof) {
    if (index >= tree_size)
        return make_error(Errc::malformed, "inclusion proof: leaf index not below tree size (" +
                                               describe_sizes(index, tree_size) + ")");
    const std::size_t expected = inclusion_proof_size(index, tree_size);
    if (proof.size() != expected)
        return make_error(Errc::malformed, "inclusion proof has " + std::to_string(proof.size()) +
                                               " hashes; this index and size need " +
                                               std::to_string(expected));
    // RFC 9162 §2.1.3.2, step by step.
    std::uint64_t fn = index, sn = tree_size - 1;
    MerkleHash r = leaf;
    for (const MerkleHash& p : proof) {
        if (sn == 0) return make_error(Errc::malformed, "inclusion proof too long");
        if ((fn & 1) != 0 || fn == sn) {
            r = node_hash(p, r);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return make_error(Errc::malformed, "inclusion proof too short");
    return r;
}

Status verify_inclusion(const MerkleHash& leaf, std::uint64_t index, std::uint64_t tree_size,
                        std::span<const MerkleHash> proof, const MerkleHash& root) {
    Result<MerkleHash> computed = root_from_inclusion_proof(leaf, index, tree_size, proof);
    if (!computed) return std::move(computed).error();
    if (*computed != root)
        return make_error(Errc::auth_failed, "inclusion proof leads to a different root");
    return {};
}

Status verify_consistency(std::uint64_t old_size, std::uint64_t new_size,
                          const MerkleHash& old_root, const MerkleHash& new_root,
                          std::span<const MerkleHash> proof) {
    if (old_size > new_size)
        return make_error(Errc::malformed, "consistency proof: old tree larger than new (" +
                                               describe_sizes(old_size, new_size) + ")");
    if (old_size == new_size) {
        if (!proof.empty())
            return make_error(Errc::malformed,
                              "consistency proof between equal sizes must be empty");
        if (old_root != new_root)
            return make_error(Errc::auth_failed, "two different roots for the same tree size");
        return {};
    }
    if (old_size == 0) {
        if (!proof.empty())
            return make_error(Errc::malformed,
                              "consistency proof from the empty tree must be empty");
        if (old_root != empty_tree_hash())
            return make_error(Errc::auth_failed, "old root is not the empty tree's hash");
        return {};
    }
    const std::size_t expected = consistency_proof_size(old_size, new_size);
    if (proof.size() != expected)
        return make_error(Errc::malformed, "consistency proof has " + std::to_string(proof.size()) +
                                               " hashes; these sizes need " +
                                               std::to_string(expected));

    // RFC 9162 §2.1.4.2. When the old size is a power of two the old root is
    // the proof's implicit first element.
    const bool old_is_perfect = std::has_single_bit(old_size);
    std::size_t next = 0;
    const MerkleHash& first = old_is_perfect ? old_root : proof[next++];
    std::uint64_t fn = old_size - 1, sn = new_size - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    MerkleHash fr = first, sr = first;
    for (; next < proof.size(); ++next) {
        const MerkleHash& c = proof[next];
        if (sn == 0) return make_error(Errc::malformed, "consistency proof too long");
        if ((fn & 1) != 0 || fn == sn) {
            fr = node_hash(c, fr);
            sr = node_hash(c, sr);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) return make_error(Errc::malformed, "consistency proof too short");
    if (fr != old_root)
        return make_error(Errc::auth_failed, "consistency proof does not lead to the old root");
    if (sr != new_root)
        return make_error(Errc::auth_failed, "consistency proof does not lead to the new root");
    return {};
}

Result<std::vector<MerkleHash>> merkle_hashes_from_bytes(std::span<const std::uint8_t> bytes) {
    if (bytes.size() % sizeof(MerkleHash) != 0)
        return make_error(Errc::malformed, "proof is not a whole number of 32-byte hashes");
    if (bytes.size() / sizeof(MerkleHash) > kMaxProofHashes)
        return make_error(Errc::limit, "proof has more hashes than any tree can need");
    std::vector<MerkleHash> out(bytes.size() / sizeof(MerkleHash));
    for (std::size_t i = 0; i < out.size(); ++i)
        std::memcpy(out[i].data(), bytes.data() + i * sizeof(MerkleHash), sizeof(MerkleHash));
    return out;
}

}  // namespace custodia::core
