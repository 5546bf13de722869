#include "vault_output.h"

#include <cstdio>

#include "custodia/core/clock.h"
#include "custodia/core/custody_entry.h"
#include "custodia/crypto/encoding.h"
#include "progress_bar.h"

namespace custodia::cli {
namespace {

using nlohmann::json;

json optional_text(const std::optional<std::string>& value) {
    return value ? json(*value) : json(nullptr);
}

json location_json(const std::optional<core::Location>& location) {
    if (!location) {
        return nullptr;
    }
    return {
        {"lat", location->lat},
        {"lon", location->lon},
        {"accuracy_m", location->accuracy_m ? json(*location->accuracy_m) : json(nullptr)},
        {"source", location->source},
    };
}

// Details are key=value lines (custody_entry.h); shown as an object. Should
// an entry's details ever fail to parse, the text is shown as it is rather
// than hidden: verify reports the damage.
json details_json(const std::string& details) {
    auto parsed = core::CustodyDetails::parse(details);
    if (!parsed) {
        return json{{"unparsed", details}};
    }
    json out = json::object();
    for (const auto& [key, value] : *parsed) {
        out[key] = value;
    }
    return out;
}

std::string details_text(const std::string& details) {
    auto parsed = core::CustodyDetails::parse(details);
    if (!parsed) {
        return "(details do not parse)";
    }
    std::string out;
    for (const auto& [key, value] : *parsed) {
        if (!out.empty()) {
            out += ' ';
        }
        out += key + "=" + value;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) {
            out += separator;
        }
        out += part;
    }
    return out;
}

std::string pad(std::string text, std::size_t width) {
    if (text.size() < width) {
        text.append(width - text.size(), ' ');
    }
    return text;
}

// Seconds are enough in a table; show and --json give the milliseconds.
std::string utc_to_seconds(std::int64_t unix_ms) {
    std::string text = core::format_utc(unix_ms);
    const auto dot = text.find('.');
    if (dot != std::string::npos) {
        text = text.substr(0, dot) + "Z";
    }
    return text;
}

std::string display_title(const core::Item& item) {
    if (!item.fields.title.empty()) {
        return item.fields.title;
    }
    if (item.attachment) {
        return item.attachment->original_name;
    }
    return "(untitled)";
}

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6f", value);
    return text;
}

void field(std::string& out, std::string_view name, const std::string& value) {
    if (value.empty()) {
        return;
    }
    out += pad(std::string(name), 14) + value + "\n";
}

}  // namespace

std::string sha256_hex(const core::Attachment& attachment) {
    return crypto::to_hex(attachment.sha256);
}

json case_json(const core::Case& c) {
    return {
        {"id", c.id},
        {"title", c.title},
        {"description", c.description},
        {"recipients", c.recipients},
        {"created_unix_ms", c.created_unix_ms},
        {"created_utc", core::format_utc(c.created_unix_ms)},
    };
}

json item_json(const core::Item& item) {
    json attachment = nullptr;
    if (item.attachment) {
        const auto& a = *item.attachment;
        attachment = {
            {"original_name", a.original_name}, {"mime_type", a.mime_type}, {"size", a.size},
            {"sha256", sha256_hex(a)},          {"blob_id", a.blob_id},
        };
    }
    const auto& f = item.fields;
    return {
        {"id", item.id},
        {"case_id", item.case_id},
        {"kind", std::string(core::to_string(f.kind))},
        {"title", f.title},
        {"description", f.description},
        {"language", f.language},
        {"tags", f.tags},
        {"witness", f.witness},
        {"consent",
         {
             {"type", std::string(core::to_string(f.consent.type))},
             {"scope", f.consent.scope},
             {"recorded_in", optional_text(f.consent.recorded_in)},
             {"withdrawn", f.consent.withdrawn},
         }},
        {"location", location_json(item.capture.location)},
        {"derived_from", optional_text(f.derived_from)},
        {"capture",
         {
             {"unix_ms", item.capture.time.unix_ms},
             {"offset_minutes", item.capture.time.offset_minutes},
             {"time_utc", core::format_utc(item.capture.time.unix_ms)},
             {"time_local", core::format_local(item.capture.time)},
             {"clock_source", item.capture.clock_source},
             {"investigator", item.capture.investigator},
         }},
        {"attachment", attachment},
        {"capture_signature", crypto::to_hex(item.capture_signature)},
        {"state", item.state == core::ItemState::active ? "active" : "shredded"},
    };
}

json custody_entry_json(const core::CustodyEntry& entry) {
    return {
        {"index", entry.index},
        {"event", std::string(core::to_string(entry.event))},
        {"unix_ms", entry.time.unix_ms},
        {"time_utc", core::format_utc(entry.time.unix_ms)},
        {"case_id", optional_text(entry.case_id)},
        {"item_id", optional_text(entry.item_id)},
        {"details", details_json(entry.details)},
    };
}

json verify_report_json(const core::VerifyReport& report) {
    json problems = json::array();
    for (const auto& p : report.problems) {
        problems.push_back({
            {"what", p.what},
            {"item_id", optional_text(p.item_id)},
            {"message", p.message},
        });
    }
    return {
        {"ok", report.ok()},
        {"items_checked", report.items_checked},
        {"log_size", report.log_size},
        {"problems", problems},
    };
}

std::string dump_json(const json& value) {
    return value.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string cases_table(const std::vector<core::Case>& cases) {
    std::string out = pad("CASE", 34) + pad("CREATED (UTC)", 22) + "TITLE\n";
    for (const auto& c : cases) {
        out += pad(c.id, 34) + pad(utc_to_seconds(c.created_unix_ms), 22) + c.title + "\n";
    }
    return out;
}

std::string items_table(const std::vector<core::Item>& items) {
    std::string out =
        pad("ITEM", 34) + pad("KIND", 11) + pad("CAPTURED (UTC)", 22) + pad("SIZE", 11) + "TITLE\n";
    for (const auto& item : items) {
        const std::string size = item.attachment ? human_size(item.attachment->size) : "-";
        std::string title = display_title(item);
        if (item.state == core::ItemState::shredded) {
            title += "  [shredded]";
        }
        out += pad(item.id, 34) + pad(std::string(core::to_string(item.fields.kind)), 11) +
               pad(utc_to_seconds(item.capture.time.unix_ms), 22) + pad(size, 11) + title + "\n";
    }
    return out;
}

std::string custody_line(const core::CustodyEntry& entry) {
    std::string line = pad("#" + std::to_string(entry.index), 7) +
                       pad(core::format_utc(entry.time.unix_ms), 26) +
                       pad(std::string(core::to_string(entry.event)), 18);
    if (entry.case_id) {
        line += "case=" + *entry.case_id + " ";
    }
    if (entry.item_id) {
        line += "item=" + *entry.item_id + " ";
    }
    line += details_text(entry.details);
    while (!line.empty() && line.back() == ' ') {
        line.pop_back();
    }
    return line + "\n";
}

std::string item_details(const core::Item& item, const std::optional<core::Case>& owner,
                         bool signature_valid, const std::vector<core::CustodyEntry>& custody) {
    const auto& f = item.fields;
    std::string out;
    field(out, "Item", item.id);
    field(out, "Case", item.case_id + (owner ? "  (" + owner->title + ")" : ""));
    field(out, "Kind", std::string(core::to_string(f.kind)));
    field(out, "Title", f.title);
    field(out, "Description", f.description);
    field(out, "Witness", f.witness);
    field(out, "Language", f.language);
    field(out, "Tags", join(f.tags, ", "));
    std::string consent(core::to_string(f.consent.type));
    if (!f.consent.scope.empty()) {
        consent += "; may be shared with: " + join(f.consent.scope, ", ");
    }
    if (f.consent.recorded_in) {
        consent += "; recorded in item " + *f.consent.recorded_in;
    }
    if (f.consent.withdrawn) {
        consent += "; WITHDRAWN";
    }
    field(out, "Consent", consent);
    if (item.capture.location) {
        const auto& l = *item.capture.location;
        std::string where = number(l.lat) + ", " + number(l.lon);
        if (l.accuracy_m) {
            where += " (±" + number(*l.accuracy_m) + " m)";
        }
        if (!l.source.empty()) {
            where += ", " + l.source;
        }
        field(out, "Location", where);
    }
    if (f.derived_from) {
        field(out, "Derived from", *f.derived_from);
    }
    field(out, "Captured",
          core::format_utc(item.capture.time.unix_ms) + "  (local " +
              core::format_local(item.capture.time) + ", clock: " + item.capture.clock_source +
              ")");
    field(out, "Investigator", item.capture.investigator);
    if (item.attachment) {
        const auto& a = *item.attachment;
        field(out, "File", a.original_name + "  (" + a.mime_type + ")");
        field(out, "Size",
              std::to_string(a.size) + " bytes" +
                  (a.size >= 1024 ? "  (" + human_size(a.size) + ")" : ""));
        field(out, "SHA-256", sha256_hex(a));
    }
    field(out, "Signature",
          signature_valid ? "✓ valid: signed by this device at capture"
                          : "✗ INVALID: the device's signature over this item does not verify");
    field(out, "State",
          item.state == core::ItemState::active
              ? "active"
              : "shredded (content destroyed when consent was withdrawn)");
    out += "Custody\n";
    for (const auto& entry : custody) {
        out += "  " + custody_line(entry);
    }
    return out;
}

}  // namespace custodia::cli
