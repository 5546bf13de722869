// Argon2id password hashing (libsodium, RFC 9106). The parameters travel with
// the derived key so that a stored slot can always be re-derived.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::crypto {

struct Argon2idParams {
    std::uint64_t opslimit = 0;  // passes over memory
    std::uint64_t memlimit = 0;  // bytes
    std::array<std::uint8_t, 16> salt{};

    static Argon2idParams moderate(std::span<const std::uint8_t, 16> salt);
    // The floor DESIGN.md §3 sets on desktop: libsodium's MODERATE.
    bool at_least_moderate() const noexcept;
};

// Fails with Errc::limit for parameters outside libsodium's bounds or when
// memory cannot be had.
Result<SecretBytes> argon2id(std::span<const std::uint8_t> passphrase, const Argon2idParams& params,
                             std::size_t out_len);

}  // namespace custodia::crypto
