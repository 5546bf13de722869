// minisign::PublicKey::parse on arbitrary text; what parses must survive a
// round trip through both of its text forms unchanged.
#include <cstdint>
#include <string_view>

#include "custodia/crypto/minisign.h"
#include "fuzz_check.h"

namespace minisign = custodia::crypto::minisign;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto key = minisign::PublicKey::parse(text);
    if (!key) {
        return 0;
    }
    const std::string line = key->to_base64();
    const auto from_line = minisign::PublicKey::parse(line);
    FUZZ_CHECK(from_line.ok());
    FUZZ_CHECK(from_line->key_id() == key->key_id());
    FUZZ_CHECK(from_line->key() == key->key());
    FUZZ_CHECK(from_line->to_base64() == line);

    const std::string file = key->to_file();
    const auto from_file = minisign::PublicKey::parse(file);
    FUZZ_CHECK(from_file.ok());
    FUZZ_CHECK(from_file->key_id() == key->key_id());
    FUZZ_CHECK(from_file->key() == key->key());
    FUZZ_CHECK(from_file->to_file() == file);
    return 0;
}
