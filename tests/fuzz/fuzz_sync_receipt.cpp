// The texts a device reads from an intake server: receipt and enrolment
// answer (strict, canonical: what parses re-serialises to the same bytes),
// and the four request-authentication headers (one per line).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/sync/receipt.h"
#include "custodia/sync/request_auth.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto receipt = custodia::sync::Receipt::from_note_text(text)) {
        const auto back = receipt->to_note_text();
        FUZZ_CHECK(back.ok());
        FUZZ_CHECK(*back == text);
    }
    if (const auto answer = custodia::sync::EnrolmentAnswer::from_note_text(text)) {
        const auto back = answer->to_note_text();
        FUZZ_CHECK(back.ok());
        FUZZ_CHECK(*back == text);
    }
    std::vector<std::string_view> lines;
    std::string_view rest = text;
    while (lines.size() < 4) {
        const auto nl = rest.find('\n');
        lines.push_back(rest.substr(0, nl));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
    if (lines.size() == 4) {
        const auto auth =
            custodia::sync::parse_request_auth(lines[0], lines[1], lines[2], lines[3]);
        if (auth) {
            FUZZ_CHECK(auth->device_hex == lines[0]);
            FUZZ_CHECK(std::to_string(auth->time) == lines[1]);
            FUZZ_CHECK(auth->nonce == lines[2]);
        }
    }
    return 0;
}
