// Ed25519 signatures (libsodium) and X25519 key agreement.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::crypto {

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, 64>;
using X25519PublicKey = std::array<std::uint8_t, 32>;

class Ed25519SecretKey {
  public:
    static Ed25519SecretKey generate(RandomSource& random);
    static Result<Ed25519SecretKey> from_seed(std::span<const std::uint8_t> seed);  // 32 bytes

    const Ed25519PublicKey& public_key() const noexcept { return public_key_; }
    std::span<const std::uint8_t> seed() const noexcept { return key_.span().first(32); }
    Ed25519Signature sign_ed25519(std::span<const std::uint8_t> message) const;

  private:
    Ed25519SecretKey(SecretBytes key, const Ed25519PublicKey& pk)
        : key_(std::move(key)), public_key_(pk) {}
    SecretBytes key_;  // libsodium's 64-byte form: seed || public key
    Ed25519PublicKey public_key_{};
};

// Strict RFC 8032 verification as libsodium implements it (canonical S,
// small-order keys and points rejected).
[[nodiscard]] bool verify_ed25519(const Ed25519PublicKey& pk, std::span<const std::uint8_t> message,
                                  const Ed25519Signature& signature) noexcept;

class X25519SecretKey {
  public:
    static X25519SecretKey generate(RandomSource& random);
    static Result<X25519SecretKey> from_bytes(std::span<const std::uint8_t> scalar);  // 32 bytes

    const X25519PublicKey& public_key() const noexcept { return public_key_; }
    std::span<const std::uint8_t> bytes() const noexcept { return key_.span(); }
    // Fails with Errc::auth_failed when the peer's point is of small order
    // (the shared secret would be all zeros).
    Result<SecretBytes> agree_x25519(const X25519PublicKey& peer) const;

  private:
    X25519SecretKey(SecretBytes key, const X25519PublicKey& pk)
        : key_(std::move(key)), public_key_(pk) {}
    SecretBytes key_;
    X25519PublicKey public_key_{};
};

}  // namespace custodia::crypto
