// What the intake server parses from a request before it touches its store
// (sync/server/intake_request.h, and the envelope and checkpoint checks that
// open IntakeStore::create_upload). The first byte picks what the rest is:
//   0  a POST /v1/devices body;
//   1  "<Upload-Length>\n<POST /v1/uploads body>", whose envelope and
//      checkpoint strings then go through Envelope::parse, SignedNote::parse
//      and Checkpoint::parse as the store does;
//   2  the four PATCH headers, one per line: Content-Type, Upload-Offset,
//      Content-Length, Upload-Checksum;
//   3  one decimal header value.
// Request authentication (the four Custodia-* headers) is fuzz_sync_receipt's.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/receipt.h"
#include "fuzz_check.h"
#include "intake_request.h"

namespace intake = custodia::intake;
namespace core = custodia::core;
namespace protocol = custodia::sync::protocol;
namespace crypto = custodia::crypto;

namespace {

std::vector<std::string_view> split_lines(std::string_view text, std::size_t max) {
    std::vector<std::string_view> lines;
    while (lines.size() + 1 < max) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) break;
        lines.push_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    lines.push_back(text);
    return lines;
}

void check_refusal(const intake::ApiError& e) {
    FUZZ_CHECK(e.status >= 400 && e.status < 500);
    FUZZ_CHECK(!e.code.empty() && !e.message.empty());
}

void fuzz_enrolment(std::string_view body) {
    auto request = intake::parse_enrolment_request(body);
    if (!request.ok()) return check_refusal(request.error());
    // The fields came out of one JSON object: they go back into one, and the
    // key is the base64 the body held.
    const auto j = nlohmann::json::parse(body, nullptr, false);
    FUZZ_CHECK(j.is_object());
    FUZZ_CHECK(j["token"].get<std::string>() == request->token);
    FUZZ_CHECK(j.value("name", std::string()) == request->name);
    const auto key = crypto::from_base64(j["public_key"].get<std::string>(), true);
    FUZZ_CHECK(key && key->size() == 32 &&
               std::equal(key->begin(), key->end(), request->public_key.begin()));
}

void fuzz_upload(std::string_view text) {
    const auto lines = split_lines(text, 2);
    if (lines.size() != 2) return;
    auto request = intake::parse_upload_request(lines[0], lines[1]);
    if (!request.ok()) return check_refusal(request.error());
    FUZZ_CHECK(std::to_string(request->length) == lines[0]);
    if (auto envelope = custodia::sync::Envelope::parse(request->envelope)) {
        FUZZ_CHECK(envelope->statement().to_trusted_comment().ok());
    }
    if (auto note = core::SignedNote::parse(request->checkpoint)) {
        FUZZ_CHECK(note->serialize() == request->checkpoint);
        (void)core::Checkpoint::parse(note->text());
        static const crypto::Ed25519PublicKey key = [] {
            crypto::Ed25519PublicKey k{};
            k.fill(0x42);
            return k;
        }();
        (void)custodia::sync::note_signed_by(*note, key);
    }
}

void fuzz_chunk_headers(std::string_view text) {
    const auto lines = split_lines(text, 4);
    if (lines.size() != 4) return;
    auto headers = intake::parse_chunk_headers(lines[0], lines[1], lines[2], lines[3]);
    if (!headers.ok()) return check_refusal(headers.error());
    FUZZ_CHECK(lines[0] == protocol::kOffsetContentType);
    FUZZ_CHECK(std::to_string(headers->offset) == lines[1]);
    FUZZ_CHECK(std::to_string(headers->length) == lines[2]);
    FUZZ_CHECK("sha256 " + crypto::to_base64(headers->checksum, true) == lines[3]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0]) {
        case 0:
            fuzz_enrolment(rest);
            break;
        case 1:
            fuzz_upload(rest);
            break;
        case 2:
            fuzz_chunk_headers(rest);
            break;
        case 3:
            if (const auto value = intake::parse_canonical_u64(rest))
                FUZZ_CHECK(std::to_string(*value) == rest);
            break;
        default:
            break;
    }
    return 0;
}
