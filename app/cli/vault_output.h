// How the vault verbs show cases, items, custody entries and verification
// reports: as JSON for programs (--json, one document on stdout) and as
// aligned text for people. The JSON field names are a contract that scripts
// and tests rely on; README.md lists them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "custodia/core/evidence.h"
#include "custodia/core/vault.h"

namespace custodia::cli {

nlohmann::json case_json(const core::Case& c);
nlohmann::json item_json(const core::Item& item);
nlohmann::json custody_entry_json(const core::CustodyEntry& entry);
nlohmann::json verify_report_json(const core::VerifyReport& report);

// Serialises with two-space indents and a final newline. Strings from the
// vault are valid UTF-8 (the vault checks), but a file name from disk need
// not be: invalid bytes become U+FFFD rather than an exception.
std::string dump_json(const nlohmann::json& value);

std::string cases_table(const std::vector<core::Case>& cases);
std::string items_table(const std::vector<core::Item>& items);
std::string custody_line(const core::CustodyEntry& entry);
// The whole item, then its custody events.
std::string item_details(const core::Item& item, const std::optional<core::Case>& owner,
                         bool signature_valid, const std::vector<core::CustodyEntry>& custody);

std::string sha256_hex(const core::Attachment& attachment);

}  // namespace custodia::cli
