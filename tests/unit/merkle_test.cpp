// RFC 6962 / RFC 9162 Merkle tree: published known answers, then a brute-force
// cross-check of every proof for every tree of up to 64 leaves against a
// reference written straight from the RFC's recursive definitions.
#include "custodia/core/merkle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "custodia/crypto/encoding.h"

namespace {

using custodia::Errc;
using custodia::core::CompactRange;
using custodia::core::MerkleHash;

constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

MerkleHash h(std::string_view hex) {
    std::optional<std::vector<std::uint8_t>> raw = custodia::crypto::from_hex(hex);
    MerkleHash out{};
    if (!raw || raw->size() != out.size()) {
        ADD_FAILURE() << "bad test hash " << hex;
        return out;
    }
    std::copy(raw->begin(), raw->end(), out.begin());
    return out;
}

std::vector<std::uint8_t> bytes(std::string_view hex) {
    return custodia::crypto::from_hex(hex).value();
}

std::string hex(const MerkleHash& x) {
    return custodia::crypto::to_hex(x);
}

// A source that implements only the required part of the interface, so the
// base class's chunked folding is what computes every range.
class PlainLeafHashes final : public custodia::core::LeafHashes {
  public:
    explicit PlainLeafHashes(std::vector<MerkleHash> leaves) : leaves_(std::move(leaves)) {}
    std::uint64_t size() const override { return leaves_.size(); }
    custodia::Status read_leaf_hashes(std::uint64_t begin, std::uint64_t end,
                                      std::vector<MerkleHash>& out) const override {
        if (begin > end || end > leaves_.size())
            return custodia::make_error(Errc::malformed, "out of range");
        out.insert(out.end(), leaves_.begin() + static_cast<std::ptrdiff_t>(begin),
                   leaves_.begin() + static_cast<std::ptrdiff_t>(end));
        return {};
    }

  private:
    std::vector<MerkleHash> leaves_;
};

// A database that has gone away.
class FailingLeafHashes final : public custodia::core::LeafHashes {
  public:
    std::uint64_t size() const override { return 10; }
    custodia::Status read_leaf_hashes(std::uint64_t, std::uint64_t,
                                      std::vector<MerkleHash>&) const override {
        return custodia::make_error(Errc::io, "disk gone");
    }
};

// ---------------------------------------------------------------------------
// Known answers.
//
// Source: the Certificate Transparency reference implementation's test tree,
// google/certificate-transparency cpp/merkletree/merkle_tree_test.cc
// (kInputs, kSHA256Roots, kSHA256Paths, kSHA256Proofs), reused verbatim in
// transparency-dev/merkle proof/verify_test.go (inclusionProofs,
// consistencyProofs, roots, leaves), which adds the 6 -> 7 consistency proof.
// Leaf numbers in those files are 1-based; indices here are 0-based.

const char* const kLeafInputs[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

const char* const kRoots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

// SHA-256 of the empty string (FIPS 180-2 example; also kSHA256EmptyTreeHash
// in the file above).
constexpr const char* kEmptyTreeHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct PublishedInclusion {
    std::uint64_t index;  // 0-based
    std::uint64_t size;
    std::vector<const char*> path;
};

const std::vector<PublishedInclusion> kInclusion = {
    {0, 1, {}},
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

struct PublishedConsistency {
    std::uint64_t old_size;
    std::uint64_t new_size;
    std::vector<const char*> proof;
};

const std::vector<PublishedConsistency> kConsistency = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<MerkleHash> to_hashes(const std::vector<const char*>& hexes) {
    std::vector<MerkleHash> out;
    for (const char* x : hexes) out.push_back(h(x));
    return out;
}

custodia::core::MemoryLeafHashes reference_tree() {
    custodia::core::MemoryLeafHashes tree;
    for (const char* input : kLeafInputs) tree.append_entry(bytes(input));
    return tree;
}

TEST(MerkleHashing, EmptyTreeIsSha256OfNothing) {
    EXPECT_EQ(hex(custodia::core::empty_tree_hash()), kEmptyTreeHash);
    EXPECT_EQ(hex(CompactRange().root()), kEmptyTreeHash);
    custodia::core::MemoryLeafHashes none;
    EXPECT_EQ(hex(custodia::core::merkle_root(none, 0).value()), kEmptyTreeHash);
}

// transparency-dev/merkle rfc6962/rfc6962_test.go, TestRFC6962Hasher:
// "echo -n 00 | xxd -r -p | sha256sum" and "echo -n 004C313233343536 | ...".
TEST(MerkleHashing, LeafHashHasZeroPrefix) {
    EXPECT_EQ(hex(custodia::core::leaf_hash(std::string_view{})),
              "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    EXPECT_EQ(hex(custodia::core::leaf_hash(std::string_view{"L123456"})),
              "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56");
}

TEST(MerkleKnownAnswers, RootsOfSizes1To8AllThreeWays) {
    custodia::core::MemoryLeafHashes tree = reference_tree();
    std::vector<MerkleHash> leaves;
    CompactRange range;
    for (std::uint64_t n = 1; n <= 8; ++n) {
        const MerkleHash leaf = custodia::core::leaf_hash(bytes(kLeafInputs[n - 1]));
        leaves.push_back(leaf);
        range.append(leaf);
        EXPECT_EQ(hex(range.root()), kRoots[n - 1]) << "compact range, size " << n;
        EXPECT_EQ(hex(custodia::core::merkle_root(tree, n).value()), kRoots[n - 1])
            << "stored nodes, size " << n;
        PlainLeafHashes plain(leaves);
        EXPECT_EQ(hex(custodia::core::merkle_root(plain, n).value()), kRoots[n - 1])
            << "folded leaves, size " << n;
    }
}

TEST(MerkleKnownAnswers, PublishedInclusionProofsAreGeneratedAndVerify) {
    custodia::core::MemoryLeafHashes tree = reference_tree();
    PlainLeafHashes plain(std::vector<MerkleHash>{});
    for (const PublishedInclusion& v : kInclusion) {
        SCOPED_TRACE("leaf " + std::to_string(v.index) + " of " + std::to_string(v.size));
        const std::vector<MerkleHash> want = to_hashes(v.path);
        EXPECT_EQ(custodia::core::inclusion_proof(tree, v.index, v.size).value(), want);
        const MerkleHash leaf = custodia::core::leaf_hash(bytes(kLeafInputs[v.index]));
        const MerkleHash root = h(kRoots[v.size - 1]);
        EXPECT_EQ(custodia::core::root_from_inclusion_proof(leaf, v.index, v.size, want).value(),
                  root);
        EXPECT_TRUE(custodia::core::verify_inclusion(leaf, v.index, v.size, want, root).ok());
    }
}

TEST(MerkleKnownAnswers, PublishedConsistencyProofsAreGeneratedAndVerify) {
    custodia::core::MemoryLeafHashes tree = reference_tree();
    for (const PublishedConsistency& v : kConsistency) {
        SCOPED_TRACE(std::to_string(v.old_size) + " -> " + std::to_string(v.new_size));
        const std::vector<MerkleHash> want = to_hashes(v.proof);
        EXPECT_EQ(custodia::core::consistency_proof(tree, v.old_size, v.new_size).value(), want);
        EXPECT_TRUE(custodia::core::verify_consistency(v.old_size, v.new_size,
                                                       h(kRoots[v.old_size - 1]),
                                                       h(kRoots[v.new_size - 1]), want)
                        .ok());
    }
}

// The corruption probes of transparency-dev/merkle's verifierCheck, applied to
// the published proofs.
TEST(MerkleKnownAnswers, CorruptedPublishedInclusionProofsAreRejected) {
    const MerkleHash some_hash =
        h("abacaba000000000000000000000000000000000000000000060061e00123456");
    const MerkleHash empty = h(kEmptyTreeHash);
    for (const PublishedInclusion& v : kInclusion) {
        if (v.path.empty()) continue;
        SCOPED_TRACE("leaf " + std::to_string(v.index) + " of " + std::to_string(v.size));
        const std::vector<MerkleHash> proof = to_hashes(v.path);
        const MerkleHash leaf = custodia::core::leaf_hash(bytes(kLeafInputs[v.index]));
        const MerkleHash root = h(kRoots[v.size - 1]);
        auto rejects = [&](std::uint64_t index, std::uint64_t size, const MerkleHash& l,
                           const std::vector<MerkleHash>& p, const MerkleHash& r) {
            return !custodia::core::verify_inclusion(l, index, size, p, r).ok();
        };
        EXPECT_TRUE(rejects(v.index - 1, v.size, leaf, proof, root)) << "index - 1";
        EXPECT_TRUE(rejects(v.index + 1, v.size, leaf, proof, root)) << "index + 1";
        EXPECT_TRUE(rejects(v.index ^ 2, v.size, leaf, proof, root)) << "index ^ 2";
        EXPECT_TRUE(rejects(v.index, v.size * 2, leaf, proof, root)) << "size * 2";
        EXPECT_TRUE(rejects(v.index, v.size / 2, leaf, proof, root)) << "size / 2";
        EXPECT_TRUE(rejects(v.index, v.size,
                            custodia::core::leaf_hash(std::string_view("WrongLeaf")), proof, root))
            << "wrong leaf";
        EXPECT_TRUE(rejects(v.index, v.size, leaf, proof, empty)) << "empty root";
        EXPECT_TRUE(rejects(v.index, v.size, leaf, proof, some_hash)) << "random root";
        std::vector<MerkleHash> longer = proof;
        longer.push_back(root);
        EXPECT_TRUE(rejects(v.index, v.size, leaf, longer, root)) << "trailing root";
        longer = proof;
        longer.insert(longer.begin(), root);
        EXPECT_TRUE(rejects(v.index, v.size, leaf, longer, root)) << "preceding root";
        std::vector<MerkleHash> shorter(proof.begin(), proof.end() - 1);
        EXPECT_TRUE(rejects(v.index, v.size, leaf, shorter, root)) << "removed component";
        for (std::size_t i = 0; i < proof.size(); ++i) {
            std::vector<MerkleHash> bad = proof;
            bad[i][0] ^= 8;
            EXPECT_TRUE(rejects(v.index, v.size, leaf, bad, root)) << "proof[" << i << "] bit 3";
            bad = proof;
            bad[i] = empty;
            EXPECT_TRUE(rejects(v.index, v.size, leaf, bad, root)) << "proof[" << i << "] replaced";
        }
    }
}

TEST(MerkleKnownAnswers, CorruptedPublishedConsistencyProofsAreRejected) {
    for (const PublishedConsistency& v : kConsistency) {
        if (v.proof.empty()) continue;
        SCOPED_TRACE(std::to_string(v.old_size) + " -> " + std::to_string(v.new_size));
        const std::vector<MerkleHash> proof = to_hashes(v.proof);
        const MerkleHash r1 = h(kRoots[v.old_size - 1]);
        const MerkleHash r2 = h(kRoots[v.new_size - 1]);
        const MerkleHash wrong = custodia::core::leaf_hash(std::string_view("WrongRoot"));
        auto rejects = [](std::uint64_t s1, std::uint64_t s2, const MerkleHash& a,
                          const MerkleHash& b, const std::vector<MerkleHash>& p) {
            return !custodia::core::verify_consistency(s1, s2, a, b, p).ok();
        };
        EXPECT_TRUE(rejects(v.old_size - 1, v.new_size, r1, r2, proof)) << "size1 - 1";
        EXPECT_TRUE(rejects(v.old_size + 1, v.new_size, r1, r2, proof)) << "size1 + 1";
        EXPECT_TRUE(rejects(v.old_size ^ 2, v.new_size, r1, r2, proof)) << "size1 ^ 2";
        EXPECT_TRUE(rejects(v.old_size, v.new_size * 2, r1, r2, proof)) << "size2 * 2";
        EXPECT_TRUE(rejects(v.old_size, v.new_size / 2, r1, r2, proof)) << "size2 / 2";
        EXPECT_TRUE(rejects(v.old_size, v.new_size, wrong, r2, proof)) << "wrong root1";
        EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, wrong, proof)) << "wrong root2";
        EXPECT_TRUE(rejects(v.old_size, v.new_size, r2, r1, proof)) << "swapped roots";
        EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, r2, {})) << "empty proof";
        for (const MerkleHash& extra : {r1, r2, proof[0]}) {
            std::vector<MerkleHash> bad = proof;
            bad.push_back(extra);
            EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, r2, bad)) << "trailing hash";
            bad = proof;
            bad.insert(bad.begin(), extra);
            EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, r2, bad)) << "preceding hash";
        }
        std::vector<MerkleHash> shorter(proof.begin(), proof.end() - 1);
        EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, r2, shorter)) << "truncated";
        for (std::size_t i = 0; i < proof.size(); ++i) {
            std::vector<MerkleHash> bad = proof;
            bad[i][0] ^= 16;
            EXPECT_TRUE(rejects(v.old_size, v.new_size, r1, r2, bad)) << "proof[" << i << "] bit 4";
        }
    }
}

// transparency-dev/merkle proof/verify_test.go TestVerifyInclusion: sizes and
// indices that no proof can satisfy.
TEST(MerkleVerify, ImpossibleIndicesAndSizesAreMalformed) {
    const MerkleHash some = custodia::core::leaf_hash(std::string_view("x"));
    const std::vector<MerkleHash> none;
    const std::pair<std::uint64_t, std::uint64_t> probes[] = {
        {0, 0}, {1, 0}, {2, 1}, {5, 5}, {kMax64, kMax64}, {kMax64, 0}};
    for (auto [index, size] : probes) {
        custodia::Status s = custodia::core::verify_inclusion(some, index, size, none, some);
        ASSERT_FALSE(s.ok()) << index << " of " << size;
        EXPECT_EQ(s.error().code, Errc::malformed);
    }
}

TEST(MerkleVerify, OversizedProofsAreRejectedBeforeHashing) {
    const MerkleHash some = custodia::core::leaf_hash(std::string_view("x"));
    std::vector<MerkleHash> huge(100000, some);
    custodia::Status s = custodia::core::verify_inclusion(some, 3, 1000, huge, some);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::malformed);
    s = custodia::core::verify_consistency(3, 1000, some, some, huge);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::malformed);
}

// The largest trees the 64-bit sizes allow: proofs of the one valid length
// run to completion and fail on the hash, without overflow.
TEST(MerkleVerify, MaximalSizesRunAndFailCleanly) {
    const MerkleHash some = custodia::core::leaf_hash(std::string_view("x"));
    ASSERT_EQ(custodia::core::inclusion_proof_size(kMax64 - 1, kMax64), 63u);
    ASSERT_EQ(custodia::core::inclusion_proof_size(0, kMax64), 64u);
    ASSERT_EQ(custodia::core::consistency_proof_size(1, kMax64), 64u);
    for (auto [index, count] :
         {std::pair<std::uint64_t, std::size_t>{kMax64 - 1, 63}, {0, 64}, {kMax64 / 2, 64}}) {
        ASSERT_EQ(custodia::core::inclusion_proof_size(index, kMax64), count);
        std::vector<MerkleHash> proof(count, some);
        custodia::Status s = custodia::core::verify_inclusion(some, index, kMax64, proof, some);
        ASSERT_FALSE(s.ok());
        EXPECT_EQ(s.error().code, Errc::auth_failed);
    }
    std::vector<MerkleHash> proof(64, some);
    custodia::Status s = custodia::core::verify_consistency(1, kMax64, some, some, proof);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::auth_failed);
    proof.resize(custodia::core::consistency_proof_size(kMax64 - 1, kMax64), some);
    s = custodia::core::verify_consistency(kMax64 - 1, kMax64, some, some, proof);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, Errc::auth_failed);
}

// transparency-dev/merkle proof/verify_test.go TestVerifyConsistency, with one
// deliberate difference: from size 0 we require the old root to be the
// empty tree's hash (RFC 9162 §2.1.1 defines it), where that test accepts
// any bytes.
TEST(MerkleVerify, TrivialConsistencyCases) {
    using custodia::core::verify_consistency;
    const MerkleHash a = custodia::core::leaf_hash(std::string_view("don't care 1"));
    const MerkleHash b = custodia::core::leaf_hash(std::string_view("don't care 2"));
    const MerkleHash empty = custodia::core::empty_tree_hash();
    const std::vector<MerkleHash> none;
    const std::vector<MerkleHash> one = {empty};
    EXPECT_FALSE(verify_consistency(0, 0, a, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 1, a, b, none).ok());
    EXPECT_TRUE(verify_consistency(0, 0, a, a, none).ok());
    EXPECT_TRUE(verify_consistency(0, 1, empty, b, none).ok());
    EXPECT_FALSE(verify_consistency(0, 1, a, b, none).ok()) << "old root of size 0 not empty";
    EXPECT_TRUE(verify_consistency(1, 1, b, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 0, a, b, none).ok()) << "time travel";
    EXPECT_FALSE(verify_consistency(2, 1, a, b, none).ok()) << "time travel";
    EXPECT_FALSE(verify_consistency(1, 2, a, b, none).ok()) << "empty proof";
    EXPECT_FALSE(verify_consistency(0, 0, empty, b, none).ok());
    EXPECT_FALSE(verify_consistency(1, 1, empty, b, none).ok());
    EXPECT_FALSE(verify_consistency(0, 0, empty, empty, one).ok()) << "non-empty proof";
    EXPECT_FALSE(verify_consistency(0, 1, empty, empty, one).ok()) << "non-empty proof";
    EXPECT_FALSE(verify_consistency(1, 1, empty, empty, one).ok()) << "non-empty proof";
}

TEST(MerkleProofs, GenerationRefusesSizesBeyondTheLog) {
    custodia::core::MemoryLeafHashes tree = reference_tree();
    EXPECT_FALSE(custodia::core::merkle_root(tree, 9).ok());
    EXPECT_FALSE(custodia::core::inclusion_proof(tree, 8, 8).ok());
    EXPECT_FALSE(custodia::core::inclusion_proof(tree, 0, 9).ok());
    EXPECT_FALSE(custodia::core::inclusion_proof(tree, 0, 0).ok());
    EXPECT_FALSE(custodia::core::consistency_proof(tree, 5, 4).ok());
    EXPECT_FALSE(custodia::core::consistency_proof(tree, 1, 9).ok());
    EXPECT_TRUE(custodia::core::consistency_proof(tree, 0, 8).value().empty());
    EXPECT_TRUE(custodia::core::consistency_proof(tree, 8, 8).value().empty());
}

TEST(MerkleProofs, SourceErrorsPropagate) {
    FailingLeafHashes broken;
    auto root = custodia::core::merkle_root(broken, 5);
    ASSERT_FALSE(root.ok());
    EXPECT_EQ(root.error().code, Errc::io);
    auto proof = custodia::core::inclusion_proof(broken, 1, 5);
    ASSERT_FALSE(proof.ok());
    EXPECT_EQ(proof.error().code, Errc::io);
    auto cproof = custodia::core::consistency_proof(broken, 3, 5);
    ASSERT_FALSE(cproof.ok());
    EXPECT_EQ(cproof.error().code, Errc::io);
}

TEST(MerkleProofs, ProofBytesMustBeWholeHashes) {
    std::vector<std::uint8_t> raw(64 * 32, 7);
    EXPECT_EQ(custodia::core::merkle_hashes_from_bytes(raw).value().size(), 64u);
    raw.push_back(0);
    EXPECT_EQ(custodia::core::merkle_hashes_from_bytes(raw).error().code, Errc::malformed);
    raw.resize(65 * 32);
    EXPECT_EQ(custodia::core::merkle_hashes_from_bytes(raw).error().code, Errc::limit);
    raw.assign(31, 0);
    EXPECT_EQ(custodia::core::merkle_hashes_from_bytes(raw).error().code, Errc::malformed);
    EXPECT_TRUE(custodia::core::merkle_hashes_from_bytes({}).value().empty());
}

TEST(CompactRange, SavedPartsRestoreAndWrongCountsAreRefused) {
    CompactRange range;
    for (const char* input : kLeafInputs) range.append(custodia::core::leaf_hash(bytes(input)));
    // 8 leaves: one perfect subtree.
    ASSERT_EQ(range.hashes().size(), 1u);
    custodia::Result<CompactRange> restored =
        CompactRange::from_parts(range.size(), range.hashes());
    ASSERT_TRUE(restored.ok());
    EXPECT_EQ(hex(restored->root()), kRoots[7]);
    EXPECT_FALSE(CompactRange::from_parts(7, range.hashes()).ok());
    EXPECT_FALSE(CompactRange::from_parts(0, range.hashes()).ok());
    EXPECT_TRUE(CompactRange::from_parts(0, {}).ok());
}

// ---------------------------------------------------------------------------
// Brute force against the RFC's own recursive definitions (RFC 9162 §2.1.1,
// §2.1.3.1, §2.1.4.1), written here independently of the library's
// iterative code.

std::uint64_t largest_power_of_two_below(std::uint64_t n) {
    std::uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
}

MerkleHash ref_mth(const std::vector<MerkleHash>& d, std::uint64_t begin, std::uint64_t end) {
    if (end == begin) return custodia::core::empty_tree_hash();
    if (end - begin == 1) return d[begin];
    const std::uint64_t k = largest_power_of_two_below(end - begin);
    return custodia::core::node_hash(ref_mth(d, begin, begin + k), ref_mth(d, begin + k, end));
}

std::vector<MerkleHash> ref_path(const std::vector<MerkleHash>& d, std::uint64_t m,
                                 std::uint64_t begin, std::uint64_t end) {
    if (end - begin <= 1) return {};
    const std::uint64_t k = largest_power_of_two_below(end - begin);
    std::vector<MerkleHash> out;
    if (m < k) {
        out = ref_path(d, m, begin, begin + k);
        out.push_back(ref_mth(d, begin + k, end));
    } else {
        out = ref_path(d, m - k, begin + k, end);
        out.push_back(ref_mth(d, begin, begin + k));
    }
    return out;
}

std::vector<MerkleHash> ref_subproof(const std::vector<MerkleHash>& d, std::uint64_t m,
                                     std::uint64_t begin, std::uint64_t end, bool b) {
    const std::uint64_t n = end - begin;
    if (m == n) {
        if (b) return {};
        return {ref_mth(d, begin, end)};
    }
    const std::uint64_t k = largest_power_of_two_below(n);
    std::vector<MerkleHash> out;
    if (m <= k) {
        out = ref_subproof(d, m, begin, begin + k, b);
        out.push_back(ref_mth(d, begin + k, end));
    } else {
        out = ref_subproof(d, m - k, begin + k, end, false);
        out.push_back(ref_mth(d, begin, begin + k));
    }
    return out;
}

constexpr std::uint64_t kBruteMax = 64;

struct BruteForceTree {
    std::vector<MerkleHash> leaves;
    std::vector<MerkleHash> roots;  // roots[n] for n in 0..kBruteMax
    custodia::core::MemoryLeafHashes stored;

    BruteForceTree() {
        for (std::uint64_t i = 0; i < kBruteMax; ++i) {
            const std::string entry = "custody entry " + std::to_string(i);
            leaves.push_back(custodia::core::leaf_hash(std::string_view(entry)));
            stored.append(leaves.back());
        }
        for (std::uint64_t n = 0; n <= kBruteMax; ++n) roots.push_back(ref_mth(leaves, 0, n));
    }
};

const BruteForceTree& brute() {
    static const BruteForceTree tree;
    return tree;
}

class MerkleBruteForce : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(MerkleBruteForce, RootsMatchTheDefinitionEveryWay) {
    const std::uint64_t n = GetParam();
    const BruteForceTree& t = brute();
    CompactRange range;
    for (std::uint64_t i = 0; i < n; ++i) range.append(t.leaves[i]);
    EXPECT_EQ(range.root(), t.roots[n]);
    EXPECT_EQ(custodia::core::merkle_root(t.stored, n).value(), t.roots[n]);
    PlainLeafHashes plain(std::vector<MerkleHash>(t.leaves.begin(), t.leaves.begin() + n));
    EXPECT_EQ(custodia::core::merkle_root(plain, n).value(), t.roots[n]);
    // Unaligned ranges take the stored source's fallback path.
    for (std::uint64_t begin = 0; begin < n; ++begin)
        EXPECT_EQ(t.stored.range_hash(begin, n).value(), ref_mth(t.leaves, begin, n))
            << "range " << begin << ".." << n;
}

TEST_P(MerkleBruteForce, EveryInclusionProofVerifiesAndEveryCorruptionFails) {
    const std::uint64_t n = GetParam();
    const BruteForceTree& t = brute();
    const MerkleHash& root = t.roots[n];
    for (std::uint64_t i = 0; i < n; ++i) {
        SCOPED_TRACE("leaf " + std::to_string(i) + " of " + std::to_string(n));
        const std::vector<MerkleHash> proof =
            custodia::core::inclusion_proof(t.stored, i, n).value();
        ASSERT_EQ(proof, ref_path(t.leaves, i, 0, n));
        ASSERT_EQ(proof.size(), custodia::core::inclusion_proof_size(i, n));
        ASSERT_TRUE(custodia::core::verify_inclusion(t.leaves[i], i, n, proof, root).ok());

        // Every single-bit flip anywhere in the proof.
        std::vector<MerkleHash> bad = proof;
        for (std::size_t e = 0; e < bad.size(); ++e)
            for (std::size_t bit = 0; bit < 256; ++bit) {
                bad[e][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
                EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], i, n, bad, root).ok())
                    << "flip proof[" << e << "] bit " << bit;
                bad[e][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            }
        // Every other index, including past the end.
        for (std::uint64_t j = 0; j < n + 2; ++j) {
            if (j == i) continue;
            EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], j, n, proof, root).ok())
                << "claimed index " << j;
        }
        EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], kMax64, n, proof, root).ok());
        // Every other size with that size's real root; and the bigger and
        // smaller trees against this root.
        for (std::uint64_t m = 0; m <= kBruteMax; ++m) {
            if (m == n) continue;
            EXPECT_FALSE(
                custodia::core::verify_inclusion(t.leaves[i], i, m, proof, t.roots[m]).ok())
                << "claimed size " << m;
        }
        EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], i, n * 2, proof, root).ok());
        EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], i, n / 2, proof, root).ok());
        EXPECT_FALSE(custodia::core::verify_inclusion(t.leaves[i], i, kMax64, proof, root).ok());
        // Another leaf at this index.
        EXPECT_FALSE(
            custodia::core::verify_inclusion(t.leaves[(i + 1) % kBruteMax], i, n, proof, root)
                .ok());
    }
}

TEST_P(MerkleBruteForce, EveryConsistencyProofVerifiesAndEveryCorruptionFails) {
    const std::uint64_t n = GetParam();
    const BruteForceTree& t = brute();
    for (std::uint64_t m = 0; m <= n; ++m) {
        SCOPED_TRACE(std::to_string(m) + " -> " + std::to_string(n));
        const std::vector<MerkleHash> proof =
            custodia::core::consistency_proof(t.stored, m, n).value();
        const std::vector<MerkleHash> want =
            (m == 0 || m == n) ? std::vector<MerkleHash>{} : ref_subproof(t.leaves, m, 0, n, true);
        ASSERT_EQ(proof, want);
        ASSERT_EQ(proof.size(), custodia::core::consistency_proof_size(m, n));
        ASSERT_TRUE(custodia::core::verify_consistency(m, n, t.roots[m], t.roots[n], proof).ok());
        if (proof.empty()) continue;

        std::vector<MerkleHash> bad = proof;
        for (std::size_t e = 0; e < bad.size(); ++e)
            for (std::size_t bit = 0; bit < 256; ++bit) {
                bad[e][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
                EXPECT_FALSE(
                    custodia::core::verify_consistency(m, n, t.roots[m], t.roots[n], bad).ok())
                    << "flip proof[" << e << "] bit " << bit;
                bad[e][bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
            }
        // Every other pair of sizes, each with its real roots.
        for (std::uint64_t m2 = 0; m2 <= kBruteMax; ++m2) {
            for (std::uint64_t n2 = m2; n2 <= kBruteMax; ++n2) {
                if (m2 == m && n2 == n) continue;
                EXPECT_FALSE(
                    custodia::core::verify_consistency(m2, n2, t.roots[m2], t.roots[n2], proof)
                        .ok())
                    << "claimed " << m2 << " -> " << n2;
            }
        }
        // The probes of transparency-dev/merkle's verifierConsistencyCheck.
        const MerkleHash& r1 = t.roots[m];
        const MerkleHash& r2 = t.roots[n];
        for (std::uint64_t m2 : {m - 1, m + 1, m ^ 2})
            EXPECT_FALSE(custodia::core::verify_consistency(m2, n, r1, r2, proof).ok())
                << "old size " << m2;
        for (std::uint64_t n2 : {n * 2, n / 2, kMax64})
            EXPECT_FALSE(custodia::core::verify_consistency(m, n2, r1, r2, proof).ok())
                << "new size " << n2;
        EXPECT_FALSE(custodia::core::verify_consistency(m, n, r2, r1, proof).ok());
        std::vector<MerkleHash> shorter(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(custodia::core::verify_consistency(m, n, r1, r2, shorter).ok());
        std::vector<MerkleHash> longer = proof;
        longer.push_back(proof.back());
        EXPECT_FALSE(custodia::core::verify_consistency(m, n, r1, r2, longer).ok());
    }
}

INSTANTIATE_TEST_SUITE_P(Sizes1To64, MerkleBruteForce,
                         ::testing::Range<std::uint64_t>(1, kBruteMax + 1));

// ---------------------------------------------------------------------------
// Scale: the vault's log of 100,000 entries. Not a timed test (timings belong
// to tests/bench); the elapsed time is recorded as a test property.

TEST(MerkleScale, HundredThousandEntriesAgreeEveryWay) {
    constexpr std::uint64_t kEntries = 100000;
    const auto start = std::chrono::steady_clock::now();
    std::vector<MerkleHash> leaves;
    leaves.reserve(kEntries);
    CompactRange range;
    custodia::core::MemoryLeafHashes stored;
    for (std::uint64_t i = 0; i < kEntries; ++i) {
        const std::string entry = "{\"event\":\"captured\",\"seq\":" + std::to_string(i) + "}";
        leaves.push_back(custodia::core::leaf_hash(std::string_view(entry)));
        range.append(leaves.back());
        stored.append(leaves.back());
    }
    const MerkleHash root = range.root();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    RecordProperty("hash_append_root_ms", static_cast<int>(elapsed.count()));

    EXPECT_EQ(custodia::core::merkle_root(stored, kEntries).value(), root);
    PlainLeafHashes plain(leaves);
    EXPECT_EQ(custodia::core::merkle_root(plain, kEntries).value(), root);

    for (std::uint64_t i : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{65535},
                            std::uint64_t{65536}, std::uint64_t{99999}}) {
        auto proof = custodia::core::inclusion_proof(stored, i, kEntries).value();
        EXPECT_EQ(proof, custodia::core::inclusion_proof(plain, i, kEntries).value());
        EXPECT_TRUE(custodia::core::verify_inclusion(leaves[i], i, kEntries, proof, root).ok());
    }
    for (std::uint64_t old_size :
         {std::uint64_t{1}, std::uint64_t{12345}, std::uint64_t{65536}, std::uint64_t{99999}}) {
        auto proof = custodia::core::consistency_proof(stored, old_size, kEntries).value();
        const MerkleHash old_root = custodia::core::merkle_root(stored, old_size).value();
        EXPECT_TRUE(
            custodia::core::verify_consistency(old_size, kEntries, old_root, root, proof).ok());
    }
}

}  // namespace
