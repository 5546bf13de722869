// The evidence model (DESIGN.md §4). Items are immutable after capture:
// corrections, transcripts and redactions are new items that point back with
// derived_from, never edits.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/clock.h"

namespace custodia::core {

// Ids are 16 random bytes in lower-case hex (32 characters). They reveal
// nothing about content or time.
using CaseId = std::string;
using ItemId = std::string;
using BlobId = std::string;

enum class ItemKind { testimony, audio, video, photo, document, note };
std::string_view to_string(ItemKind kind);
std::optional<ItemKind> parse_item_kind(std::string_view text);

enum class ConsentType { written, oral_recorded, none };
std::string_view to_string(ConsentType type);
std::optional<ConsentType> parse_consent_type(std::string_view text);

struct Consent {
    ConsentType type = ConsentType::none;
    // Who may receive it: organisation names, "courts", "public".
    std::vector<std::string> scope;
    std::optional<ItemId> recorded_in;  // the item that records the consent itself
    bool withdrawn = false;
};

struct Location {
    double lat = 0;
    double lon = 0;
    std::optional<double> accuracy_m;
    std::string source;  // "gps", "typed", …
};

struct CaptureInfo {
    Timestamp time;
    std::string clock_source;
    std::optional<Location> location;
    std::string investigator;
};

struct Case {
    CaseId id;
    std::string title;
    std::string description;
    std::vector<std::string> recipients;  // age1… recipients of the NGO(s)
    std::int64_t created_unix_ms = 0;
};

struct Attachment {
    std::string original_name;
    std::string mime_type;
    std::uint64_t size = 0;
    std::array<std::uint8_t, 32> sha256{};
    BlobId blob_id;
};

// What the investigator states about a new item.
struct ItemFields {
    ItemKind kind = ItemKind::document;
    std::string title;
    std::string description;
    std::string language;
    std::vector<std::string> tags;
    std::string witness;  // pseudonym only; identifying details live apart
    Consent consent;
    std::optional<Location> location;
    std::optional<ItemId> derived_from;
};

enum class ItemState { active, shredded };

struct Item {
    ItemId id;
    CaseId case_id;
    ItemFields fields;
    CaptureInfo capture;
    std::optional<Attachment> attachment;              // none for a written testimony kept as text
    std::array<std::uint8_t, 64> capture_signature{};  // Ed25519 over the capture record
    ItemState state = ItemState::active;
};

}  // namespace custodia::core
