// Opens and verifies a sealed bundle (docs/FORMAT.md "Sealed bundle"):
// age → zstd → tar, streamed, with every check reported on its own.
//
// The reader never stops at the first failure when later checks still say
// something: a bundle whose manifest signature fails still has its files
// checked against SHA256SUMS, and a file that fails to decrypt still has its
// envelope checked. Each check ends passed, failed (with reasons) or not run
// (with the reason it could not run).
//
// Safety while streaming: only regular files; names relative, without "..",
// without control characters, and listed in the manifest; no links, devices
// or FIFOs; bounded entry count, file and total sizes; and the decompressed
// stream may never exceed what the manifest declares (plus tar overhead), so
// a high-ratio zstd bomb is cut off after at most that many bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/bundle_format.h"
#include "custodia/core/progress.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

// Check names, stable for callers and tests.
namespace bundle_check {
inline constexpr std::string_view kDecrypt = "decrypt";        // age header, key, every chunk
inline constexpr std::string_view kDecompress = "decompress";  // zstd frames complete and intact
inline constexpr std::string_view kArchive = "archive";        // tar well formed, entry order
inline constexpr std::string_view kEntries = "entries";        // entry types and names are safe
inline constexpr std::string_view kLimits = "limits";      // counts, sizes, decompression budget
inline constexpr std::string_view kManifest = "manifest";  // canonical, valid v1 manifest
inline constexpr std::string_view kManifestSignature = "manifest_signature";
inline constexpr std::string_view kSha256Sums = "sha256sums";   // hash in manifest, same file set
inline constexpr std::string_view kFileHashes = "file_hashes";  // every file vs SHA256SUMS
inline constexpr std::string_view kUnlistedFiles = "no_unlisted_files";
inline constexpr std::string_view kMissingFiles = "no_missing_files";
inline constexpr std::string_view kEnvelope = "envelope";
}  // namespace bundle_check

enum class CheckOutcome { passed, failed, not_run };

struct BundleCheck {
    std::string name;
    CheckOutcome outcome = CheckOutcome::not_run;
    std::string detail;    // why it failed or did not run; what it checked when it passed
    bool required = true;  // a not-run optional check does not fail the bundle
};

enum class FileOutcome { verified, mismatch, missing, unlisted, rejected };

struct BundleFileResult {
    std::string path;
    std::uint64_t size = 0;  // as the bundle declares it
    FileOutcome outcome = FileOutcome::missing;
    std::string detail;
};

// A custody/* file's bytes, for the custody layer to check (entries,
// inclusion proofs, checkpoints). `verified` says they match SHA256SUMS.
struct CustodyFileBytes {
    std::string path;
    std::vector<std::uint8_t> bytes;
    bool verified = false;
};

enum class DeviceKeySource {
    none,           // no manifest, so no key
    caller,         // the key the caller trusts, checked against the manifest's
    self_asserted,  // the key the manifest names: proves integrity, not origin
};

struct BundleReport {
    std::vector<BundleCheck> checks;
    std::optional<bundle::BundleManifest> manifest;
    DeviceKeySource device_key_source = DeviceKeySource::none;
    std::vector<BundleFileResult> files;
    std::vector<CustodyFileBytes> custody_files;
    std::optional<bundle::EnvelopeStatement> envelope;
    std::uint64_t bundle_size = 0;  // bytes of the .custodia read

    // Every check passed, or is optional and did not run.
    bool ok() const;
    const BundleCheck* find(std::string_view name) const;
    // The names of the checks that failed, for messages and tests.
    std::vector<std::string> failed_checks() const;
};

// Lets the custody layer add its own checks once the bundle is read.
class CustodyVerifier {
  public:
    virtual ~CustodyVerifier() = default;
    virtual std::vector<BundleCheck> verify(const BundleReport& report) = 0;
};

struct BundleLimits {
    std::uint64_t max_entries = 100'000;
    std::uint64_t max_manifest_bytes = std::uint64_t{16} << 20;
    std::uint64_t max_signature_bytes = std::uint64_t{16} << 10;
    std::uint64_t max_sums_bytes = std::uint64_t{32} << 20;
    std::uint64_t max_file_bytes = std::uint64_t{256} << 30;
    std::uint64_t max_total_bytes = std::uint64_t{1} << 40;
    std::uint64_t max_custody_file_bytes = std::uint64_t{16} << 20;
    std::uint64_t max_custody_total_bytes = std::uint64_t{256} << 20;
    int zstd_window_log_max = 24;
};

struct BundleReadOptions {
    // The device key the caller trusts. Without it the manifest's own key is
    // used and reported as self-asserted.
    std::optional<crypto::minisign::PublicKey> device_key;
    // The .envelope file's text. verify_bundle_file() reads
    // "<bundle>.envelope" by itself when this is empty and that file exists.
    std::optional<std::string> envelope;
    bool require_envelope = false;
    // Extract into this directory: created, or used if it exists and is
    // empty (Errc::io otherwise). Without it, verify only, writing nothing.
    // A file that fails its hash is removed again; a failed report means
    // nothing in the directory should be trusted.
    std::optional<std::filesystem::path> extract_to;
    BundleLimits limits;
    CustodyVerifier* custody_verifier = nullptr;
};

// Reads a .custodia from `in`. `total_size`, when known, drives progress.
// The Result fails only when no report can be made (the extraction
// directory is unusable, or the caller cancelled: Errc::cancelled).
[[nodiscard]] Result<BundleReport> verify_bundle(crypto::ByteSource& in,
                                                 std::span<const crypto::age::Identity> identities,
                                                 const BundleReadOptions& options,
                                                 const Progress& progress = {},
                                                 std::uint64_t total_size = 0);

// The same for a file; picks up "<path>.envelope" when present.
[[nodiscard]] Result<BundleReport> verify_bundle_file(
    const std::filesystem::path& path, std::span<const crypto::age::Identity> identities,
    const BundleReadOptions& options, const Progress& progress = {});

// Checks an already-decrypted payload (the zstd-compressed tar), as after
// `age -d`. The decrypt and envelope checks do not run.
[[nodiscard]] Result<BundleReport> verify_bundle_payload(crypto::ByteSource& tar_zst,
                                                         const BundleReadOptions& options,
                                                         const Progress& progress = {});

// Re-checks a folder that `open` extracted: every check above except decrypt
// and envelope (the sealed file is not re-read), by packing the folder again
// in bundle order. Top-level report.json and report.html, which `open`
// writes, are ignored; any other file not in the manifest fails
// no_unlisted_files, and links or special files fail entries.
// `options.extract_to` must be empty.
[[nodiscard]] Result<BundleReport> verify_bundle_folder(const std::filesystem::path& dir,
                                                        const BundleReadOptions& options,
                                                        const Progress& progress = {});

// Checks an envelope against a .custodia file's bytes alone, as the intake
// server does before it has anything else: the signature under `device_key`,
// and the SHA-256 and size the statement names.
[[nodiscard]] Result<bundle::EnvelopeStatement> verify_envelope(
    crypto::ByteSource& bundle_bytes, std::string_view envelope_text,
    const crypto::minisign::PublicKey& device_key);

}  // namespace custodia::core
