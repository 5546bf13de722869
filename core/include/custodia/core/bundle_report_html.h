// report.html: the result of checking a bundle, for a reader who is not a
// cryptographer (a lawyer, a judge). One static page: no script, no external
// resource, inline CSS, printable. Every string from the bundle is
// HTML-escaped, and a Content-Security-Policy forbids scripts and loads as a
// second line of defence, since the bundle's contents are attacker-controlled.
#pragma once

#include <string>
#include <string_view>

#include "custodia/core/bundle_reader.h"
#include "custodia/core/bundle_summary.h"

namespace custodia::core {

// The whole page, UTF-8. It shows only what `summary` and `report` hold;
// report.json carries the same facts.
std::string bundle_report_html(const BundleReport& report, const BundleSummary& summary);

// HTML text escaping (& < > " '), with bidirectional-override characters
// shown as visible markers so that they cannot reorder what a reader sees.
std::string html_escape(std::string_view text);

}  // namespace custodia::core
