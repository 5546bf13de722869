#include "custodia/crypto/blob.h"

#include <algorithm>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"

namespace custodia::crypto::blob {

namespace {
constexpr std::string_view kPayloadInfo = "custodia/v1/blob-payload";
constexpr std::size_t kNonceSize = 16;

Result<SecretBytes> payload_key(const SecretBytes& blob_key, std::span<const std::uint8_t> nonce) {
    if (blob_key.size() != 32) return make_error(Errc::internal, "blob key must be 32 bytes");
    return hkdf_sha256(blob_key.span(), nonce, kPayloadInfo, 32);
}
}  // namespace

std::uint64_t sealed_size(std::uint64_t plaintext_size) noexcept {
    return kHeaderSize + stream_sealed_size(plaintext_size);
}

Result<std::unique_ptr<BlobWriter>> BlobWriter::create(ByteSink& out, const SecretBytes& blob_key,
                                                       RandomSource& random) {
    std::array<std::uint8_t, kNonceSize> nonce{};
    random.fill(nonce);
    auto key = payload_key(blob_key, nonce);
    if (!key) return std::move(key).error();
    if (auto st = out.write(as_bytes(kMagic)); !st) return std::move(st).error();
    if (auto st = out.write(nonce); !st) return std::move(st).error();
    return std::unique_ptr<BlobWriter>(new BlobWriter(std::move(*key), out));
}

Status BlobWriter::write(std::span<const std::uint8_t> data) {
    return sealer_.write(data);
}
Status BlobWriter::finish() {
    return sealer_.finish();
}

Result<std::unique_ptr<BlobReader>> BlobReader::open(ByteSource& in, const SecretBytes& blob_key) {
    std::array<std::uint8_t, kHeaderSize> header{};
    auto n = read_full(in, header);
    if (!n) return std::move(n).error();
    if (*n < kHeaderSize) return make_error(Errc::malformed, "blob shorter than its header");
    if (!std::equal(kMagic.begin(), kMagic.end(), header.begin()))
        return make_error(Errc::malformed, "not a Custodia v1 blob");
    auto key = payload_key(blob_key, std::span(header).subspan(kMagic.size()));
    if (!key) return std::move(key).error();
    return std::unique_ptr<BlobReader>(new BlobReader(std::move(*key), in));
}

Result<std::size_t> BlobReader::read(std::span<std::uint8_t> out) {
    return opener_.read(out);
}

}  // namespace custodia::crypto::blob
