// age::Header::parse on arbitrary bytes. The header is canonical: whatever
// parses must serialize back to exactly the bytes it consumed, or two
// different files could carry the same header MAC input (age's
// FuzzMalleability property).
#include <cstdint>
#include <cstring>
#include <span>

#include "custodia/crypto/age.h"
#include "fuzz_check.h"

namespace age = custodia::crypto::age;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::size_t consumed = 0;
    const auto header = age::Header::parse(std::span<const std::uint8_t>(data, size), consumed);
    if (!header) {
        return 0;
    }
    FUZZ_CHECK(consumed <= size);
    const std::string serialized = header->serialize();
    FUZZ_CHECK(serialized.size() == consumed);
    FUZZ_CHECK(std::memcmp(serialized.data(), data, consumed) == 0);

    // The MAC covers the header up to and including "---", which is exactly
    // the serialized header without " <mac>\n".
    const std::string mac_input = header->mac_input();
    FUZZ_CHECK(mac_input.size() < serialized.size());
    FUZZ_CHECK(serialized.compare(0, mac_input.size(), mac_input) == 0);
    FUZZ_CHECK(mac_input.size() >= 3 && mac_input.compare(mac_input.size() - 3, 3, "---") == 0);

    std::size_t reconsumed = 0;
    const auto again = age::Header::parse(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(serialized.data()),
                                      serialized.size()),
        reconsumed);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(reconsumed == serialized.size());
    FUZZ_CHECK(again->stanzas() == header->stanzas());
    FUZZ_CHECK(again->mac() == header->mac());
    return 0;
}
