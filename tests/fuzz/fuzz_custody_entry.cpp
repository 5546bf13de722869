// decode_custody_entry on arbitrary bytes (a bundle's custody entries come
// from outside): no crash, and whatever decodes re-encodes to the same bytes,
// so one entry has one encoding and one leaf hash. Its details text, when it
// parses, is rebuilt byte for byte by CustodyDetails::add.
#include <cstdint>
#include <span>
#include <string_view>

#include "custodia/core/custody_entry.h"
#include "fuzz_check.h"

using namespace custodia::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    if (auto entry = decode_custody_entry(bytes)) {
        auto again = encode_custody_entry(*entry);
        FUZZ_CHECK(again.ok());
        FUZZ_CHECK(*again == entry->encoded);
        FUZZ_CHECK(std::equal(again->begin(), again->end(), bytes.begin(), bytes.end()));
    }
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto fields = CustodyDetails::parse(text)) {
        CustodyDetails rebuilt;
        for (const auto& [key, value] : *fields) rebuilt.add(key, value);
        FUZZ_CHECK(rebuilt.text() == text);
    }
    return 0;
}
