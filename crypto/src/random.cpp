#include "custodia/crypto/random.h"

#include <sodium.h>

#include "sodium_init.h"

namespace custodia::crypto {

namespace {
class SystemRandom final : public RandomSource {
  public:
    void fill(std::span<std::uint8_t> out) override {
        if (out.empty()) return;  // an empty span may have a null data(): libsodium must not see it
        detail::ensure_sodium();
        randombytes_buf(out.data(), out.size());
    }
};
}  // namespace

RandomSource& system_random() {
    static SystemRandom instance;
    return instance;
}

DeterministicRandom::DeterministicRandom(std::uint64_t seed) {
    detail::ensure_sodium();
    for (std::size_t i = 0; i < 8; ++i) key_[i] = static_cast<std::uint8_t>(seed >> (8 * i));
}

void DeterministicRandom::fill(std::span<std::uint8_t> out) {
    if (out.empty()) return;
    // One ChaCha20 keystream per call, each call with a fresh 64-bit nonce.
    std::array<std::uint8_t, crypto_stream_chacha20_NONCEBYTES> nonce{};
    for (std::size_t i = 0; i < 8; ++i) nonce[i] = static_cast<std::uint8_t>(counter_ >> (8 * i));
    ++counter_;
    crypto_stream_chacha20(out.data(), out.size(), nonce.data(), key_.data());
}

}  // namespace custodia::crypto
