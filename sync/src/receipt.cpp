#include "custodia/sync/receipt.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "custodia/crypto/encoding.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/request_auth.h"

namespace custodia::sync {

namespace {

using nlohmann::json;

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

std::string json_string(std::string_view s) {
    return json(std::string(s)).dump();
}

// Splits "<context>\n<json>\n" and parses the JSON object.
Result<json> parse_two_line_note(std::string_view text, std::string_view context) {
    if (text.size() < context.size() + 1 || text.substr(0, context.size()) != context ||
        text[context.size()] != '\n')
        return malformed("the note is not a " + std::string(context) + " statement");
    std::string_view body = text.substr(context.size() + 1);
    if (body.empty() || body.back() != '\n' || body.find('\n') != body.size() - 1)
        return malformed("the note must hold exactly one JSON line");
    body.remove_suffix(1);
    json object = json::parse(body, nullptr, false);
    if (object.is_discarded() || !object.is_object())
        return malformed("the note's JSON is invalid");
    return object;
}

std::optional<std::string> string_member(const json& o, const char* name) {
    const auto it = o.find(name);
    if (it == o.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<std::int64_t> int_member(const json& o, const char* name) {
    const auto it = o.find(name);
    if (it == o.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

std::optional<std::uint64_t> uint_member(const json& o, const char* name) {
    const auto it = o.find(name);
    if (it == o.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
}

Result<std::string> sign_text(std::string text, std::string_view server_name,
                              const crypto::Ed25519SecretKey& server_key) {
    auto note = core::SignedNote::from_text(std::move(text));
    if (!note) return std::move(note).error();
    auto signed_ok = core::sign_note_ed25519(*note, server_name, server_key);
    if (!signed_ok) return std::move(signed_ok).error();
    return note->serialize();
}

// The note must carry a valid Ed25519 signature by the pinned server.
Result<core::SignedNote> verified_server_note(std::string_view encoded, const ServerPin& pin) {
    auto note = core::SignedNote::parse(encoded);
    if (!note) return std::move(note).error();
    const std::array<core::NoteVerifierKey, 1> known = {pin.receipt_verifier()};
    auto verified = core::verify_note(*note, known);
    if (!verified) {
        return make_error(
            verified.error().code == Errc::malformed ? Errc::malformed : Errc::auth_failed,
            "the answer is not signed by the pinned server key");
    }
    return std::move(*note);
}

}  // namespace

Result<std::string> Receipt::to_note_text() const {
    if (!is_valid_bundle_id(bundle_id)) return malformed("invalid bundle id");
    if (!parse_key_id_hex(device)) return malformed("invalid device key id");
    if (!core::is_valid_note_key_name(server)) return malformed("invalid server name");
    if (received < 0) return malformed("invalid receipt time");
    std::string text(protocol::kReceiptContext);
    text += "\n{\"bundle\":" + json_string(bundle_id);
    text += ",\"device\":" + json_string(device);
    text += ",\"received\":" + std::to_string(received);
    text += ",\"server\":" + json_string(server);
    text += ",\"sha256\":\"" + crypto::to_hex(sha256);
    text += "\",\"size\":" + std::to_string(size) + "}\n";
    return text;
}

Result<Receipt> Receipt::from_note_text(std::string_view text) {
    auto object = parse_two_line_note(text, protocol::kReceiptContext);
    if (!object) return std::move(object).error();
    Receipt r;
    const auto bundle = string_member(*object, "bundle");
    const auto device = string_member(*object, "device");
    const auto received = int_member(*object, "received");
    const auto server = string_member(*object, "server");
    const auto sha = string_member(*object, "sha256");
    const auto size = uint_member(*object, "size");
    if (!bundle || !device || !received || !server || !sha || !size || object->size() != 6)
        return malformed("the receipt does not have exactly its six members");
    r.bundle_id = *bundle;
    r.device = *device;
    r.received = *received;
    r.server = *server;
    r.size = *size;
    const auto digest = crypto::from_hex(*sha);
    if (!digest || digest->size() != 32) return malformed("the receipt's sha256 is not a digest");
    std::copy(digest->begin(), digest->end(), r.sha256.begin());
    // One spelling per receipt: anything but our own serialisation is refused.
    auto canonical = r.to_note_text();
    if (!canonical) return std::move(canonical).error();
    if (*canonical != text) return malformed("the receipt is not in canonical form");
    return r;
}

Result<std::string> sign_receipt(const Receipt& receipt, std::string_view server_name,
                                 const crypto::Ed25519SecretKey& server_key) {
    auto text = receipt.to_note_text();
    if (!text) return std::move(text).error();
    return sign_text(std::move(*text), server_name, server_key);
}

Result<Receipt> verify_receipt(std::string_view receipt_note, const ServerPin& pin,
                               const ExpectedReceipt& expected) {
    auto note = verified_server_note(receipt_note, pin);
    if (!note) return std::move(note).error();
    auto receipt = Receipt::from_note_text(note->text());
    if (!receipt) return std::move(receipt).error();
    if (receipt->bundle_id != expected.bundle_id || receipt->device != expected.device ||
        receipt->size != expected.size || receipt->sha256 != expected.sha256 ||
        receipt->server != pin.name())
        return make_error(Errc::auth_failed, "the receipt is for another bundle or device");
    return receipt;
}

Result<std::string> EnrolmentAnswer::to_note_text() const {
    if (!parse_key_id_hex(device)) return malformed("invalid device key id");
    if (!core::is_valid_note_key_name(server)) return malformed("invalid server name");
    std::string text(protocol::kEnrolmentAnswerContext);
    text += "\n{\"device\":" + json_string(device);
    text += ",\"enrolled\":" + std::to_string(enrolled);
    text += ",\"public_key\":\"" + crypto::to_base64(public_key, true);
    text += "\",\"server\":" + json_string(server) + "}\n";
    return text;
}

Result<EnrolmentAnswer> EnrolmentAnswer::from_note_text(std::string_view text) {
    auto object = parse_two_line_note(text, protocol::kEnrolmentAnswerContext);
    if (!object) return std::move(object).error();
    EnrolmentAnswer a;
    const auto device = string_member(*object, "device");
    const auto enrolled = int_member(*object, "enrolled");
    const auto key = string_member(*object, "public_key");
    const auto server = string_member(*object, "server");
    if (!device || !enrolled || !key || !server || object->size() != 4)
        return malformed("the enrolment answer does not have exactly its four members");
    a.device = *device;
    a.enrolled = *enrolled;
    a.server = *server;
    const auto bytes = crypto::from_base64(*key, true);
    if (!bytes || bytes->size() != 32) return malformed("the enrolment answer's key is invalid");
    std::copy(bytes->begin(), bytes->end(), a.public_key.begin());
    auto canonical = a.to_note_text();
    if (!canonical) return std::move(canonical).error();
    if (*canonical != text) return malformed("the enrolment answer is not in canonical form");
    return a;
}

Result<std::string> sign_enrolment_answer(const EnrolmentAnswer& answer,
                                          std::string_view server_name,
                                          const crypto::Ed25519SecretKey& server_key) {
    auto text = answer.to_note_text();
    if (!text) return std::move(text).error();
    return sign_text(std::move(*text), server_name, server_key);
}

Result<EnrolmentAnswer> verify_enrolment_answer(std::string_view encoded, const ServerPin& pin,
                                                const crypto::Ed25519PublicKey& device_key) {
    auto note = verified_server_note(encoded, pin);
    if (!note) return std::move(note).error();
    auto answer = EnrolmentAnswer::from_note_text(note->text());
    if (!answer) return std::move(answer).error();
    if (answer->public_key != device_key || answer->device != device_key_id_hex(device_key) ||
        answer->server != pin.name())
        return make_error(Errc::auth_failed, "the enrolment answer is for another device");
    return answer;
}

Result<std::uint64_t> verify_cosigned_checkpoint(std::string_view cosigned,
                                                 std::string_view sent_checkpoint,
                                                 const ServerPin& pin) {
    auto sent = core::SignedNote::parse(sent_checkpoint);
    if (!sent) return std::move(sent).error();
    auto note = core::SignedNote::parse(cosigned);
    if (!note) return std::move(note).error();
    if (note->text() != sent->text())
        return make_error(Errc::auth_failed, "the server cosigned another checkpoint");
    const std::array<core::NoteVerifierKey, 1> known = {pin.cosignature_verifier()};
    auto verified = core::verify_note(*note, known);
    if (!verified || verified->empty() || !verified->front().timestamp)
        return make_error(Errc::auth_failed, "the checkpoint is not cosigned by the pinned server");
    return *verified->front().timestamp;
}

bool note_signed_by(const core::SignedNote& note, const crypto::Ed25519PublicKey& key) {
    for (const auto& line : note.signatures()) {
        if (line.key_id != core::note_key_id(line.name, core::NoteSignatureType::ed25519, key))
            continue;
        auto verifier =
            core::NoteVerifierKey::make(line.name, core::NoteSignatureType::ed25519, key);
        if (verifier && verifier->verify(note.text(), line.signature)) return true;
    }
    return false;
}

}  // namespace custodia::sync
