// Every fixed string and number of the sync protocol (docs/PROTOCOL.md), in
// one place, so that the client, the server and the tests cannot drift apart.
#pragma once

#include <cstdint>
#include <string_view>

namespace custodia::sync::protocol {

// Domain-separation strings: each signed or encoded value names its purpose
// and version, so a signature made for one can never be taken for another.
inline constexpr std::string_view kEnrolmentCodePrefix = "custodia-enroll:v1:";
inline constexpr std::string_view kRequestContext = "custodia/v1/request";
inline constexpr std::string_view kEnvelopeContext = "custodia.envelope/v1";
inline constexpr std::string_view kReceiptContext = "custodia.receipt/v1";
inline constexpr std::string_view kEnrolmentAnswerContext = "custodia.enrolment/v1";

// Request authentication headers (§2).
inline constexpr std::string_view kDeviceHeader = "Custodia-Device";
inline constexpr std::string_view kTimeHeader = "Custodia-Time";
inline constexpr std::string_view kNonceHeader = "Custodia-Nonce";
inline constexpr std::string_view kSignatureHeader = "Custodia-Signature";
inline constexpr std::string_view kMaxChunkHeader = "Custodia-Max-Chunk-Size";

// tus 1.0 with the creation, checksum and expiration extensions.
inline constexpr std::string_view kTusVersion = "1.0.0";
inline constexpr std::string_view kTusExtensions = "creation,checksum,expiration";
inline constexpr std::string_view kOffsetContentType = "application/offset+octet-stream";
inline constexpr int kStatusChecksumMismatch = 460;

inline constexpr std::string_view kDevicesPath = "/v1/devices";
inline constexpr std::string_view kUploadsPath = "/v1/uploads";

// A request signed more than this far from the server's clock is refused; a
// nonce is remembered for twice as long, so no accepted request can be
// replayed while its time would still pass.
inline constexpr std::int64_t kMaxClockSkewSeconds = 300;
inline constexpr std::int64_t kNonceMemorySeconds = 2 * kMaxClockSkewSeconds;

inline constexpr std::size_t kNonceBytes = 16;
inline constexpr std::size_t kMinNonceChars = 22;  // base64url of 16 bytes
inline constexpr std::size_t kMaxNonceChars = 64;
inline constexpr std::size_t kTokenBytes = 32;
inline constexpr std::size_t kMaxDeviceNameBytes = 64;
inline constexpr std::size_t kMaxBundleIdChars = 128;

// Client chunk sizes (§5): bounded below so that per-request overhead stays
// small on a bad link, and above so that a cut wastes at most one chunk.
inline constexpr std::uint64_t kMinChunkBytes = std::uint64_t{256} << 10;
inline constexpr std::uint64_t kInitialChunkBytes = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{64} << 20;

}  // namespace custodia::sync::protocol
