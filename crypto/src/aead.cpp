#include "custodia/crypto/aead.h"

#include <sodium.h>

#include <stdexcept>

#include "sodium_init.h"

namespace custodia::crypto {

namespace {
const std::uint8_t* ptr_or_null(std::span<const std::uint8_t> s) {
    return s.empty() ? nullptr : s.data();
}
void check_sizes(std::size_t in, std::size_t out, bool sealing) {
    if (sealing ? out != in + kPoly1305TagSize
                : in < kPoly1305TagSize || out != in - kPoly1305TagSize)
        throw std::invalid_argument("AEAD buffer size mismatch");
}
}  // namespace

void seal_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                           std::span<const std::uint8_t, 12> nonce,
                           std::span<const std::uint8_t> aad,
                           std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out) {
    detail::ensure_sodium();
    check_sizes(plaintext.size(), out.size(), true);
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), nullptr, ptr_or_null(plaintext),
                                              plaintext.size(), ptr_or_null(aad), aad.size(),
                                              nullptr, nonce.data(), key.data());
}

bool open_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                           std::span<const std::uint8_t, 12> nonce,
                           std::span<const std::uint8_t> aad,
                           std::span<const std::uint8_t> ciphertext, std::span<std::uint8_t> out) {
    detail::ensure_sodium();
    if (ciphertext.size() < kPoly1305TagSize) return false;
    check_sizes(ciphertext.size(), out.size(), false);
    return crypto_aead_chacha20poly1305_ietf_decrypt(
               out.data(), nullptr, nullptr, ciphertext.data(), ciphertext.size(), ptr_or_null(aad),
               aad.size(), nonce.data(), key.data()) == 0;
}

void seal_xchacha20poly1305(std::span<const std::uint8_t, 32> key,
                            std::span<const std::uint8_t, 24> nonce,
                            std::span<const std::uint8_t> aad,
                            std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out) {
    detail::ensure_sodium();
    check_sizes(plaintext.size(), out.size(), true);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), nullptr, ptr_or_null(plaintext),
                                               plaintext.size(), ptr_or_null(aad), aad.size(),
                                               nullptr, nonce.data(), key.data());
}

bool open_xchacha20poly1305(std::span<const std::uint8_t, 32> key,
                            std::span<const std::uint8_t, 24> nonce,
                            std::span<const std::uint8_t> aad,
                            std::span<const std::uint8_t> ciphertext, std::span<std::uint8_t> out) {
    detail::ensure_sodium();
    if (ciphertext.size() < kPoly1305TagSize) return false;
    check_sizes(ciphertext.size(), out.size(), false);
    return crypto_aead_xchacha20poly1305_ietf_decrypt(
               out.data(), nullptr, nullptr, ciphertext.data(), ciphertext.size(), ptr_or_null(aad),
               aad.size(), nonce.data(), key.data()) == 0;
}

}  // namespace custodia::crypto
