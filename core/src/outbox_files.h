// The outbox's files under <vault>/outbox/ and the receipts that travel in
// later bundles (docs/FORMAT.md "Sync state", "custody/receipts/").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/bundle_writer.h"
#include "custodia/core/database.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/result.h"

namespace custodia::core {

inline constexpr std::string_view kOutboxDirectoryName = "outbox";

// 1 to 128 of A–Z a–z 0–9 . _ -, not starting with '.' (as sync's bundle ids).
[[nodiscard]] bool is_valid_outbox_bundle_id(std::string_view id) noexcept;

std::filesystem::path outbox_bundle_path(const std::filesystem::path& vault_dir,
                                         std::string_view bundle_id);
std::filesystem::path outbox_envelope_path(const std::filesystem::path& vault_dir,
                                           std::string_view bundle_id);

// Copies the bundle and its envelope to their outbox names: written as
// "<name>.tmp", fsynced, renamed, directory fsynced. A file already there
// with the right size is kept (the same bundle queued for another server).
[[nodiscard]] Status copy_into_outbox(const std::filesystem::path& vault_dir,
                                      const ExportedBundle& bundle);

// custody/receipts/<bundle id>-<8 hex>.{receipt,checkpoint,vkeys} for every
// received outbox entry of the case.
[[nodiscard]] Result<std::vector<BundleCustodyFile>> receipt_custody_files(
    Database& db, std::string_view case_id);

// Removes files in <vault>/outbox/ that no outbox row names: a bundle sealed
// there by Vault::export_to_outbox whose row a crash kept from being
// written, or a copy cut short. Only ciphertext is ever there; the evidence
// stays in the blobs, and the case can be exported again.
void remove_unqueued_outbox_files(Database& db, const std::filesystem::path& vault_dir);

// Removes <vault>/outbox/ and what is in it (panic wipe).
[[nodiscard]] Status remove_outbox_directory(const std::filesystem::path& vault_dir);

}  // namespace custodia::core
