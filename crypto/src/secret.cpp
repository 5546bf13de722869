#include "custodia/crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <new>
#include <stdexcept>

#include "sodium_init.h"

namespace custodia::crypto {

namespace detail {
void ensure_sodium() {
    static const bool ready = [] {
        if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
        return true;
    }();
    (void)ready;
}
}  // namespace detail

SecretBytes::SecretBytes(std::size_t size) {
    if (size == 0) return;
    detail::ensure_sodium();
    data_ = static_cast<std::uint8_t*>(sodium_malloc(size));
    if (data_ == nullptr) throw std::bad_alloc();
    std::memset(data_, 0, size);
    size_ = size;
}

SecretBytes SecretBytes::copy_of(std::span<const std::uint8_t> bytes) {
    SecretBytes s(bytes.size());
    if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
    return s;
}

SecretBytes SecretBytes::copy_of(std::string_view text) {
    return copy_of(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                                 text.size()));
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before unmapping
        data_ = other.data_;
        size_ = other.size_;
        other.data_ = nullptr;
        other.size_ = 0;
    }
    return *this;
}

SecretBytes::~SecretBytes() {
    if (data_ != nullptr) sodium_free(data_);
}

SecretBytes SecretBytes::clone() const {
    return copy_of(span());
}

bool SecretBytes::equals(std::span<const std::uint8_t> other) const noexcept {
    return equal_constant_time(span(), other);
}

void wipe(std::span<std::uint8_t> bytes) noexcept {
    if (!bytes.empty()) sodium_memzero(bytes.data(), bytes.size());
}

bool equal_constant_time(std::span<const std::uint8_t> a,
                         std::span<const std::uint8_t> b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace custodia::crypto
