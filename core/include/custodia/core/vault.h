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
#include <span>
#include <string>
#include <vector>

#include "custodia/core/clock.h"
#include "custodia/core/evidence.h"
#include "custodia/core/progress.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/sign.h"
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

// A witness's identifying details (Vault::set_witness_identity).
struct WitnessIdentity {
    std::string full_name;  // required
    std::string contact;
    std::string notes;
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
    std::string case_id;
    std::vector<ItemId> item_ids;  // the items sealed in it, in bundle order
};

// ---- Sync state kept in the vault (DESIGN.md §7, docs/FORMAT.md "Sync state")
//
// API for the CLI and the desktop app. The vault stores what sync needs but
// knows nothing of the protocol: a server's pin is the opaque JSON text of
// sync::ServerPin::to_json(), and the upload itself is done by
// sync::push_outbox() (custodia/sync/outbox.h), which calls the outbox_*
// methods below as it goes. Bundles in the outbox are sealed age files
// (ciphertext only) kept as <vault>/outbox/<bundle id>.custodia(.envelope).
//
//   add_server / list_servers / remove_server     enrolled intake servers
//   sync_settings / set_sync_settings             proxy and require-proxy
//   queue_bundle / list_outbox                    what waits to be sent
//   outbox_progress / outbox_record_receipt       used by sync::push_outbox
//   sign_sync_request                             device key, sync domain only
struct SyncServer {
    std::string name;      // local name, unique in the vault: [A-Za-z0-9._-]{1,64}
    std::string pin_json;  // sync::ServerPin::to_json(); core never interprets it
    Timestamp added;
};

struct SyncSettings {
    std::string proxy;           // e.g. "socks5h://127.0.0.1:9050"; empty: direct
    bool require_proxy = false;  // fail closed: send nothing without the proxy
};

enum class OutboxState {
    queued,    // waiting for its first attempt
    sending,   // an attempt is running (or was cut short by a crash)
    received,  // a verified receipt is stored: only this state means "sent"
    failed,    // the last attempt failed; last_error says why; retried by the next sync
};
std::string_view to_string(OutboxState state);

struct OutboxEntry {
    std::int64_t id = 0;
    std::string bundle_id;
    std::string server;  // SyncServer::name
    std::string case_id;
    std::vector<ItemId> item_ids;
    OutboxState state = OutboxState::queued;
    std::uint64_t size = 0;             // bytes of the .custodia file
    std::uint64_t bytes_confirmed = 0;  // bytes the server confirmed holding
    std::string last_error;             // a sentence a person can read; empty if none
    std::uint32_t attempts = 0;         // sync runs that tried this entry
    Timestamp queued_at;
    std::optional<Timestamp> last_attempt_at;
    std::optional<Timestamp> received_at;
    std::string receipt_note;             // server-signed receipt (signed note), once received
    std::string cosigned_checkpoint;      // the checkpoint with the server's cosignature
    std::filesystem::path bundle_path;    // <vault>/outbox/<bundle id>.custodia
    std::filesystem::path envelope_path;  // <vault>/outbox/<bundle id>.custodia.envelope
};

// What sync hands the vault once a receipt verified against the pin.
struct OutboxReceipt {
    std::string receipt_note;
    std::string cosigned_checkpoint;
    // The pinned server key as C2SP note verifier keys ("<name>+<id>+<key>"):
    // type 0x01 for the receipt, 0x04 for the cosignature. The vault checks
    // both notes under them again before storing, and bundles carry them.
    std::string receipt_verifier;
    std::string cosignature_verifier;
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

    // A witness's identifying details, kept apart from items (which name the
    // witness by pseudonym only) in witness_identities; exported only when
    // an export asks for them. Creates the case's witness `pseudonym` if no
    // item names it yet; replaces earlier details. Not a custody event: no
    // entry may carry a witness's name (docs/FORMAT.md "Witness identities").
    [[nodiscard]] Status set_witness_identity(const CaseId& case_id, const std::string& pseudonym,
                                              const WitnessIdentity& identity);

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
    // The same, within one case when `case_id` is set: the filter is applied
    // before the limit, so a busy case elsewhere cannot crowd this one out.
    Result<std::vector<Item>> search(const std::string& query, const std::optional<CaseId>& case_id,
                                     std::uint64_t limit);
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
    // Seals like export_bundle, but straight into <vault>/outbox/ (written
    // unnamed, then linked in as <bundle id>.custodia and its envelope: no
    // staging copy, and a crash leaves nothing behind), and queues it for
    // `server`, which must be enrolled. The result's paths are the outbox's.
    Result<ExportedBundle> export_to_outbox(const CaseId& case_id, const std::vector<ItemId>& items,
                                            const std::vector<std::string>& recipients,
                                            bool include_witness_identities,
                                            const std::string& server,
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
    // A forgotten passphrase: the recovery key (checked again here) sets a
    // new one. Both passphrase slots are rewritten, so a duress passphrase
    // is gone afterwards and must be set again (docs/FORMAT.md).
    Status reset_passphrase(const crypto::SecretBytes& recovery_key,
                            const crypto::SecretBytes& new_passphrase);

    // ---- Sync (see the block comment above SyncServer) ----
    // Errc::malformed for a bad name or one already in use.
    [[nodiscard]] Status add_server(const std::string& name, const std::string& pin_json);
    [[nodiscard]] Result<std::vector<SyncServer>> list_servers();
    [[nodiscard]] Result<SyncServer> get_server(const std::string& name);
    // Refused (Errc::malformed) while an outbox entry for it is not received.
    [[nodiscard]] Status remove_server(const std::string& name);

    [[nodiscard]] Result<SyncSettings> sync_settings();
    [[nodiscard]] Status set_sync_settings(const SyncSettings& settings);

    // Copies an exported bundle and its envelope into <vault>/outbox/ (a
    // temporary name, fsync, rename: never a partial file under the final
    // name) and queues it for `server`. Queuing the same bundle for the same
    // server again returns the existing entry.
    [[nodiscard]] Result<OutboxEntry> queue_bundle(const ExportedBundle& bundle,
                                                   const std::string& server);
    // Oldest first.
    [[nodiscard]] Result<std::vector<OutboxEntry>> list_outbox();
    // Records an attempt's progress: state (queued, sending or failed), the
    // bytes the server confirmed and the reason of a failure (empty clears
    // it). `new_attempt` counts one more attempt and stamps its time.
    [[nodiscard]] Status outbox_progress(std::int64_t id, OutboxState state,
                                         std::uint64_t bytes_confirmed,
                                         const std::string& last_error, bool new_attempt);
    // Verifies both notes under the given verifier keys, stores them, marks
    // the entry received and logs one `receipt_received` custody entry per
    // item of the bundle (docs/FORMAT.md "Custody log").
    [[nodiscard]] Status outbox_record_receipt(std::int64_t id, const OutboxReceipt& receipt);

    // Signs with the device key ONLY a sync request message, i.e. bytes that
    // begin "custodia/v1/request\n" (sync::request_signing_message, also used
    // for enrolment); anything else is Errc::malformed, so the device key
    // cannot be made to sign a checkpoint, manifest or capture record here.
    [[nodiscard]] Result<crypto::Ed25519Signature> sign_sync_request(
        std::span<const std::uint8_t> message) const;

    struct State;

  private:
    explicit Vault(std::unique_ptr<State> state);
    // export_bundle into `directory`, as `file_name` (empty: "<bundle id>.custodia").
    Result<ExportedBundle> seal_case(const CaseId& case_id, const std::vector<ItemId>& items,
                                     const std::vector<std::string>& recipients,
                                     bool include_witness_identities,
                                     const std::filesystem::path& directory,
                                     const std::string& file_name, const Progress& progress,
                                     const ExportOptions& options);
    std::unique_ptr<State> state_;
};

}  // namespace custodia::core
