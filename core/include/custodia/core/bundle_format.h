// The sealed bundle's inner formats (docs/FORMAT.md, "Sealed bundle"): the
// signed manifest, the SHA256SUMS file, the envelope statement, and the rules
// for names inside the tar. Writer and reader share these, so what one writes
// the other accepts, and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/result.h"

namespace custodia::core::bundle {

// Fixed names and versioned strings. Changing one makes a new format version.
inline constexpr std::string_view kFormat = "custodia.bundle/v1";
inline constexpr std::string_view kManifestCommentPrefix = "custodia.manifest/v1";
inline constexpr std::string_view kEnvelopeFormat = "custodia.envelope/v1";
inline constexpr std::string_view kManifestPath = "manifest.json";
inline constexpr std::string_view kSignaturePath = "manifest.json.minisig";
inline constexpr std::string_view kSumsPath = "SHA256SUMS";
inline constexpr std::string_view kCustodyDir = "custody";
inline constexpr std::string_view kFilesDir = "files";
inline constexpr std::string_view kBundleExtension = ".custodia";
inline constexpr std::string_view kEnvelopeExtension = ".envelope";

// A sanitised name is at most this many bytes of UTF-8.
inline constexpr std::size_t kMaxNameBytes = 200;
// What a reader accepts for one path segment and for a whole path.
inline constexpr std::size_t kMaxSegmentBytes = 255;
inline constexpr std::size_t kMaxPathBytes = 1024;
inline constexpr std::size_t kMaxPathDepth = 8;
inline constexpr std::size_t kMaxJsonDepth = 64;

// Turns an original file name into one path segment that is safe in a tar,
// on a file system and in a SHA256SUMS line: '/', '\\', control characters
// (C0, DEL, C1), U+2028/U+2029 and invalid UTF-8 become '_'; surrounding
// spaces are trimmed; "", "." and ".." become "file"; names longer than
// kMaxNameBytes are cut at a character boundary, keeping an extension of up
// to 16 bytes. Other Unicode is kept as it is.
std::string sanitize_file_name(std::string_view original);
// `name` if not in `taken`, else "stem (2).ext", "stem (3).ext", …, still
// within kMaxNameBytes.
std::string unique_file_name(const std::string& name, std::span<const std::string> taken);

// One segment a reader accepts: valid UTF-8, 1..kMaxSegmentBytes, none of
// the characters sanitize_file_name replaces, not "." or "..".
bool is_safe_segment(std::string_view segment);
// Relative, '/'-separated safe segments, no empty segment, at most
// kMaxPathBytes and kMaxPathDepth segments.
bool is_safe_path(std::string_view path);

// The trusted comment of manifest.json.minisig.
std::string manifest_trusted_comment(std::string_view bundle_id);

// One file of the bundle besides the manifest, its signature and SHA256SUMS.
struct FileRecord {
    std::string path;  // "custody/…" or "files/<item id>/<name>"
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
    friend bool operator==(const FileRecord&, const FileRecord&) = default;
};

// SHA256SUMS: "<64 lower-case hex>  <path>\n" per file, sorted by path bytes,
// as `sha256sum -c` reads it. Records must have distinct, safe paths.
Result<std::string> format_sha256sums(std::vector<FileRecord> files);
struct SumsLine {
    std::string path;
    crypto::Sha256Digest sha256{};
};
// Strict: exactly the form above, strictly ascending, safe paths.
Result<std::vector<SumsLine>> parse_sha256sums(std::string_view text);

struct ManifestAttachment {
    std::string path;  // files/<item id>/<sanitised name>
    std::string name;  // the original name (invalid UTF-8 replaced by U+FFFD)
    std::string mime;
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
};

struct ManifestItem {
    std::string id;
    std::string json;  // the whole item object, canonical JSON
    std::optional<ManifestAttachment> attachment;
};

// What a writer puts into a manifest. Item JSON is the caller's object; the
// writer adds "id" and "attachment" to it.
struct ManifestDraft {
    std::string bundle_id;  // 32 lower-case hex
    std::string created;    // RFC 3339, UTC, whole seconds
    crypto::minisign::PublicKey device_key;
    std::string case_id;
    std::string case_title;
    std::string case_description;
    struct Item {
        std::string id;
        std::string json;  // a JSON object without "attachment"; "id", if present, must match
        std::optional<ManifestAttachment> attachment;
    };
    std::vector<Item> items;
    std::vector<FileRecord> custody;
    crypto::Sha256Digest sha256sums{};
};

// manifest.json. Canonical JSON: keys sorted by their UTF-8 bytes, no
// whitespace outside strings, strings in UTF-8 with only the escapes JSON
// requires (\" \\ \b \f \n \r \t, \u00XX for other controls), integers in
// plain decimal, one "\n" at the end. A manifest parses only if its bytes are
// exactly that form, so it has one encoding and re-serialises identically.
class BundleManifest {
  public:
    static Result<BundleManifest> create(const ManifestDraft& draft);
    static Result<BundleManifest> parse(std::span<const std::uint8_t> bytes);

    const std::string& bytes() const noexcept { return bytes_; }
    const std::string& bundle_id() const noexcept { return bundle_id_; }
    const std::string& created() const noexcept { return created_; }
    const crypto::minisign::PublicKey& device_key() const noexcept { return device_key_; }
    const std::string& case_id() const noexcept { return case_id_; }
    const std::string& case_title() const noexcept { return case_title_; }
    const std::string& case_description() const noexcept { return case_description_; }
    const std::vector<ManifestItem>& items() const noexcept { return items_; }
    const std::vector<FileRecord>& custody() const noexcept { return custody_; }
    const crypto::Sha256Digest& sha256sums() const noexcept { return sha256sums_; }
    // Every file SHA256SUMS must list (custody files and attachments), by path.
    std::vector<FileRecord> files() const;

  private:
    explicit BundleManifest(const crypto::minisign::PublicKey& key) : device_key_(key) {}
    std::string bytes_;
    std::string bundle_id_;
    std::string created_;
    crypto::minisign::PublicKey device_key_;
    std::string case_id_;
    std::string case_title_;
    std::string case_description_;
    std::vector<ManifestItem> items_;
    std::vector<FileRecord> custody_;
    crypto::Sha256Digest sha256sums_{};
};

// The trusted comment of <id>.custodia.envelope:
// "custodia.envelope/v1 bundle=<id> sha256=<hex> size=<n> device=<key id> created=<RFC 3339>"
struct EnvelopeStatement {
    std::string bundle_id;
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;
    std::string device_key_id;  // as `minisign` prints it: 16 upper-case hex
    std::string created;
    std::string to_string() const;
    // Only the exact form to_string() writes.
    static Result<EnvelopeStatement> parse(std::string_view text);
};

bool is_bundle_id(std::string_view text);
// "YYYY-MM-DDTHH:MM:SSZ" exactly: UTC, whole seconds, from 1970.
bool is_rfc3339_utc(std::string_view text);
std::string format_rfc3339_utc(std::int64_t unix_ms);  // rounds down to the second

}  // namespace custodia::core::bundle
