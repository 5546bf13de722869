// The STREAM construction of the age v1 payload (C2SP age §"Payload"), used
// by age files and by vault blobs alike.
//
// Plaintext is cut into 64 KiB chunks, each sealed with ChaCha20-Poly1305
// under one 32-byte key. The 12-byte nonce is an 11-byte big-endian chunk
// counter followed by 0x01 on the final chunk and 0x00 on every other. That
// flag is what makes truncation at a chunk boundary detectable: a reader
// accepts the end of data only right after a chunk sealed as final.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::crypto {

inline constexpr std::size_t kStreamChunkSize = 64 * 1024;
inline constexpr std::size_t kStreamSealedChunkSize = kStreamChunkSize + 16;

// Size of the sealed stream for a plaintext of `size` bytes.
std::uint64_t stream_sealed_size(std::uint64_t size) noexcept;

class StreamSealer final : public ByteSink {
  public:
    StreamSealer(SecretBytes key, ByteSink& out);  // key: 32 bytes
    Status write(std::span<const std::uint8_t> data) override;
    // Seals the final chunk. Must be called exactly once; without it the
    // stream is, by construction, truncated and will not open.
    [[nodiscard]] Status finish();

  private:
    Status seal_chunk(bool last);

    SecretBytes key_;
    ByteSink& out_;
    std::vector<std::uint8_t> plain_;
    std::vector<std::uint8_t> sealed_;
    std::uint64_t counter_ = 0;
    bool finished_ = false;
};

// Releases plaintext only chunk by chunk, after each chunk's tag verified.
// Errors: Errc::auth_failed for a chunk that does not verify (tampered,
// reordered, duplicated, or a final chunk missing or misplaced),
// Errc::malformed for a stream cut inside a tag or trailing bytes.
class StreamOpener final : public ByteSource {
  public:
    StreamOpener(SecretBytes key, ByteSource& in);
    Result<std::size_t> read(std::span<std::uint8_t> out) override;
    // Hands over bytes the caller already read past its own header.
    void prepend(std::span<const std::uint8_t> bytes);

  private:
    Status open_next_chunk();
    Status check_no_trailing_data();

    SecretBytes key_;
    ByteSource& in_;
    std::vector<std::uint8_t> sealed_;  // ciphertext read but not yet opened
    std::vector<std::uint8_t> plain_;   // verified plaintext not yet handed out
    std::size_t plain_pos_ = 0;
    std::uint64_t counter_ = 0;
    bool in_eof_ = false;
    bool done_ = false;
    bool trailing_checked_ = false;
    bool failed_ = false;
    Error failure_{Errc::internal, {}};
};

}  // namespace custodia::crypto
