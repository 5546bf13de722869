// Text encodings used by the formats: hex, base64 (RFC 4648, canonical, with
// or without padding) and Bech32 (BIP 173, without its 90-character limit, as
// age uses it).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace custodia::crypto {

std::string to_hex(std::span<const std::uint8_t> bytes);
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex);

std::string to_base64(std::span<const std::uint8_t> bytes, bool padded);
// Rejects non-alphabet characters, wrong padding and non-zero trailing bits,
// so every accepted string is the unique encoding of its bytes.
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text, bool padded);

// Encodes with a lower-case human-readable part; the caller upper-cases the
// result where the format wants that (age identities).
std::string to_bech32(std::string_view hrp, std::span<const std::uint8_t> data);

struct Bech32Decoded {
    std::string hrp;  // lower case
    std::vector<std::uint8_t> data;
};
// Accepts all-lower or all-upper case; mixed case, bad checksum or non-zero
// padding bits are rejected.
std::optional<Bech32Decoded> from_bech32(std::string_view text);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace custodia::crypto
