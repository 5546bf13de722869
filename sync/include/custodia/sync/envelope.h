// The bundle envelope (docs/PROTOCOL.md §3.2): a minisign signature of the
// whole .custodia file by the device key, whose trusted comment states what
// the file is. The server checks an upload against it before it issues a
// receipt, and `minisign -V` checks it without Custodia.
//
//   custodia.envelope/v1 bundle=<id> sha256=<hex> size=<n> device=<key id> created=<time>
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"

namespace custodia::sync {

// 1 to 128 of A–Z a–z 0–9 . _ -, not starting with '.', so that "<id>.custodia"
// is a safe file name everywhere.
[[nodiscard]] bool is_valid_bundle_id(std::string_view id) noexcept;

// "0123456789ABCDEF" ↔ the key id bytes, as minisign shows ids (16 upper-case
// hex digits of the little-endian number).
[[nodiscard]] std::optional<crypto::minisign::KeyId> parse_key_id_hex(std::string_view hex);

struct EnvelopeStatement {
    std::string bundle_id;
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;
    crypto::minisign::KeyId device{};
    std::int64_t created = 0;  // POSIX seconds, written as RFC 3339 UTC

    // The trusted comment; fails on an invalid bundle id or a time before
    // 1970 or after 9999.
    [[nodiscard]] Result<std::string> to_trusted_comment() const;
    // Strict: exactly the fields above, in order, single spaces, canonical
    // numbers, lower-case hex.
    [[nodiscard]] static Result<EnvelopeStatement> parse(std::string_view trusted_comment);
};

class Envelope {
  public:
    // A .custodia.envelope file (minisign signature text).
    [[nodiscard]] static Result<Envelope> parse(std::string_view text);

    const EnvelopeStatement& statement() const noexcept { return statement_; }
    const crypto::minisign::Signature& signature() const noexcept { return signature_; }
    std::string serialize() const { return signature_.serialize(); }

    // Checks the signature over the whole file, read from `file`, under the
    // device key, and that the key's id is the statement's device. Does not
    // compare the file's hash with the statement: the caller does that with
    // the digest it computed (see verify_file below for both at once).
    [[nodiscard]] Status verify_signature(const crypto::Ed25519PublicKey& device_key,
                                          crypto::ByteSource& file) const;

  private:
    Envelope(EnvelopeStatement statement, crypto::minisign::Signature signature)
        : statement_(std::move(statement)), signature_(std::move(signature)) {}
    EnvelopeStatement statement_;
    crypto::minisign::Signature signature_;
};

// Reads `file` once: its size and SHA-256 must be the statement's
// (Errc::auth_failed otherwise) and the signature must verify under
// `device_key` (Errc::auth_failed / no_matching_key).
[[nodiscard]] Status verify_envelope_file(const Envelope& envelope,
                                          const crypto::Ed25519PublicKey& device_key,
                                          const std::filesystem::path& file);

// Makes the envelope of a .custodia file (two passes: SHA-256 and size for
// the statement, then the minisign signature). For the bundle writer and
// for tests.
[[nodiscard]] Result<std::string> make_envelope(const std::filesystem::path& file,
                                                std::string_view bundle_id, std::int64_t created,
                                                const crypto::Ed25519SecretKey& device_key);

// RFC 3339 UTC with seconds: "2025-03-01T09:30:00Z".
[[nodiscard]] Result<std::string> format_rfc3339_utc(std::int64_t unix_seconds);
[[nodiscard]] std::optional<std::int64_t> parse_rfc3339_utc(std::string_view text);

}  // namespace custodia::sync
