// The custody log's entries as bytes (docs/FORMAT.md, "Custody entry"): the
// exact bytes that become RFC 6962 leaves. Anyone holding an entry, its
// inclusion proof and a signed checkpoint can check it without Custodia.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "custodia/core/vault.h"
#include "custodia/crypto/result.h"

namespace custodia::core {

std::optional<CustodyEvent> parse_custody_event(std::string_view text);

// The canonical encoding of index, event, time, case id, item id and details.
// Errc::malformed for an id that is not 32 lower-case hex digits or details
// that are not a canonical CustodyDetails text.
[[nodiscard]] Result<std::vector<std::uint8_t>> encode_custody_entry(const CustodyEntry& entry);

// Strict inverse of encode_custody_entry; the result's `encoded` holds the
// input. Anything that would not re-encode to the same bytes is malformed.
[[nodiscard]] Result<CustodyEntry> decode_custody_entry(std::span<const std::uint8_t> bytes);

// An entry's details: "key=value\n" lines in the order they were added. Keys
// are [a-z0-9_]+; in values, the bytes 0x00-0x1F, '%' and 0x7F are written
// as %XX (upper-case hex) and nothing else is escaped.
class CustodyDetails {
  public:
    CustodyDetails& add(std::string_view key, std::string_view value);
    const std::string& text() const noexcept { return text_; }

    // Errc::malformed unless `text` is exactly what add() calls produce.
    [[nodiscard]] static Result<std::vector<std::pair<std::string, std::string>>> parse(
        std::string_view text);

  private:
    std::string text_;
};

}  // namespace custodia::core
