// The field investigator's vault (DESIGN.md §3–§5, docs/FORMAT.md):
//
//   <dir>/vault.header      key slots (vault_header.h)
//   <dir>/vault.db          SQLCipher database (database.h)
//   <dir>/vault.checkpoint  latest signed checkpoint, kept outside the database
//   <dir>/blobs/xx/<id>     one encrypted blob per attachment (crypto/blob.h)
//
// A Vault object is an unlocked vault: it holds the master key in secure
// memory until it is destroyed (locking = destroying it). Every state change
// is appended to the custody log and covered by a new signed checkpoint
// before the call returns. Nothing is reported saved before it is durable.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "custodia/core/clock.h"
#include "custodia/core/evidence.h"
#include "custodia/core/progress.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

// Argon2id cost for new passphrase slots. Production calibrates to about one
// second and never goes below libsodium's MODERATE; tests pass cheap params
// through this struct explicitly, which production code never does.
struct KdfChoice {
    bool calibrate = true;
    std::uint64_t opslimit = 0;  // used when calibrate is false
    std::uint64_t memlimit = 0;
};

struct VaultOptions {
    std::string investigator;
    KdfChoice kdf;
};

enum class CustodyEvent {
    created,
    captured,
    imported,
    annotated,
    extracted,
    exported,
    bundled,
    uploaded,
    receipt_received,
    timestamped,
    consent_withdrawn,
    destroyed,
    passphrase_changed,
};
std::string_view to_string(CustodyEvent event);

struct CustodyEntry {
    std::uint64_t index = 0;
    CustodyEvent event = CustodyEvent::created;
    Timestamp time;
    std::optional<CaseId> case_id;
    std::optional<ItemId> item_id;
    std::string details;                // canonical, documented in FORMAT.md
    std::vector<std::uint8_t> encoded;  // the exact bytes hashed into the log
};

struct VerifyProblem {
    std::string what;  // "blob", "capture signature", "checkpoint", …
    std::optional<ItemId> item_id;
    std::string message;
};

struct VerifyReport {
    std::uint64_t items_checked = 0;
    std::uint64_t log_size = 0;
    std::vector<VerifyProblem> problems;
    bool ok() const { return problems.empty(); }
};

// Consent rule for exports (docs/FORMAT.md "Exporting a case"): the vault
// cannot tell which organisation an age recipient belongs to, so it cannot
// match recipients against a consent scope. It refuses what it can know is
// not consented: withdrawn consent and destroyed content always, consent
// type "none" unless the caller says so.
struct ExportOptions {
    bool allow_without_consent = false;
    int zstd_level = 1;
};

struct ExportedBundle {
    std::string bundle_id;
    std::filesystem::path bundle_path;
    std::filesystem::path envelope_path;
    std::uint64_t size = 0;
    std::array<std::uint8_t, 32> sha256{};
    std::uint64_t items = 0;
};

class Vault;

struct CreatedVault {
    std::unique_ptr<Vault> vault;
    crypto::SecretBytes recovery_key;  // shown once, never stored
};

class Vault {
  public:
    // Refuses a directory that already holds a vault (never overwrites).
    static Result<CreatedVault> create(const std::filesystem::path& dir,
                                       const crypto::SecretBytes& passphrase,
                                       const VaultOptions& options, crypto::RandomSource& random,
                                       Clock& clock);
    // Errc::wrong_passphrase leaves every file untouched. A duress passphrase
    // crypto-erases the vault and returns a new, empty vault under it.
    static Result<std::unique_ptr<Vault>> open(const std::filesystem::path& dir,
                                               const crypto::SecretBytes& passphrase,
                                               crypto::RandomSource& random, Clock& clock);
    static Result<std::unique_ptr<Vault>> open_with_recovery_key(
        const std::filesystem::path& dir, const crypto::SecretBytes& recovery_key,
        crypto::RandomSource& random, Clock& clock);
    // Panic wipe: key slots overwritten and fsynced first, then files removed.
    static Status wipe(const std::filesystem::path& dir);
    static bool exists(const std::filesystem::path& dir);

    ~Vault();
    Vault(const Vault&) = delete;
    Vault& operator=(const Vault&) = delete;

    const std::filesystem::path& dir() const;
    crypto::minisign::PublicKey device_key() const;
    std::string investigator() const;

    // Cases
    Result<Case> create_case(const std::string& title, const std::string& description,
                             const std::vector<std::string>& recipients);
    Result<std::vector<Case>> list_cases();
    Result<Case> get_case(const CaseId& id);

    // Items. The content is read once: hashed and encrypted on separate
    // threads, the blob fsynced before the row commits. Logged as
    // "imported"; add_testimony (text typed in) as "captured". Progress
    // reports a total of 0 until its last call: a ByteSource has no size.
    Result<ItemId> ingest(const CaseId& case_id, crypto::ByteSource& content,
                          const std::string& original_name, const std::string& mime_type,
                          const ItemFields& fields, const Progress& progress = {});
    Result<ItemId> add_testimony(const CaseId& case_id, std::string_view text,
                                 const ItemFields& fields);
    // In capture-time order (oldest first).
    Result<std::vector<Item>> list_items(const std::optional<CaseId>& case_id, std::uint64_t offset,
                                         std::uint64_t limit);
    // Every word of `query` must match (a trailing '*' matches a prefix);
    // FTS syntax is not interpreted. Newest items first.
    Result<std::vector<Item>> search(const std::string& query, std::uint64_t limit);
    Result<Item> get_item(const ItemId& id);
    [[nodiscard]] bool capture_signature_valid(const Item& item) const;
    // Decrypts the original into `out`; logged as "extracted".
    Status extract(const ItemId& id, crypto::ByteSink& out, const Progress& progress = {});

    // Consent withdrawal crypto-shreds the items it covers: blob key
    // destroyed, blob removed, event logged.
    Status withdraw_consent(const ItemId& id, const std::string& reason);

    // Seals the case's items (all active items when `items` is empty) into
    // `out` (a "<name>.custodia" path; never overwritten) and
    // "<out>.envelope" for the age recipients (age1…), with each item's
    // capture record, custody entries and inclusion proofs against the latest
    // checkpoint. Originals stream from their blobs, never touching the disk
    // in the clear. Logged as "exported", one entry per item, once sealed.
    Result<ExportedBundle> export_bundle(const CaseId& case_id, const std::vector<ItemId>& items,
                                         const std::vector<std::string>& recipients,
                                         bool include_witness_identities,
                                         const std::filesystem::path& out,
                                         const Progress& progress = {},
                                         const ExportOptions& options = {});

    // Custody log
    Result<std::vector<CustodyEntry>> custody_log(const std::optional<ItemId>& item_id = {});
    Result<std::string> checkpoint();  // the latest signed checkpoint (signed note text)
    Result<VerifyReport> verify(const Progress& progress = {});

    // Key slots
    Status change_passphrase(const crypto::SecretBytes& old_passphrase,
                             const crypto::SecretBytes& new_passphrase);
    Status set_duress_passphrase(const crypto::SecretBytes& passphrase,
                                 const crypto::SecretBytes& duress);

    struct State;

  private:
    explicit Vault(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace custodia::core
