// Vault blob format (docs/FORMAT.md): round trip, wrong key, tampering and
// truncation, including the dropped final chunk.
#include "custodia/crypto/blob.h"

#include <gtest/gtest.h>

namespace {

using namespace custodia;
using namespace custodia::crypto;

std::vector<std::uint8_t> seal(const SecretBytes& key, const std::vector<std::uint8_t>& plain,
                               RandomSource& random) {
    VectorSink out;
    auto w = blob::BlobWriter::create(out, key, random);
    EXPECT_TRUE(w);
    EXPECT_TRUE((*w)->write(plain));
    EXPECT_TRUE((*w)->finish());
    return out.bytes();
}

Result<std::vector<std::uint8_t>> open(const SecretBytes& key,
                                       const std::vector<std::uint8_t>& sealed) {
    MemorySource in(sealed);
    auto r = blob::BlobReader::open(in, key);
    if (!r) return std::move(r).error();
    VectorSink out;
    if (auto st = copy_stream(**r, out); !st) return std::move(st).error();
    return out.bytes();
}

class Blob : public ::testing::Test {
  protected:
    DeterministicRandom random{11};
    SecretBytes key = [this] {
        SecretBytes k(32);
        random.fill(k.span());
        return k;
    }();
};

TEST_F(Blob, RoundTripsAtChunkEdges) {
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, kStreamChunkSize - 1, kStreamChunkSize,
                          kStreamChunkSize + 1, 3 * kStreamChunkSize}) {
        std::vector<std::uint8_t> plain(n);
        random.fill(plain);
        auto sealed = seal(key, plain, random);
        EXPECT_EQ(sealed.size(), blob::sealed_size(n));
        EXPECT_TRUE(std::equal(blob::kMagic.begin(), blob::kMagic.end(), sealed.begin()));
        auto back = open(key, sealed);
        ASSERT_TRUE(back) << n << ": " << back.error().message;
        EXPECT_EQ(*back, plain);
    }
}

TEST_F(Blob, WrongKeyFails) {
    std::vector<std::uint8_t> plain(1000, 7);
    auto sealed = seal(key, plain, random);
    SecretBytes other(32);
    random.fill(other.span());
    auto r = open(other, sealed);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::auth_failed);
}

TEST_F(Blob, EveryByteOfASmallBlobIsProtected) {
    std::vector<std::uint8_t> plain(300, 9);
    auto sealed = seal(key, plain, random);
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        auto t = sealed;
        t[i] ^= 0x04;
        EXPECT_FALSE(open(key, t)) << "byte " << i;
    }
}

TEST_F(Blob, DroppedFinalChunkAndTruncationFail) {
    std::vector<std::uint8_t> plain(2 * kStreamChunkSize + 10, 1);
    auto sealed = seal(key, plain, random);
    for (std::size_t keep :
         {blob::kHeaderSize, blob::kHeaderSize + kStreamSealedChunkSize,
          blob::kHeaderSize + 2 * kStreamSealedChunkSize, sealed.size() - 1, std::size_t{5}}) {
        auto t = sealed;
        t.resize(keep);
        EXPECT_FALSE(open(key, t)) << "truncated to " << keep;
    }
}

TEST_F(Blob, WrongMagicIsMalformed) {
    auto sealed = seal(key, std::vector<std::uint8_t>(10, 1), random);
    sealed[0] = 'X';
    auto r = open(key, sealed);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::malformed);
}

}  // namespace
