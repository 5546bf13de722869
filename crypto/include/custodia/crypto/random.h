// Injected randomness. Production code asks for a RandomSource& so that tests
// can make signing, sealing and export byte-for-byte reproducible.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace custodia::crypto {

class RandomSource {
  public:
    virtual ~RandomSource() = default;
    virtual void fill(std::span<std::uint8_t> out) = 0;

    template <std::size_t N>
    std::array<std::uint8_t, N> bytes() {
        std::array<std::uint8_t, N> out{};
        fill(out);
        return out;
    }
};

// The operating system's CSPRNG, through libsodium (getrandom(2) on Linux).
RandomSource& system_random();

// A ChaCha20 keystream from a fixed seed. For tests and reproducible fixtures
// only: the same seed gives the same bytes on every machine.
class DeterministicRandom final : public RandomSource {
  public:
    explicit DeterministicRandom(std::uint64_t seed);
    void fill(std::span<std::uint8_t> out) override;

  private:
    std::array<std::uint8_t, 32> key_{};
    std::uint64_t counter_ = 0;
};

}  // namespace custodia::crypto
