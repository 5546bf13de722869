// Vault blobs: one encrypted file per attachment (docs/FORMAT.md §Blobs).
//
//   blob = "custodia.blob/v1\n" || nonce[16] || STREAM(payload_key, plaintext)
//   payload_key = HKDF-SHA-256(ikm = blob_key, salt = nonce,
//                              info = "custodia/v1/blob-payload")
// Each blob has its own random 32-byte key, kept in the vault database.
#pragma once

#include <memory>
#include <string_view>

#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::crypto::blob {

inline constexpr std::string_view kMagic = "custodia.blob/v1\n";
inline constexpr std::size_t kHeaderSize = 17 + 16;

std::uint64_t sealed_size(std::uint64_t plaintext_size) noexcept;

class BlobWriter final : public ByteSink {
  public:
    static Result<std::unique_ptr<BlobWriter>> create(ByteSink& out, const SecretBytes& blob_key,
                                                      RandomSource& random);
    Status write(std::span<const std::uint8_t> data) override;
    [[nodiscard]] Status finish();

  private:
    BlobWriter(SecretBytes payload_key, ByteSink& out) : sealer_(std::move(payload_key), out) {}
    StreamSealer sealer_;
};

// Errc::malformed for a wrong magic or short header; then as StreamOpener.
class BlobReader final : public ByteSource {
  public:
    static Result<std::unique_ptr<BlobReader>> open(ByteSource& in, const SecretBytes& blob_key);
    Result<std::size_t> read(std::span<std::uint8_t> out) override;

  private:
    BlobReader(SecretBytes payload_key, ByteSource& in) : opener_(std::move(payload_key), in) {}
    StreamOpener opener_;
};

}  // namespace custodia::crypto::blob
