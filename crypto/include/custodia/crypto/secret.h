// Memory for secrets: keys, file keys, passphrases.
//
// SecretBytes lives in sodium_malloc memory (guard pages, mlock'ed where the
// system allows, never swapped when mlock succeeds) and is wiped on release.
// It is move-only: a secret exists in one place, and copying it is a decision
// the code states with clone().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace custodia::crypto {

class SecretBytes {
  public:
    SecretBytes() noexcept = default;
    explicit SecretBytes(std::size_t size);  // zero-filled; throws std::bad_alloc
    static SecretBytes copy_of(std::span<const std::uint8_t> bytes);
    static SecretBytes copy_of(std::string_view text);

    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    SecretBytes(SecretBytes&& other) noexcept;
    SecretBytes& operator=(SecretBytes&& other) noexcept;
    ~SecretBytes();

    SecretBytes clone() const;

    std::uint8_t* data() noexcept { return data_; }
    const std::uint8_t* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::span<std::uint8_t> span() noexcept { return {data_, size_}; }
    std::span<const std::uint8_t> span() const noexcept { return {data_, size_}; }
    std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }

    // Constant-time comparison of contents; sizes are compared first (not secret).
    bool equals(std::span<const std::uint8_t> other) const noexcept;

  private:
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// Overwrites memory the compiler may not elide (sodium_memzero).
void wipe(std::span<std::uint8_t> bytes) noexcept;

// Constant-time equality for MACs and tags; never use == on them.
[[nodiscard]] bool equal_constant_time(std::span<const std::uint8_t> a,
                                       std::span<const std::uint8_t> b) noexcept;

}  // namespace custodia::crypto
