// The sealed bundle's inner texts (core/bundle_format.h) on arbitrary bytes,
// each parser tried on every input: manifest.json, SHA256SUMS and the
// envelope statement. All three are canonical: what parses has one encoding,
// so it re-serialises to the input. For the manifest that is checked the
// strong way: a ManifestDraft rebuilt from the parsed fields goes through
// the writer's BundleManifest::create and must give back the same bytes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/bundle_format.h"
#include "fuzz_check.h"

namespace bundle = custodia::core::bundle;

namespace {

void check_manifest(const bundle::BundleManifest& m, std::span<const std::uint8_t> input) {
    FUZZ_CHECK(
        std::equal(m.bytes().begin(), m.bytes().end(), input.begin(), input.end(),
                   [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }));
    FUZZ_CHECK(bundle::is_bundle_id(m.bundle_id()));
    FUZZ_CHECK(bundle::is_rfc3339_utc(m.created()));
    const auto files = m.files();
    for (std::size_t i = 0; i < files.size(); ++i) {
        FUZZ_CHECK(bundle::is_safe_path(files[i].path));
        if (i > 0) FUZZ_CHECK(files[i - 1].path < files[i].path);
    }

    bundle::ManifestDraft draft{
        m.bundle_id(),        m.created(), m.device_key(), m.case_id(),   m.case_title(),
        m.case_description(), {},          m.custody(),    m.sha256sums()};
    for (const auto& item : m.items()) {
        auto obj = nlohmann::json::parse(item.json, nullptr, false);
        FUZZ_CHECK(obj.is_object());
        obj.erase("attachment");
        draft.items.push_back({item.id, obj.dump(), item.attachment});
    }
    auto rebuilt = bundle::BundleManifest::create(draft);
    FUZZ_CHECK(rebuilt.ok());
    FUZZ_CHECK(rebuilt->bytes() == m.bytes());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (auto manifest = bundle::BundleManifest::parse(bytes)) check_manifest(*manifest, bytes);

    if (auto lines = bundle::parse_sha256sums(text)) {
        std::vector<bundle::FileRecord> records;
        for (const auto& line : *lines) {
            FUZZ_CHECK(bundle::is_safe_path(line.path));
            records.push_back({line.path, 0, line.sha256});
        }
        auto again = bundle::format_sha256sums(records);
        FUZZ_CHECK(again.ok() && *again == text);
    }

    if (auto statement = bundle::EnvelopeStatement::parse(text)) {
        FUZZ_CHECK(statement->to_string() == text);
        FUZZ_CHECK(bundle::is_bundle_id(statement->bundle_id));
        FUZZ_CHECK(bundle::is_rfc3339_utc(statement->created));
    }
    return 0;
}
