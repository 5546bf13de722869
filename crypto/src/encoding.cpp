#include "custodia/crypto/encoding.h"

#include <array>

namespace custodia::crypto {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBech32Alphabet[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::uint32_t bech32_polymod(const std::vector<std::uint8_t>& values) {
    constexpr std::array<std::uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
                                                         0x3d4233dd, 0x2a1462b3};
    std::uint32_t chk = 1;
    for (std::uint8_t v : values) {
        std::uint32_t top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v;
        for (int i = 0; i < 5; ++i)
            if ((top >> i) & 1) chk ^= kGenerator[static_cast<std::size_t>(i)];
    }
    return chk;
}

std::vector<std::uint8_t> bech32_hrp_expand(std::string_view hrp) {
    std::vector<std::uint8_t> out;
    out.reserve(hrp.size() * 2 + 1);
    for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
    out.push_back(0);
    for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) & 31));
    return out;
}

// Regroups bits; with pad=false, leftover bits must be fewer than from_bits and zero.
std::optional<std::vector<std::uint8_t>> convert_bits(std::span<const std::uint8_t> in,
                                                      int from_bits, int to_bits, bool pad) {
    std::uint32_t acc = 0;
    int bits = 0;
    const std::uint32_t maxv = (1u << to_bits) - 1;
    std::vector<std::uint8_t> out;
    for (std::uint8_t v : in) {
        if ((v >> from_bits) != 0) return std::nullopt;
        acc = (acc << from_bits) | v;
        bits += from_bits;
        while (bits >= to_bits) {
            bits -= to_bits;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & maxv));
        }
    }
    if (pad) {
        if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to_bits - bits)) & maxv));
    } else if (bits >= from_bits || ((acc << (to_bits - bits)) & maxv) != 0) {
        return std::nullopt;
    }
    return out;
}
}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out.push_back(kHexDigits[b >> 4]);
        out.push_back(kHexDigits[b & 15]);
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::vector<std::uint8_t> out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::string to_base64(std::span<const std::uint8_t> bytes, bool padded) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t v =
            std::uint32_t{bytes[i]} << 16 | std::uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
        for (int s = 18; s >= 0; s -= 6) out.push_back(kBase64Alphabet[(v >> s) & 63]);
    }
    std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        if (rest == 2) v |= std::uint32_t{bytes[i + 1]} << 8;
        out.push_back(kBase64Alphabet[(v >> 18) & 63]);
        out.push_back(kBase64Alphabet[(v >> 12) & 63]);
        if (rest == 2) out.push_back(kBase64Alphabet[(v >> 6) & 63]);
        if (padded) out.append(rest == 1 ? "==" : "=");
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text, bool padded) {
    if (padded) {
        if (text.size() % 4 != 0) return std::nullopt;
        std::size_t pad = 0;
        while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
        text.remove_suffix(pad);
    }
    if (text.size() % 4 == 1) return std::nullopt;
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = base64_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return std::nullopt;  // non-zero trailing bits: not the canonical encoding
    return out;
}

std::string to_bech32(std::string_view hrp, std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> values = *convert_bits(data, 8, 5, true);
    std::vector<std::uint8_t> check = bech32_hrp_expand(hrp);
    check.insert(check.end(), values.begin(), values.end());
    check.insert(check.end(), 6, 0);
    std::uint32_t mod = bech32_polymod(check) ^ 1;
    std::string out(hrp);
    out.push_back('1');
    for (std::uint8_t v : values) out.push_back(kBech32Alphabet[v]);
    for (int i = 0; i < 6; ++i) out.push_back(kBech32Alphabet[(mod >> (5 * (5 - i))) & 31]);
    return out;
}

std::optional<Bech32Decoded> from_bech32(std::string_view text) {
    bool lower = false, upper = false;
    for (char c : text) {
        if (c < 33 || c > 126) return std::nullopt;
        lower |= (c >= 'a' && c <= 'z');
        upper |= (c >= 'A' && c <= 'Z');
    }
    if (lower && upper) return std::nullopt;
    std::size_t sep = text.rfind('1');
    if (sep == std::string_view::npos || sep == 0 || sep + 7 > text.size()) return std::nullopt;
    Bech32Decoded out;
    for (char c : text.substr(0, sep))
        out.hrp.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    std::vector<std::uint8_t> values;
    for (char c : text.substr(sep + 1)) {
        char lc = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        const char* pos = nullptr;
        for (const char* p = kBech32Alphabet; *p; ++p)
            if (*p == lc) pos = p;
        if (pos == nullptr) return std::nullopt;
        values.push_back(static_cast<std::uint8_t>(pos - kBech32Alphabet));
    }
    std::vector<std::uint8_t> check = bech32_hrp_expand(out.hrp);
    check.insert(check.end(), values.begin(), values.end());
    if (bech32_polymod(check) != 1) return std::nullopt;
    values.resize(values.size() - 6);
    auto data = convert_bits(values, 5, 8, false);
    if (!data) return std::nullopt;
    out.data = std::move(*data);
    return out;
}

}  // namespace custodia::crypto
