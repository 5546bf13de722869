// Hashes and key derivation: SHA-256, HMAC-SHA-256, HKDF-SHA-256 (OpenSSL,
// which uses the CPU's SHA instructions) and BLAKE2b-512 (also OpenSSL, twice
// as fast as libsodium 1.0.18 here).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;
using Blake2b512Digest = std::array<std::uint8_t, 64>;

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(std::span<const std::uint8_t> data);
    void update(std::string_view data);
    Sha256Digest finish();  // the object may be reused after finish()

  private:
    struct State;
    std::unique_ptr<State> state_;
};

Sha256Digest sha256(std::span<const std::uint8_t> data);
Sha256Digest sha256(std::string_view data);

Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

// RFC 5869. Fails with Errc::limit when out_len > 255 * 32.
Result<SecretBytes> hkdf_sha256(std::span<const std::uint8_t> ikm,
                                std::span<const std::uint8_t> salt, std::string_view info,
                                std::size_t out_len);
Result<SecretBytes> hkdf_sha256(std::span<const std::uint8_t> ikm,
                                std::span<const std::uint8_t> salt,
                                std::span<const std::uint8_t> info, std::size_t out_len);

class Blake2b512 {
  public:
    Blake2b512();
    ~Blake2b512();
    Blake2b512(Blake2b512&&) noexcept;
    Blake2b512& operator=(Blake2b512&&) noexcept;
    Blake2b512(const Blake2b512&) = delete;
    Blake2b512& operator=(const Blake2b512&) = delete;

    void update(std::span<const std::uint8_t> data);
    Blake2b512Digest finish();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

Blake2b512Digest blake2b512(std::span<const std::uint8_t> data);

}  // namespace custodia::crypto
