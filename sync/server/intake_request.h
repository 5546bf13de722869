// The intake server's request parsing that does not need a socket: the JSON
// bodies and the tus headers of docs/PROTOCOL.md §3, as pure functions of
// their text, so that they can be tested and fuzzed without a server
// (tests/fuzz/fuzz_intake_request.cpp). The HTTP layer (intake_http.cpp)
// only reads the values out of the request and answers what these return.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/sign.h"
#include "intake_store.h"

namespace custodia::intake {

// Request bodies other than PATCH chunks are small JSON objects.
inline constexpr std::size_t kMaxJsonBody = std::size_t{64} * 1024;

// A decimal header value with no sign, no leading zero and no overflow.
std::optional<std::uint64_t> parse_canonical_u64(std::string_view text);

// POST /v1/devices: {"token": …, "public_key": base64 Ed25519, "name"?: …}.
struct EnrolmentRequest {
    std::string token;
    crypto::Ed25519PublicKey public_key{};
    std::string name;  // empty when absent
};
Outcome<EnrolmentRequest> parse_enrolment_request(std::string_view body);

// POST /v1/uploads: Upload-Length and {"envelope": …, "checkpoint": …}.
struct UploadRequest {
    std::uint64_t length = 0;
    std::string envelope;
    std::string checkpoint;
};
Outcome<UploadRequest> parse_upload_request(std::string_view upload_length, std::string_view body);

// PATCH /v1/uploads/<id>: the headers that must be right before the body is
// read. `checksum` is the declared SHA-256 of this chunk.
struct ChunkHeaders {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    crypto::Sha256Digest checksum{};
};
Outcome<ChunkHeaders> parse_chunk_headers(std::string_view content_type,
                                          std::string_view upload_offset,
                                          std::string_view content_length,
                                          std::string_view upload_checksum);

}  // namespace custodia::intake
