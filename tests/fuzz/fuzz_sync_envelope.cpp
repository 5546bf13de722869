// sync::Envelope::parse on arbitrary text (an upload's envelope, as the
// intake server receives it): the statement in what parses re-serialises to
// exactly its trusted comment, and names the key that signed it.
#include <cstdint>
#include <string_view>

#include "custodia/sync/envelope.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto envelope = custodia::sync::Envelope::parse(text);
    if (!envelope) return 0;
    const auto comment = envelope->statement().to_trusted_comment();
    FUZZ_CHECK(comment.ok());
    FUZZ_CHECK(*comment == envelope->signature().trusted_comment());
    FUZZ_CHECK(envelope->signature().key_id() == envelope->statement().device);
    const auto again = custodia::sync::Envelope::parse(envelope->serialize());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->serialize() == envelope->serialize());
    return 0;
}
