// zstd (RFC 8878) through the ByteSink/ByteSource interfaces, so a sealed
// bundle's tar stream is compressed and decompressed in pieces, never whole.
// The frames are what the `zstd` command reads and writes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "custodia/crypto/result.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

// Levels 1..19: beyond 19 the window grows past what ZstdDecompressSource
// accepts by default.
inline constexpr int kZstdMinLevel = 1;
inline constexpr int kZstdMaxLevel = 19;

// Bytes written come out of `out` as zstd frames: 1 MiB segments that zstd
// would barely shrink (sampled at level 1) as stored frames of raw blocks,
// the rest in compressed frames with a content checksum. finish() ends the
// last frame. Not thread-safe.
class ZstdCompressSink final : public crypto::ByteSink {
  public:
    static Result<std::unique_ptr<ZstdCompressSink>> create(crypto::ByteSink& out, int level);
    ~ZstdCompressSink() override;
    ZstdCompressSink(const ZstdCompressSink&) = delete;
    ZstdCompressSink& operator=(const ZstdCompressSink&) = delete;

    Status write(std::span<const std::uint8_t> data) override;
    [[nodiscard]] Status finish();

  private:
    struct State;
    explicit ZstdCompressSink(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// Decompresses one or more concatenated frames. read() returns 0 only after
// the input ended exactly at the end of a frame; a stream cut inside a frame,
// a bad checksum or garbage is Errc::malformed. Errc::limit when the output
// would pass the output limit, or a frame asks for a window larger than
// 2^window_log_max bytes (which bounds the memory an input can make us use).
class ZstdDecompressSource final : public crypto::ByteSource {
  public:
    static constexpr int kDefaultWindowLogMax = 24;  // 16 MiB

    static Result<std::unique_ptr<ZstdDecompressSource>> create(
        crypto::ByteSource& in, int window_log_max = kDefaultWindowLogMax);
    ~ZstdDecompressSource() override;
    ZstdDecompressSource(const ZstdDecompressSource&) = delete;
    ZstdDecompressSource& operator=(const ZstdDecompressSource&) = delete;

    Result<std::size_t> read(std::span<std::uint8_t> out) override;

    // Total output allowed; lowering it below what was already produced makes
    // the next read fail. UINT64_MAX (the default) means no limit.
    void set_output_limit(std::uint64_t limit) noexcept;
    std::uint64_t output_limit() const noexcept;
    std::uint64_t bytes_in() const noexcept;
    std::uint64_t bytes_out() const noexcept;

  private:
    struct State;
    explicit ZstdDecompressSource(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace custodia::core
