// The byte-level grammar shared by the capture record and the custody entry
// (docs/FORMAT.md, "Canonical encoding"): fixed-width big-endian integers,
// u32-length-prefixed strings, one presence byte before an optional field.
// Every value has exactly one encoding, so a decoded record re-encodes to the
// bytes that were signed or hashed.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace custodia::core::canonical {

class Writer {
  public:
    void u8(std::uint8_t v) { out_.push_back(v); }
    void u32(std::uint32_t v) { be(v, 4); }
    void u64(std::uint64_t v) { be(v, 8); }
    void i32(std::int32_t v) { be(static_cast<std::uint32_t>(v), 4); }
    void i64(std::int64_t v) { be(static_cast<std::uint64_t>(v), 8); }
    // IEEE 754 binary64 bits. Callers pass finite values with -0 already
    // folded into +0, so equal numbers have equal bytes.
    void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
    void fixed(std::span<const std::uint8_t> bytes) {
        out_.insert(out_.end(), bytes.begin(), bytes.end());
    }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.insert(out_.end(), s.begin(), s.end());
    }
    std::vector<std::uint8_t> take() { return std::move(out_); }

  private:
    void be(std::uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i)
            out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    std::vector<std::uint8_t> out_;
};

// Reads the same grammar. Every accessor fails (returns nullopt / false) on
// a short input instead of reading past it; done() says whether every byte
// was consumed.
class Reader {
  public:
    explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}

    std::optional<std::uint8_t> u8() {
        auto v = be(1);
        if (!v) return std::nullopt;
        return static_cast<std::uint8_t>(*v);
    }
    std::optional<std::uint32_t> u32() {
        auto v = be(4);
        if (!v) return std::nullopt;
        return static_cast<std::uint32_t>(*v);
    }
    std::optional<std::uint64_t> u64() { return be(8); }
    std::optional<std::int32_t> i32() {
        auto v = be(4);
        if (!v) return std::nullopt;
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(*v));
    }
    std::optional<std::int64_t> i64() {
        auto v = be(8);
        if (!v) return std::nullopt;
        return static_cast<std::int64_t>(*v);
    }
    std::optional<double> f64() {
        auto v = be(8);
        if (!v) return std::nullopt;
        return std::bit_cast<double>(*v);
    }
    bool fixed(std::span<std::uint8_t> out) {
        if (in_.size() < out.size()) return false;
        std::memcpy(out.data(), in_.data(), out.size());
        in_ = in_.subspan(out.size());
        return true;
    }
    std::optional<std::string> str(std::size_t max_size) {
        auto n = u32();
        if (!n || *n > max_size || in_.size() < *n) return std::nullopt;
        std::string s(reinterpret_cast<const char*>(in_.data()), *n);
        in_ = in_.subspan(*n);
        return s;
    }
    bool done() const { return in_.empty(); }

  private:
    std::optional<std::uint64_t> be(std::size_t bytes) {
        if (in_.size() < bytes) return std::nullopt;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | in_[i];
        in_ = in_.subspan(bytes);
        return v;
    }
    std::span<const std::uint8_t> in_;
};

}  // namespace custodia::core::canonical
