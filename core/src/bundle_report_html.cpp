// report.html. Deliberately plain: tables and headings a court clerk can
// print, with the verdict first and every failure's reason next to it.
#include "custodia/core/bundle_report_html.h"

#include <cstdint>

#include "custodia/core/bundle_custody.h"
#include "custodia/crypto/encoding.h"

namespace custodia::core {
namespace {

constexpr std::string_view kStyle = R"css(
body{font-family:"DejaVu Sans",Arial,sans-serif;font-size:11pt;color:#111;margin:2em auto;max-width:60em;padding:0 1em;line-height:1.4}
h1{font-size:1.6em;margin:0 0 .3em}
h2{font-size:1.25em;border-bottom:2px solid #444;margin-top:1.8em;padding-bottom:.15em}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;margin:.4em 0}
th,td{border:1px solid #888;padding:.25em .45em;text-align:left;vertical-align:top}
th{background:#eee}
table.facts th{width:14em}
.mono{font-family:"DejaVu Sans Mono",monospace;font-size:.9em;word-break:break-all;white-space:pre-wrap}
.verdict{border:3px solid;padding:.8em 1em;margin-bottom:1em}
.verdict.ok{border-color:#1a6b1a;background:#e8f5e8}
.verdict.fail{border-color:#a11;background:#fbe9e9}
.pass{color:#1a6b1a;font-weight:bold}
.fail{color:#a11;font-weight:bold}
.skip{color:#555;font-weight:bold}
.warn{border-left:4px solid #b80;background:#fff6e0;padding:.4em .8em}
.item{border:1px solid #bbb;padding:.2em .8em .6em;margin:1em 0;page-break-inside:avoid}
footer{margin-top:2em;font-size:.9em;color:#444}
@media print{body{margin:0;max-width:none;font-size:10pt}.verdict,.item,tr{page-break-inside:avoid}
th{background:#eee !important;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
)css";

// Plain-language meaning of each check, for a reader who does not know the formats.
std::string_view check_meaning(std::string_view name) {
    struct Meaning {
        std::string_view name;
        std::string_view text;
    };
    static constexpr Meaning kMeanings[] = {
        {"decrypt",
         "The file opens with the recipient's key, and not one byte was changed after it "
         "was encrypted."},
        {"decompress", "The compressed contents are complete and intact."},
        {"archive",
         "The archive inside is well formed, in the expected order, with nothing "
         "appended."},
        {"entries",
         "The archive holds only ordinary files with safe names (no links, no paths "
         "leading outside the folder)."},
        {"limits", "Sizes and counts are within safe limits."},
        {"manifest", "The list of contents (the manifest) is well formed."},
        {"manifest_signature", "The list of contents is signed by the device key."},
        {"sha256sums", "The checksum list is exactly the one the signed manifest names."},
        {"file_hashes", "Every file is, byte for byte, the one the manifest lists (SHA-256)."},
        {"no_unlisted_files", "Nothing was added beside the listed files."},
        {"no_missing_files", "Nothing the manifest lists is missing."},
        {"envelope",
         "The signed envelope names this exact file (SHA-256 and size) and this "
         "bundle."},
        {"custody_checkpoint", "The custody log's checkpoint is signed by the device key."},
        {"custody_inclusion",
         "Every custody event in the bundle is part of the signed log "
         "(Merkle inclusion proof)."},
        {"capture_signatures",
         "Each item's SHA-256 and size were signed by the device when the "
         "item was captured."},
        {"custody_receipts",
         "Receipts and countersigned checkpoints from the intake server "
         "verify."},
    };
    for (const auto& m : kMeanings)
        if (m.name == name) return m.text;
    return "";
}

// Appends the code point as "[U+XXXX]".
void marker(std::string& out, std::uint32_t cp) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out += "[U+";
    for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(cp >> shift) & 0xF];
    out += ']';
}

bool is_bidi_control(std::uint32_t cp) {
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

class Page {
  public:
    void raw(std::string_view s) { out_ += s; }
    void text(std::string_view s) { out_ += html_escape(s); }
    void cell(std::string_view s, std::string_view cls = {}) {
        out_ += cls.empty() ? "<td>" : "<td class=\"" + std::string(cls) + "\">";
        text(s);
        out_ += "</td>";
    }
    void fact(std::string_view label, std::string_view value, bool mono = false) {
        out_ += "<tr><th>";
        text(label);
        out_ += "</th>";
        cell(value.empty() ? std::string_view("—") : value, mono ? "mono" : "");
        out_ += "</tr>\n";
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

std::string outcome_word(CheckOutcome outcome) {
    switch (outcome) {
        case CheckOutcome::passed:
            return "PASS";
        case CheckOutcome::failed:
            return "FAIL";
        case CheckOutcome::not_run:
            return "NOT RUN";
    }
    return "NOT RUN";
}

std::string_view outcome_class(CheckOutcome outcome) {
    return outcome == CheckOutcome::passed   ? "pass"
           : outcome == CheckOutcome::failed ? "fail"
                                             : "skip";
}

std::string offset_text(std::int64_t minutes) {
    const char sign = minutes < 0 ? '-' : '+';
    const std::int64_t m = minutes < 0 ? -minutes : minutes;
    std::string hh = std::to_string(m / 60);
    std::string mm = std::to_string(m % 60);
    if (hh.size() < 2) hh.insert(0, "0");
    if (mm.size() < 2) mm.insert(0, "0");
    return "UTC" + std::string(1, sign) + hh + ":" + mm;
}

void verdict(Page& p, const BundleReport& report, const BundleSummary& s) {
    if (s.ok) {
        p.raw("<header class=\"verdict ok\"><h1>VERIFIED: every check passed</h1>\n<p>");
        p.text(
            "The bundle's files are byte for byte what the device that signed them sealed, and "
            "its custody records are in that device's signed log.");
        p.raw("</p>\n");
    } else {
        std::string names;
        for (const auto& n : s.failed_checks) names += (names.empty() ? "" : ", ") + n;
        p.raw("<header class=\"verdict fail\"><h1>NOT VERIFIED: ");
        p.text(s.failed_checks.empty()
                   ? std::string("a required check could not run")
                   : std::to_string(s.failed_checks.size()) +
                         (s.failed_checks.size() == 1 ? " check failed" : " checks failed"));
        p.raw("</h1>\n<p>Failed: <strong>");
        p.text(names.empty() ? "(a required check did not run)" : names);
        p.raw("</strong>. ");
        p.text(
            "Nothing in this bundle should be relied on until the failures below are explained.");
        p.raw("</p>\n");
    }
    if (report.device_key_source == DeviceKeySource::self_asserted) {
        p.raw("<p class=\"warn\">");
        p.text(
            "The device key was taken from the bundle itself (self-asserted). The checks prove "
            "the bundle was not altered after it was signed, but not which device signed it. "
            "Check the device key below against one obtained from a trusted source.");
        p.raw("</p>\n");
    }
    p.raw("</header>\n");
}

void bundle_facts(Page& p, const BundleSummary& s) {
    p.raw("<h2>Bundle</h2>\n<table class=\"facts\">\n");
    p.fact("Bundle id", s.bundle_id, true);
    p.fact("Case", s.case_title);
    p.fact("Case id", s.case_id, true);
    p.fact("Case description", s.case_description);
    p.fact("Sealed (device clock, UTC)", s.created);
    p.fact("Size of the .custodia file",
           s.bundle_size ? std::to_string(s.bundle_size) + " bytes" : "");
    p.fact("Items", std::to_string(s.items.size()));
    p.raw("</table>\n");
}

void checks_table(Page& p, const BundleReport& report) {
    p.raw(
        "<h2>Checks</h2>\n<table>\n<tr><th>Check</th><th>What it means</th><th>Result</th>"
        "<th>Details or reason</th></tr>\n");
    for (const auto& c : report.checks) {
        p.raw("<tr>");
        p.cell(c.name, "mono");
        p.cell(check_meaning(c.name));
        std::string word = outcome_word(c.outcome);
        if (c.outcome == CheckOutcome::not_run && !c.required) word += " (optional)";
        p.cell(word, outcome_class(c.outcome));
        p.cell(c.detail);
        p.raw("</tr>\n");
    }
    p.raw("</table>\n");
}

void items_section(Page& p, const BundleSummary& s) {
    p.raw("<h2>Items</h2>\n");
    if (s.items.empty()) {
        p.raw("<p>");
        p.text("No item could be read (the manifest did not verify or is empty).");
        p.raw("</p>\n");
    }
    std::size_t n = 0;
    for (const auto& item : s.items) {
        p.raw("<div class=\"item\"><h3>");
        p.text(std::to_string(++n) + ". " + (item.title.empty() ? "(untitled)" : item.title));
        p.raw("</h3>\n<table class=\"facts\">\n");
        p.fact("Item id", item.id, true);
        p.fact("Kind", item.kind);
        p.fact("Description", item.description);
        std::string capture = item.capture_time.empty() ? "" : item.capture_time + " (UTC)";
        if (!item.capture_local.empty()) capture += "; local time " + item.capture_local;
        p.fact("Capture time", capture);
        p.fact("UTC offset at capture",
               item.offset_minutes ? offset_text(*item.offset_minutes) : "");
        p.fact("Clock source", item.clock_source);
        p.fact("Location stated", item.location.empty() ? "none stated" : item.location);
        p.fact("Location in the signed record",
               item.capture_location.empty() ? "none" : item.capture_location);
        p.fact("Investigator", item.investigator);
        p.fact("Language", item.language);
        std::string tags;
        for (const auto& t : item.tags) tags += (tags.empty() ? "" : ", ") + t;
        p.fact("Tags", tags);
        p.fact("Witness (pseudonym)", item.witness);
        if (!item.witness_identity.empty()) p.fact("Witness identity", item.witness_identity);
        p.fact("Consent", item.consent);
        if (!item.derived_from.empty()) p.fact("Derived from item", item.derived_from, true);
        if (item.attachment) {
            const auto& a = *item.attachment;
            p.fact("Original file name", a.name);
            p.fact("File in the bundle", a.path, true);
            p.fact("Media type", a.mime);
            p.fact("Size", std::to_string(a.size) + " bytes");
            p.fact("SHA-256 (as the manifest lists it)", crypto::to_hex(a.sha256), true);
            p.raw("<tr><th>File check</th>");
            p.cell(item.file_status, item.file_status == "verified" ? "pass" : "fail");
            p.raw("</tr>\n");
        } else {
            p.fact("Attached file", "none");
        }
        p.raw("<tr><th>Capture signature</th>");
        p.cell(item.capture_signature_ok ? "verified: the device signed this SHA-256 and size "
                                           "when the item was captured"
                                         : item.capture_signature,
               item.capture_signature_ok ? "pass" : "fail");
        p.raw("</tr>\n</table></div>\n");
    }
}

void timeline_section(Page& p, const BundleSummary& s) {
    p.raw("<h2>Custody timeline</h2>\n");
    if (s.timeline.empty()) {
        p.raw("<p>");
        p.text("The bundle carries no custody entries.");
        p.raw("</p>\n");
        return;
    }
    p.raw(
        "<table>\n<tr><th>#</th><th>Time (UTC)</th><th>Local time</th><th>Event</th>"
        "<th>Item</th><th>Details</th><th>In the signed log</th></tr>\n");
    for (const auto& e : s.timeline) {
        p.raw("<tr>");
        p.cell(std::to_string(e.index));
        p.cell(e.time);
        p.cell(e.local_time);
        p.cell(e.event);
        std::string item = e.item_title;
        if (!e.item_id.empty())
            item += (item.empty() ? "" : " ") + std::string("(") + e.item_id + ")";
        p.cell(item, "mono");
        p.cell(e.details, "mono");
        p.cell(e.proof, e.proven ? "pass" : "fail");
        p.raw("</tr>\n");
    }
    p.raw("</table>\n");
}

void checkpoint_section(Page& p, const BundleSummary& s) {
    p.raw("<h2>Checkpoint of the custody log</h2>\n");
    if (!s.checkpoint) {
        p.raw("<p class=\"fail\">");
        p.text(s.checkpoint_problem);
        p.raw("</p>\n");
        return;
    }
    const auto& c = *s.checkpoint;
    p.raw("<table class=\"facts\">\n");
    p.fact("Log (origin)", c.origin, true);
    p.fact("Tree size (entries in the log)", std::to_string(c.tree_size));
    p.fact("Root hash (SHA-256, hex)", c.root_hash, true);
    for (const auto& signer : c.signers)
        p.fact("Signed by (key name, key id)", signer.name + "  " + signer.key_id, true);
    p.raw("<tr><th>Signature</th>");
    p.cell(c.verified ? "verified under the device key" : "NOT verified (see custody_checkpoint)",
           c.verified ? "pass" : "fail");
    p.raw("</tr>\n</table>\n");
}

void device_section(Page& p, const BundleSummary& s) {
    p.raw("<h2>Device key</h2>\n<table class=\"facts\">\n");
    p.fact("Public key (minisign)", s.device_key, true);
    p.fact("Key id", s.device_key_id, true);
    std::string source = "no manifest, so no key";
    if (s.device_key_source == DeviceKeySource::caller)
        source = "given by the person checking, and matched by the bundle";
    if (s.device_key_source == DeviceKeySource::self_asserted)
        source = "taken from the bundle itself (self-asserted: proves integrity, not origin)";
    p.fact("Where the key came from", source);
    p.raw("</table>\n");
}

void envelope_section(Page& p, const BundleReport& report, const BundleSummary& s) {
    p.raw("<h2>Envelope</h2>\n");
    const auto* check = report.find(bundle_check::kEnvelope);
    if (!s.envelope) {
        p.raw("<p>");
        p.text("No envelope statement was read" +
               (check && !check->detail.empty() ? ": " + check->detail : std::string(".")));
        p.raw("</p>\n");
        return;
    }
    const auto& e = *s.envelope;
    p.raw("<table class=\"facts\">\n");
    p.fact("Bundle id", e.bundle_id, true);
    p.fact("SHA-256 of the .custodia file", crypto::to_hex(e.sha256), true);
    p.fact("Size of the .custodia file", std::to_string(e.size) + " bytes");
    p.fact("Device key id", e.device_key_id, true);
    p.fact("Created", e.created);
    if (check) {
        p.raw("<tr><th>Envelope check</th>");
        p.cell(outcome_word(check->outcome) + (check->detail.empty() ? "" : ": " + check->detail),
               outcome_class(check->outcome));
        p.raw("</tr>\n");
    }
    p.raw("</table>\n");
}

std::string_view file_word(FileOutcome o) {
    switch (o) {
        case FileOutcome::verified:
            return "verified";
        case FileOutcome::mismatch:
            return "MISMATCH";
        case FileOutcome::missing:
            return "MISSING";
        case FileOutcome::unlisted:
            return "UNLISTED";
        case FileOutcome::rejected:
            return "REJECTED";
    }
    return "REJECTED";
}

void files_section(Page& p, const BundleReport& report) {
    p.raw(
        "<h2>Files</h2>\n<table>\n<tr><th>Path</th><th>Size (bytes)</th><th>Result</th>"
        "<th>Details</th></tr>\n");
    for (const auto& f : report.files) {
        p.raw("<tr>");
        p.cell(f.path, "mono");
        p.cell(std::to_string(f.size));
        p.cell(file_word(f.outcome), f.outcome == FileOutcome::verified ? "pass" : "fail");
        p.cell(f.detail);
        p.raw("</tr>\n");
    }
    p.raw("</table>\n");
}

}  // namespace

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        if (b < 0x80) {
            switch (b) {
                case '&':
                    out += "&amp;";
                    break;
                case '<':
                    out += "&lt;";
                    break;
                case '>':
                    out += "&gt;";
                    break;
                case '"':
                    out += "&quot;";
                    break;
                case '\'':
                    out += "&#39;";
                    break;
                case '\n':
                case '\t':
                    out += static_cast<char>(b);
                    break;
                default:
                    if (b < 0x20 || b == 0x7F)
                        marker(out, b);
                    else
                        out += static_cast<char>(b);
            }
            ++i;
            continue;
        }
        // Decode one UTF-8 sequence; anything malformed becomes U+FFFD.
        std::size_t len = b >= 0xF0 && b <= 0xF4  ? 4
                          : b >= 0xE0             ? 3
                          : b >= 0xC2 && b < 0xE0 ? 2
                                                  : 0;
        std::uint32_t cp = len == 2 ? b & 0x1Fu : len == 3 ? b & 0x0Fu : b & 0x07u;
        bool valid = len != 0 && i + len <= text.size();
        for (std::size_t k = 1; valid && k < len; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            if ((c & 0xC0) != 0x80) valid = false;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if (valid && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            valid = false;
        if (!valid) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        if (is_bidi_control(cp) || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029)
            marker(out, cp);
        else
            out.append(text.substr(i, len));
        i += len;
    }
    return out;
}

std::string bundle_report_html(const BundleReport& report, const BundleSummary& s) {
    Page p;
    p.raw(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    p.text("Custodia bundle report " +
           (s.bundle_id.empty() ? std::string("(unreadable)") : s.bundle_id) +
           (s.ok ? ": verified" : ": NOT verified"));
    p.raw("</title>\n<style>");
    p.raw(kStyle);
    p.raw("</style>\n</head>\n<body>\n");
    verdict(p, report, s);
    bundle_facts(p, s);
    checks_table(p, report);
    items_section(p, s);
    timeline_section(p, s);
    checkpoint_section(p, s);
    device_section(p, s);
    envelope_section(p, report, s);
    files_section(p, report);
    p.raw("<footer><p>");
    p.text(
        "Written by custodia-cli from the checks above; report.json beside this page holds the "
        "same facts. What the checks prove, and how to repeat them with standard tools (age, "
        "tar, minisign, sha256sum, openssl), is explained in Custodia's docs/VERIFY.md. They "
        "do not prove that the content is true or that the device clock was right.");
    p.raw("</p></footer>\n</body>\n</html>\n");
    return p.take();
}

}  // namespace custodia::core
