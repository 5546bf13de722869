// Signed notes, checkpoints and cosignatures: the custody log's tree heads in
// the C2SP formats, so that anyone can check them with the Go ecosystem's
// tools (golang.org/x/mod/sumdb/note, transparency-dev) as well as ours.
//
//   c2sp.org/signed-note      text ending in "\n", a blank line, then lines
//                             "— <key name> base64(key ID[4] || signature)\n"
//   c2sp.org/tlog-checkpoint  text = origin, decimal tree size, base64 root,
//                             optional extension lines
//   c2sp.org/tlog-cosignature signature type 0x04: base64(key ID[4] ||
//                             timestamp[8, big-endian] || Ed25519[64]) over
//                             "cosignature/v1\ntime <timestamp>\n" || text
//
// Parsing is strict and total (the parsers are fuzzed): a note that parses
// re-serialises to the same bytes, and anything else is Errc::malformed or
// Errc::limit. A note's text means nothing until verify_note says a known key
// signed it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/merkle.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"

namespace custodia::core {

// Every fixed string and number of the three formats, in one place.
namespace note_format {
// U+2014 EM DASH and a space open every signature line.
inline constexpr std::string_view kSignatureLinePrefix = "\xE2\x80\x94 ";
// tlog-cosignature: the Ed25519 signed message starts with these two lines.
inline constexpr std::string_view kCosignatureV1Header = "cosignature/v1\n";
inline constexpr std::string_view kCosignatureV1TimePrefix = "time ";
// signed-note asks verifiers to accept at least 16 signatures and to bound
// the rest; golang.org/x/mod/sumdb/note stops at 100.
inline constexpr std::size_t kMaxSignatures = 100;
inline constexpr std::size_t kMaxNoteBytes = std::size_t{1} << 20;
// tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1.
inline constexpr std::uint64_t kMaxCosignatureTimestamp = (std::uint64_t{1} << 63) - 1;
}  // namespace note_format

// signed-note signature type identifier bytes (the ones Custodia uses).
enum class NoteSignatureType : std::uint8_t {
    ed25519 = 0x01,         // c2sp.org/signed-note Ed25519
    cosignature_v1 = 0x04,  // c2sp.org/tlog-cosignature, timestamped Ed25519
};

// The first four bytes of SHA-256(name || 0x0A || type || public key), read
// big-endian.
using NoteKeyId = std::uint32_t;

// Key names are non-empty UTF-8 with no Unicode space, no '+' and (our
// addition, since no note may carry one) no control character.
bool is_valid_note_key_name(std::string_view name) noexcept;

NoteKeyId note_key_id(std::string_view name, NoteSignatureType type,
                      const crypto::Ed25519PublicKey& public_key);

// One signature line as it appears in a note, verified or not.
struct NoteSignature {
    std::string name;
    NoteKeyId key_id = 0;
    std::vector<std::uint8_t> signature;  // the bytes after the key ID

    std::string line() const;  // "— <name> <base64>\n"
};

class SignedNote {
  public:
    // A note with no signatures yet. The text must end in "\n", be valid
    // UTF-8 and hold no control character other than "\n".
    [[nodiscard]] static Result<SignedNote> from_text(std::string text);

    // A complete signed note: text, blank line, at least one signature line.
    // Signatures are not checked here; that is verify_note's job.
    [[nodiscard]] static Result<SignedNote> parse(std::string_view encoded);

    const std::string& text() const noexcept { return text_; }
    const std::vector<NoteSignature>& signatures() const noexcept { return signatures_; }

    // Appends a signature line, replacing any earlier line with the same key
    // name and key ID (re-signing never duplicates a line).
    [[nodiscard]] Status add_signature(NoteSignature signature);

    // text, "\n", then the signature lines in order. Exactly the bytes parse()
    // read; a note without signatures serialises to something parse() refuses.
    std::string serialize() const;

  private:
    SignedNote() = default;
    std::string text_;
    std::vector<NoteSignature> signatures_;
};

// A trusted public key: "<name>+<8 hex digits of key ID>+<base64(type || key)>".
class NoteVerifierKey {
  public:
    [[nodiscard]] static Result<NoteVerifierKey> parse(std::string_view vkey);
    [[nodiscard]] static Result<NoteVerifierKey> make(std::string_view name, NoteSignatureType type,
                                                      const crypto::Ed25519PublicKey& public_key);

    std::string to_string() const;
    const std::string& name() const noexcept { return name_; }
    NoteKeyId key_id() const noexcept { return key_id_; }
    NoteSignatureType type() const noexcept { return type_; }
    const crypto::Ed25519PublicKey& public_key() const noexcept { return public_key_; }

    // Whether `signature` (the bytes after the key ID) is this key's
    // signature of `text`, by the rules of the key's type. A cosignature
    // also needs `text` to be a checkpoint.
    [[nodiscard]] bool verify(std::string_view text, std::span<const std::uint8_t> signature) const;

  private:
    NoteVerifierKey() = default;
    std::string name_;
    NoteKeyId key_id_ = 0;
    NoteSignatureType type_ = NoteSignatureType::ed25519;
    crypto::Ed25519PublicKey public_key_{};
};

// Signs the note's text with Ed25519 (type 0x01) as `name`.
[[nodiscard]] Status sign_note_ed25519(SignedNote& note, std::string_view name,
                                       const crypto::Ed25519SecretKey& key);

// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint text.
std::string cosignature_v1_message(std::string_view checkpoint_text, std::uint64_t timestamp);

// Cosigns a checkpoint note (type 0x04) as `name` at `timestamp` (POSIX
// seconds, from the caller's clock). Fails unless the text is a checkpoint.
[[nodiscard]] Status cosign_checkpoint_v1(SignedNote& note, std::string_view name,
                                          const crypto::Ed25519SecretKey& key,
                                          std::uint64_t timestamp);

struct VerifiedNoteSignature {
    std::string name;
    NoteKeyId key_id = 0;
    NoteSignatureType type = NoteSignatureType::ed25519;
    std::optional<std::uint64_t> timestamp;  // cosignatures only
};

// signed-note verification: lines whose (name, key ID) match no known key are
// ignored; every line that matches one must verify (else Errc::auth_failed);
// at least one must (else Errc::no_matching_key). Two known keys with the same
// name and key ID are a configuration error (Errc::malformed). Returns each
// verified key once, in note order.
[[nodiscard]] Result<std::vector<VerifiedNoteSignature>> verify_note(
    const SignedNote& note, std::span<const NoteVerifierKey> known);

// A tlog-checkpoint note text.
struct Checkpoint {
    std::string origin;
    std::uint64_t size = 0;
    MerkleHash root{};
    std::vector<std::string> extensions;  // opaque, non-empty lines

    [[nodiscard]] static Result<Checkpoint> parse(std::string_view text);
    // The note text; fails if a field could not be parsed back (empty or
    // multi-line origin or extension, control characters).
    [[nodiscard]] Result<std::string> to_text() const;
};

}  // namespace custodia::core
