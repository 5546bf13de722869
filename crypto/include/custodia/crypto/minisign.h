// minisign formats (https://jedisct1.github.io/minisign/): Ed25519 public keys
// and signatures, so that `minisign -V` checks what a Custodia device signs.
//
//   public key  = base64("Ed" || key_id[8] || ed25519_pk[32])
//   signature   = base64(alg[2] || key_id[8] || sig[64]),   alg "ED" or "Ed"
//   global sig  = Ed25519(sig || trusted_comment_text)
// "ED" signs BLAKE2b-512(message) (prehashed, what we write); legacy "Ed"
// signs the message itself and is accepted when verifying.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::crypto::minisign {

using KeyId = std::array<std::uint8_t, 8>;

// Key ids are shown the way minisign shows them: the 8 bytes read as a
// little-endian 64-bit number, in upper-case hex.
std::string key_id_hex(const KeyId& id);

class PublicKey {
  public:
    // Accepts the bare base64 line or a whole .pub file (untrusted comment + line).
    static Result<PublicKey> parse(std::string_view text);
    static PublicKey from(const KeyId& id, const Ed25519PublicKey& key) {
        return PublicKey(id, key);
    }
    // Custodia device keys use key id = BLAKE2b-512(pk)[0..8]; minisign's own
    // keys have random ids, which verification accepts as they are.
    static PublicKey derive_from(const Ed25519PublicKey& key);

    std::string to_base64() const;  // the single line `minisign -P` takes
    std::string to_file() const;    // "untrusted comment: minisign public key <ID>\n<base64>\n"
    const KeyId& key_id() const noexcept { return key_id_; }
    const Ed25519PublicKey& key() const noexcept { return key_; }

  private:
    PublicKey(const KeyId& id, const Ed25519PublicKey& key) : key_id_(id), key_(key) {}
    KeyId key_id_{};
    Ed25519PublicKey key_{};
};

class Signature {
  public:
    // A .minisig file: 4 lines, each ending with '\n' (the last one optional).
    static Result<Signature> parse(std::string_view text);
    std::string serialize() const;  // canonical .minisig text

    bool prehashed() const noexcept { return prehashed_; }
    const KeyId& key_id() const noexcept { return key_id_; }
    const std::string& untrusted_comment() const noexcept { return untrusted_comment_; }
    const std::string& trusted_comment() const noexcept { return trusted_comment_; }

  private:
    friend class Signer;
    friend Status verify(const PublicKey&, const Signature&, ByteSource&);
    friend Status verify(const PublicKey&, const Signature&, std::span<const std::uint8_t>);
    friend Status verify_prehashed(const PublicKey&, const Signature&, const Blake2b512Digest&);
    Signature() = default;
    bool prehashed_ = true;
    KeyId key_id_{};
    Ed25519Signature signature_{};
    std::string untrusted_comment_;
    std::string trusted_comment_;
    Ed25519Signature global_signature_{};
};

// Signs with an Ed25519 key under a minisign key id ("ED", prehashed).
class Signer {
  public:
    Signer(const Ed25519SecretKey& key, const KeyId& id) : key_(key), key_id_(id) {}
    // Comments must not contain '\n' or '\r' (Errc::malformed).
    Result<Signature> sign(std::span<const std::uint8_t> message, std::string_view trusted_comment,
                           std::string_view untrusted_comment = "signature from custodia") const;
    Result<Signature> sign(ByteSource& message, std::string_view trusted_comment,
                           std::string_view untrusted_comment = "signature from custodia") const;
    // For a caller that computed BLAKE2b-512 of the message while streaming it
    // for other reasons (the bundle writer hashes the file it is writing), so
    // the message need not be read a second time.
    Result<Signature> sign_prehashed(
        const Blake2b512Digest& digest, std::string_view trusted_comment,
        std::string_view untrusted_comment = "signature from custodia") const;

  private:
    Result<Signature> sign_digest(std::span<const std::uint8_t> prehash,
                                  std::string_view trusted_comment,
                                  std::string_view untrusted_comment) const;
    const Ed25519SecretKey& key_;
    KeyId key_id_;
};

// Errc::no_matching_key when the key ids differ, Errc::auth_failed when either
// signature fails. Legacy "Ed" signatures need the whole message in memory, so
// the streaming form accepts them only up to 64 MiB (Errc::limit beyond).
[[nodiscard]] Status verify(const PublicKey& key, const Signature& sig,
                            std::span<const std::uint8_t> message);
[[nodiscard]] Status verify(const PublicKey& key, const Signature& sig, ByteSource& message);
// The same check from BLAKE2b-512(message) computed by the caller. Only
// prehashed ("ED") signatures can be checked this way (Errc::unsupported else).
[[nodiscard]] Status verify_prehashed(const PublicKey& key, const Signature& sig,
                                      const Blake2b512Digest& digest);

}  // namespace custodia::crypto::minisign
