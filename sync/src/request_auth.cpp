#include "custodia/sync/request_auth.h"

#include <algorithm>
#include <charconv>

#include "custodia/crypto/encoding.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"

namespace custodia::sync {

namespace {

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

bool is_base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

}  // namespace

crypto::minisign::KeyId device_key_id(const crypto::Ed25519PublicKey& key) {
    return crypto::minisign::PublicKey::derive_from(key).key_id();
}

std::string device_key_id_hex(const crypto::Ed25519PublicKey& key) {
    return crypto::minisign::key_id_hex(device_key_id(key));
}

std::string request_signing_message(const crypto::Ed25519PublicKey& server_key,
                                    std::string_view method, std::string_view path,
                                    std::int64_t time, std::string_view nonce,
                                    const crypto::Sha256Digest& body_sha256) {
    std::string message(protocol::kRequestContext);
    message += '\n';
    message += crypto::to_base64(server_key, true);
    message += '\n';
    message += method;
    message += '\n';
    message += path;
    message += '\n';
    message += std::to_string(time);
    message += '\n';
    message += nonce;
    message += '\n';
    message += crypto::to_hex(body_sha256);
    message += '\n';
    return message;
}

RequestAuth sign_request(const DeviceSigner& device, const crypto::Ed25519PublicKey& server_key,
                         std::string_view method, std::string_view path,
                         const crypto::Sha256Digest& body_sha256, std::int64_t now,
                         crypto::RandomSource& random) {
    RequestAuth auth;
    auth.device = device_key_id_hex(device.public_key());
    auth.time = std::to_string(now);
    auth.nonce = to_base64url(random.bytes<protocol::kNonceBytes>());
    const auto message =
        request_signing_message(server_key, method, path, now, auth.nonce, body_sha256);
    auth.signature = crypto::to_base64(device.sign_ed25519(crypto::as_bytes(message)), true);
    return auth;
}

Result<ParsedRequestAuth> parse_request_auth(std::string_view device, std::string_view time,
                                             std::string_view nonce, std::string_view signature) {
    ParsedRequestAuth out;
    const auto id = parse_key_id_hex(device);
    if (!id) return malformed("Custodia-Device is not a key id");
    out.device = *id;
    out.device_hex = std::string(device);
    // A signed decimal, no leading zeros, no '+': one spelling per value, the
    // one the signer put in the signed message.
    if (time.empty() || time.size() > 19 || (time.size() > 1 && time.front() == '0') ||
        !std::all_of(time.begin(), time.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return malformed("Custodia-Time is not a decimal time");
    if (std::from_chars(time.data(), time.data() + time.size(), out.time).ec != std::errc{})
        return malformed("Custodia-Time is out of range");
    if (nonce.size() < protocol::kMinNonceChars || nonce.size() > protocol::kMaxNonceChars ||
        !std::all_of(nonce.begin(), nonce.end(), is_base64url_char))
        return malformed("Custodia-Nonce is not base64url of 16 to 48 bytes");
    out.nonce = std::string(nonce);
    const auto sig = crypto::from_base64(signature, true);
    if (!sig || sig->size() != out.signature.size())
        return malformed("Custodia-Signature is not a base64 Ed25519 signature");
    std::copy(sig->begin(), sig->end(), out.signature.begin());
    return out;
}

bool is_fresh(std::int64_t request_time, std::int64_t now) noexcept {
    const std::int64_t skew = request_time > now ? request_time - now : now - request_time;
    return skew <= protocol::kMaxClockSkewSeconds;
}

bool verify_request_signature(const ParsedRequestAuth& auth,
                              const crypto::Ed25519PublicKey& device_key,
                              const crypto::Ed25519PublicKey& server_key, std::string_view method,
                              std::string_view path,
                              const crypto::Sha256Digest& body_sha256) noexcept {
    try {
        if (device_key_id(device_key) != auth.device) return false;
        const auto message =
            request_signing_message(server_key, method, path, auth.time, auth.nonce, body_sha256);
        return crypto::verify_ed25519(device_key, crypto::as_bytes(message), auth.signature);
    } catch (...) {
        return false;
    }
}

}  // namespace custodia::sync
