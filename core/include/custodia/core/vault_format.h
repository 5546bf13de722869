// Every fixed name and domain string of the vault's on-disk and signed
// formats, in one place (docs/FORMAT.md). Changing any of these makes a new
// format version.
#pragma once

#include <cstddef>
#include <string_view>

namespace custodia::core::vault_format {

// Signed and hashed values: each starts with its own versioned context.
inline constexpr std::string_view kCaptureRecordDomain = "custodia/v1/capture";
inline constexpr std::string_view kCustodyEntryDomain = "custodia/v1/custody-entry";

// The checkpoint origin and signing key name: this prefix followed by the
// device key's minisign key id as `minisign` prints it (16 upper-case hex).
inline constexpr std::string_view kCheckpointOriginPrefix = "custodia.device/";

// Files and directories inside a vault directory.
inline constexpr std::string_view kDatabaseFileName = "vault.db";
inline constexpr std::string_view kCheckpointFileName = "vault.checkpoint";
inline constexpr std::string_view kBlobDirectoryName = "blobs";
inline constexpr std::string_view kTempSuffix = ".tmp";

// Ids are this many random bytes, written as lower-case hex.
inline constexpr std::size_t kIdSize = 16;

// Attachments added as text (add_testimony) carry these.
inline constexpr std::string_view kTestimonyFileName = "testimony.txt";
inline constexpr std::string_view kTestimonyMimeType = "text/plain; charset=utf-8";

}  // namespace custodia::core::vault_format
