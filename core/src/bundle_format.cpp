#include "custodia/core/bundle_format.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "custodia/core/clock.h"
#include "custodia/crypto/encoding.h"

namespace custodia::core::bundle {

namespace {

using json = nlohmann::json;

constexpr char32_t kInvalid = 0xFFFFFFFF;
constexpr std::size_t kMaxExtensionBytes = 16;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Decodes one UTF-8 sequence at s[i] and advances i; kInvalid (advancing one
// byte) for overlong forms, surrogates, values past U+10FFFF and truncation.
char32_t next_code_point(std::string_view s, std::size_t& i) noexcept {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = b(i);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1Fu, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0Fu, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07u, min = 0x10000;
    } else {
        ++i;
        return kInvalid;
    }
    if (s.size() - i < len) {
        ++i;
        return kInvalid;
    }
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) {
            ++i;
            return kInvalid;
        }
        cp = (cp << 6) | (b(i + k) & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return kInvalid;
    }
    i += len;
    return cp;
}

// Characters that break a path, a terminal or a `sha256sum -c` line.
bool is_forbidden(char32_t cp) noexcept {
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == '/' || cp == '\\' ||
           cp == 0x2028 || cp == 0x2029;
}

// Invalid sequences become U+FFFD so that the text can go into JSON.
std::string utf8_or_replacement(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        if (next_code_point(s, i) == kInvalid)
            out += kReplacement;
        else
            out.append(s.substr(start, i - start));
    }
    return out;
}

// The longest prefix of s of at most max bytes that ends on a character boundary.
std::string_view cut_utf8(std::string_view s, std::size_t max) noexcept {
    if (s.size() <= max) return s;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    return s.substr(0, end);
}

bool is_lower_hex(std::string_view s, std::size_t len) noexcept {
    return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

bool is_upper_hex(std::string_view s, std::size_t len) noexcept {
    return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
           });
}

std::optional<crypto::Sha256Digest> parse_digest(std::string_view hex) {
    if (!is_lower_hex(hex, 64)) return std::nullopt;
    auto bytes = crypto::from_hex(hex);
    if (!bytes || bytes->size() != 32) return std::nullopt;
    crypto::Sha256Digest d{};
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
}

std::string digest_hex(const crypto::Sha256Digest& d) {
    return crypto::to_hex(d);
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

Error bad_manifest(const std::string& why) {
    return make_error(Errc::malformed, "manifest: " + why);
}

// nlohmann's dump recurses once per nesting level; deep input must be
// refused before it gets there.
bool nesting_within(std::string_view text, std::size_t max_depth) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

Result<json> parse_json(std::string_view text, const char* what) {
    if (!nesting_within(text, kMaxJsonDepth))
        return make_error(Errc::malformed, std::string(what) + " nests too deeply");
    json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error(Errc::malformed, std::string(what) + " is not JSON");
    return j;
}

// Canonical serialisation; invalid UTF-8 cannot reach here (the parser and
// utf8_or_replacement see to it), but a throw must not escape either way.
Result<std::string> dump_canonical(const json& j) {
    try {
        return j.dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception&) {
        return make_error(Errc::malformed, "JSON text is not valid UTF-8");
    }
}

bool has_exactly(const json& obj, std::initializer_list<const char*> keys) {
    if (!obj.is_object() || obj.size() != keys.size()) return false;
    return std::all_of(keys.begin(), keys.end(), [&](const char* k) { return obj.contains(k); });
}

const std::string* string_at(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
}

std::optional<std::uint64_t> size_at(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
}

Result<FileRecord> parse_file_record(const json& obj, const char* what) {
    if (!has_exactly(obj, {"path", "sha256", "size"}))
        return bad_manifest(std::string(what) + " needs exactly path, sha256, size");
    const std::string* path = string_at(obj, "path");
    const std::string* hex = string_at(obj, "sha256");
    const auto size = size_at(obj, "size");
    if (path == nullptr || hex == nullptr || !size)
        return bad_manifest(std::string(what) + " has a field of the wrong type");
    auto digest = parse_digest(*hex);
    if (!digest) return bad_manifest(std::string(what) + " sha256 is not 64 lower-case hex");
    return FileRecord{*path, *size, *digest};
}

json file_record_json(const FileRecord& f) {
    return json{{"path", f.path}, {"sha256", digest_hex(f.sha256)}, {"size", f.size}};
}

json attachment_json(const ManifestAttachment& a) {
    return json{{"mime", utf8_or_replacement(a.mime)},
                {"name", utf8_or_replacement(a.name)},
                {"path", a.path},
                {"sha256", digest_hex(a.sha256)},
                {"size", a.size}};
}

bool is_custody_path(std::string_view path) {
    const std::string prefix = std::string(kCustodyDir) + "/";
    return path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix &&
           is_safe_path(path);
}

// files/<item id>/<one safe segment>
bool is_attachment_path(std::string_view path, std::string_view item_id) {
    const std::string prefix = std::string(kFilesDir) + "/" + std::string(item_id) + "/";
    if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix) return false;
    const std::string_view name = path.substr(prefix.size());
    return is_safe_segment(name) && is_safe_path(path);
}

// No file may sit where another file's directory is, or appear twice.
Status check_paths_disjoint(const std::vector<FileRecord>& files) {
    std::set<std::string_view> paths;
    for (const auto& f : files)
        if (!paths.insert(f.path).second) return bad_manifest("path listed twice: " + f.path);
    for (const auto& f : files) {
        std::string_view p = f.path;
        for (std::size_t slash = p.find('/'); slash != std::string_view::npos;
             slash = p.find('/', slash + 1))
            if (paths.count(p.substr(0, slash)))
                return bad_manifest("path is both a file and a directory: " +
                                    std::string(p.substr(0, slash)));
    }
    return {};
}

}  // namespace

std::string sanitize_file_name(std::string_view original) {
    std::string out;
    out.reserve(original.size());
    for (std::size_t i = 0; i < original.size();) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(original, i);
        if (cp == kInvalid || is_forbidden(cp))
            out += '_';
        else
            out.append(original.substr(start, i - start));
    }
    const auto first = out.find_first_not_of(' ');
    if (first == std::string::npos) return "file";
    out = out.substr(first, out.find_last_not_of(' ') - first + 1);
    if (out == "." || out == "..") return "file";
    if (out.size() <= kMaxNameBytes) return out;

    std::string_view ext;
    const auto dot = out.rfind('.');
    if (dot != std::string::npos && dot > 0 && out.size() - dot <= kMaxExtensionBytes)
        ext = std::string_view(out).substr(dot);
    std::string stem(cut_utf8(std::string_view(out).substr(0, out.size() - ext.size()),
                              kMaxNameBytes - ext.size()));
    // Cutting may expose a trailing space; a lone extension needs a stem.
    while (!stem.empty() && stem.back() == ' ') stem.pop_back();
    if (stem.empty()) stem = "file";
    return stem + std::string(ext);
}

std::string unique_file_name(const std::string& name, std::span<const std::string> taken) {
    const auto is_taken = [&](const std::string& n) {
        return std::find(taken.begin(), taken.end(), n) != taken.end();
    };
    if (!is_taken(name)) return name;
    std::string_view ext;
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && dot > 0 && name.size() - dot <= kMaxExtensionBytes)
        ext = std::string_view(name).substr(dot);
    const std::string_view stem = std::string_view(name).substr(0, name.size() - ext.size());
    for (std::size_t n = 2;; ++n) {
        const std::string suffix = " (" + std::to_string(n) + ")" + std::string(ext);
        std::string candidate =
            std::string(cut_utf8(stem, kMaxNameBytes - std::min(kMaxNameBytes, suffix.size()))) +
            suffix;
        if (!is_taken(candidate)) return candidate;
    }
}

bool is_safe_segment(std::string_view segment) {
    if (segment.empty() || segment.size() > kMaxSegmentBytes) return false;
    if (segment == "." || segment == "..") return false;
    for (std::size_t i = 0; i < segment.size();) {
        const char32_t cp = next_code_point(segment, i);
        if (cp == kInvalid || is_forbidden(cp)) return false;
    }
    return true;
}

bool is_safe_path(std::string_view path) {
    if (path.empty() || path.size() > kMaxPathBytes) return false;
    std::size_t depth = 0;
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = path.find('/', start);
        const std::string_view seg = path.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (!is_safe_segment(seg) || ++depth > kMaxPathDepth) return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

std::string manifest_trusted_comment(std::string_view bundle_id) {
    return std::string(kManifestCommentPrefix) + " bundle=" + std::string(bundle_id);
}

bool is_bundle_id(std::string_view text) {
    return is_lower_hex(text, 32);
}

bool is_rfc3339_utc(std::string_view t) {
    // YYYY-MM-DDTHH:MM:SSZ and nothing else: one spelling per instant, the
    // form docs/PROTOCOL.md gives the envelope's time.
    if (t.size() != 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[19] != 'Z')
        return false;
    const auto digits = [&](std::size_t pos, std::size_t n) -> int {
        int v = 0;
        for (std::size_t k = pos; k < pos + n; ++k) {
            if (t[k] < '0' || t[k] > '9') return -1;
            v = v * 10 + (t[k] - '0');
        }
        return v;
    };
    const int year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
    const int hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59)
        return false;
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

std::string format_rfc3339_utc(std::int64_t unix_ms) {
    // format_utc writes milliseconds, "…:SS.mmmZ"; the bundle keeps seconds.
    const std::int64_t floored = unix_ms - ((unix_ms % 1000) + 1000) % 1000;
    std::string t = format_utc(floored);
    if (t.size() == 24 && t[19] == '.') t.erase(19, 4);
    return t;
}

Result<std::string> format_sha256sums(std::vector<FileRecord> files) {
    std::sort(files.begin(), files.end(),
              [](const FileRecord& a, const FileRecord& b) { return a.path < b.path; });
    std::string out;
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (!is_safe_path(files[i].path))
            return make_error(Errc::malformed, "SHA256SUMS: unsafe path");
        if (i > 0 && files[i].path == files[i - 1].path)
            return make_error(Errc::malformed, "SHA256SUMS: path listed twice: " + files[i].path);
        out += digest_hex(files[i].sha256);
        out += "  ";
        out += files[i].path;
        out += '\n';
    }
    return out;
}

Result<std::vector<SumsLine>> parse_sha256sums(std::string_view text) {
    std::vector<SumsLine> lines;
    std::size_t number = 0;
    while (!text.empty()) {
        ++number;
        const auto bad = [&](const char* why) {
            return make_error(Errc::malformed,
                              "SHA256SUMS line " + std::to_string(number) + ": " + why);
        };
        const std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) return bad("does not end with a newline");
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (line.size() < 67 || line.substr(64, 2) != "  ") return bad("not '<hex>  <path>'");
        auto digest = parse_digest(line.substr(0, 64));
        if (!digest) return bad("hash is not 64 lower-case hex");
        const std::string_view path = line.substr(66);
        if (!is_safe_path(path)) return bad("unsafe path");
        if (!lines.empty() && !(lines.back().path < path)) return bad("not sorted or repeated");
        lines.push_back(SumsLine{std::string(path), *digest});
    }
    return lines;
}

std::vector<FileRecord> BundleManifest::files() const {
    std::vector<FileRecord> out = custody_;
    for (const auto& item : items_)
        if (item.attachment)
            out.push_back(
                FileRecord{item.attachment->path, item.attachment->size, item.attachment->sha256});
    std::sort(out.begin(), out.end(),
              [](const FileRecord& a, const FileRecord& b) { return a.path < b.path; });
    return out;
}

Result<BundleManifest> BundleManifest::create(const ManifestDraft& draft) {
    json items = json::array();
    for (const auto& item : draft.items) {
        auto obj = parse_json(item.json.empty() ? std::string_view("{}") : item.json, "item JSON");
        if (!obj) return std::move(obj).error();
        if (!obj->is_object())
            return make_error(Errc::malformed, "item " + item.id + ": JSON is not an object");
        if (obj->contains("attachment"))
            return make_error(Errc::malformed,
                              "item " + item.id + ": \"attachment\" is the writer's to set");
        if (auto id = obj->find("id"); id != obj->end() && *id != item.id)
            return make_error(Errc::malformed, "item " + item.id + ": \"id\" differs");
        (*obj)["id"] = item.id;
        if (item.attachment) (*obj)["attachment"] = attachment_json(*item.attachment);
        items.push_back(std::move(*obj));
    }
    std::vector<FileRecord> custody = draft.custody;
    std::sort(custody.begin(), custody.end(),
              [](const FileRecord& a, const FileRecord& b) { return a.path < b.path; });
    json custody_files = json::array();
    for (const auto& f : custody) custody_files.push_back(file_record_json(f));

    const json manifest = {
        {"format", kFormat},
        {"bundle_id", draft.bundle_id},
        {"created", draft.created},
        {"device",
         {{"key_id", crypto::minisign::key_id_hex(draft.device_key.key_id())},
          {"public_key", draft.device_key.to_base64()}}},
        {"case",
         {{"id", utf8_or_replacement(draft.case_id)},
          {"title", utf8_or_replacement(draft.case_title)},
          {"description", utf8_or_replacement(draft.case_description)}}},
        {"items", std::move(items)},
        {"custody", {{"files", std::move(custody_files)}}},
        {"sha256sums", digest_hex(draft.sha256sums)},
    };
    auto text = dump_canonical(manifest);
    if (!text) return std::move(text).error();
    *text += '\n';
    // What we write must be what a reader accepts: build it by parsing it.
    return parse(crypto::as_bytes(*text));
}

Result<BundleManifest> BundleManifest::parse(std::span<const std::uint8_t> bytes) {
    const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (all.empty() || all.back() != '\n') return bad_manifest("does not end with a newline");
    const std::string_view text = all.substr(0, all.size() - 1);
    auto parsed = parse_json(text, "manifest");
    if (!parsed) return std::move(parsed).error();
    const json& j = *parsed;
    auto canonical = dump_canonical(j);
    if (!canonical) return std::move(canonical).error();
    if (*canonical != text) return bad_manifest("not in canonical JSON form");

    if (!has_exactly(j, {"bundle_id", "case", "created", "custody", "device", "format", "items",
                         "sha256sums"}))
        return bad_manifest("top-level keys are not the v1 set");
    const std::string* format = string_at(j, "format");
    if (format == nullptr) return bad_manifest("format is not a string");
    if (*format != kFormat) return make_error(Errc::unsupported, "manifest: format " + *format);

    const std::string* id = string_at(j, "bundle_id");
    if (id == nullptr || !is_bundle_id(*id)) return bad_manifest("bundle_id is not 32 hex digits");
    const std::string* created = string_at(j, "created");
    if (created == nullptr || !is_rfc3339_utc(*created))
        return bad_manifest("created is not an RFC 3339 UTC time");

    const json& device = j["device"];
    if (!has_exactly(device, {"key_id", "public_key"})) return bad_manifest("device is malformed");
    const std::string* key_text = string_at(device, "public_key");
    const std::string* key_id = string_at(device, "key_id");
    if (key_text == nullptr || key_id == nullptr) return bad_manifest("device is malformed");
    auto key = crypto::minisign::PublicKey::parse(*key_text);
    if (!key || key->to_base64() != *key_text)
        return bad_manifest("device public_key is not a minisign public key");
    if (crypto::minisign::key_id_hex(key->key_id()) != *key_id)
        return bad_manifest("device key_id does not match its public key");

    BundleManifest m(*key);
    m.bytes_ = std::string(all);
    m.bundle_id_ = *id;
    m.created_ = *created;

    const json& case_obj = j["case"];
    if (!has_exactly(case_obj, {"description", "id", "title"}))
        return bad_manifest("case needs exactly id, title, description");
    const std::string* case_id = string_at(case_obj, "id");
    const std::string* title = string_at(case_obj, "title");
    const std::string* description = string_at(case_obj, "description");
    if (case_id == nullptr || title == nullptr || description == nullptr)
        return bad_manifest("case fields must be strings");
    m.case_id_ = *case_id;
    m.case_title_ = *title;
    m.case_description_ = *description;

    const json& custody = j["custody"];
    if (!has_exactly(custody, {"files"}) || !custody["files"].is_array())
        return bad_manifest("custody needs exactly a files array");
    for (const json& f : custody["files"]) {
        auto record = parse_file_record(f, "custody file");
        if (!record) return std::move(record).error();
        if (!is_custody_path(record->path))
            return bad_manifest("custody path is not a safe path under custody/");
        if (!m.custody_.empty() && !(m.custody_.back().path < record->path))
            return bad_manifest("custody files are not sorted by path");
        m.custody_.push_back(std::move(*record));
    }

    if (!j["items"].is_array()) return bad_manifest("items is not an array");
    std::set<std::string> item_ids;
    for (const json& item : j["items"]) {
        if (!item.is_object()) return bad_manifest("an item is not an object");
        const std::string* item_id = string_at(item, "id");
        if (item_id == nullptr || !is_safe_segment(*item_id))
            return bad_manifest("an item id is missing or not a safe name");
        if (!item_ids.insert(*item_id).second) return bad_manifest("item id repeated: " + *item_id);
        ManifestItem mi;
        mi.id = *item_id;
        auto item_text = dump_canonical(item);
        if (!item_text) return std::move(item_text).error();
        mi.json = std::move(*item_text);
        if (auto att = item.find("attachment"); att != item.end()) {
            if (!has_exactly(*att, {"mime", "name", "path", "sha256", "size"}))
                return bad_manifest("attachment of " + *item_id + " is malformed");
            const std::string* path = string_at(*att, "path");
            const std::string* name = string_at(*att, "name");
            const std::string* mime = string_at(*att, "mime");
            const std::string* hex = string_at(*att, "sha256");
            const auto size = size_at(*att, "size");
            if (path == nullptr || name == nullptr || mime == nullptr || hex == nullptr || !size)
                return bad_manifest("attachment of " + *item_id + " has a wrong field type");
            auto digest = parse_digest(*hex);
            if (!digest) return bad_manifest("attachment sha256 is not 64 lower-case hex");
            if (!is_attachment_path(*path, *item_id))
                return bad_manifest("attachment path of " + *item_id +
                                    " is not files/<item id>/<safe name>");
            mi.attachment = ManifestAttachment{*path, *name, *mime, *size, *digest};
        }
        m.items_.push_back(std::move(mi));
    }

    const std::string* sums = string_at(j, "sha256sums");
    if (sums == nullptr) return bad_manifest("sha256sums is not a string");
    auto sums_digest = parse_digest(*sums);
    if (!sums_digest) return bad_manifest("sha256sums is not 64 lower-case hex");
    m.sha256sums_ = *sums_digest;

    if (auto st = check_paths_disjoint(m.files()); !st) return std::move(st).error();
    return m;
}

std::string EnvelopeStatement::to_string() const {
    return std::string(kEnvelopeFormat) + " bundle=" + bundle_id + " sha256=" + digest_hex(sha256) +
           " size=" + std::to_string(size) + " device=" + device_key_id + " created=" + created;
}

Result<EnvelopeStatement> EnvelopeStatement::parse(std::string_view text) {
    const auto bad = [](const char* why) {
        return make_error(Errc::malformed, std::string("envelope statement: ") + why);
    };
    std::vector<std::string_view> tokens;
    for (std::size_t start = 0;;) {
        const std::size_t sp = text.find(' ', start);
        tokens.push_back(text.substr(start, sp == std::string_view::npos ? sp : sp - start));
        if (sp == std::string_view::npos) break;
        start = sp + 1;
    }
    if (tokens.size() != 6) return bad("needs 6 space-separated fields");
    if (tokens[0] != kEnvelopeFormat) return bad("unknown version");
    const auto field = [&](std::size_t i, std::string_view key) -> std::optional<std::string_view> {
        if (tokens[i].substr(0, key.size()) != key) return std::nullopt;
        return tokens[i].substr(key.size());
    };
    const auto id = field(1, "bundle=");
    const auto sha = field(2, "sha256=");
    const auto size = field(3, "size=");
    const auto device = field(4, "device=");
    const auto created = field(5, "created=");
    if (!id || !sha || !size || !device || !created) return bad("fields out of order");
    EnvelopeStatement s;
    if (!is_bundle_id(*id)) return bad("bundle id is not 32 hex digits");
    s.bundle_id = std::string(*id);
    auto digest = parse_digest(*sha);
    if (!digest) return bad("sha256 is not 64 lower-case hex");
    s.sha256 = *digest;
    auto n = parse_decimal(*size);
    if (!n) return bad("size is not a decimal number");
    s.size = *n;
    if (!is_upper_hex(*device, 16)) return bad("device is not a 16-digit key id");
    s.device_key_id = std::string(*device);
    if (!is_rfc3339_utc(*created)) return bad("created is not an RFC 3339 UTC time");
    s.created = std::string(*created);
    if (s.to_string() != text) return bad("not in canonical form");
    return s;
}

}  // namespace custodia::core::bundle
