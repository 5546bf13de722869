// Typed errors and a small expected-like result type shared by every layer.
//
// C++20 has no std::expected, so Result<T> holds either a value or an Error.
// The error kinds separate what a caller must treat differently: input that
// does not parse, authentication that failed, a key that does not match, and
// the environment failing under us. Messages never carry secrets or user data.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace custodia {

enum class Errc {
    malformed,         // input does not follow the format
    auth_failed,       // a MAC, AEAD tag or signature did not verify
    no_matching_key,   // well-formed, but none of our keys opens it
    wrong_passphrase,  // the passphrase or recovery key does not unlock
    unsupported,       // a valid construct we do not implement (version, stanza type)
    io,                // the operating system refused a read, write, fsync or rename
    cancelled,         // the caller asked us to stop
    limit,             // a size, count or resource limit was exceeded
    internal,          // a library call failed where it never should
};

const char* errc_name(Errc code) noexcept;

struct Error {
    Errc code;
    std::string message;
};

inline Error make_error(Errc code, std::string message) {
    return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }

    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

  private:
    Error error_{Errc::internal, {}};
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace custodia
