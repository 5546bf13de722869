// minisign public keys and signatures: parsing, exact round-trips, signing,
// verification and one tamper test per thing an attacker could change.
//
// The kMinisign* texts were written by Debian's minisign 0.11-1 (`minisign -G
// -W`, then `minisign -S` and `minisign -S -l` over kVectorMessage), so they
// check our parser and verifier against the reference implementation's output
// rather than against our own.
#include "custodia/crypto/minisign.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream_io.h"

namespace {

using custodia::Errc;
using custodia::Status;
using custodia::crypto::as_bytes;
using custodia::crypto::blake2b512;
using custodia::crypto::ByteSource;
using custodia::crypto::DeterministicRandom;
using custodia::crypto::Ed25519SecretKey;
using custodia::crypto::Ed25519Signature;
using custodia::crypto::from_base64;
using custodia::crypto::MemorySource;
using custodia::crypto::to_base64;
namespace ms = custodia::crypto::minisign;

constexpr std::string_view kVectorMessage = "Custodia minisign vector\n";

constexpr std::string_view kMinisignPub =
    "untrusted comment: minisign public key 2436B89109BFE65C\n"
    "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb\n";

constexpr std::string_view kMinisignPrehashedSig =
    "untrusted comment: signature from minisign secret key\n"
    "RURc5r8Jkbg2JP5/0ukdd/U+oTKCdmIs4n+a90nuwmBcSdcBcx4F8dRb+WLGYQOTZiZzVL8bYArcSsAhY4j//"
    "Gg2OY2AW2EzPwQ=\n"
    "trusted comment: custodia vector, prehashed\n"
    "C0Wvi1j8NW7Q/Fpw966OdppA/aTwhZjyzAsNYxSV9axc5SFLJIIbiwLlgH8BPgNa+VfQhZPGLVLgUNCa2fsrAw==\n";

constexpr std::string_view kMinisignLegacySig =
    "untrusted comment: signature from minisign secret key\n"
    "RWRc5r8Jkbg2JI/Sqlg1eoYoNezJnUDlN8rCbwJWM5PPMRrxPmvgA2C06ODWmj/APJaf5Rl9w6kddhPH0dfZAjjAejUo"
    "ZEBNrgk=\n"
    "trusted comment: custodia vector, legacy\n"
    "EqtGh54jGw0yx9jfvggL32/y18XSQMyOUgGzy+mhPHJSXU3ICtB1BHTta+IjyXI/CwofQkrgqT78KRI5LqTJAg==\n";

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return {s.begin(), s.end()};
}

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> out(size);
    for (std::size_t i = 0; i < size; ++i)
        out[i] = static_cast<std::uint8_t>((i * 131 + salt) % 251);
    return out;
}

Ed25519SecretKey test_key(std::uint64_t seed) {
    DeterministicRandom random(seed);
    return Ed25519SecretKey::generate(random);
}

// Splits a .minisig on '\n', dropping the empty piece after the final newline.
std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t nl = text.find('\n', start);
        if (nl == std::string_view::npos) nl = text.size();
        lines.emplace_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

std::string join_lines(const std::vector<std::string>& lines, std::string_view eol = "\n") {
    std::string out;
    for (const auto& line : lines) {
        out += line;
        out += eol;
    }
    return out;
}

std::vector<std::uint8_t> decode(std::string_view b64) {
    auto bytes = from_base64(b64, true);
    EXPECT_TRUE(bytes.has_value()) << b64;
    return bytes.value_or(std::vector<std::uint8_t>{});
}

// Rewrites the binary payload of base64 line `index` of a .minisig.
template <class Edit>
std::string edit_line_bytes(std::string_view text, std::size_t index, Edit edit) {
    auto lines = lines_of(text);
    auto bytes = decode(lines.at(index));
    edit(bytes);
    lines.at(index) = to_base64(bytes, true);
    return join_lines(lines);
}

// A .minisig assembled from the format description alone, not by serialize().
std::string assemble_minisig(std::string_view alg, const ms::KeyId& id, const Ed25519Signature& sig,
                             std::string_view untrusted, std::string_view trusted,
                             const Ed25519Signature& global) {
    std::vector<std::uint8_t> body(alg.begin(), alg.end());
    body.insert(body.end(), id.begin(), id.end());
    body.insert(body.end(), sig.begin(), sig.end());
    return "untrusted comment: " + std::string(untrusted) + "\n" + to_base64(body, true) +
           "\ntrusted comment: " + std::string(trusted) + "\n" + to_base64(global, true) + "\n";
}

Ed25519Signature global_over(const Ed25519SecretKey& key, const Ed25519Signature& sig,
                             std::string_view trusted) {
    std::vector<std::uint8_t> signed_bytes(sig.begin(), sig.end());
    signed_bytes.insert(signed_bytes.end(), trusted.begin(), trusted.end());
    return key.sign_ed25519(signed_bytes);
}

// Hands out at most `chunk` bytes per read, so a verifier must loop correctly.
class ChunkedSource final : public ByteSource {
  public:
    ChunkedSource(std::span<const std::uint8_t> data, std::size_t chunk)
        : data_(data), chunk_(chunk) {}
    custodia::Result<std::size_t> read(std::span<std::uint8_t> out) override {
        ++reads_;
        largest_request_ = std::max(largest_request_, out.size());
        const std::size_t n = std::min({out.size(), chunk_, data_.size()});
        std::copy_n(data_.begin(), n, out.begin());
        data_ = data_.subspan(n);
        return n;
    }
    std::size_t reads() const { return reads_; }
    std::size_t largest_request() const { return largest_request_; }

  private:
    std::span<const std::uint8_t> data_;
    std::size_t chunk_;
    std::size_t reads_ = 0;
    std::size_t largest_request_ = 0;
};

// Produces `size` bytes of pattern without ever holding them.
class GeneratedSource final : public ByteSource {
  public:
    explicit GeneratedSource(std::size_t size) : left_(size) {}
    custodia::Result<std::size_t> read(std::span<std::uint8_t> out) override {
        largest_request_ = std::max(largest_request_, out.size());
        const std::size_t n = std::min(out.size(), left_);
        for (std::size_t i = 0; i < n; ++i)
            out[i] = static_cast<std::uint8_t>((produced_ + i) % 253);
        produced_ += n;
        left_ -= n;
        return n;
    }
    std::size_t largest_request() const { return largest_request_; }

  private:
    std::size_t left_;
    std::size_t produced_ = 0;
    std::size_t largest_request_ = 0;
};

class FailingSource final : public ByteSource {
  public:
    custodia::Result<std::size_t> read(std::span<std::uint8_t>) override {
        return custodia::make_error(Errc::io, "read failed");
    }
};

Status verify_stream(const ms::PublicKey& key, const ms::Signature& sig,
                     std::span<const std::uint8_t> message, std::size_t chunk = 4093) {
    ChunkedSource source(message, chunk);
    return ms::verify(key, sig, source);
}

// ---------------------------------------------------------------- key ids

TEST(MinisignKeyId, HexReadsBytesLittleEndianInUpperCase) {
    EXPECT_EQ(ms::key_id_hex({0xa1, 0x9a, 0xd9, 0x06, 0xa2, 0x87, 0x0c, 0xd2}), "D20C87A206D99AA1");
}

TEST(MinisignKeyId, HexKeepsLeadingZerosAtSixteenDigits) {
    EXPECT_EQ(ms::key_id_hex({0x01, 0x02, 0, 0, 0, 0, 0, 0}), "0000000000000201");
}

TEST(MinisignKeyId, HexMatchesCommentMinisignWrote) {
    auto key = ms::PublicKey::parse(kMinisignPub);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(ms::key_id_hex(key->key_id()), "2436B89109BFE65C");
}

// ---------------------------------------------------------------- public keys

TEST(MinisignPublicKey, MinisignPubFileParsesAndReserialisesIdentically) {
    auto key = ms::PublicKey::parse(kMinisignPub);
    ASSERT_TRUE(key.ok()) << key.error().message;
    // Byte-identical only because this id has no leading zero: minisign 0.11
    // prints ids without padding, we always print 16 digits.
    EXPECT_EQ(key->to_file(), kMinisignPub);
    EXPECT_EQ(key->to_base64(), "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb");
    const auto raw = decode("RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb");
    ASSERT_EQ(raw.size(), 42u);
    EXPECT_TRUE(std::equal(key->key_id().begin(), key->key_id().end(), raw.begin() + 2));
    EXPECT_TRUE(std::equal(key->key().begin(), key->key().end(), raw.begin() + 10));
}

TEST(MinisignPublicKey, BareBase64LineParses) {
    for (std::string_view text : {"RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb",
                                  "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb\n",
                                  "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb\r\n"}) {
        auto key = ms::PublicKey::parse(text);
        ASSERT_TRUE(key.ok()) << text;
        EXPECT_EQ(key->to_file(), kMinisignPub);
    }
}

TEST(MinisignPublicKey, CrlfPubFileParses) {
    auto key = ms::PublicKey::parse(join_lines(lines_of(kMinisignPub), "\r\n"));
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(key->to_file(), kMinisignPub);
}

TEST(MinisignPublicKey, AnyUntrustedCommentIsAccepted) {
    auto key = ms::PublicKey::parse(
        "untrusted comment: \nRWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb");
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(ms::key_id_hex(key->key_id()), "2436B89109BFE65C");
}

TEST(MinisignPublicKey, RoundTripIsExact) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        const auto sk = test_key(seed);
        const auto key = ms::PublicKey::derive_from(sk.public_key());
        auto parsed = ms::PublicKey::parse(key.to_file());
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        EXPECT_EQ(parsed->to_file(), key.to_file());
        EXPECT_EQ(parsed->key(), sk.public_key());
        auto bare = ms::PublicKey::parse(key.to_base64());
        ASSERT_TRUE(bare.ok());
        EXPECT_EQ(bare->to_file(), key.to_file());
    }
}

TEST(MinisignPublicKey, DerivedKeyIdIsBlake2bPrefixOfPublicKey) {
    const auto sk = test_key(7);
    const auto digest = blake2b512(sk.public_key());
    const auto key = ms::PublicKey::derive_from(sk.public_key());
    EXPECT_TRUE(std::equal(key.key_id().begin(), key.key_id().end(), digest.begin()));
    EXPECT_EQ(key.to_file().substr(0, 39), "untrusted comment: minisign public key ");
}

TEST(MinisignPublicKey, MalformedInputsAreRejected) {
    const std::string line = "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRiRb";
    auto with_bytes = [&](auto edit) {
        auto raw = decode(line);
        edit(raw);
        return to_base64(raw, true);
    };
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"empty", ""},
        {"only_newline", "\n"},
        {"not_base64", "RWRc5r8Jkbg2JBWguIkZH80TvVf4FDtrE0Hy2jDxxXW9TCwIxA+kRi!b"},
        {"trailing_space", line + " "},
        {"leading_space", " " + line},
        {"lone_cr_ending", line + "\r"},
        {"algorithm_ED", with_bytes([](auto& b) { b[1] = 'D'; })},
        {"algorithm_unknown", with_bytes([](auto& b) { b[0] = 'X'; })},
        {"one_byte_short", with_bytes([](auto& b) { b.pop_back(); })},
        {"one_byte_long", with_bytes([](auto& b) { b.push_back(0); })},
        {"two_lines_without_comment_prefix", "minisign public key\n" + line + "\n"},
        {"comment_prefix_without_space", "untrusted comment:x\n" + line + "\n"},
        {"three_lines", std::string(kMinisignPub) + "\n"},
        {"key_then_comment", line + "\nuntrusted comment: x\n"},
        {"comment_only", "untrusted comment: minisign public key 2436B89109BFE65C\n"},
        {"nul_in_comment", std::string("untrusted comment: a\0b\n", 23) + line},
        {"huge_comment", "untrusted comment: " + std::string(5000, 'a') + "\n" + line},
    };
    for (const auto& [name, text] : cases) {
        auto key = ms::PublicKey::parse(text);
        ASSERT_FALSE(key.ok()) << name;
        EXPECT_EQ(key.error().code, Errc::malformed) << name;
    }
}

// ---------------------------------------------------------------- minisign's signatures

TEST(MinisignVectors, PrehashedSignatureFromMinisignVerifies) {
    auto key = ms::PublicKey::parse(kMinisignPub);
    auto sig = ms::Signature::parse(kMinisignPrehashedSig);
    ASSERT_TRUE(key.ok() && sig.ok());
    EXPECT_TRUE(sig->prehashed());
    EXPECT_EQ(sig->trusted_comment(), "custodia vector, prehashed");
    EXPECT_EQ(sig->untrusted_comment(), "signature from minisign secret key");
    EXPECT_EQ(sig->key_id(), key->key_id());
    EXPECT_TRUE(ms::verify(*key, *sig, as_bytes(kVectorMessage)).ok());
    EXPECT_TRUE(verify_stream(*key, *sig, as_bytes(kVectorMessage), 3).ok());
}

TEST(MinisignVectors, LegacySignatureFromMinisignVerifies) {
    auto key = ms::PublicKey::parse(kMinisignPub);
    auto sig = ms::Signature::parse(kMinisignLegacySig);
    ASSERT_TRUE(key.ok() && sig.ok());
    EXPECT_FALSE(sig->prehashed());
    EXPECT_EQ(sig->trusted_comment(), "custodia vector, legacy");
    EXPECT_TRUE(ms::verify(*key, *sig, as_bytes(kVectorMessage)).ok());
    EXPECT_TRUE(verify_stream(*key, *sig, as_bytes(kVectorMessage), 3).ok());
}

TEST(MinisignVectors, MinisignFilesReserialiseByteIdentically) {
    for (std::string_view text : {kMinisignPrehashedSig, kMinisignLegacySig}) {
        auto sig = ms::Signature::parse(text);
        ASSERT_TRUE(sig.ok());
        EXPECT_EQ(sig->serialize(), text);
    }
}

TEST(MinisignVectors, ChangedMessageIsRejected) {
    auto key = ms::PublicKey::parse(kMinisignPub);
    ASSERT_TRUE(key.ok());
    const auto changed = bytes_of("Custodia minisign vector!");
    for (std::string_view text : {kMinisignPrehashedSig, kMinisignLegacySig}) {
        auto sig = ms::Signature::parse(text);
        ASSERT_TRUE(sig.ok());
        auto st = ms::verify(*key, *sig, changed);
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, Errc::auth_failed);
    }
}

// ---------------------------------------------------------------- our signatures

class MinisignSigning : public ::testing::Test {
  protected:
    Ed25519SecretKey key_ = test_key(42);
    ms::PublicKey public_ = ms::PublicKey::derive_from(key_.public_key());
    ms::Signer signer_{key_, public_.key_id()};
    std::vector<std::uint8_t> message_ = pattern(100000);

    std::string sign_text(std::span<const std::uint8_t> message,
                          std::string_view trusted = "timestamp:1700000000\tfile:evidence.mp4") {
        auto sig = signer_.sign(message, trusted);
        EXPECT_TRUE(sig.ok());
        return sig.ok() ? sig->serialize() : std::string();
    }

    Status verify_text(std::string_view text, std::span<const std::uint8_t> message) {
        auto sig = ms::Signature::parse(text);
        if (!sig) return std::move(sig).error();
        return ms::verify(public_, *sig, message);
    }

    void expect_rejected(std::string_view text, std::span<const std::uint8_t> message, Errc code) {
        auto st = verify_text(text, message);
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, code) << st.error().message;
        auto sig = ms::Signature::parse(text);
        if (sig.ok()) {
            auto streamed = verify_stream(public_, *sig, message);
            ASSERT_FALSE(streamed.ok());
            EXPECT_EQ(streamed.error().code, code);
        }
    }
};

TEST_F(MinisignSigning, SignatureIsEd25519OverBlake2bOfMessage) {
    const std::string trusted = "timestamp:1700000000\tfile:evidence.mp4";
    const auto lines = lines_of(sign_text(message_, trusted));
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "untrusted comment: signature from custodia");
    EXPECT_EQ(lines[2], "trusted comment: " + trusted);

    const auto body = decode(lines[1]);
    ASSERT_EQ(body.size(), 74u);
    EXPECT_EQ(body[0], 'E');
    EXPECT_EQ(body[1], 'D');
    EXPECT_TRUE(std::equal(public_.key_id().begin(), public_.key_id().end(), body.begin() + 2));
    const auto expected_sig = key_.sign_ed25519(blake2b512(message_));
    EXPECT_TRUE(std::equal(expected_sig.begin(), expected_sig.end(), body.begin() + 10));

    const auto expected_global = global_over(key_, expected_sig, trusted);
    EXPECT_EQ(decode(lines[3]),
              std::vector<std::uint8_t>(expected_global.begin(), expected_global.end()));
}

TEST_F(MinisignSigning, SignVerifyAcceptsSeveralSizes) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{65536}, std::size_t{65537},
                             std::size_t{1} << 20}) {
        const auto message = pattern(size, 3);
        auto sig = signer_.sign(message, "size " + std::to_string(size));
        ASSERT_TRUE(sig.ok());
        EXPECT_TRUE(ms::verify(public_, *sig, message).ok()) << size;
        EXPECT_TRUE(verify_stream(public_, *sig, message).ok()) << size;
    }
}

TEST_F(MinisignSigning, SignatureRoundTripIsExact) {
    for (std::string_view trusted : {"", "x", "timestamp:1\tfile:a b c", "ünïcödé ✓"}) {
        auto sig = signer_.sign(message_, trusted, "custom untrusted");
        ASSERT_TRUE(sig.ok());
        const std::string text = sig->serialize();
        auto parsed = ms::Signature::parse(text);
        ASSERT_TRUE(parsed.ok()) << parsed.error().message;
        EXPECT_EQ(parsed->serialize(), text);
        EXPECT_EQ(parsed->trusted_comment(), trusted);
        EXPECT_EQ(parsed->untrusted_comment(), "custom untrusted");
        EXPECT_EQ(parsed->key_id(), public_.key_id());
        EXPECT_TRUE(parsed->prehashed());
        EXPECT_TRUE(ms::verify(public_, *parsed, message_).ok());
    }
}

TEST_F(MinisignSigning, StreamingSignMatchesSpanSign) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{200001}}) {
        const auto message = pattern(size, 9);
        auto from_span = signer_.sign(message, "same");
        ChunkedSource source(message, 777);
        auto from_stream = signer_.sign(source, "same");
        ASSERT_TRUE(from_span.ok() && from_stream.ok());
        EXPECT_EQ(from_stream->serialize(), from_span->serialize()) << size;
    }
}

TEST_F(MinisignSigning, FlipBitInMessage) {
    const std::string text = sign_text(message_);
    for (std::size_t pos : {std::size_t{0}, message_.size() / 2, message_.size() - 1}) {
        auto changed = message_;
        changed[pos] ^= 0x01;
        expect_rejected(text, changed, Errc::auth_failed);
    }
}

TEST_F(MinisignSigning, TruncatedMessage) {
    const std::string text = sign_text(message_);
    expect_rejected(text, std::span(message_).first(message_.size() - 1), Errc::auth_failed);
}

TEST_F(MinisignSigning, AppendedByteToMessage) {
    const std::string text = sign_text(message_);
    auto longer = message_;
    longer.push_back(0);
    expect_rejected(text, longer, Errc::auth_failed);
}

TEST_F(MinisignSigning, FlipBitInSignature) {
    const std::string text = sign_text(message_);
    for (std::size_t pos : {10u, 41u, 73u}) {
        const auto tampered = edit_line_bytes(text, 1, [&](auto& b) { b[pos] ^= 0x20; });
        expect_rejected(tampered, message_, Errc::auth_failed);
    }
}

TEST_F(MinisignSigning, FlipBitInGlobalSignature) {
    const std::string text = sign_text(message_);
    for (std::size_t pos : {0u, 31u, 63u}) {
        const auto tampered = edit_line_bytes(text, 3, [&](auto& b) { b[pos] ^= 0x04; });
        expect_rejected(tampered, message_, Errc::auth_failed);
    }
}

TEST_F(MinisignSigning, EditedTrustedComment) {
    auto lines = lines_of(sign_text(message_, "timestamp:1700000000\tfile:evidence.mp4"));
    lines[2] = "trusted comment: timestamp:1700000001\tfile:evidence.mp4";
    expect_rejected(join_lines(lines), message_, Errc::auth_failed);
}

TEST_F(MinisignSigning, TrustedCommentExtendedBySpace) {
    auto lines = lines_of(sign_text(message_, "note"));
    lines[2] += " ";
    expect_rejected(join_lines(lines), message_, Errc::auth_failed);
}

TEST_F(MinisignSigning, TrustedCommentMovedToOtherSignature) {
    // The global signature binds the comment to one signature, so a comment
    // and global signature lifted from another file do not verify.
    auto first = lines_of(sign_text(message_, "comment A"));
    const auto second = lines_of(sign_text(pattern(10), "comment B"));
    first[2] = second[2];
    first[3] = second[3];
    expect_rejected(join_lines(first), message_, Errc::auth_failed);
}

TEST_F(MinisignSigning, KeyIdMismatchInSignature) {
    const auto tampered = edit_line_bytes(sign_text(message_), 1, [](auto& b) { b[2] ^= 0x01; });
    expect_rejected(tampered, message_, Errc::no_matching_key);
}

TEST_F(MinisignSigning, KeyIdMismatchInPublicKey) {
    auto sig = signer_.sign(message_, "c");
    ASSERT_TRUE(sig.ok());
    ms::KeyId other = public_.key_id();
    other[7] ^= 0x80;
    const auto key = ms::PublicKey::from(other, key_.public_key());
    auto st = ms::verify(key, *sig, message_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::no_matching_key);
    MemorySource source(message_);
    auto streamed = ms::verify(key, *sig, source);
    ASSERT_FALSE(streamed.ok());
    EXPECT_EQ(streamed.error().code, Errc::no_matching_key);
}

TEST_F(MinisignSigning, WrongKeyWithSameKeyId) {
    auto sig = signer_.sign(message_, "c");
    ASSERT_TRUE(sig.ok());
    const auto other = test_key(43);
    const auto key = ms::PublicKey::from(public_.key_id(), other.public_key());
    auto st = ms::verify(key, *sig, message_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
}

TEST_F(MinisignSigning, SignedByOtherKeyUnderOurKeyId) {
    const auto other = test_key(44);
    const ms::Signer forger(other, public_.key_id());
    auto sig = forger.sign(message_, "c");
    ASSERT_TRUE(sig.ok());
    auto st = ms::verify(public_, *sig, message_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
}

TEST_F(MinisignSigning, PrehashedAlgorithmRelabelledAsLegacy) {
    const auto tampered = edit_line_bytes(sign_text(message_), 1, [](auto& b) { b[1] = 'd'; });
    auto sig = ms::Signature::parse(tampered);
    ASSERT_TRUE(sig.ok());
    EXPECT_FALSE(sig->prehashed());
    expect_rejected(tampered, message_, Errc::auth_failed);
}

TEST_F(MinisignSigning, UntrustedCommentIsNotAuthenticated) {
    // minisign does not sign the first line; changing it must not matter.
    auto lines = lines_of(sign_text(message_));
    lines[0] = "untrusted comment: rewritten by someone else";
    EXPECT_TRUE(verify_text(join_lines(lines), message_).ok());
}

TEST_F(MinisignSigning, LegacySignatureIsAccepted) {
    const std::string trusted = "legacy, built by hand";
    const auto sig = key_.sign_ed25519(message_);
    const auto text = assemble_minisig("Ed", public_.key_id(), sig, "legacy", trusted,
                                       global_over(key_, sig, trusted));
    auto parsed = ms::Signature::parse(text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->prehashed());
    EXPECT_EQ(parsed->serialize(), text);
    EXPECT_TRUE(ms::verify(public_, *parsed, message_).ok());
    EXPECT_TRUE(verify_stream(public_, *parsed, message_).ok());
}

TEST_F(MinisignSigning, LegacySignatureRelabelledAsPrehashed) {
    const std::string trusted = "legacy";
    const auto sig = key_.sign_ed25519(message_);
    const auto text = assemble_minisig("ED", public_.key_id(), sig, "x", trusted,
                                       global_over(key_, sig, trusted));
    expect_rejected(text, message_, Errc::auth_failed);
}

TEST_F(MinisignSigning, LegacyFlipBitInMessage) {
    const auto sig = key_.sign_ed25519(message_);
    const auto text =
        assemble_minisig("Ed", public_.key_id(), sig, "x", "t", global_over(key_, sig, "t"));
    auto changed = message_;
    changed[500] ^= 0x40;
    expect_rejected(text, changed, Errc::auth_failed);
}

TEST_F(MinisignSigning, LegacyStreamingStopsAt64MiB) {
    // The global signature is valid, so only the size can stop verification.
    const auto sig = key_.sign_ed25519(bytes_of("something else"));
    auto parsed = ms::Signature::parse(
        assemble_minisig("Ed", public_.key_id(), sig, "x", "t", global_over(key_, sig, "t")));
    ASSERT_TRUE(parsed.ok());
    GeneratedSource at_limit(std::size_t{64} << 20);
    auto st = ms::verify(public_, *parsed, at_limit);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
    GeneratedSource over_limit((std::size_t{64} << 20) + 1);
    st = ms::verify(public_, *parsed, over_limit);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::limit);
}

TEST_F(MinisignSigning, PrehashedStreamingReadsInChunks) {
    // 96 MiB never exists in memory: GeneratedSource makes it on demand, and
    // the verifier must ask for small pieces.
    const std::size_t size = std::size_t{96} << 20;
    GeneratedSource for_signing(size);
    auto sig = signer_.sign(for_signing, "big");
    ASSERT_TRUE(sig.ok());
    EXPECT_LE(for_signing.largest_request(), std::size_t{1} << 20);
    GeneratedSource for_verify(size);
    EXPECT_TRUE(ms::verify(public_, *sig, for_verify).ok());
    EXPECT_LE(for_verify.largest_request(), std::size_t{1} << 20);
    GeneratedSource shorter(size - 1);
    auto st = ms::verify(public_, *sig, shorter);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
}

TEST_F(MinisignSigning, StreamingAndSpanVerifyAgree) {
    const std::string good = sign_text(message_, "agree");
    const auto legacy_sig = key_.sign_ed25519(message_);
    const auto legacy = assemble_minisig("Ed", public_.key_id(), legacy_sig, "x", "agree",
                                         global_over(key_, legacy_sig, "agree"));
    auto changed = message_;
    changed[99999] ^= 1;
    auto bad_comment = lines_of(good);
    bad_comment[2] += "!";
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>> cases = {
        {good, message_},
        {good, changed},
        {good, {}},
        {legacy, message_},
        {legacy, changed},
        {join_lines(bad_comment), message_},
        {edit_line_bytes(good, 1, [](auto& b) { b[5] ^= 1; }), message_},
        {edit_line_bytes(good, 1, [](auto& b) { b[50] ^= 1; }), message_},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        auto sig = ms::Signature::parse(cases[i].first);
        ASSERT_TRUE(sig.ok()) << i;
        const auto span_result = ms::verify(public_, *sig, cases[i].second);
        for (std::size_t chunk : {1u, 7u, 65536u, 1000000u}) {
            if (chunk == 1 && cases[i].second.size() > 1000) continue;
            const auto stream_result = verify_stream(public_, *sig, cases[i].second, chunk);
            ASSERT_EQ(stream_result.ok(), span_result.ok()) << i << " chunk " << chunk;
            if (!span_result.ok()) {
                EXPECT_EQ(stream_result.error().code, span_result.error().code) << i;
            }
        }
    }
}

TEST_F(MinisignSigning, ReadErrorsPropagate) {
    FailingSource failing;
    auto signed_stream = signer_.sign(failing, "c");
    ASSERT_FALSE(signed_stream.ok());
    EXPECT_EQ(signed_stream.error().code, Errc::io);

    auto sig = signer_.sign(message_, "c");
    ASSERT_TRUE(sig.ok());
    FailingSource failing_verify;
    auto st = ms::verify(public_, *sig, failing_verify);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::io);
}

TEST_F(MinisignSigning, CommentsWithLineBreaksOrNulAreRefused) {
    for (std::string_view bad : {std::string_view("a\nb"), std::string_view("a\rb"),
                                 std::string_view("end\n"), std::string_view("a\0b", 3)}) {
        auto trusted = signer_.sign(message_, bad);
        ASSERT_FALSE(trusted.ok());
        EXPECT_EQ(trusted.error().code, Errc::malformed);
        auto untrusted = signer_.sign(message_, "ok", bad);
        ASSERT_FALSE(untrusted.ok());
        EXPECT_EQ(untrusted.error().code, Errc::malformed);
        MemorySource source(message_);
        auto streamed = signer_.sign(source, bad);
        ASSERT_FALSE(streamed.ok());
        EXPECT_EQ(streamed.error().code, Errc::malformed);
    }
}

TEST_F(MinisignSigning, CommentsLongerThanMinisignReadsAreRefused) {
    // minisign reads the trusted line into 8192 bytes and the untrusted line
    // into 1024, each holding the prefix, '\n' and a NUL.
    const std::size_t max_trusted = 8192 - 17 - 2;
    const std::size_t max_untrusted = 1024 - 19 - 2;
    auto at_limit =
        signer_.sign(message_, std::string(max_trusted, 't'), std::string(max_untrusted, 'u'));
    ASSERT_TRUE(at_limit.ok());
    auto reparsed = ms::Signature::parse(at_limit->serialize());
    ASSERT_TRUE(reparsed.ok());
    EXPECT_TRUE(ms::verify(public_, *reparsed, message_).ok());

    auto trusted_over = signer_.sign(message_, std::string(max_trusted + 1, 't'));
    ASSERT_FALSE(trusted_over.ok());
    EXPECT_EQ(trusted_over.error().code, Errc::limit);
    auto untrusted_over = signer_.sign(message_, "t", std::string(max_untrusted + 1, 'u'));
    ASSERT_FALSE(untrusted_over.ok());
    EXPECT_EQ(untrusted_over.error().code, Errc::limit);
}

// ---------------------------------------------------------------- strict parsing

class MinisignParsing : public MinisignSigning {
  protected:
    void SetUp() override { text_ = sign_text(message_, "parse me"); }

    void expect_malformed(const std::string& text, std::string_view what) {
        auto sig = ms::Signature::parse(text);
        ASSERT_FALSE(sig.ok()) << what;
        EXPECT_EQ(sig.error().code, Errc::malformed) << what;
    }
    std::string text_;
};

TEST_F(MinisignParsing, CrlfLineEndingsAreAccepted) {
    const auto crlf = join_lines(lines_of(text_), "\r\n");
    auto sig = ms::Signature::parse(crlf);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    EXPECT_EQ(sig->trusted_comment(), "parse me");
    EXPECT_TRUE(ms::verify(public_, *sig, message_).ok());
    EXPECT_EQ(sig->serialize(), text_);  // canonical form uses '\n'
}

TEST_F(MinisignParsing, MixedLineEndingsAreAccepted) {
    auto lines = lines_of(text_);
    const std::string mixed = lines[0] + "\r\n" + lines[1] + "\n" + lines[2] + "\r\n" + lines[3];
    auto sig = ms::Signature::parse(mixed);
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(sig->serialize(), text_);
}

TEST_F(MinisignParsing, FinalNewlineIsOptional) {
    auto sig = ms::Signature::parse(text_.substr(0, text_.size() - 1));
    ASSERT_TRUE(sig.ok());
    EXPECT_EQ(sig->serialize(), text_);
}

TEST_F(MinisignParsing, EveryTruncationIsRejected) {
    for (std::size_t len = 0; len + 1 < text_.size(); ++len)
        expect_malformed(text_.substr(0, len), "truncated to " + std::to_string(len));
}

TEST_F(MinisignParsing, ExtraLineAfterGlobalSignature) {
    expect_malformed(text_ + "untrusted comment: more\n", "extra line");
}

TEST_F(MinisignParsing, ExtraEmptyLineAtEnd) {
    expect_malformed(text_ + "\n", "blank line");
}

TEST_F(MinisignParsing, EmptyLineInsideFile) {
    auto lines = lines_of(text_);
    lines.insert(lines.begin() + 2, "");
    expect_malformed(join_lines(lines), "blank line inside");
}

TEST_F(MinisignParsing, ThreeLinesOnly) {
    auto lines = lines_of(text_);
    lines.pop_back();
    expect_malformed(join_lines(lines), "no global signature");
}

TEST_F(MinisignParsing, MissingUntrustedCommentPrefix) {
    auto lines = lines_of(text_);
    lines[0] = "signature from custodia";
    expect_malformed(join_lines(lines), "untrusted prefix");
    lines[0] = "Untrusted comment: x";
    expect_malformed(join_lines(lines), "untrusted prefix case");
    lines[0] = "untrusted comment:x";
    expect_malformed(join_lines(lines), "untrusted prefix space");
}

TEST_F(MinisignParsing, MissingTrustedCommentPrefix) {
    auto lines = lines_of(text_);
    lines[2] = "parse me";
    expect_malformed(join_lines(lines), "trusted prefix");
    lines[2] = "untrusted comment: parse me";
    expect_malformed(join_lines(lines), "wrong prefix");
}

TEST_F(MinisignParsing, CommentLinesSwapped) {
    auto lines = lines_of(text_);
    std::swap(lines[0], lines[2]);
    expect_malformed(join_lines(lines), "swapped comments");
}

TEST_F(MinisignParsing, SignatureLinesSwapped) {
    auto lines = lines_of(text_);
    std::swap(lines[1], lines[3]);
    expect_malformed(join_lines(lines), "swapped base64 lines");
}

TEST_F(MinisignParsing, BadBase64InSignatureLine) {
    auto lines = lines_of(text_);
    lines[1][20] = '*';
    expect_malformed(join_lines(lines), "bad char");
}

TEST_F(MinisignParsing, BadBase64InGlobalSignatureLine) {
    auto lines = lines_of(text_);
    lines[3][0] = '-';
    expect_malformed(join_lines(lines), "bad char");
}

TEST_F(MinisignParsing, MissingBase64Padding) {
    auto lines = lines_of(text_);
    ASSERT_EQ(lines[3].substr(86), "==");
    lines[3].resize(86);
    expect_malformed(join_lines(lines), "global without padding");
    lines = lines_of(text_);
    ASSERT_EQ(lines[1].back(), '=');
    lines[1].pop_back();
    expect_malformed(join_lines(lines), "signature without padding");
}

TEST_F(MinisignParsing, NonCanonicalBase64TrailingBits) {
    // 64 bytes end in one byte spread over two characters; the second one's
    // low four bits must be zero.
    auto lines = lines_of(text_);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const auto idx = alphabet.find(lines[3][85]);
    ASSERT_NE(idx, std::string::npos);
    lines[3][85] = alphabet[idx | 1];
    expect_malformed(join_lines(lines), "trailing bits");
}

TEST_F(MinisignParsing, WhitespaceAroundBase64) {
    auto lines = lines_of(text_);
    lines[1] += " ";
    expect_malformed(join_lines(lines), "trailing space");
    lines = lines_of(text_);
    lines[3] = "\t" + lines[3];
    expect_malformed(join_lines(lines), "leading tab");
}

TEST_F(MinisignParsing, SignatureOneByteShortOrLong) {
    expect_malformed(edit_line_bytes(text_, 1, [](auto& b) { b.pop_back(); }), "73 bytes");
    expect_malformed(edit_line_bytes(text_, 1, [](auto& b) { b.push_back(0); }), "75 bytes");
    expect_malformed(edit_line_bytes(text_, 3, [](auto& b) { b.pop_back(); }), "63 bytes");
    expect_malformed(edit_line_bytes(text_, 3, [](auto& b) { b.push_back(0); }), "65 bytes");
}

TEST_F(MinisignParsing, UnknownSignatureAlgorithm) {
    for (std::string_view alg : {"Ex", "ed", "eD", "DE", "\0\0"}) {
        expect_malformed(edit_line_bytes(text_, 1,
                                         [&](auto& b) {
                                             b[0] = static_cast<std::uint8_t>(alg[0]);
                                             b[1] = static_cast<std::uint8_t>(alg[1]);
                                         }),
                         alg);
    }
}

TEST_F(MinisignParsing, LoneCarriageReturnLineEnding) {
    const auto cr = join_lines(lines_of(text_), "\r");
    expect_malformed(cr, "CR only");
}

TEST_F(MinisignParsing, CarriageReturnInsideComment) {
    auto lines = lines_of(text_);
    lines[2] = "trusted comment: parse\rme";
    expect_malformed(join_lines(lines), "CR in trusted comment");
    lines = lines_of(text_);
    lines[0] = "untrusted comment: a\rb";
    expect_malformed(join_lines(lines), "CR in untrusted comment");
}

TEST_F(MinisignParsing, DoubleCarriageReturnLineEnding) {
    auto lines = lines_of(text_);
    lines[2] += "\r";
    expect_malformed(join_lines(lines, "\r\n"), "CR CR LF");
}

TEST_F(MinisignParsing, NulInComment) {
    auto lines = lines_of(text_);
    lines[2] = std::string("trusted comment: parse\0me", 25);
    expect_malformed(join_lines(lines), "NUL in trusted comment");
}

TEST_F(MinisignParsing, CommentsLongerThanMinisignReads) {
    auto lines = lines_of(text_);
    lines[2] = "trusted comment: " + std::string(8174, 'x');
    expect_malformed(join_lines(lines), "trusted comment too long");
    lines = lines_of(text_);
    lines[0] = "untrusted comment: " + std::string(1004, 'x');
    expect_malformed(join_lines(lines), "untrusted comment too long");
    lines[0] = "untrusted comment: " + std::string(1003, 'x');
    EXPECT_TRUE(ms::Signature::parse(join_lines(lines)).ok());
}

TEST_F(MinisignParsing, PublicKeyIsNotASignature) {
    expect_malformed(public_.to_file(), "public key file");
    auto key = ms::PublicKey::parse(text_);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, Errc::malformed);
}

TEST_F(MinisignParsing, EveryBitFlipOutsideUntrustedCommentIsRejected) {
    const std::size_t untrusted_end = text_.find('\n');
    const std::size_t text_start = std::string_view("untrusted comment: ").size();
    for (std::size_t pos = 0; pos < text_.size(); ++pos) {
        if (pos >= text_start && pos < untrusted_end) continue;  // not authenticated
        for (int bit = 0; bit < 8; ++bit) {
            std::string tampered = text_;
            tampered[pos] = static_cast<char>(tampered[pos] ^ (1 << bit));
            auto sig = ms::Signature::parse(tampered);
            if (!sig.ok()) {
                EXPECT_EQ(sig.error().code, Errc::malformed);
                continue;
            }
            auto st = ms::verify(public_, *sig, message_);
            EXPECT_FALSE(st.ok()) << "byte " << pos << " bit " << bit;
        }
    }
}

TEST_F(MinisignParsing, RandomMutationsNeverCrashAndRoundTrip) {
    DeterministicRandom random(2024);
    const std::vector<std::string> seeds = {text_, std::string(kMinisignPrehashedSig),
                                            std::string(kMinisignLegacySig),
                                            std::string(kMinisignPub)};
    for (int i = 0; i < 20000; ++i) {
        auto r = random.bytes<8>();
        std::string input = seeds[r[0] % seeds.size()];
        const int edits = 1 + r[1] % 4;
        for (int e = 0; e < edits && !input.empty(); ++e) {
            auto q = random.bytes<4>();
            const std::size_t pos = ((std::size_t{q[0]} << 8) | q[1]) % input.size();
            switch (q[2] % 4) {
                case 0:
                    input[pos] = static_cast<char>(q[3]);
                    break;
                case 1:
                    input.erase(pos, 1 + q[3] % 8);
                    break;
                case 2:
                    input.insert(pos, 1, "\n\r =A\0"[q[3] % 6]);
                    break;
                default:
                    input.resize(pos);
                    break;
            }
        }
        auto sig = ms::Signature::parse(input);
        if (sig.ok()) {
            const std::string canonical = sig->serialize();
            auto again = ms::Signature::parse(canonical);
            ASSERT_TRUE(again.ok());
            EXPECT_EQ(again->serialize(), canonical);
        } else {
            EXPECT_EQ(sig.error().code, Errc::malformed);
        }
        auto key = ms::PublicKey::parse(input);
        if (key.ok()) {
            auto again = ms::PublicKey::parse(key->to_file());
            ASSERT_TRUE(again.ok());
            EXPECT_EQ(again->to_file(), key->to_file());
        } else {
            EXPECT_EQ(key.error().code, Errc::malformed);
        }
    }
}

TEST(MinisignParsingRaw, ArbitraryBytesNeverCrash) {
    DeterministicRandom random(99);
    for (int i = 0; i < 5000; ++i) {
        const auto len = random.bytes<2>();
        std::string input((len[0] | (len[1] << 8)) % 600, '\0');
        random.fill(std::span(reinterpret_cast<std::uint8_t*>(input.data()), input.size()));
        auto sig = ms::Signature::parse(input);
        if (!sig.ok()) {
            EXPECT_EQ(sig.error().code, Errc::malformed);
        }
        auto key = ms::PublicKey::parse(input);
        if (!key.ok()) {
            EXPECT_EQ(key.error().code, Errc::malformed);
        }
    }
    auto huge = ms::Signature::parse(std::string(1 << 20, 'A'));
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.error().code, Errc::malformed);
}

}  // namespace
