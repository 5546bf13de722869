#include "custodia/sync/enrolment.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "custodia/crypto/encoding.h"
#include "custodia/sync/protocol.h"

namespace custodia::sync {

namespace {

using nlohmann::json;

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

struct UrlParts {
    std::string_view scheme;
    std::string_view host;  // with brackets for IPv6
};

bool is_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || text.front() == '0') return false;
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc{} && end == text.data() + text.size() && value >= 1 && value <= 65535;
}

bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t label = 0;
    for (char c : host) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok || ++label > 63) return false;
    }
    return label != 0;
}

bool is_ipv6_literal(std::string_view host) {
    if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
    return std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
               c == ':' || c == '.';
    });
}

std::optional<UrlParts> split_url(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    UrlParts parts{url.substr(0, sep), {}};
    if (parts.scheme != "https" && parts.scheme != "http") return std::nullopt;
    std::string_view authority = url.substr(sep + 3);
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        parts.host = authority.substr(0, close + 1);
        const auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
            if (!is_port(port)) return std::nullopt;
        }
        if (!is_ipv6_literal(parts.host)) return std::nullopt;
    } else {
        const auto colon = authority.find(':');
        parts.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (!is_port(port)) return std::nullopt;
        }
        // Rejects '/', '?', '#', '@' and anything else outside a host name.
        if (!is_dns_name(parts.host)) return std::nullopt;
    }
    return parts;
}

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "[::1]") return true;
    // 127.0.0.0/8 in dotted-quad form only.
    if (host.substr(0, 4) != "127.") return false;
    int octets = 0;
    while (!host.empty()) {
        const auto dot = host.find('.');
        const auto part = host.substr(0, dot);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || part.size() > 3 || ec != std::errc{} ||
            end != part.data() + part.size() || value > 255 || (part.size() > 1 && part[0] == '0'))
            return false;
        ++octets;
        host = dot == std::string_view::npos ? std::string_view{} : host.substr(dot + 1);
        if (dot != std::string_view::npos && host.empty()) return false;
    }
    return octets == 4;
}

// A v3 onion address: 56 base32 characters and ".onion". Tor authenticates
// the service by its address and encrypts the circuit, so http:// is allowed
// there (the onion service forwards to a server on loopback).
bool is_onion_host(std::string_view host) {
    constexpr std::string_view kSuffix = ".onion";
    if (host.size() != 56 + kSuffix.size() || host.substr(56) != kSuffix) return false;
    return std::all_of(host.begin(), host.begin() + 56,
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}

std::optional<crypto::Ed25519PublicKey> decode_key(std::string_view base64) {
    const auto bytes = crypto::from_base64(base64, true);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    crypto::Ed25519PublicKey key{};
    std::copy(bytes->begin(), bytes->end(), key.begin());
    return key;
}

// The members every pin carries, read from an object whose other members are
// ignored.
Result<ServerPin> pin_from_object(const json& object) {
    if (!object.is_object()) return malformed("expected a JSON object");
    const auto url = object.find("url");
    const auto name = object.find("server_name");
    const auto key = object.find("server_key");
    if (url == object.end() || !url->is_string() || name == object.end() || !name->is_string() ||
        key == object.end() || !key->is_string())
        return malformed("url, server_name and server_key must be strings");
    const auto decoded = decode_key(key->get<std::string>());
    if (!decoded) return malformed("server_key is not a base64 Ed25519 public key");
    return ServerPin::make(url->get<std::string>(), name->get<std::string>(), *decoded);
}

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

bool is_valid_server_url(std::string_view url) {
    const auto parts = split_url(url);
    if (!parts) return false;
    return parts->scheme == "https" || is_loopback_host(parts->host) || is_onion_host(parts->host);
}

bool is_onion_url(std::string_view url) {
    const auto parts = split_url(url);
    return parts && is_onion_host(parts->host);
}

bool is_loopback_url(std::string_view url) {
    const auto parts = split_url(url);
    return parts && is_loopback_host(parts->host);
}

std::string to_base64url(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
        out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
        out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
        out.push_back(kBase64UrlAlphabet[v & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
        out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    } else if (rest == 2) {
        const std::uint32_t v =
            (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
        out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
        out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> from_base64url(std::string_view text) {
    // A length of 1 mod 4 cannot come from any byte string.
    if (text.size() % 4 == 1) return std::nullopt;
    auto value_of = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
    };
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        const int v = value_of(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    // Canonical encodings leave the unused low bits zero.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

Result<ServerPin> ServerPin::make(std::string url, std::string name,
                                  const crypto::Ed25519PublicKey& key) {
    if (!is_valid_server_url(url))
        return malformed(
            "the server URL must be https://host[:port] (http only to loopback or .onion)");
    if (!core::is_valid_note_key_name(name))
        return malformed("the server name is not a valid key name");
    auto receipt = core::NoteVerifierKey::make(name, core::NoteSignatureType::ed25519, key);
    if (!receipt) return std::move(receipt).error();
    auto cosignature =
        core::NoteVerifierKey::make(name, core::NoteSignatureType::cosignature_v1, key);
    if (!cosignature) return std::move(cosignature).error();
    return ServerPin(std::move(url), std::move(name), key, std::move(*receipt),
                     std::move(*cosignature));
}

std::string ServerPin::to_json() const {
    json object = {
        {"url", url_}, {"server_name", name_}, {"server_key", crypto::to_base64(key_, true)}};
    return object.dump();
}

Result<ServerPin> ServerPin::from_json(std::string_view text) {
    const json object = json::parse(text, nullptr, false);
    if (object.is_discarded()) return malformed("the server pin is not JSON");
    return pin_from_object(object);
}

Result<EnrolmentCode> EnrolmentCode::make(ServerPin server, crypto::SecretBytes token,
                                          std::int64_t expires) {
    if (token.size() != protocol::kTokenBytes) return malformed("an enrolment token is 32 bytes");
    return EnrolmentCode(std::move(server), std::move(token), expires);
}

Result<EnrolmentCode> EnrolmentCode::parse(std::string_view code) {
    if (code.substr(0, protocol::kEnrolmentCodePrefix.size()) != protocol::kEnrolmentCodePrefix)
        return malformed("not a Custodia enrolment code (it must start with custodia-enroll:v1:)");
    // Bounds the JSON parser's work on whatever a QR scanner hands us.
    if (code.size() > 4096) return make_error(Errc::limit, "the enrolment code is too long");
    auto payload = from_base64url(code.substr(protocol::kEnrolmentCodePrefix.size()));
    if (!payload) return malformed("the enrolment code is damaged (bad base64url)");
    const json object = json::parse(payload->begin(), payload->end(), nullptr, false);
    crypto::wipe(*payload);
    if (object.is_discarded() || !object.is_object())
        return malformed("the enrolment code is damaged (not a JSON object)");
    auto pin = pin_from_object(object);
    if (!pin) return std::move(pin).error();
    const auto token = object.find("token");
    const auto expires = object.find("expires");
    if (token == object.end() || !token->is_string() || expires == object.end() ||
        !expires->is_number_integer())
        return malformed("the enrolment code lacks its token or expiry");
    auto token_bytes = from_base64url(token->get_ref<const std::string&>());
    if (!token_bytes || token_bytes->size() != protocol::kTokenBytes)
        return malformed("the enrolment token is not 32 bytes of base64url");
    auto secret = crypto::SecretBytes::copy_of(*token_bytes);
    crypto::wipe(*token_bytes);
    return EnrolmentCode(std::move(*pin), std::move(secret), expires->get<std::int64_t>());
}

crypto::SecretBytes EnrolmentCode::encode() const {
    // Members in a fixed order so the same code always encodes the same way.
    // Buffers are reserved up front so that no copy of the token is left
    // behind in a freed allocation; each is wiped before it is released.
    std::string token = to_base64url(token_.span());
    std::string text;
    text.reserve(1024);
    text += "{\"url\":" + json(server_.url()).dump();
    text += ",\"server_name\":" + json(server_.name()).dump();
    text += ",\"server_key\":\"" + crypto::to_base64(server_.key(), true);
    text += "\",\"token\":\"";
    text += token;
    text += "\",\"expires\":" + std::to_string(expires_) + "}";
    std::string code;
    code.reserve(protocol::kEnrolmentCodePrefix.size() + text.size() * 4 / 3 + 4);
    code += protocol::kEnrolmentCodePrefix;
    std::string encoded = to_base64url(crypto::as_bytes(text));
    code += encoded;
    auto out = crypto::SecretBytes::copy_of(code);
    for (std::string* s : {&token, &text, &encoded, &code})
        crypto::wipe({reinterpret_cast<std::uint8_t*>(s->data()), s->size()});
    return out;
}

}  // namespace custodia::sync
