// Tampering with an age file we wrote: every bit of the header, every payload
// chunk, chunk order, truncation and trailing bytes. Each must be refused, and
// on a payload error only the chunks before the damage may be released.
#include <gtest/gtest.h>

#include <numeric>

#include "custodia/crypto/age.h"

namespace {

using namespace custodia;
using namespace custodia::crypto;

constexpr std::size_t kChunk = kStreamChunkSize;
constexpr std::size_t kSealed = kStreamSealedChunkSize;
constexpr std::size_t kNonce = 16;

struct Sealed {
    std::vector<std::uint8_t> file;
    std::size_t header_size = 0;
    std::size_t payload_start() const { return header_size + kNonce; }
};

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 31 + (i >> 8));
    return v;
}

class AgeTamper : public ::testing::Test {
  protected:
    // Three and a half chunks: three full middle chunks and a short final one.
    const std::vector<std::uint8_t> plaintext = pattern(3 * kChunk + kChunk / 2);
    DeterministicRandom random{7};
    age::Identity alice = age::Identity::generate(random);
    age::Identity bob = age::Identity::generate(random);
    Sealed sealed = encrypt_to({alice.recipient(), bob.recipient()});

    Sealed encrypt_to(std::vector<age::Recipient> recipients) {
        VectorSink out;
        auto enc = age::Encryptor::create(out, recipients, random);
        EXPECT_TRUE(enc);
        EXPECT_TRUE((*enc)->write(plaintext));
        EXPECT_TRUE((*enc)->finish());
        Sealed s;
        s.file = out.bytes();
        auto h = age::Header::parse(s.file, s.header_size);
        EXPECT_TRUE(h);
        return s;
    }

    struct Outcome {
        bool opened = false;
        Errc error = Errc::internal;
        bool failed = false;
        std::vector<std::uint8_t> released;
    };

    Outcome decrypt(const std::vector<std::uint8_t>& file) {
        Outcome o;
        MemorySource in(file);
        std::vector<age::Identity> ids;
        ids.push_back(std::move(*age::Identity::parse(alice.to_string().view())));
        auto dec = age::Decryptor::open(in, ids);
        if (!dec) {
            o.failed = true;
            o.error = dec.error().code;
            return o;
        }
        o.opened = true;
        std::vector<std::uint8_t> buf(8191);
        for (;;) {
            auto n = (*dec)->read(buf);
            if (!n) {
                o.failed = true;
                o.error = n.error().code;
                return o;
            }
            if (*n == 0) return o;
            o.released.insert(o.released.end(), buf.begin(),
                              buf.begin() + static_cast<std::ptrdiff_t>(*n));
        }
    }

    std::vector<std::uint8_t> prefix_chunks(std::size_t chunks) const {
        return {plaintext.begin(),
                plaintext.begin() + static_cast<std::ptrdiff_t>(chunks * kChunk)};
    }
};

TEST_F(AgeTamper, UntouchedFileDecrypts) {
    auto o = decrypt(sealed.file);
    ASSERT_FALSE(o.failed);
    EXPECT_EQ(o.released, plaintext);
    EXPECT_EQ(sealed.file.size(), sealed.payload_start() + stream_sealed_size(plaintext.size()));
}

TEST_F(AgeTamper, EveryBitOfTheHeaderIsProtected) {
    // Version line, both stanzas (type, share, body), "---" and the MAC.
    std::size_t refused = 0;
    for (std::size_t byte = 0; byte < sealed.header_size; ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            auto file = sealed.file;
            file[byte] ^= static_cast<std::uint8_t>(1 << bit);
            auto o = decrypt(file);
            EXPECT_FALSE(o.opened) << "header byte " << byte << " bit " << bit << " accepted";
            EXPECT_TRUE(o.released.empty());
            refused += o.opened ? 0 : 1;
        }
    }
    EXPECT_EQ(refused, sealed.header_size * 8);
}

TEST_F(AgeTamper, FlippedMacByteFailsAsHmacFailure) {
    auto file = sealed.file;
    file[sealed.header_size - 2] ^= 0x01;  // a base64 digit of the MAC (keeps it canonical or not)
    auto o = decrypt(file);
    EXPECT_FALSE(o.opened);
    // Flip a bit of the decoded MAC instead, keeping the encoding canonical.
    std::size_t consumed = 0;
    auto header = age::Header::parse(sealed.file, consumed);
    ASSERT_TRUE(header);
    auto mac = header->mac();
    mac[5] ^= 0x80;
    header->set_mac(mac);
    std::string text = header->serialize();
    std::vector<std::uint8_t> forged(text.begin(), text.end());
    forged.insert(forged.end(), sealed.file.begin() + static_cast<std::ptrdiff_t>(consumed),
                  sealed.file.end());
    auto o2 = decrypt(forged);
    EXPECT_FALSE(o2.opened);
    EXPECT_EQ(o2.error, Errc::auth_failed);
}

TEST_F(AgeTamper, FlippedNonceFailsTheFirstChunk) {
    auto file = sealed.file;
    file[sealed.header_size + 3] ^= 0x10;
    auto o = decrypt(file);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.error, Errc::auth_failed);
    EXPECT_TRUE(o.released.empty());
}

TEST_F(AgeTamper, FlippedByteInEachPayloadChunkReleasesOnlyEarlierChunks) {
    for (std::size_t chunk = 0; chunk < 4; ++chunk) {
        for (std::size_t offset : {std::size_t{0}, std::size_t{1000}, kSealed - 1}) {
            std::size_t pos = sealed.payload_start() + chunk * kSealed + offset;
            if (pos >= sealed.file.size()) continue;
            auto file = sealed.file;
            file[pos] ^= 0x01;
            auto o = decrypt(file);
            EXPECT_TRUE(o.failed) << "flip_byte_in_payload_chunk_" << chunk << " at " << offset;
            EXPECT_EQ(o.error, Errc::auth_failed);
            EXPECT_EQ(o.released, prefix_chunks(chunk)) << "chunk " << chunk;
        }
    }
}

TEST_F(AgeTamper, DroppedChunkIsDetected) {
    for (std::size_t chunk = 0; chunk < 4; ++chunk) {
        auto file = sealed.file;
        auto at =
            file.begin() + static_cast<std::ptrdiff_t>(sealed.payload_start() + chunk * kSealed);
        file.erase(at, chunk == 3 ? file.end() : at + static_cast<std::ptrdiff_t>(kSealed));
        auto o = decrypt(file);
        EXPECT_TRUE(o.failed) << "drop_chunk_" << chunk;
        EXPECT_NE(o.released, plaintext);
    }
}

TEST_F(AgeTamper, DroppedFinalChunkIsDetected) {
    // What libsodium's secretstream alone would not catch: a stream cut
    // exactly after a middle chunk.
    auto file = sealed.file;
    file.resize(sealed.payload_start() + 3 * kSealed);
    auto o = decrypt(file);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.released, prefix_chunks(3));
}

TEST_F(AgeTamper, DuplicatedChunkIsDetected) {
    auto file = sealed.file;
    auto first = file.begin() + static_cast<std::ptrdiff_t>(sealed.payload_start());
    std::vector<std::uint8_t> copy(first, first + static_cast<std::ptrdiff_t>(kSealed));
    file.insert(first + static_cast<std::ptrdiff_t>(kSealed), copy.begin(), copy.end());
    auto o = decrypt(file);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.error, Errc::auth_failed);
    EXPECT_EQ(o.released, prefix_chunks(1));
}

TEST_F(AgeTamper, ReorderedChunksAreDetected) {
    auto file = sealed.file;
    auto c1 = file.begin() + static_cast<std::ptrdiff_t>(sealed.payload_start() + kSealed);
    std::swap_ranges(c1, c1 + static_cast<std::ptrdiff_t>(kSealed),
                     c1 + static_cast<std::ptrdiff_t>(kSealed));
    auto o = decrypt(file);
    EXPECT_TRUE(o.failed);
    EXPECT_EQ(o.error, Errc::auth_failed);
    EXPECT_EQ(o.released, prefix_chunks(1));
}

TEST_F(AgeTamper, TrailingGarbageIsDetected) {
    for (std::size_t extra : {std::size_t{1}, std::size_t{16}, std::size_t{17}, kSealed}) {
        auto file = sealed.file;
        file.insert(file.end(), extra, 0x42);
        auto o = decrypt(file);
        EXPECT_TRUE(o.failed) << extra << " trailing bytes accepted";
    }
}

TEST_F(AgeTamper, TruncationAtEveryChunkBoundaryIsDetected) {
    for (std::size_t chunk = 0; chunk <= 3; ++chunk) {
        std::size_t boundary = sealed.payload_start() + chunk * kSealed;
        for (std::size_t cut :
             {boundary - 1, boundary, boundary + 1, boundary + 15, boundary + 16}) {
            auto file = sealed.file;
            file.resize(cut);
            auto o = decrypt(file);
            EXPECT_TRUE(o.failed) << "truncated to " << cut;
            EXPECT_LE(o.released.size(), chunk * kChunk);
        }
    }
    for (std::size_t cut = 0; cut < sealed.payload_start(); ++cut) {
        auto file = sealed.file;
        file.resize(cut);
        EXPECT_FALSE(decrypt(file).opened) << "header truncated to " << cut;
    }
}

TEST_F(AgeTamper, SecondRecipientAndWrongIdentity) {
    // bob opens the same file; a stranger gets "no match", not a crash.
    MemorySource in(sealed.file);
    std::vector<age::Identity> ids;
    ids.push_back(std::move(*age::Identity::parse(bob.to_string().view())));
    auto dec = age::Decryptor::open(in, ids);
    ASSERT_TRUE(dec);
    VectorSink out;
    ASSERT_TRUE(copy_stream(**dec, out));
    EXPECT_EQ(out.bytes(), plaintext);

    MemorySource in2(sealed.file);
    std::vector<age::Identity> stranger;
    stranger.push_back(age::Identity::generate(random));
    auto none = age::Decryptor::open(in2, stranger);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, Errc::no_matching_key);
}

TEST(AgeKeys, RecipientAndIdentityStringsRoundTrip) {
    DeterministicRandom random(99);
    auto id = age::Identity::generate(random);
    auto text = id.to_string();
    EXPECT_TRUE(text.view().starts_with("AGE-SECRET-KEY-1"));
    auto again = age::Identity::parse(text.view());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->recipient(), id.recipient());
    auto r = age::Recipient::parse(id.recipient().to_string());
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, id.recipient());
    EXPECT_TRUE(id.recipient().to_string().starts_with("age1"));
    // A lower-case secret key is not what age-keygen writes; refused.
    std::string lower(text.view());
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_FALSE(age::Identity::parse(lower));
    EXPECT_FALSE(age::Recipient::parse("age1qqqq"));
    EXPECT_FALSE(age::Recipient::parse(text.view()));
}

TEST(AgeKeys, IdentityFileFormat) {
    DeterministicRandom random(5);
    auto id = age::Identity::generate(random);
    auto file = age::format_identity_file(id, "2026-11-24T05:00:00Z");
    auto ids = age::parse_identity_file(file.view());
    ASSERT_TRUE(ids);
    ASSERT_EQ(ids->size(), 1u);
    EXPECT_EQ((*ids)[0].recipient(), id.recipient());
    EXPECT_FALSE(age::parse_identity_file("# only a comment\n"));
    auto bad = age::parse_identity_file("# c\n\nnot-a-key\n");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("line 3"), std::string::npos);
    EXPECT_EQ(bad.error().message.find("not-a-key"), std::string::npos) << "key text echoed";
}

}  // namespace
