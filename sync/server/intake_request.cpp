#include "intake_request.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "custodia/crypto/encoding.h"
#include "custodia/sync/protocol.h"

namespace custodia::intake {

namespace {

using nlohmann::json;

bool has_string(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_string();
}

}  // namespace

std::optional<std::uint64_t> parse_canonical_u64(std::string_view text) {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text.front() == '0'))
        return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

Outcome<EnrolmentRequest> parse_enrolment_request(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !has_string(j, "token") || !has_string(j, "public_key") ||
        (j.contains("name") && !j["name"].is_string()))
        return ApiError{400, "bad_request", "the enrolment request is malformed"};
    const auto key_bytes = crypto::from_base64(j["public_key"].get<std::string>(), true);
    if (!key_bytes || key_bytes->size() != 32)
        return ApiError{400, "bad_request", "public_key is not an Ed25519 key"};
    EnrolmentRequest out;
    std::copy(key_bytes->begin(), key_bytes->end(), out.public_key.begin());
    out.token = j["token"].get<std::string>();
    out.name = j.value("name", std::string());
    return out;
}

Outcome<UploadRequest> parse_upload_request(std::string_view upload_length, std::string_view body) {
    const auto length = parse_canonical_u64(upload_length);
    if (!length) return ApiError{400, "bad_length", "Upload-Length is required"};
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object() || !has_string(j, "envelope") || !has_string(j, "checkpoint"))
        return ApiError{400, "bad_request", "envelope and checkpoint are required"};
    return UploadRequest{*length, j["envelope"].get<std::string>(),
                         j["checkpoint"].get<std::string>()};
}

Outcome<ChunkHeaders> parse_chunk_headers(std::string_view content_type,
                                          std::string_view upload_offset,
                                          std::string_view content_length,
                                          std::string_view upload_checksum) {
    if (content_type != sync::protocol::kOffsetContentType)
        return ApiError{415, "content_type",
                        "Content-Type must be application/offset+octet-stream"};
    const auto offset = parse_canonical_u64(upload_offset);
    const auto length = parse_canonical_u64(content_length);
    if (!offset || !length)
        return ApiError{400, "bad_request", "Upload-Offset and Content-Length are required"};
    constexpr std::string_view kAlgorithm = "sha256 ";
    if (upload_checksum.substr(0, kAlgorithm.size()) != kAlgorithm)
        return ApiError{400, "checksum_algorithm", "Upload-Checksum must be sha256"};
    const auto digest = crypto::from_base64(upload_checksum.substr(kAlgorithm.size()), true);
    if (!digest || digest->size() != 32)
        return ApiError{400, "bad_checksum", "Upload-Checksum is not a digest"};
    ChunkHeaders out{*offset, *length, {}};
    std::copy(digest->begin(), digest->end(), out.checksum.begin());
    return out;
}

}  // namespace custodia::intake
