#include "custodia/sync/envelope.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/stream_io.h"
#include "custodia/sync/protocol.h"
#include "unique_fd.h"

namespace custodia::sync {

namespace {

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
// civil-date algorithms): no time zone database, no thread-unsafe gmtime.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

Civil civil_from_days(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

unsigned days_in_month(std::int64_t year, unsigned month) {
    static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                       31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

std::optional<unsigned> digits(std::string_view text) {
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value;
}

// Decimal without sign or leading zeros ("0" itself is fine).
std::optional<std::uint64_t> parse_canonical_u64(std::string_view text) {
    if (text.empty() || text.size() > 20 || (text.size() > 1 && text.front() == '0'))
        return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<crypto::Sha256Digest> parse_sha256_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    if (!std::all_of(hex.begin(), hex.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
        return std::nullopt;
    const auto bytes = crypto::from_hex(hex);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    crypto::Sha256Digest digest{};
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    return digest;
}

std::optional<std::string_view> field(std::string_view token, std::string_view key) {
    if (token.size() <= key.size() || token.substr(0, key.size()) != key ||
        token[key.size()] != '=')
        return std::nullopt;
    return token.substr(key.size() + 1);
}

// Reads a file for minisign while hashing and counting what passes through,
// so the envelope check reads the bundle once.
class HashingSource final : public crypto::ByteSource {
  public:
    explicit HashingSource(crypto::ByteSource& inner) : inner_(inner) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        auto n = inner_.read(out);
        if (n) {
            sha256_.update(out.first(*n));
            size_ += *n;
        }
        return n;
    }
    crypto::Sha256Digest finish() { return sha256_.finish(); }
    std::uint64_t size() const { return size_; }

  private:
    crypto::ByteSource& inner_;
    crypto::Sha256 sha256_;
    std::uint64_t size_ = 0;
};

}  // namespace

bool is_valid_bundle_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > protocol::kMaxBundleIdChars || id.front() == '.') return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

std::optional<crypto::minisign::KeyId> parse_key_id_hex(std::string_view hex) {
    if (hex.size() != 16) return std::nullopt;
    if (!std::all_of(hex.begin(), hex.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }))
        return std::nullopt;
    crypto::minisign::KeyId id{};
    // The text is the little-endian number, most significant digit first.
    for (std::size_t i = 0; i < id.size(); ++i) {
        const auto byte_hex = hex.substr(hex.size() - 2 * (i + 1), 2);
        unsigned value = 0;
        std::from_chars(byte_hex.data(), byte_hex.data() + 2, value, 16);
        id[i] = static_cast<std::uint8_t>(value);
    }
    return id;
}

Result<std::string> format_rfc3339_utc(std::int64_t unix_seconds) {
    // 0000-01-01 is not representable in the format's four-digit years past 9999.
    constexpr std::int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
    if (unix_seconds < 0 || unix_seconds > kMax)
        return make_error(Errc::malformed, "time outside 1970..9999");
    const std::int64_t days = unix_seconds / 86400;
    const std::int64_t secs = unix_seconds % 86400;
    const Civil c = civil_from_days(days);
    char buf[32];
    (void)std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                        static_cast<long long>(c.year), c.month, c.day,
                        static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                        static_cast<long long>(secs % 60));
    return std::string(buf);
}

std::optional<std::int64_t> parse_rfc3339_utc(std::string_view t) {
    // YYYY-MM-DDTHH:MM:SSZ, nothing else: one spelling per instant.
    if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[19] != 'Z')
        return std::nullopt;
    const auto year = digits(t.substr(0, 4));
    const auto month = digits(t.substr(5, 2));
    const auto day = digits(t.substr(8, 2));
    const auto hour = digits(t.substr(11, 2));
    const auto minute = digits(t.substr(14, 2));
    const auto second = digits(t.substr(17, 2));
    if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
    if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 ||
        *day > days_in_month(*year, *month) || *hour > 23 || *minute > 59 || *second > 59)
        return std::nullopt;
    return days_from_civil(*year, *month, *day) * 86400 + std::int64_t{*hour} * 3600 +
           std::int64_t{*minute} * 60 + std::int64_t{*second};
}

Result<std::string> EnvelopeStatement::to_trusted_comment() const {
    if (!is_valid_bundle_id(bundle_id)) return malformed("invalid bundle id");
    auto created_text = format_rfc3339_utc(created);
    if (!created_text) return std::move(created_text).error();
    std::string out(protocol::kEnvelopeContext);
    out += " bundle=" + bundle_id;
    out += " sha256=" + crypto::to_hex(sha256);
    out += " size=" + std::to_string(size);
    out += " device=" + crypto::minisign::key_id_hex(device);
    out += " created=" + *created_text;
    return out;
}

Result<EnvelopeStatement> EnvelopeStatement::parse(std::string_view comment) {
    std::vector<std::string_view> tokens;
    while (true) {
        const auto space = comment.find(' ');
        tokens.push_back(comment.substr(0, space));
        if (space == std::string_view::npos) break;
        comment.remove_prefix(space + 1);
    }
    if (tokens.size() != 6 || tokens[0] != protocol::kEnvelopeContext)
        return malformed("not a custodia.envelope/v1 statement");
    EnvelopeStatement s;
    const auto bundle = field(tokens[1], "bundle");
    const auto sha = field(tokens[2], "sha256");
    const auto size = field(tokens[3], "size");
    const auto device = field(tokens[4], "device");
    const auto created = field(tokens[5], "created");
    if (!bundle || !sha || !size || !device || !created)
        return malformed("envelope statement fields are missing or out of order");
    if (!is_valid_bundle_id(*bundle)) return malformed("envelope bundle id is invalid");
    s.bundle_id = std::string(*bundle);
    const auto digest = parse_sha256_hex(*sha);
    if (!digest) return malformed("envelope sha256 is not 64 lower-case hex digits");
    s.sha256 = *digest;
    const auto n = parse_canonical_u64(*size);
    if (!n) return malformed("envelope size is not a canonical decimal number");
    s.size = *n;
    const auto id = parse_key_id_hex(*device);
    if (!id) return malformed("envelope device is not a key id");
    s.device = *id;
    const auto t = parse_rfc3339_utc(*created);
    if (!t) return malformed("envelope created time is not RFC 3339 UTC");
    s.created = *t;
    return s;
}

Result<Envelope> Envelope::parse(std::string_view text) {
    auto signature = crypto::minisign::Signature::parse(text);
    if (!signature) return std::move(signature).error();
    auto statement = EnvelopeStatement::parse(signature->trusted_comment());
    if (!statement) return std::move(statement).error();
    if (signature->key_id() != statement->device)
        return malformed("the envelope is signed by another key than the device it names");
    return Envelope(std::move(*statement), std::move(*signature));
}

Status Envelope::verify_signature(const crypto::Ed25519PublicKey& device_key,
                                  crypto::ByteSource& file) const {
    const auto key = crypto::minisign::PublicKey::derive_from(device_key);
    if (key.key_id() != statement_.device)
        return make_error(Errc::no_matching_key, "the envelope names another device");
    return crypto::minisign::verify(key, signature_, file);
}

Status verify_envelope_file(const Envelope& envelope, const crypto::Ed25519PublicKey& device_key,
                            const std::filesystem::path& file) {
    auto fd = detail::open_for_reading(file);
    if (!fd) return std::move(fd).error();
    crypto::FdSource source(fd->get());
    HashingSource hashing(source);
    auto verified = envelope.verify_signature(device_key, hashing);
    if (!verified) return verified;
    // minisign's prehash consumed the whole file; drain in case a legacy
    // signature stopped early, so the digest covers every byte.
    std::array<std::uint8_t, 65536> buf{};
    while (true) {
        auto n = hashing.read(buf);
        if (!n) return std::move(n).error();
        if (*n == 0) break;
    }
    const auto digest = hashing.finish();
    if (hashing.size() != envelope.statement().size ||
        !crypto::equal_constant_time(digest, envelope.statement().sha256))
        return make_error(Errc::auth_failed,
                          "the bundle's size or SHA-256 differs from its envelope");
    return {};
}

Result<std::string> make_envelope(const std::filesystem::path& file, std::string_view bundle_id,
                                  std::int64_t created,
                                  const crypto::Ed25519SecretKey& device_key) {
    EnvelopeStatement statement;
    statement.bundle_id = std::string(bundle_id);
    statement.created = created;
    const auto key = crypto::minisign::PublicKey::derive_from(device_key.public_key());
    statement.device = key.key_id();
    {
        auto fd = detail::open_for_reading(file);
        if (!fd) return std::move(fd).error();
        crypto::FdSource source(fd->get());
        HashingSource hashing(source);
        std::vector<std::uint8_t> buf(std::size_t{1} << 20);
        while (true) {
            auto n = hashing.read(buf);
            if (!n) return std::move(n).error();
            if (*n == 0) break;
        }
        statement.sha256 = hashing.finish();
        statement.size = hashing.size();
    }
    auto comment = statement.to_trusted_comment();
    if (!comment) return std::move(comment).error();
    auto fd = detail::open_for_reading(file);
    if (!fd) return std::move(fd).error();
    crypto::FdSource source(fd->get());
    const crypto::minisign::Signer signer(device_key, key.key_id());
    auto signature = signer.sign(source, *comment, "custodia bundle envelope");
    if (!signature) return std::move(signature).error();
    return signature->serialize();
}

}  // namespace custodia::sync
