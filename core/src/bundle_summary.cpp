// Builds the human summary of a checked bundle. The manifest's item objects
// are the exporter's own JSON (docs/FORMAT.md "Exporting a case"), so every
// field is read defensively: a missing or oddly typed field shows as what it
// is, never as a crash or a silent "verified".
#include "custodia/core/bundle_summary.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "custodia/core/bundle_custody.h"
#include "custodia/core/clock.h"
#include "custodia/core/custody_entry.h"
#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"

namespace custodia::core {
namespace {

using nlohmann::json;

constexpr std::string_view kEntriesPrefix = "custody/entries/";
constexpr std::string_view kProofsPrefix = "custody/proofs/";
constexpr std::int64_t kMaxOffsetMinutes = 1080;

// A string field as text; any other JSON value as its JSON text, so that an
// unexpected type is shown rather than hidden.
std::string text(const json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

const json& member(const json& object, const char* key) {
    static const json null_value;
    if (!object.is_object()) return null_value;
    const auto it = object.find(key);
    return it == object.end() ? null_value : *it;
}

std::string number_text(const json& value) {
    if (value.is_number()) return value.dump();
    if (value.is_string()) return value.get<std::string>();
    return "?";
}

std::string location_text(const json& loc) {
    if (!loc.is_object())
        return loc.is_null() ? "" : loc.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out = number_text(member(loc, "lat")) + ", " + number_text(member(loc, "lon"));
    if (const auto& acc = member(loc, "accuracy_m"); !acc.is_null())
        out += " ±" + number_text(acc) + " m";
    if (auto source = text(loc, "source"); !source.empty()) out += " (" + source + ")";
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

std::vector<std::string> string_list(const json& value) {
    std::vector<std::string> out;
    if (value.is_array()) {
        for (const auto& v : value)
            out.push_back(v.is_string() ? v.get<std::string>()
                                        : v.dump(-1, ' ', false, json::error_handler_t::replace));
    } else if (!value.is_null()) {
        out.push_back(value.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return out;
}

std::string consent_text(const json& consent) {
    if (!consent.is_object())
        return consent.is_null() ? std::string()
                                 : consent.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string out = text(consent, "type");
    if (out.empty()) out = "unstated";
    const auto scope = string_list(member(consent, "scope"));
    out +=
        scope.empty() ? "; no sharing scope stated" : "; may be shared with: " + join(scope, ", ");
    if (const auto& w = member(consent, "withdrawn"); w.is_boolean() && w.get<bool>())
        out += "; WITHDRAWN";
    if (auto in = text(consent, "recorded_in"); !in.empty()) out += "; recorded in item " + in;
    return out;
}

std::string identity_text(const json& identity) {
    if (identity.is_null()) return {};
    if (!identity.is_object()) return identity.dump(-1, ' ', false, json::error_handler_t::replace);
    std::vector<std::string> parts;
    if (auto v = text(identity, "full_name"); !v.empty()) parts.push_back("name: " + v);
    if (auto v = text(identity, "contact"); !v.empty()) parts.push_back("contact: " + v);
    if (auto v = text(identity, "notes"); !v.empty()) parts.push_back("notes: " + v);
    return parts.empty() ? std::string("(empty)") : join(parts, "; ");
}

// The reason a failed check gives for `subject` ("item <id>", a custody
// path): the verifier joins one "<subject>: <reason>" per failure with "; ".
std::optional<std::string> reason_for(const std::string& detail, const std::string& subject) {
    const std::string needle = subject + ": ";
    std::size_t at = 0;
    while ((at = detail.find(needle, at)) != std::string::npos) {
        if (at == 0 || detail.compare(at - 2, 2, "; ") == 0) {
            const auto begin = at + needle.size();
            const auto end = detail.find("; ", begin);
            return detail.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
        }
        at += needle.size();
    }
    return std::nullopt;
}

std::string file_outcome_text(FileOutcome outcome) {
    switch (outcome) {
        case FileOutcome::verified:
            return "verified";
        case FileOutcome::mismatch:
            return "mismatch";
        case FileOutcome::missing:
            return "missing";
        case FileOutcome::unlisted:
            return "unlisted";
        case FileOutcome::rejected:
            return "rejected";
    }
    return "rejected";
}

std::optional<std::uint64_t> parse_index(std::string_view name) {
    if (name.empty() || (name.size() > 1 && name[0] == '0')) return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
    if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
    return value;
}

void summarize_item(const bundle::ManifestItem& mi, const BundleReport& report,
                    const BundleCheck* capture_check, BundleSummaryItem& s) {
    s.id = mi.id;
    s.attachment = mi.attachment;
    const json j = json::parse(mi.json, nullptr, false);
    s.kind = text(j, "kind");
    s.title = text(j, "title");
    s.description = text(j, "description");
    s.language = text(j, "language");
    s.tags = string_list(member(j, "tags"));
    s.witness = text(j, "witness");
    s.witness_identity = identity_text(member(j, "witness_identity"));
    s.consent = consent_text(member(j, "consent"));
    s.derived_from = text(j, "derived_from");
    s.location = location_text(member(j, "location"));
    const json& capture = member(j, "capture");
    s.capture_time = text(capture, "time");
    s.clock_source = text(capture, "clock_source");
    s.investigator = text(capture, "investigator");
    s.capture_location = location_text(member(capture, "location"));
    const json& offset = member(capture, "offset_minutes");
    const json& unix_ms = member(capture, "unix_ms");
    if (offset.is_number_integer()) {
        const auto minutes = offset.get<std::int64_t>();
        if (minutes >= -kMaxOffsetMinutes && minutes <= kMaxOffsetMinutes) {
            s.offset_minutes = minutes;
            if (unix_ms.is_number_integer())
                s.capture_local = format_local(
                    Timestamp{unix_ms.get<std::int64_t>(), static_cast<std::int32_t>(minutes)});
        }
    }
    if (s.attachment) {
        for (const auto& f : report.files)
            if (f.path == s.attachment->path) s.file_status = file_outcome_text(f.outcome);
        if (s.file_status.empty()) s.file_status = "not checked";
    }
    if (capture_check == nullptr || capture_check->outcome == CheckOutcome::not_run) {
        s.capture_signature =
            "not checked" + (capture_check ? ": " + capture_check->detail : std::string());
    } else if (auto why = capture_check->outcome == CheckOutcome::failed
                              ? reason_for(capture_check->detail, "item " + mi.id)
                              : std::nullopt) {
        s.capture_signature = "failed: " + *why;
    } else {
        s.capture_signature_ok = true;
        s.capture_signature = "verified";
    }
}

void summarize_custody(const BundleReport& report, BundleSummary& s) {
    const auto* inclusion = report.find(bundle_check::kCustodyInclusion);
    for (const auto& f : report.custody_files) {
        if (!f.path.starts_with(kEntriesPrefix)) continue;
        BundleSummaryEvent e;
        auto index = parse_index(std::string_view(f.path).substr(kEntriesPrefix.size()));
        auto entry = decode_custody_entry(f.bytes);
        if (entry) {
            e.index = entry->index;
            e.time = format_utc(entry->time.unix_ms);
            e.local_time = format_local(entry->time);
            e.event = std::string(to_string(entry->event));
            e.case_id = entry->case_id.value_or("");
            e.item_id = entry->item_id.value_or("");
            e.details = entry->details;
        } else {
            e.index = index.value_or(0);
            e.event = "(undecodable entry: " + entry.error().message + ")";
        }
        const std::string proof_path =
            std::string(kProofsPrefix) + f.path.substr(kEntriesPrefix.size());
        if (inclusion == nullptr || inclusion->outcome == CheckOutcome::not_run) {
            e.proof = "not checked" + (inclusion ? ": " + inclusion->detail : std::string());
        } else if (auto why = inclusion->outcome == CheckOutcome::failed
                                  ? reason_for(inclusion->detail, f.path)
                                  : std::nullopt) {
            e.proof = "failed: " + *why;
        } else if (auto pwhy = inclusion->outcome == CheckOutcome::failed
                                   ? reason_for(inclusion->detail, proof_path)
                                   : std::nullopt) {
            e.proof = "failed: " + *pwhy;
        } else {
            e.proven = true;
            e.proof = "proven";
        }
        if (report.manifest)
            for (const auto& item : report.manifest->items())
                if (!e.item_id.empty() && item.id == e.item_id)
                    e.item_title = text(json::parse(item.json, nullptr, false), "title");
        s.timeline.push_back(std::move(e));
    }
    std::stable_sort(s.timeline.begin(), s.timeline.end(),
                     [](const auto& a, const auto& b) { return a.index < b.index; });

    const CustodyFileBytes* cp_file = nullptr;
    for (const auto& f : report.custody_files)
        if (f.path == "custody/checkpoint") cp_file = &f;
    if (cp_file == nullptr) {
        s.checkpoint_problem = "the bundle carries no custody/checkpoint";
        return;
    }
    const std::string note_text(cp_file->bytes.begin(), cp_file->bytes.end());
    auto note = SignedNote::parse(note_text);
    if (!note) {
        s.checkpoint_problem = "custody/checkpoint: " + note.error().message;
        return;
    }
    auto cp = Checkpoint::parse(note->text());
    if (!cp) {
        s.checkpoint_problem = "custody/checkpoint: " + cp.error().message;
        return;
    }
    BundleSummaryCheckpoint c;
    c.origin = cp->origin;
    c.tree_size = cp->size;
    c.root_hash = crypto::to_hex(cp->root);
    for (const auto& sig : note->signatures()) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string id(8, '0');
        for (int i = 0; i < 8; ++i)
            id[static_cast<std::size_t>(7 - i)] = kHex[(sig.key_id >> (4 * i)) & 0xF];
        c.signers.push_back({sig.name, id});
    }
    const auto* check = report.find(bundle_check::kCustodyCheckpoint);
    c.verified = check != nullptr && check->outcome == CheckOutcome::passed;
    s.checkpoint = std::move(c);
}

}  // namespace

BundleSummary summarize_bundle(const BundleReport& report) {
    BundleSummary s;
    s.ok = report.ok();
    s.failed_checks = report.failed_checks();
    s.device_key_source = report.device_key_source;
    s.envelope = report.envelope;
    s.bundle_size = report.bundle_size;
    if (report.manifest) {
        const auto& m = *report.manifest;
        s.bundle_id = m.bundle_id();
        s.created = m.created();
        s.case_id = m.case_id();
        s.case_title = m.case_title();
        s.case_description = m.case_description();
        s.device_key = m.device_key().to_base64();
        s.device_key_id = crypto::minisign::key_id_hex(m.device_key().key_id());
        const auto* capture = report.find(bundle_check::kCaptureSignatures);
        for (const auto& item : m.items()) {
            BundleSummaryItem si;
            summarize_item(item, report, capture, si);
            s.items.push_back(std::move(si));
        }
    }
    summarize_custody(report, s);
    return s;
}

}  // namespace custodia::core
