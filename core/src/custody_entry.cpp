#include "custodia/core/custody_entry.h"

#include <algorithm>

#include "canonical_bytes.h"
#include "custodia/core/vault_format.h"
#include "ids.h"

namespace custodia::core {

namespace {

constexpr std::pair<CustodyEvent, std::string_view> kEvents[] = {
    {CustodyEvent::created, "created"},
    {CustodyEvent::captured, "captured"},
    {CustodyEvent::imported, "imported"},
    {CustodyEvent::annotated, "annotated"},
    {CustodyEvent::extracted, "extracted"},
    {CustodyEvent::exported, "exported"},
    {CustodyEvent::bundled, "bundled"},
    {CustodyEvent::uploaded, "uploaded"},
    {CustodyEvent::receipt_received, "receipt_received"},
    {CustodyEvent::timestamped, "timestamped"},
    {CustodyEvent::consent_withdrawn, "consent_withdrawn"},
    {CustodyEvent::destroyed, "destroyed"},
    {CustodyEvent::passphrase_changed, "passphrase_changed"},
};

// Bounds for decoding untrusted entries (a bundle's): far above anything the
// vault writes, far below what could exhaust memory.
constexpr std::size_t kMaxEventName = 64;
constexpr std::size_t kMaxDetails = std::size_t{64} * 1024;

bool escaped_in_value(unsigned char c) {
    return c < 0x20 || c == '%' || c == 0x7F;
}

bool valid_key(std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

int upper_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void put_optional_id(canonical::Writer& w, const std::optional<std::string>& id, bool& ok) {
    if (!id) {
        w.u8(0);
        return;
    }
    auto bytes = id_bytes(*id);
    if (!bytes) {
        ok = false;
        return;
    }
    w.u8(1);
    w.fixed(*bytes);
}

bool get_optional_id(canonical::Reader& r, std::optional<std::string>& out) {
    auto flag = r.u8();
    if (!flag || *flag > 1) return false;
    if (*flag == 0) return true;
    IdBytes bytes{};
    if (!r.fixed(bytes)) return false;
    out = id_text(bytes);
    return true;
}

}  // namespace

std::string_view to_string(CustodyEvent event) {
    for (const auto& [e, name] : kEvents)
        if (e == event) return name;
    return "unknown";
}

std::optional<CustodyEvent> parse_custody_event(std::string_view text) {
    for (const auto& [e, name] : kEvents)
        if (name == text) return e;
    return std::nullopt;
}

CustodyDetails& CustodyDetails::add(std::string_view key, std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    text_.append(key);
    text_ += '=';
    for (char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (escaped_in_value(c)) {
            text_ += '%';
            text_ += kHex[c >> 4];
            text_ += kHex[c & 0x0F];
        } else {
            text_ += ch;
        }
    }
    text_ += '\n';
    return *this;
}

Result<std::vector<std::pair<std::string, std::string>>> CustodyDetails::parse(
    std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!text.empty()) {
        const std::size_t eol = text.find('\n');
        if (eol == std::string_view::npos)
            return make_error(Errc::malformed, "custody details: line without a newline");
        const std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol + 1);
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos || !valid_key(line.substr(0, eq)))
            return make_error(Errc::malformed, "custody details: bad key");
        std::string value;
        for (std::size_t i = eq + 1; i < line.size(); ++i) {
            const auto c = static_cast<unsigned char>(line[i]);
            if (c == '%') {
                if (i + 2 >= line.size())
                    return make_error(Errc::malformed, "custody details: short escape");
                const int hi = upper_hex_value(line[i + 1]);
                const int lo = upper_hex_value(line[i + 2]);
                if (hi < 0 || lo < 0)
                    return make_error(Errc::malformed, "custody details: bad escape");
                const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
                // Only bytes that must be escaped may be: one text per value.
                if (!escaped_in_value(decoded))
                    return make_error(Errc::malformed, "custody details: needless escape");
                value += static_cast<char>(decoded);
                i += 2;
            } else if (escaped_in_value(c)) {
                return make_error(Errc::malformed, "custody details: unescaped control byte");
            } else {
                value += static_cast<char>(c);
            }
        }
        out.emplace_back(std::string(line.substr(0, eq)), std::move(value));
    }
    return out;
}

Result<std::vector<std::uint8_t>> encode_custody_entry(const CustodyEntry& entry) {
    if (auto parsed = CustodyDetails::parse(entry.details); !parsed)
        return std::move(parsed).error();
    canonical::Writer w;
    w.str(vault_format::kCustodyEntryDomain);
    w.u64(entry.index);
    w.str(to_string(entry.event));
    w.i64(entry.time.unix_ms);
    w.i32(entry.time.offset_minutes);
    bool ok = true;
    put_optional_id(w, entry.case_id, ok);
    put_optional_id(w, entry.item_id, ok);
    if (!ok) return make_error(Errc::malformed, "custody entry: malformed case or item id");
    w.str(entry.details);
    return w.take();
}

Result<CustodyEntry> decode_custody_entry(std::span<const std::uint8_t> bytes) {
    canonical::Reader r(bytes);
    CustodyEntry e;
    auto domain = r.str(vault_format::kCustodyEntryDomain.size());
    if (!domain || *domain != vault_format::kCustodyEntryDomain)
        return make_error(Errc::malformed, "not a custodia/v1 custody entry");
    auto index = r.u64();
    auto event_name = r.str(kMaxEventName);
    if (!index || !event_name) return make_error(Errc::malformed, "custody entry truncated");
    auto event = parse_custody_event(*event_name);
    if (!event) return make_error(Errc::malformed, "custody entry: unknown event");
    auto ms = r.i64();
    auto offset = r.i32();
    if (!ms || !offset) return make_error(Errc::malformed, "custody entry truncated");
    if (!get_optional_id(r, e.case_id) || !get_optional_id(r, e.item_id))
        return make_error(Errc::malformed, "custody entry: bad case or item id");
    auto details = r.str(kMaxDetails);
    if (!details || !r.done()) return make_error(Errc::malformed, "custody entry: bad length");
    if (auto parsed = CustodyDetails::parse(*details); !parsed) return std::move(parsed).error();
    e.index = *index;
    e.event = *event;
    e.time = Timestamp{*ms, *offset};
    e.details = std::move(*details);
    e.encoded.assign(bytes.begin(), bytes.end());
    return e;
}

}  // namespace custodia::core
