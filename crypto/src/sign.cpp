#include "custodia/crypto/sign.h"

#include <sodium.h>

#include <algorithm>

#include "sodium_init.h"

namespace custodia::crypto {

Ed25519SecretKey Ed25519SecretKey::generate(RandomSource& random) {
    SecretBytes seed(32);
    random.fill(seed.span());
    return std::move(from_seed(seed.span()).value());
}

Result<Ed25519SecretKey> Ed25519SecretKey::from_seed(std::span<const std::uint8_t> seed) {
    if (seed.size() != crypto_sign_ed25519_SEEDBYTES)
        return make_error(Errc::malformed, "an Ed25519 seed is 32 bytes");
    detail::ensure_sodium();
    SecretBytes sk(crypto_sign_ed25519_SECRETKEYBYTES);
    Ed25519PublicKey pk{};
    crypto_sign_ed25519_seed_keypair(pk.data(), sk.data(), seed.data());
    return Ed25519SecretKey(std::move(sk), pk);
}

Ed25519Signature Ed25519SecretKey::sign_ed25519(std::span<const std::uint8_t> message) const {
    Ed25519Signature sig{};
    crypto_sign_ed25519_detached(sig.data(), nullptr, message.data(), message.size(), key_.data());
    return sig;
}

bool verify_ed25519(const Ed25519PublicKey& pk, std::span<const std::uint8_t> message,
                    const Ed25519Signature& signature) noexcept {
    detail::ensure_sodium();
    return crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                               pk.data()) == 0;
}

X25519SecretKey X25519SecretKey::generate(RandomSource& random) {
    SecretBytes scalar(32);
    random.fill(scalar.span());
    return std::move(from_bytes(scalar.span()).value());
}

Result<X25519SecretKey> X25519SecretKey::from_bytes(std::span<const std::uint8_t> scalar) {
    if (scalar.size() != crypto_scalarmult_curve25519_SCALARBYTES)
        return make_error(Errc::malformed, "an X25519 secret key is 32 bytes");
    detail::ensure_sodium();
    X25519PublicKey pk{};
    if (crypto_scalarmult_curve25519_base(pk.data(), scalar.data()) != 0)
        return make_error(Errc::malformed, "X25519 secret key is unusable");
    return X25519SecretKey(SecretBytes::copy_of(scalar), pk);
}

Result<SecretBytes> X25519SecretKey::agree_x25519(const X25519PublicKey& peer) const {
    SecretBytes shared(crypto_scalarmult_curve25519_BYTES);
    // libsodium returns -1 when the result is all zeros (a small-order peer point).
    if (crypto_scalarmult_curve25519(shared.data(), key_.data(), peer.data()) != 0)
        return make_error(Errc::auth_failed, "X25519 peer key is of small order");
    return shared;
}

}  // namespace custodia::crypto
