// Writes a sealed bundle (DESIGN.md §6, docs/FORMAT.md "Sealed bundle"):
// <id>.custodia, an age file of a zstd-compressed pax tar holding the signed
// manifest, SHA256SUMS, custody files and the originals, and
// <id>.custodia.envelope, a minisign signature of that file whose trusted
// comment states its id, SHA-256, size, device key and time.
//
// The writer is generic: the caller (the vault's exporter) supplies the case,
// items as JSON objects, custody files and a way to open each original. The
// caller already knows every original's SHA-256 and size (signed at capture),
// so manifest and SHA256SUMS go first in the stream; each original is hashed
// again as it streams and a difference aborts the export (Errc::auth_failed),
// so a damaged blob is never sealed into a bundle that looks valid.
//
// Work is pipelined over three threads (tar + zstd + hashing the originals;
// age encryption; hashing and writing the sealed bytes) with bounded queues:
// memory stays a few MiB whatever the size of the case.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "custodia/core/clock.h"
#include "custodia/core/progress.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

struct BundleAttachment {
    std::string name;  // the original file name; sanitised for the tar path
    std::string mime;
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
    // Opens the original's bytes. Called once, when its turn in the stream
    // comes, so that only one original is open at a time.
    std::function<Result<std::unique_ptr<crypto::ByteSource>>()> open;
    // True when open() proves the bytes itself: a vault blob read through its
    // authenticated encryption (per-blob key, every chunk and the end
    // authenticated) yields exactly the bytes hashed and signed at capture, or
    // fails. The writer then checks the size only. Otherwise it hashes every
    // byte again and refuses a bundle whose original differs from sha256.
    bool authenticated = false;
};

struct BundleItem {
    std::string id;  // the directory files/<id>/ (a safe name; vault ids are 32 hex)
    // A JSON object copied into the manifest's items (canonicalised). The
    // writer adds "id" and, for an item with a file, "attachment".
    std::string metadata_json = "{}";
    std::optional<BundleAttachment> attachment;
};

struct BundleCustodyFile {
    std::string path;  // below custody/, e.g. "checkpoint" or "proofs/<item id>"
    std::vector<std::uint8_t> bytes;
};

struct BundleContents {
    std::string case_id;
    std::string case_title;
    std::string case_description;
    std::vector<BundleItem> items;
    std::vector<BundleCustodyFile> custody;
};

struct BundleWriteOptions {
    int zstd_level = 1;
    // The bundle's file name in the output directory; empty: "<bundle id>.custodia".
    std::string file_name;
};

// What was sealed: enough for the outbox and for the custody log's
// "bundled" event.
struct SealedBundle {
    std::string bundle_id;
    std::string created;  // RFC 3339 UTC, whole seconds
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
    std::string manifest;            // manifest.json as sealed
    std::string envelope;            // the .envelope file's text (a .minisig)
    std::string envelope_statement;  // its trusted comment
};

struct WrittenBundle {
    SealedBundle sealed;
    std::filesystem::path bundle_path;
    std::filesystem::path envelope_path;
};

// The device key signs the manifest and the envelope under its minisign key
// id (minisign::PublicKey::derive_from). The clock gives "created"; the
// random source the bundle id and the age file key.
struct BundleSigner {
    const crypto::Ed25519SecretKey& device_key;
    Clock& clock;
    crypto::RandomSource& random;
};

// Streams the sealed bundle into `out`. Nothing touches the file system.
// Errors: Errc::malformed (bad contents: unsafe custody path, bad item JSON,
// repeated item id), Errc::auth_failed (an original differs from its declared
// SHA-256 or size; the message names the file), Errc::cancelled, Errc::io
// and whatever the byte sources or `out` report.
[[nodiscard]] Result<SealedBundle> seal_bundle(crypto::ByteSink& out,
                                               const BundleContents& contents,
                                               std::span<const crypto::age::Recipient> recipients,
                                               const BundleSigner& signer,
                                               const Progress& progress = {},
                                               const BundleWriteOptions& options = {});

// Writes <directory>/<name>.custodia and <name>.custodia.envelope durably:
// each goes to a temporary "<name>.partial-XXXXXX" in the same directory, is
// fsynced, renamed (never over an existing file: Errc::io) and the directory
// fsynced. On any failure no file is left under either final name.
[[nodiscard]] Result<WrittenBundle> write_bundle(const std::filesystem::path& directory,
                                                 const BundleContents& contents,
                                                 std::span<const crypto::age::Recipient> recipients,
                                                 const BundleSigner& signer,
                                                 const Progress& progress = {},
                                                 const BundleWriteOptions& options = {});

}  // namespace custodia::core
