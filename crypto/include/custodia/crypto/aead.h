// ChaCha20-Poly1305 (RFC 8439, 96-bit nonce) and XChaCha20-Poly1305
// (192-bit nonce), both from libsodium.
#pragma once

#include <cstdint>
#include <span>

namespace custodia::crypto {

inline constexpr std::size_t kPoly1305TagSize = 16;

// out.size() must be plaintext.size() + 16. Returns the bytes written.
void seal_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                           std::span<const std::uint8_t, 12> nonce,
                           std::span<const std::uint8_t> aad,
                           std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out);

// out.size() must be ciphertext.size() - 16. Nothing is written unless the tag verifies.
[[nodiscard]] bool open_chacha20poly1305(std::span<const std::uint8_t, 32> key,
                                         std::span<const std::uint8_t, 12> nonce,
                                         std::span<const std::uint8_t> aad,
                                         std::span<const std::uint8_t> ciphertext,
                                         std::span<std::uint8_t> out);

void seal_xchacha20poly1305(std::span<const std::uint8_t, 32> key,
                            std::span<const std::uint8_t, 24> nonce,
                            std::span<const std::uint8_t> aad,
                            std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out);

[[nodiscard]] bool open_xchacha20poly1305(std::span<const std::uint8_t, 32> key,
                                          std::span<const std::uint8_t, 24> nonce,
                                          std::span<const std::uint8_t> aad,
                                          std::span<const std::uint8_t> ciphertext,
                                          std::span<std::uint8_t> out);

}  // namespace custodia::crypto
