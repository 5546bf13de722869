#include "custodia/core/note.h"

#include <algorithm>
#include <array>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"

namespace custodia::core {
namespace {

using crypto::as_bytes;
namespace nf = note_format;

constexpr std::size_t kKeyIdBytes = 4;
constexpr std::size_t kTimestampBytes = 8;
constexpr std::size_t kEd25519SignatureBytes = 64;
constexpr std::size_t kEd25519PublicKeyBytes = 32;

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i,
// or returns -1 for anything Go's utf8.DecodeRune would call RuneError:
// overlong forms, surrogates, values past U+10FFFF, truncation.
long decode_utf8(std::string_view s, std::size_t& i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    std::size_t len;
    long cp;
    long min;
    if ((b0 & 0xE0) == 0xC0) {
        len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (s.size() - i < len) return -1;
    for (std::size_t k = 1; k < len; ++k) {
        const unsigned char b = byte(i + k);
        if ((b & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += len;
    return cp;
}

// Unicode White_Space, as Go's unicode.IsSpace sees it.
bool is_unicode_space(long cp) noexcept {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

// signed-note: valid UTF-8, and no control character but the newline.
bool is_clean_note_text(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const long cp = decode_utf8(s, i);
        if (cp < 0 || (cp < 0x20 && cp != '\n')) return false;
    }
    return true;
}

Status check_note_text(std::string_view text) {
    if (text.size() > nf::kMaxNoteBytes) return make_error(Errc::limit, "note too large");
    if (text.empty() || text.back() != '\n')
        return make_error(Errc::malformed, "note text must end with a newline");
    if (!is_clean_note_text(text))
        return make_error(Errc::malformed, "note text is not UTF-8 without control characters");
    return {};
}

std::uint32_t read_be32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::uint64_t read_be64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < 8; ++k) v = v << 8 | p[k];
    return v;
}

void append_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append_be64(std::vector<std::uint8_t>& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::string key_id_hex(NoteKeyId id) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(8, '0');
    for (std::size_t k = 0; k < 8; ++k) out[7 - k] = kDigits[(id >> (4 * k)) & 0xF];
    return out;
}

std::optional<NoteKeyId> parse_key_id_hex(std::string_view hex) noexcept {
    // Lower case only: that is what every implementation writes, and it keeps
    // a parsed key's text identical to to_string().
    if (hex.size() != 8) return std::nullopt;
    NoteKeyId id = 0;
    for (char c : hex) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else
            return std::nullopt;
        id = id << 4 | static_cast<NoteKeyId>(v);
    }
    return id;
}

Result<NoteSignature> parse_signature_line(std::string_view line) {
    if (!line.starts_with(nf::kSignatureLinePrefix))
        return make_error(Errc::malformed, "signature line does not start with an em dash");
    line.remove_prefix(nf::kSignatureLinePrefix.size());
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos)
        return make_error(Errc::malformed, "signature line has no signature");
    const std::string_view name = line.substr(0, space);
    const std::string_view b64 = line.substr(space + 1);
    if (!is_valid_note_key_name(name))
        return make_error(Errc::malformed, "signature line has an invalid key name");
    std::optional<std::vector<std::uint8_t>> raw = crypto::from_base64(b64, true);
    if (!raw || raw->size() <= kKeyIdBytes)
        return make_error(Errc::malformed,
                          "signature line is not base64 of a key ID and signature");
    NoteSignature sig;
    sig.name = std::string(name);
    sig.key_id = read_be32(raw->data());
    sig.signature.assign(raw->begin() + kKeyIdBytes, raw->end());
    return sig;
}

bool is_decimal_uint64(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty() || s.size() > 20) return false;
    if (s.size() > 1 && s[0] == '0') return false;  // no leading zeros
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

}  // namespace

bool is_valid_note_key_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size();) {
        const long cp = decode_utf8(name, i);
        if (cp < 0 || cp < 0x20 || cp == '+' || is_unicode_space(cp)) return false;
    }
    return true;
}

NoteKeyId note_key_id(std::string_view name, NoteSignatureType type,
                      const crypto::Ed25519PublicKey& public_key) {
    crypto::Sha256 h;
    h.update(name);
    const std::uint8_t sep_and_type[2] = {0x0A, static_cast<std::uint8_t>(type)};
    h.update(std::span<const std::uint8_t>(sep_and_type, 2));
    h.update(public_key);
    const crypto::Sha256Digest digest = h.finish();
    return read_be32(digest.data());
}

// ---------------------------------------------------------------------------
// Notes

std::string NoteSignature::line() const {
    std::vector<std::uint8_t> raw;
    raw.reserve(kKeyIdBytes + signature.size());
    append_be32(raw, key_id);
    raw.insert(raw.end(), signature.begin(), signature.end());
    std::string out(nf::kSignatureLinePrefix);
    out += name;
    out += ' ';
    out += crypto::to_base64(raw, true);
    out += '\n';
    return out;
}

Result<SignedNote> SignedNote::from_text(std::string text) {
    if (Status s = check_note_text(text); !s) return std::move(s).error();
    SignedNote note;
    note.text_ = std::move(text);
    return note;
}

Result<SignedNote> SignedNote::parse(std::string_view encoded) {
    if (encoded.size() > nf::kMaxNoteBytes) return make_error(Errc::limit, "note too large");
    if (!is_clean_note_text(encoded))
        return make_error(Errc::malformed, "note is not UTF-8 without control characters");
    // The text ends at the last blank line: signature lines are never empty.
    const std::size_t split = encoded.rfind("\n\n");
    if (split == std::string_view::npos)
        return make_error(Errc::malformed, "note has no blank line before its signatures");
    std::string_view sigs = encoded.substr(split + 2);
    if (sigs.empty() || sigs.back() != '\n')
        return make_error(Errc::malformed, "note has no signature lines");

    SignedNote note;
    note.text_ = std::string(encoded.substr(0, split + 1));
    while (!sigs.empty()) {
        if (note.signatures_.size() == nf::kMaxSignatures)
            return make_error(Errc::limit, "note has too many signatures");
        const std::size_t eol = sigs.find('\n');  // present: sigs ends with '\n'
        Result<NoteSignature> sig = parse_signature_line(sigs.substr(0, eol));
        if (!sig) return std::move(sig).error();
        note.signatures_.push_back(std::move(sig).value());
        sigs.remove_prefix(eol + 1);
    }
    return note;
}

Status SignedNote::add_signature(NoteSignature signature) {
    if (!is_valid_note_key_name(signature.name))
        return make_error(Errc::malformed, "invalid key name");
    if (signature.signature.empty()) return make_error(Errc::malformed, "empty signature");
    std::erase_if(signatures_, [&](const NoteSignature& s) {
        return s.name == signature.name && s.key_id == signature.key_id;
    });
    if (signatures_.size() >= nf::kMaxSignatures)
        return make_error(Errc::limit, "note has too many signatures");
    signatures_.push_back(std::move(signature));
    return {};
}

std::string SignedNote::serialize() const {
    std::string out = text_;
    out += '\n';
    for (const NoteSignature& s : signatures_) out += s.line();
    return out;
}

// ---------------------------------------------------------------------------
// Verifier keys

Result<NoteVerifierKey> NoteVerifierKey::make(std::string_view name, NoteSignatureType type,
                                              const crypto::Ed25519PublicKey& public_key) {
    if (!is_valid_note_key_name(name)) return make_error(Errc::malformed, "invalid key name");
    if (type != NoteSignatureType::ed25519 && type != NoteSignatureType::cosignature_v1)
        return make_error(Errc::unsupported, "unsupported note signature type");
    NoteVerifierKey key;
    key.name_ = std::string(name);
    key.type_ = type;
    key.public_key_ = public_key;
    key.key_id_ = note_key_id(name, type, public_key);
    return key;
}

Result<NoteVerifierKey> NoteVerifierKey::parse(std::string_view vkey) {
    // The name cannot contain '+' and the key ID is hex, so the first two
    // '+' are the separators; the base64 part may hold more.
    const std::size_t p1 = vkey.find('+');
    if (p1 == std::string_view::npos)
        return make_error(Errc::malformed, "verifier key has no key ID");
    const std::size_t p2 = vkey.find('+', p1 + 1);
    if (p2 == std::string_view::npos) return make_error(Errc::malformed, "verifier key has no key");
    const std::string_view name = vkey.substr(0, p1);
    const std::optional<NoteKeyId> id = parse_key_id_hex(vkey.substr(p1 + 1, p2 - p1 - 1));
    std::optional<std::vector<std::uint8_t>> raw = crypto::from_base64(vkey.substr(p2 + 1), true);
    if (!is_valid_note_key_name(name) || !id || !raw || raw->empty())
        return make_error(Errc::malformed, "verifier key is not <name>+<hex key ID>+<base64 key>");
    const std::uint8_t type = (*raw)[0];
    if (type != static_cast<std::uint8_t>(NoteSignatureType::ed25519) &&
        type != static_cast<std::uint8_t>(NoteSignatureType::cosignature_v1))
        return make_error(Errc::unsupported, "verifier key of an unsupported signature type");
    if (raw->size() != 1 + kEd25519PublicKeyBytes)
        return make_error(Errc::malformed, "verifier key is not a 32-byte Ed25519 key");
    crypto::Ed25519PublicKey pk{};
    std::copy(raw->begin() + 1, raw->end(), pk.begin());
    Result<NoteVerifierKey> key = make(name, static_cast<NoteSignatureType>(type), pk);
    if (!key) return key;
    if (key->key_id() != *id)
        return make_error(Errc::malformed, "verifier key's key ID does not match its name and key");
    return key;
}

std::string NoteVerifierKey::to_string() const {
    std::vector<std::uint8_t> raw;
    raw.reserve(1 + public_key_.size());
    raw.push_back(static_cast<std::uint8_t>(type_));
    raw.insert(raw.end(), public_key_.begin(), public_key_.end());
    return name_ + "+" + key_id_hex(key_id_) + "+" + crypto::to_base64(raw, true);
}

bool NoteVerifierKey::verify(std::string_view text, std::span<const std::uint8_t> signature) const {
    crypto::Ed25519Signature sig{};
    switch (type_) {
        case NoteSignatureType::ed25519:
            if (signature.size() != kEd25519SignatureBytes) return false;
            std::copy(signature.begin(), signature.end(), sig.begin());
            return crypto::verify_ed25519(public_key_, as_bytes(text), sig);
        case NoteSignatureType::cosignature_v1: {
            if (signature.size() != kTimestampBytes + kEd25519SignatureBytes) return false;
            const std::uint64_t timestamp = read_be64(signature.data());
            if (timestamp > nf::kMaxCosignatureTimestamp) return false;
            if (!Checkpoint::parse(text)) return false;
            std::copy(signature.begin() + kTimestampBytes, signature.end(), sig.begin());
            return crypto::verify_ed25519(public_key_,
                                          as_bytes(cosignature_v1_message(text, timestamp)), sig);
        }
    }
    return false;
}

// ---------------------------------------------------------------------------
// Signing and verification

Status sign_note_ed25519(SignedNote& note, std::string_view name,
                         const crypto::Ed25519SecretKey& key) {
    if (!is_valid_note_key_name(name)) return make_error(Errc::malformed, "invalid key name");
    const crypto::Ed25519Signature sig = key.sign_ed25519(as_bytes(note.text()));
    NoteSignature line;
    line.name = std::string(name);
    line.key_id = note_key_id(name, NoteSignatureType::ed25519, key.public_key());
    line.signature.assign(sig.begin(), sig.end());
    return note.add_signature(std::move(line));
}

std::string cosignature_v1_message(std::string_view checkpoint_text, std::uint64_t timestamp) {
    std::string msg(nf::kCosignatureV1Header);
    msg += nf::kCosignatureV1TimePrefix;
    msg += std::to_string(timestamp);
    msg += '\n';
    msg += checkpoint_text;
    return msg;
}

Status cosign_checkpoint_v1(SignedNote& note, std::string_view name,
                            const crypto::Ed25519SecretKey& key, std::uint64_t timestamp) {
    if (!is_valid_note_key_name(name)) return make_error(Errc::malformed, "invalid key name");
    if (timestamp > nf::kMaxCosignatureTimestamp)
        return make_error(Errc::malformed, "cosignature timestamp beyond 2^63 - 1");
    if (Result<Checkpoint> cp = Checkpoint::parse(note.text()); !cp) return std::move(cp).error();
    const crypto::Ed25519Signature sig =
        key.sign_ed25519(as_bytes(cosignature_v1_message(note.text(), timestamp)));
    NoteSignature line;
    line.name = std::string(name);
    line.key_id = note_key_id(name, NoteSignatureType::cosignature_v1, key.public_key());
    append_be64(line.signature, timestamp);
    line.signature.insert(line.signature.end(), sig.begin(), sig.end());
    return note.add_signature(std::move(line));
}

Result<std::vector<VerifiedNoteSignature>> verify_note(const SignedNote& note,
                                                       std::span<const NoteVerifierKey> known) {
    for (std::size_t a = 0; a < known.size(); ++a)
        for (std::size_t b = a + 1; b < known.size(); ++b)
            if (known[a].name() == known[b].name() && known[a].key_id() == known[b].key_id())
                return make_error(Errc::malformed, "two trusted keys share the name and key ID " +
                                                       known[a].name() + "+" +
                                                       key_id_hex(known[a].key_id()));
    std::vector<VerifiedNoteSignature> verified;
    for (const NoteSignature& sig : note.signatures()) {
        const auto key = std::find_if(known.begin(), known.end(), [&](const NoteVerifierKey& k) {
            return k.name() == sig.name && k.key_id() == sig.key_id;
        });
        if (key == known.end()) continue;  // unknown keys are ignored, as signed-note says
        if (!key->verify(note.text(), sig.signature))
            return make_error(Errc::auth_failed, "signature by " + sig.name + "+" +
                                                     key_id_hex(sig.key_id) + " does not verify");
        const bool seen = std::any_of(verified.begin(), verified.end(), [&](const auto& v) {
            return v.name == sig.name && v.key_id == sig.key_id;
        });
        if (seen) continue;
        VerifiedNoteSignature v;
        v.name = sig.name;
        v.key_id = sig.key_id;
        v.type = key->type();
        if (key->type() == NoteSignatureType::cosignature_v1)
            v.timestamp = read_be64(sig.signature.data());
        verified.push_back(std::move(v));
    }
    if (verified.empty()) return make_error(Errc::no_matching_key, "no signature by a trusted key");
    return verified;
}

// ---------------------------------------------------------------------------
// Checkpoints

Result<Checkpoint> Checkpoint::parse(std::string_view text) {
    if (Status s = check_note_text(text); !s) return std::move(s).error();
    std::vector<std::string_view> lines;
    for (std::string_view rest = text; !rest.empty();) {
        const std::size_t eol = rest.find('\n');  // present: text ends with '\n'
        if (eol == 0) return make_error(Errc::malformed, "checkpoint has an empty line");
        lines.push_back(rest.substr(0, eol));
        rest.remove_prefix(eol + 1);
    }
    if (lines.size() < 3)
        return make_error(Errc::malformed, "checkpoint needs origin, size and root hash lines");
    Checkpoint cp;
    cp.origin = std::string(lines[0]);
    if (!is_decimal_uint64(lines[1], cp.size))
        return make_error(Errc::malformed, "checkpoint tree size is not a canonical decimal");
    std::optional<std::vector<std::uint8_t>> root = crypto::from_base64(lines[2], true);
    if (!root || root->size() != cp.root.size())
        return make_error(Errc::malformed, "checkpoint root is not base64 of 32 bytes");
    std::copy(root->begin(), root->end(), cp.root.begin());
    for (std::size_t i = 3; i < lines.size(); ++i) cp.extensions.emplace_back(lines[i]);
    return cp;
}

Result<std::string> Checkpoint::to_text() const {
    std::string text =
        origin + "\n" + std::to_string(size) + "\n" + crypto::to_base64(root, true) + "\n";
    for (const std::string& e : extensions) text += e + "\n";
    // Parsing back and comparing is the simplest complete check that no field
    // breaks the line structure (empty, embedded newline, control character).
    Result<Checkpoint> back = parse(text);
    if (!back) return std::move(back).error();
    if (back->origin != origin || back->extensions != extensions)
        return make_error(Errc::malformed, "checkpoint origin or extension spans lines");
    return text;
}

}  // namespace custodia::core
