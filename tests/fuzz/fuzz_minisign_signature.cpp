// minisign::Signature::parse on arbitrary text; what parses must serialize to
// text that parses to the same signature and serializes identically.
#include <cstdint>
#include <string_view>

#include "custodia/crypto/minisign.h"
#include "fuzz_check.h"

namespace minisign = custodia::crypto::minisign;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto sig = minisign::Signature::parse(text);
    if (!sig) {
        return 0;
    }
    const std::string serialized = sig->serialize();
    const auto again = minisign::Signature::parse(serialized);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->prehashed() == sig->prehashed());
    FUZZ_CHECK(again->key_id() == sig->key_id());
    FUZZ_CHECK(again->untrusted_comment() == sig->untrusted_comment());
    FUZZ_CHECK(again->trusted_comment() == sig->trusted_comment());
    FUZZ_CHECK(again->serialize() == serialized);
    return 0;
}
