// sync::EnrolmentCode::parse on arbitrary text (what a QR scanner hands the
// app): what parses must encode to a code that parses to the same server,
// token and expiry, and that encoding must be stable.
#include <cstdint>
#include <string_view>

#include "custodia/sync/enrolment.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto code = custodia::sync::EnrolmentCode::parse(text);
    if (!code) return 0;
    const auto encoded = code->encode();
    const auto again = custodia::sync::EnrolmentCode::parse(encoded.view());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->server().url() == code->server().url());
    FUZZ_CHECK(again->server().name() == code->server().name());
    FUZZ_CHECK(again->server().key() == code->server().key());
    FUZZ_CHECK(again->token().equals(code->token().span()));
    FUZZ_CHECK(again->expires() == code->expires());
    FUZZ_CHECK(again->encode().view() == encoded.view());
    return 0;
}
