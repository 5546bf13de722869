#include "custodia/crypto/kdf.h"

#include <sodium.h>

#include <algorithm>

#include "sodium_init.h"

namespace custodia::crypto {

Argon2idParams Argon2idParams::moderate(std::span<const std::uint8_t, 16> salt) {
    Argon2idParams p;
    p.opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
    p.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
    std::copy(salt.begin(), salt.end(), p.salt.begin());
    return p;
}

bool Argon2idParams::at_least_moderate() const noexcept {
    return opslimit >= crypto_pwhash_argon2id_OPSLIMIT_MODERATE &&
           memlimit >= crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
}

Result<SecretBytes> argon2id(std::span<const std::uint8_t> passphrase, const Argon2idParams& params,
                             std::size_t out_len) {
    detail::ensure_sodium();
    if (params.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        params.opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
        params.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
        params.memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX ||
        out_len < crypto_pwhash_argon2id_BYTES_MIN || out_len > 1024)
        return make_error(Errc::limit, "Argon2id parameters out of range");
    SecretBytes out(out_len);
    static const std::uint8_t empty = 0;
    if (crypto_pwhash_argon2id(
            out.data(), out.size(),
            reinterpret_cast<const char*>(passphrase.empty() ? &empty : passphrase.data()),
            passphrase.size(), params.salt.data(), params.opslimit,
            static_cast<std::size_t>(params.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0)
        return make_error(Errc::limit, "Argon2id could not get the memory it needs");
    return out;
}

}  // namespace custodia::crypto
