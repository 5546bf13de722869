// RecoveryKey::parse (core/vault_header.h): the text a person types from the
// sheet printed at setup. Whatever parses must be what the typed text says
// once the documented leniency is undone (case, '-' and spaces, Crockford's
// aliases O→0, I and L→1), so to_text() gives back the same 64 symbols, and
// that canonical text parses to the same key.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "custodia/core/vault_header.h"
#include "fuzz_check.h"

namespace core = custodia::core;

namespace {

// The typed text as the canonical symbols it stands for.
std::string canonical_symbols(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '-' || c == ' ') continue;
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (c == 'O') c = '0';
        if (c == 'I' || c == 'L') c = '1';
        out.push_back(c);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto key = core::RecoveryKey::parse(text);
    if (!key) return 0;
    FUZZ_CHECK(key->bytes().size() == core::RecoveryKey::kSize);
    const auto shown = key->to_text();
    const std::string_view shown_text = shown.view();
    FUZZ_CHECK(shown_text.size() == 69);
    for (std::size_t i = 0; i < shown_text.size(); ++i) {
        FUZZ_CHECK((i % 5 == 4) == (shown_text[i] == '-'));
    }
    FUZZ_CHECK(canonical_symbols(shown_text) == canonical_symbols(text));
    auto again = core::RecoveryKey::parse(shown_text);
    FUZZ_CHECK(again.ok() && again->bytes().equals(key->bytes().span()));
    return 0;
}
