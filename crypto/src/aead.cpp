#include "custodia/crypto/aead.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>

#include "custodia/crypto/secret.h"
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

// ChaCha20-Poly1305 (IETF) runs on OpenSSL: its assembly uses the CPU's
// vector units and is several times faster here than libsodium 1.0.18's,
// which decides whether bulk age/blob encryption keeps up with the disk.
// XChaCha20-Poly1305 stays with libsodium (OpenSSL has no XChaCha).
namespace {
const EVP_CIPHER* chacha20poly1305_cipher() {
    static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    if (cipher == nullptr) throw std::runtime_error("OpenSSL lacks ChaCha20-Poly1305");
    return cipher;
}

struct CipherCtx {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// Feeds data to EVP_CipherUpdate in pieces that fit its int length.
bool cipher_update(EVP_CIPHER_CTX* ctx, std::uint8_t* out, std::span<const std::uint8_t> in) {
    while (!in.empty()) {
        int n = static_cast<int>(std::min<std::size_t>(in.size(), INT_MAX / 2));
        int written = 0;
        if (EVP_CipherUpdate(ctx, out, &written, in.data(), n) != 1 || written != n) return false;
        if (out != nullptr) out += n;
        in = in.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool chacha20poly1305_evp(bool seal, std::span<const std::uint8_t, 32> key,
                          std::span<const std::uint8_t, 12> nonce,
                          std::span<const std::uint8_t> aad, std::span<const std::uint8_t> in,
                          std::uint8_t* out, std::uint8_t* tag) {
    CipherCtx c;
    if (c.ctx == nullptr) throw std::bad_alloc();
    std::uint8_t none = 0;  // OpenSSL wants somewhere to write even when there is nothing
    if (out == nullptr) out = &none;
    int final_len = 0;
    bool ok =
        EVP_CipherInit_ex2(c.ctx, chacha20poly1305_cipher(), key.data(), nonce.data(), seal ? 1 : 0,
                           nullptr) == 1 &&
        (seal || EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_SET_TAG, kPoly1305TagSize, tag) == 1) &&
        cipher_update(c.ctx, nullptr, aad) && cipher_update(c.ctx, out, in) &&
        EVP_CipherFinal_ex(c.ctx, out, &final_len) == 1 && final_len == 0 &&
        (!seal || EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_AEAD_GET_TAG, kPoly1305TagSize, tag) == 1);
    return ok;
}
}  // namespace

void seal_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                           std::span<const std::uint8_t, 12> nonce,
                           std::span<const std::uint8_t> aad,
                           std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out) {
    check_sizes(plaintext.size(), out.size(), true);
    if (!chacha20poly1305_evp(true, key, nonce, aad, plaintext, out.data(),
                              out.data() + plaintext.size()))
        throw std::runtime_error("ChaCha20-Poly1305 seal failed");
}

bool open_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                           std::span<const std::uint8_t, 12> nonce,
                           std::span<const std::uint8_t> aad,
                           std::span<const std::uint8_t> ciphertext, std::span<std::uint8_t> out) {
    if (ciphertext.size() < kPoly1305TagSize) return false;
    check_sizes(ciphertext.size(), out.size(), false);
    std::size_t body = ciphertext.size() - kPoly1305TagSize;
    std::array<std::uint8_t, kPoly1305TagSize> tag{};
    std::copy(ciphertext.begin() + static_cast<std::ptrdiff_t>(body), ciphertext.end(),
              tag.begin());
    if (chacha20poly1305_evp(false, key, nonce, aad, ciphertext.first(body), out.data(),
                             tag.data()))
        return true;
    // OpenSSL decrypts before it checks the tag: unverified bytes must not survive.
    wipe(out);
    return false;
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
