#include "custodia/crypto/minisign.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"

namespace custodia::crypto::minisign {

namespace {

constexpr std::string_view kUntrustedPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedPrefix = "trusted comment: ";
constexpr std::string_view kPublicKeyComment = "minisign public key ";

using Algorithm = std::array<std::uint8_t, 2>;
constexpr Algorithm kAlgPure = {'E', 'd'};       // legacy: Ed25519 over the message
constexpr Algorithm kAlgPrehashed = {'E', 'D'};  // Ed25519 over BLAKE2b-512(message)

constexpr std::size_t kPublicKeyBytes = 2 + 8 + 32;
constexpr std::size_t kSignatureBytes = 2 + 8 + 64;
constexpr std::size_t kGlobalSignatureBytes = 64;

// minisign reads each comment line with fgets into a fixed buffer (1024 bytes
// for the untrusted line, 8192 for the trusted one) that also holds the prefix,
// the '\n' and the terminating NUL. A longer comment would be split across
// reads and the file rejected, so we neither write nor accept one.
constexpr std::size_t kMaxUntrustedComment = 1024 - kUntrustedPrefix.size() - 2;
constexpr std::size_t kMaxTrustedComment = 8192 - kTrustedPrefix.size() - 2;

// Bounds the work a parser does on hostile input before splitting lines: the
// longest .minisig we accept, every line ending in "\r\n".
constexpr std::size_t kMaxSignatureText = kUntrustedPrefix.size() + kMaxUntrustedComment + 2 + 100 +
                                          2 + kTrustedPrefix.size() + kMaxTrustedComment + 2 + 88 +
                                          2;
constexpr std::size_t kMaxPublicKeyText =
    kUntrustedPrefix.size() + kMaxUntrustedComment + 2 + 56 + 2;

constexpr std::size_t kLegacyMessageLimit = std::size_t{64} << 20;
constexpr std::size_t kChunkBytes = std::size_t{64} << 10;

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

// Lines end with "\n" or "\r\n" (minisign on Windows writes text-mode files);
// the last line may lack its terminator. A '\r' anywhere else stays in the
// line, where the comment and base64 checks reject it.
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        if (nl == std::string_view::npos) {
            text = {};
        } else {
            text.remove_prefix(nl + 1);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        }
        lines.push_back(line);
    }
    return lines;
}

// minisign handles comments as C strings on one line, so NUL, CR and LF would
// change what it reads or signs.
bool is_comment_text(std::string_view text, std::size_t max_size) {
    return text.size() <= max_size &&
           text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::optional<std::string_view> strip_prefix(std::string_view line, std::string_view prefix) {
    if (line.substr(0, prefix.size()) != prefix) return std::nullopt;
    return line.substr(prefix.size());
}

std::optional<std::vector<std::uint8_t>> decode_exact(std::string_view line, std::size_t size) {
    auto bytes = from_base64(line, /*padded=*/true);
    if (!bytes || bytes->size() != size) return std::nullopt;
    return bytes;
}

template <std::size_t N>
std::array<std::uint8_t, N> take(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
    std::array<std::uint8_t, N> out{};
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), N, out.begin());
    return out;
}

template <std::size_t N>
void put(std::vector<std::uint8_t>& out, const std::array<std::uint8_t, N>& bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

// The global signature binds the trusted comment to this particular signature.
std::vector<std::uint8_t> global_signed_bytes(const Ed25519Signature& signature,
                                              std::string_view trusted_comment) {
    std::vector<std::uint8_t> out(signature.begin(), signature.end());
    const auto comment = as_bytes(trusted_comment);
    out.insert(out.end(), comment.begin(), comment.end());
    return out;
}

Status check_comments(std::string_view trusted_comment, std::string_view untrusted_comment) {
    constexpr std::string_view kLineBreaks = "\r\n";
    if (trusted_comment.find_first_of(kLineBreaks) != std::string_view::npos ||
        untrusted_comment.find_first_of(kLineBreaks) != std::string_view::npos)
        return malformed("minisign comments are single lines");
    if (trusted_comment.find('\0') != std::string_view::npos ||
        untrusted_comment.find('\0') != std::string_view::npos)
        return malformed("minisign comments cannot contain NUL");
    if (trusted_comment.size() > kMaxTrustedComment ||
        untrusted_comment.size() > kMaxUntrustedComment)
        return make_error(Errc::limit, "minisign comment is longer than minisign reads");
    return {};
}

Result<Blake2b512Digest> blake2b512_stream(ByteSource& in) {
    Blake2b512 hash;
    std::vector<std::uint8_t> buffer(kChunkBytes);
    for (;;) {
        auto n = in.read(buffer);
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        if (*n > buffer.size()) return make_error(Errc::internal, "byte source overran its buffer");
        hash.update(std::span<const std::uint8_t>(buffer).first(*n));
    }
    return hash.finish();
}

}  // namespace

std::string key_id_hex(const KeyId& id) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    // Reading the bytes little-endian puts the last byte first. Current minisign
    // pads to 16 digits (0.11 did not); the fixed width keeps ids comparable.
    std::string out;
    out.reserve(16);
    for (auto it = id.rbegin(); it != id.rend(); ++it) {
        out.push_back(kDigits[*it >> 4]);
        out.push_back(kDigits[*it & 0x0f]);
    }
    return out;
}

Result<PublicKey> PublicKey::parse(std::string_view text) {
    if (text.size() > kMaxPublicKeyText) return malformed("minisign public key is too long");
    const auto lines = split_lines(text);
    std::string_view key_line;
    if (lines.size() == 1) {
        key_line = lines[0];
    } else if (lines.size() == 2) {
        const auto comment = strip_prefix(lines[0], kUntrustedPrefix);
        if (!comment || !is_comment_text(*comment, kMaxUntrustedComment))
            return malformed("minisign public key file must start with an untrusted comment");
        key_line = lines[1];
    } else {
        return malformed("minisign public key must be one base64 line or a .pub file");
    }
    const auto bytes = decode_exact(key_line, kPublicKeyBytes);
    if (!bytes) return malformed("minisign public key is not 42 bytes of base64");
    if (take<2>(*bytes, 0) != kAlgPure) return malformed("minisign public key is not Ed25519");
    return PublicKey(take<8>(*bytes, 2), take<32>(*bytes, 10));
}

PublicKey PublicKey::derive_from(const Ed25519PublicKey& key) {
    const auto digest = blake2b512(key);
    KeyId id{};
    std::copy_n(digest.begin(), id.size(), id.begin());
    return PublicKey(id, key);
}

std::string PublicKey::to_base64() const {
    std::vector<std::uint8_t> bytes;
    bytes.reserve(kPublicKeyBytes);
    put(bytes, kAlgPure);
    put(bytes, key_id_);
    put(bytes, key_);
    return crypto::to_base64(bytes, /*padded=*/true);
}

std::string PublicKey::to_file() const {
    std::string out(kUntrustedPrefix);
    out += kPublicKeyComment;
    out += key_id_hex(key_id_);
    out += '\n';
    out += to_base64();
    out += '\n';
    return out;
}

Result<Signature> Signature::parse(std::string_view text) {
    if (text.size() > kMaxSignatureText) return malformed("minisign signature is too long");
    const auto lines = split_lines(text);
    if (lines.size() != 4) return malformed("minisign signature must have 4 lines");

    const auto untrusted = strip_prefix(lines[0], kUntrustedPrefix);
    if (!untrusted || !is_comment_text(*untrusted, kMaxUntrustedComment))
        return malformed("minisign signature must start with an untrusted comment");
    const auto sig_bytes = decode_exact(lines[1], kSignatureBytes);
    if (!sig_bytes) return malformed("minisign signature line is not 74 bytes of base64");
    const auto trusted = strip_prefix(lines[2], kTrustedPrefix);
    if (!trusted || !is_comment_text(*trusted, kMaxTrustedComment))
        return malformed("minisign signature third line must be a trusted comment");
    const auto global_bytes = decode_exact(lines[3], kGlobalSignatureBytes);
    if (!global_bytes) return malformed("minisign global signature is not 64 bytes of base64");

    Signature sig;
    const auto alg = take<2>(*sig_bytes, 0);
    if (alg == kAlgPrehashed) {
        sig.prehashed_ = true;
    } else if (alg == kAlgPure) {
        sig.prehashed_ = false;
    } else {
        return malformed("minisign signature algorithm is neither ED nor Ed");
    }
    sig.key_id_ = take<8>(*sig_bytes, 2);
    sig.signature_ = take<64>(*sig_bytes, 10);
    sig.untrusted_comment_ = std::string(*untrusted);
    sig.trusted_comment_ = std::string(*trusted);
    sig.global_signature_ = take<64>(*global_bytes, 0);
    return sig;
}

std::string Signature::serialize() const {
    std::vector<std::uint8_t> sig_bytes;
    sig_bytes.reserve(kSignatureBytes);
    put(sig_bytes, prehashed_ ? kAlgPrehashed : kAlgPure);
    put(sig_bytes, key_id_);
    put(sig_bytes, signature_);

    std::string out(kUntrustedPrefix);
    out += untrusted_comment_;
    out += '\n';
    out += to_base64(sig_bytes, /*padded=*/true);
    out += '\n';
    out += kTrustedPrefix;
    out += trusted_comment_;
    out += '\n';
    out += to_base64(global_signature_, /*padded=*/true);
    out += '\n';
    return out;
}

Result<Signature> Signer::sign(std::span<const std::uint8_t> message,
                               std::string_view trusted_comment,
                               std::string_view untrusted_comment) const {
    const auto digest = blake2b512(message);
    return sign_digest(digest, trusted_comment, untrusted_comment);
}

Result<Signature> Signer::sign(ByteSource& message, std::string_view trusted_comment,
                               std::string_view untrusted_comment) const {
    // Refuse bad comments before reading what may be gigabytes of input.
    if (auto st = check_comments(trusted_comment, untrusted_comment); !st)
        return std::move(st).error();
    auto digest = blake2b512_stream(message);
    if (!digest) return std::move(digest).error();
    return sign_digest(*digest, trusted_comment, untrusted_comment);
}

Result<Signature> Signer::sign_prehashed(const Blake2b512Digest& digest,
                                         std::string_view trusted_comment,
                                         std::string_view untrusted_comment) const {
    return sign_digest(digest, trusted_comment, untrusted_comment);
}

Result<Signature> Signer::sign_digest(std::span<const std::uint8_t> prehash,
                                      std::string_view trusted_comment,
                                      std::string_view untrusted_comment) const {
    if (auto st = check_comments(trusted_comment, untrusted_comment); !st)
        return std::move(st).error();

    Signature sig;
    sig.prehashed_ = true;
    sig.key_id_ = key_id_;
    sig.signature_ = key_.sign_ed25519(prehash);
    sig.untrusted_comment_ = std::string(untrusted_comment);
    sig.trusted_comment_ = std::string(trusted_comment);
    sig.global_signature_ =
        key_.sign_ed25519(global_signed_bytes(sig.signature_, sig.trusted_comment_));
    return sig;
}

namespace {

// Checked before the message so that a forged comment is refused without
// reading a possibly huge file.
Status check_header(const PublicKey& key, const KeyId& sig_key_id,
                    const Ed25519Signature& signature, std::string_view trusted_comment,
                    const Ed25519Signature& global_signature) {
    if (sig_key_id != key.key_id())
        return make_error(Errc::no_matching_key, "minisign signature was made by key " +
                                                     key_id_hex(sig_key_id) + ", not " +
                                                     key_id_hex(key.key_id()));
    if (!verify_ed25519(key.key(), global_signed_bytes(signature, trusted_comment),
                        global_signature))
        return make_error(Errc::auth_failed, "minisign trusted comment signature is invalid");
    return {};
}

Status bad_signature() {
    return make_error(Errc::auth_failed, "minisign signature is invalid");
}

}  // namespace

Status verify(const PublicKey& key, const Signature& sig, std::span<const std::uint8_t> message) {
    if (auto st = check_header(key, sig.key_id_, sig.signature_, sig.trusted_comment_,
                               sig.global_signature_);
        !st)
        return st;
    bool ok = false;
    if (sig.prehashed_) {
        const auto digest = blake2b512(message);
        ok = verify_ed25519(key.key(), digest, sig.signature_);
    } else {
        ok = verify_ed25519(key.key(), message, sig.signature_);
    }
    return ok ? Status{} : bad_signature();
}

Status verify_prehashed(const PublicKey& key, const Signature& sig,
                        const Blake2b512Digest& digest) {
    if (!sig.prehashed_)
        return make_error(Errc::unsupported,
                          "legacy minisign signatures cannot be checked from a digest");
    if (auto st = check_header(key, sig.key_id_, sig.signature_, sig.trusted_comment_,
                               sig.global_signature_);
        !st)
        return st;
    return verify_ed25519(key.key(), digest, sig.signature_) ? Status{} : bad_signature();
}

Status verify(const PublicKey& key, const Signature& sig, ByteSource& message) {
    if (auto st = check_header(key, sig.key_id_, sig.signature_, sig.trusted_comment_,
                               sig.global_signature_);
        !st)
        return st;
    if (sig.prehashed_) {
        auto digest = blake2b512_stream(message);
        if (!digest) return std::move(digest).error();
        return verify_ed25519(key.key(), *digest, sig.signature_) ? Status{} : bad_signature();
    }
    // Legacy signatures cover the raw message, which Ed25519 must see whole.
    std::vector<std::uint8_t> whole;
    std::vector<std::uint8_t> buffer(kChunkBytes);
    for (;;) {
        auto n = message.read(buffer);
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        if (*n > buffer.size()) return make_error(Errc::internal, "byte source overran its buffer");
        if (whole.size() + *n > kLegacyMessageLimit)
            return make_error(Errc::limit,
                              "legacy minisign signatures are verified up to 64 MiB; "
                              "sign with the prehashed format");
        whole.insert(whole.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    return verify_ed25519(key.key(), whole, sig.signature_) ? Status{} : bad_signature();
}

}  // namespace custodia::crypto::minisign
