// What a person needs to read from a checked bundle (docs/VERIFY.md §7):
// the items with their metadata, each capture signature's status, the
// custody timeline, the checkpoint, the device key and the envelope, taken
// from a BundleReport and nothing else. report.json and report.html are both
// rendered from it, so the two always say the same thing.
//
// Everything here comes from the bundle, so it is attacker-controlled text:
// renderers must escape it. Statuses are read from the report's checks, never
// re-derived: a summary cannot say "verified" where the checks did not.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "custodia/core/bundle_format.h"
#include "custodia/core/bundle_reader.h"

namespace custodia::core {

struct BundleSummaryItem {
    std::string id;
    std::string kind;
    std::string title;
    std::string description;
    std::string language;
    std::vector<std::string> tags;
    std::string investigator;
    std::string capture_time;   // UTC, as the manifest states it
    std::string capture_local;  // the same instant at the device's offset; empty if unknown
    std::optional<std::int64_t> offset_minutes;
    std::string clock_source;
    std::string location;          // stated location, "lat, lon ±acc m (source)"; empty: none
    std::string capture_location;  // the location inside the signed capture record
    std::string witness;           // pseudonym
    std::string witness_identity;  // only when the bundle carries one
    std::string consent;           // type, scope, withdrawn, recorded in
    std::string derived_from;
    std::optional<bundle::ManifestAttachment> attachment;
    std::string file_status;  // the file's outcome: verified, mismatch, missing, …; empty: no file
    bool capture_signature_ok = false;
    std::string capture_signature;  // "verified", or why it failed or was not checked
};

struct BundleSummaryEvent {
    std::uint64_t index = 0;
    std::string time;        // UTC
    std::string local_time;  // at the device's offset
    std::string event;
    std::string case_id;
    std::string item_id;
    std::string item_title;  // from the manifest; empty when the item is not in it
    std::string details;     // "key=value" lines
    bool proven = false;     // in the checkpoint's tree (custody_inclusion)
    std::string proof;       // "proven", or why not
};

struct BundleSummaryCheckpoint {
    std::string origin;
    std::uint64_t tree_size = 0;
    std::string root_hash;  // 64 lower-case hex
    struct Signer {
        std::string name;
        std::string key_id;  // the note key id, 8 lower-case hex
    };
    std::vector<Signer> signers;
    bool verified = false;  // custody_checkpoint passed
};

struct BundleSummary {
    bool ok = false;
    std::vector<std::string> failed_checks;
    std::string bundle_id;
    std::string created;
    std::string case_id;
    std::string case_title;
    std::string case_description;
    std::string device_key;     // minisign public key, base64; empty without a manifest
    std::string device_key_id;  // 16 upper-case hex, as minisign prints it
    DeviceKeySource device_key_source = DeviceKeySource::none;
    std::vector<BundleSummaryItem> items;
    std::vector<BundleSummaryEvent> timeline;  // by index
    std::optional<BundleSummaryCheckpoint> checkpoint;
    std::string checkpoint_problem;  // why there is no checkpoint to show
    std::optional<bundle::EnvelopeStatement> envelope;
    std::uint64_t bundle_size = 0;
};

BundleSummary summarize_bundle(const BundleReport& report);

}  // namespace custodia::core
