// Byte streams. Every format in Custodia is read and written through these so
// that nothing is ever loaded whole: a 4 GiB video flows through in chunks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "custodia/crypto/result.h"

namespace custodia::crypto {

class ByteSource {
  public:
    virtual ~ByteSource() = default;
    // Reads up to out.size() bytes; returns 0 only at the end of the stream.
    [[nodiscard]] virtual Result<std::size_t> read(std::span<std::uint8_t> out) = 0;
};

class ByteSink {
  public:
    virtual ~ByteSink() = default;
    [[nodiscard]] virtual Status write(std::span<const std::uint8_t> data) = 0;
};

// Reads until out is full or the stream ends; returns the bytes read.
[[nodiscard]] Result<std::size_t> read_full(ByteSource& in, std::span<std::uint8_t> out);
// Copies the whole source into the sink in fixed-size pieces.
[[nodiscard]] Status copy_stream(ByteSource& in, ByteSink& out);

class MemorySource final : public ByteSource {
  public:
    explicit MemorySource(std::span<const std::uint8_t> data) : data_(data) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override;

  private:
    std::span<const std::uint8_t> data_;
};

class VectorSink final : public ByteSink {
  public:
    Status write(std::span<const std::uint8_t> data) override;
    std::vector<std::uint8_t>& bytes() noexcept { return bytes_; }

  private:
    std::vector<std::uint8_t> bytes_;
};

// Borrows a file descriptor; retries on EINTR and short writes.
class FdSource final : public ByteSource {
  public:
    explicit FdSource(int fd) : fd_(fd) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override;

  private:
    int fd_;
};

class FdSink final : public ByteSink {
  public:
    explicit FdSink(int fd) : fd_(fd) {}
    Status write(std::span<const std::uint8_t> data) override;

  private:
    int fd_;
};

}  // namespace custodia::crypto
