// Sync state kept in the vault (DESIGN.md §7, docs/FORMAT.md "Sync state"):
// enrolled servers, proxy settings, the outbox and the receipts it earns.
// The protocol lives in sync/; this file only stores and checks what sync
// hands it, so that a receipt in the vault is always one that verifies.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "custodia/core/custody_entry.h"
#include "custodia/core/note.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "ids.h"
#include "outbox_files.h"
#include "vault_state.h"

namespace custodia::core {
namespace {

using nlohmann::json;

constexpr std::string_view kSettingProxy = "sync.proxy";
constexpr std::string_view kSettingRequireProxy = "sync.require_proxy";
constexpr std::string_view kReceiptContextLine = "custodia.receipt/v1\n";
constexpr std::size_t kMaxServerName = 64;

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

bool is_valid_server_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxServerName || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

std::optional<OutboxState> parse_state(std::string_view text) {
    for (auto s :
         {OutboxState::queued, OutboxState::sending, OutboxState::received, OutboxState::failed})
        if (to_string(s) == text) return s;
    return std::nullopt;
}

constexpr std::string_view kOutboxColumns =
    "id, bundle_id, server, case_id, item_ids, size, state, bytes_confirmed, last_error, "
    "attempts, queued_at, queued_offset, last_attempt_at, received_at, receipt_note, "
    "cosigned_checkpoint";

Result<OutboxEntry> read_outbox_row(const Statement& st, const std::filesystem::path& vault_dir) {
    OutboxEntry e;
    e.id = st.column_int64(0);
    e.bundle_id = st.column_text(1);
    e.server = st.column_text(2);
    e.case_id = st.column_text(3);
    const json ids = json::parse(st.column_text(4), nullptr, false);
    if (!ids.is_array()) return malformed("outbox entry " + e.bundle_id + ": bad item list");
    for (const auto& id : ids) {
        if (!id.is_string()) return malformed("outbox entry " + e.bundle_id + ": bad item id");
        e.item_ids.push_back(id.get<std::string>());
    }
    e.size = static_cast<std::uint64_t>(st.column_int64(5));
    auto state = parse_state(st.column_text(6));
    if (!state) return malformed("outbox entry " + e.bundle_id + ": unknown state");
    e.state = *state;
    e.bytes_confirmed = static_cast<std::uint64_t>(st.column_int64(7));
    e.last_error = st.column_text(8);
    e.attempts = static_cast<std::uint32_t>(st.column_int64(9));
    e.queued_at = Timestamp{st.column_int64(10), static_cast<std::int32_t>(st.column_int64(11))};
    if (!st.column_is_null(12)) e.last_attempt_at = Timestamp{st.column_int64(12), 0};
    if (!st.column_is_null(13)) e.received_at = Timestamp{st.column_int64(13), 0};
    if (!st.column_is_null(14)) e.receipt_note = st.column_text(14);
    if (!st.column_is_null(15)) e.cosigned_checkpoint = st.column_text(15);
    e.bundle_path = outbox_bundle_path(vault_dir, e.bundle_id);
    e.envelope_path = outbox_envelope_path(vault_dir, e.bundle_id);
    return e;
}

Result<std::optional<OutboxEntry>> find_outbox(Database& db, const std::filesystem::path& dir,
                                               std::string_view where,
                                               const std::function<Status(Statement&)>& bind) {
    auto st = db.prepare("SELECT " + std::string(kOutboxColumns) + " FROM outbox WHERE " +
                         std::string(where));
    if (!st) return std::move(st).error();
    if (auto s = bind(*st); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<OutboxEntry>{};
    auto e = read_outbox_row(*st, dir);
    if (!e) return std::move(e).error();
    return std::optional<OutboxEntry>(std::move(*e));
}

Status write_setting(Database& db, std::string_view key, std::string_view value) {
    auto st = db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, key); !s) return s;
    if (auto s = st->bind_blob(2, crypto::as_bytes(value)); !s) return s;
    return st->run();
}

Result<std::optional<std::string>> read_optional_setting(Database& db, std::string_view key) {
    auto st = db.prepare("SELECT value FROM settings WHERE key = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, key); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<std::string>{};
    const auto bytes = st->column_blob(0);
    return std::optional<std::string>(std::string(bytes.begin(), bytes.end()));
}

}  // namespace

std::string_view to_string(OutboxState state) {
    switch (state) {
        case OutboxState::queued:
            return "queued";
        case OutboxState::sending:
            return "sending";
        case OutboxState::received:
            return "received";
        case OutboxState::failed:
            return "failed";
    }
    return "failed";
}

// ---- Servers and settings ---------------------------------------------------

Status Vault::add_server(const std::string& name, const std::string& pin_json) {
    if (!is_valid_server_name(name))
        return malformed("a server name is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with '.')");
    if (pin_json.empty() || pin_json.size() > 4096) return malformed("the server pin is malformed");
    std::lock_guard guard(state_->mutex);
    auto existing = state_->db.prepare("SELECT 1 FROM sync_servers WHERE name = ?1");
    if (!existing) return std::move(existing).error();
    if (auto s = existing->bind_text(1, name); !s) return s;
    auto found = existing->step();
    if (!found) return std::move(found).error();
    if (*found) return malformed("a server named " + name + " is already enrolled");
    const Timestamp now = state_->clock.now();
    auto st = state_->db.prepare(
        "INSERT INTO sync_servers (name, pin_json, added_at, added_offset) VALUES (?1, ?2, ?3, "
        "?4)");
    if (!st) return std::move(st).error();
    for (Status s : {st->bind_text(1, name), st->bind_text(2, pin_json),
                     st->bind_int64(3, now.unix_ms), st->bind_int64(4, now.offset_minutes)})
        if (!s) return s;
    return st->run();
}

Result<std::vector<SyncServer>> Vault::list_servers() {
    std::lock_guard guard(state_->mutex);
    auto st = state_->db.prepare(
        "SELECT name, pin_json, added_at, added_offset FROM sync_servers ORDER BY name");
    if (!st) return std::move(st).error();
    std::vector<SyncServer> out;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        out.push_back(SyncServer{
            st->column_text(0), st->column_text(1),
            Timestamp{st->column_int64(2), static_cast<std::int32_t>(st->column_int64(3))}});
    }
    return out;
}

Result<SyncServer> Vault::get_server(const std::string& name) {
    auto all = list_servers();
    if (!all) return std::move(all).error();
    for (auto& s : *all)
        if (s.name == name) return std::move(s);
    return malformed("no server named " + name + " is enrolled (see `server list`)");
}

Status Vault::remove_server(const std::string& name) {
    std::lock_guard guard(state_->mutex);
    auto pending =
        state_->db.prepare("SELECT count(*) FROM outbox WHERE server = ?1 AND state != 'received'");
    if (!pending) return std::move(pending).error();
    if (auto s = pending->bind_text(1, name); !s) return s;
    auto row = pending->step();
    if (!row) return std::move(row).error();
    if (*row && pending->column_int64(0) > 0)
        return malformed(std::to_string(pending->column_int64(0)) +
                         " bundle(s) still wait in the outbox for " + name +
                         "; send them first (`sync`)");
    auto st = state_->db.prepare("DELETE FROM sync_servers WHERE name = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, name); !s) return s;
    if (auto s = st->run(); !s) return s;
    auto changes = state_->db.prepare("SELECT changes()");
    if (!changes) return std::move(changes).error();
    auto c = changes->step();
    if (!c) return std::move(c).error();
    if (!*c || changes->column_int64(0) == 0) return malformed("no server named " + name);
    return {};
}

Result<SyncSettings> Vault::sync_settings() {
    std::lock_guard guard(state_->mutex);
    SyncSettings out;
    auto proxy = read_optional_setting(state_->db, kSettingProxy);
    if (!proxy) return std::move(proxy).error();
    if (*proxy) out.proxy = **proxy;
    auto require = read_optional_setting(state_->db, kSettingRequireProxy);
    if (!require) return std::move(require).error();
    out.require_proxy = *require && **require == "1";
    return out;
}

Status Vault::set_sync_settings(const SyncSettings& settings) {
    if (settings.proxy.size() > 512 ||
        std::any_of(settings.proxy.begin(), settings.proxy.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x21; }))
        return malformed("the proxy is not a URL");
    std::lock_guard guard(state_->mutex);
    auto tx = state_->db.begin();
    if (!tx) return std::move(tx).error();
    if (auto s = write_setting(state_->db, kSettingProxy, settings.proxy); !s) return s;
    if (auto s =
            write_setting(state_->db, kSettingRequireProxy, settings.require_proxy ? "1" : "0");
        !s)
        return s;
    return tx->commit();
}

// ---- Outbox -------------------------------------------------------------------

Result<OutboxEntry> Vault::queue_bundle(const ExportedBundle& bundle, const std::string& server) {
    if (!is_valid_outbox_bundle_id(bundle.bundle_id))
        return malformed("the bundle id is not a safe file name");
    if (!is_valid_id(bundle.case_id)) return malformed("the bundle names no case");
    if (bundle.item_ids.empty()) return malformed("the bundle names no item");
    auto known = get_server(server);
    if (!known) return std::move(known).error();
    {
        std::lock_guard guard(state_->mutex);
        auto existing = find_outbox(state_->db, state_->dir, "bundle_id = ?1 AND server = ?2",
                                    [&](Statement& st) -> Status {
                                        if (auto s = st.bind_text(1, bundle.bundle_id); !s)
                                            return s;
                                        return st.bind_text(2, server);
                                    });
        if (!existing) return std::move(existing).error();
        if (*existing) return std::move(**existing);
    }
    // The copies are made before the row exists: a crash in between leaves
    // only an unreferenced ciphertext file, never a row without its file.
    if (auto s = copy_into_outbox(state_->dir, bundle); !s) return std::move(s).error();

    json ids = json::array();
    for (const auto& id : bundle.item_ids) ids.push_back(id);
    std::lock_guard guard(state_->mutex);
    const Timestamp now = state_->clock.now();
    auto st = state_->db.prepare(
        "INSERT INTO outbox (bundle_id, server, case_id, item_ids, size, queued_at, "
        "queued_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return std::move(st).error();
    for (Status s : {st->bind_text(1, bundle.bundle_id), st->bind_text(2, server),
                     st->bind_text(3, bundle.case_id), st->bind_text(4, ids.dump()),
                     st->bind_int64(5, static_cast<std::int64_t>(bundle.size)),
                     st->bind_int64(6, now.unix_ms), st->bind_int64(7, now.offset_minutes)})
        if (!s) return std::move(s).error();
    if (auto s = st->run(); !s) return std::move(s).error();
    const std::int64_t id = state_->db.last_insert_rowid();
    auto row = find_outbox(state_->db, state_->dir, "id = ?1",
                           [&](Statement& q) { return q.bind_int64(1, id); });
    if (!row) return std::move(row).error();
    if (!*row) return make_error(Errc::internal, "the queued bundle vanished");
    return std::move(**row);
}

Result<std::vector<OutboxEntry>> Vault::list_outbox() {
    std::lock_guard guard(state_->mutex);
    auto st =
        state_->db.prepare("SELECT " + std::string(kOutboxColumns) + " FROM outbox ORDER BY id");
    if (!st) return std::move(st).error();
    std::vector<OutboxEntry> out;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto e = read_outbox_row(*st, state_->dir);
        if (!e) return std::move(e).error();
        out.push_back(std::move(*e));
    }
    return out;
}

Status Vault::outbox_progress(std::int64_t id, OutboxState state, std::uint64_t bytes_confirmed,
                              const std::string& last_error, bool new_attempt) {
    if (state == OutboxState::received)
        return malformed("only a verified receipt marks a bundle received");
    std::lock_guard guard(state_->mutex);
    const Timestamp now = state_->clock.now();
    auto st = state_->db.prepare(
        "UPDATE outbox SET state = ?2, bytes_confirmed = ?3, last_error = ?4,"
        " attempts = attempts + ?5,"
        " last_attempt_at = CASE WHEN ?5 = 1 THEN ?6 ELSE last_attempt_at END"
        " WHERE id = ?1 AND state != 'received'");
    if (!st) return std::move(st).error();
    for (Status s : {st->bind_int64(1, id), st->bind_text(2, to_string(state)),
                     st->bind_int64(3, static_cast<std::int64_t>(bytes_confirmed)),
                     st->bind_text(4, last_error), st->bind_int64(5, new_attempt ? 1 : 0),
                     st->bind_int64(6, now.unix_ms)})
        if (!s) return s;
    return st->run();
}

Status Vault::outbox_record_receipt(std::int64_t id, const OutboxReceipt& receipt) {
    auto receipt_key = NoteVerifierKey::parse(receipt.receipt_verifier);
    auto cosign_key = NoteVerifierKey::parse(receipt.cosignature_verifier);
    if (!receipt_key || !cosign_key) return malformed("the server's verifier keys are malformed");
    if (receipt_key->type() != NoteSignatureType::ed25519 ||
        cosign_key->type() != NoteSignatureType::cosignature_v1 ||
        receipt_key->public_key() != cosign_key->public_key())
        return malformed("the server's verifier keys are not one server key's 0x01 and 0x04 keys");

    std::lock_guard guard(state_->mutex);
    auto entry = find_outbox(state_->db, state_->dir, "id = ?1",
                             [&](Statement& st) { return st.bind_int64(1, id); });
    if (!entry) return std::move(entry).error();
    if (!*entry) return malformed("no such outbox entry");
    const OutboxEntry& e = **entry;
    if (e.state == OutboxState::received) return {};

    // The receipt: signed by the server, for this bundle and this device.
    auto note = SignedNote::parse(receipt.receipt_note);
    if (!note) return malformed("the receipt is not a signed note");
    if (auto ok = verify_note(*note, std::span(&*receipt_key, 1)); !ok)
        return make_error(Errc::auth_failed,
                          "the receipt is not signed by the server: " + ok.error().message);
    if (!note->text().starts_with(kReceiptContextLine))
        return malformed("the receipt is not a custodia.receipt/v1");
    const json body = json::parse(note->text().substr(kReceiptContextLine.size()), nullptr, false);
    const std::string device_hex = crypto::minisign::key_id_hex(device_key().key_id());
    if (!body.is_object() || !body.contains("bundle") || body["bundle"] != e.bundle_id ||
        !body.contains("device") || body["device"] != device_hex || !body.contains("server") ||
        !body["server"].is_string())
        return make_error(Errc::auth_failed, "the receipt is for another bundle or device");

    // The cosigned checkpoint: the device's own checkpoint, cosigned by the server.
    auto cosigned = SignedNote::parse(receipt.cosigned_checkpoint);
    if (!cosigned) return malformed("the cosigned checkpoint is not a signed note");
    auto checkpoint = Checkpoint::parse(cosigned->text());
    if (!checkpoint || checkpoint->origin != state_->origin)
        return malformed("the cosigned checkpoint is not this vault's checkpoint");
    auto device_verifier = state_->signer().verifier();
    if (!device_verifier) return std::move(device_verifier).error();
    if (auto ok = verify_note(*cosigned, std::span(&*device_verifier, 1)); !ok)
        return make_error(Errc::auth_failed,
                          "the cosigned checkpoint is not signed by this device");
    if (auto ok = verify_note(*cosigned, std::span(&*cosign_key, 1)); !ok)
        return make_error(Errc::auth_failed,
                          "the checkpoint is not cosigned by the server: " + ok.error().message);
    std::string cosignature_line;
    for (const auto& sig : cosigned->signatures())
        if (sig.name == cosign_key->name() && sig.key_id == cosign_key->key_id())
            cosignature_line = sig.line();

    auto change = VaultChange::begin(*state_);
    if (!change) return std::move(change).error();
    const Timestamp now = state_->clock.now();
    auto st = change->db().prepare(
        "UPDATE outbox SET state = 'received', bytes_confirmed = size, last_error = '',"
        " received_at = ?2, receipt_note = ?3, cosigned_checkpoint = ?4, receipt_verifier = ?5,"
        " cosignature_verifier = ?6 WHERE id = ?1");
    if (!st) return std::move(st).error();
    for (Status s :
         {st->bind_int64(1, id), st->bind_int64(2, now.unix_ms),
          st->bind_text(3, receipt.receipt_note), st->bind_text(4, receipt.cosigned_checkpoint),
          st->bind_text(5, receipt.receipt_verifier),
          st->bind_text(6, receipt.cosignature_verifier), st->run()})
        if (!s) return s;
    // Keeps the cosigned checkpoint's row: a checkpoint someone cosigned is
    // never dropped when a newer one is signed.
    auto cos = change->db().prepare(
        "INSERT OR REPLACE INTO checkpoint_cosignatures (tree_size, cosigner, signature,"
        " received_at) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM checkpoints"
        " WHERE tree_size = ?1 AND root_hash = ?5)");
    if (!cos) return std::move(cos).error();
    for (Status s :
         {cos->bind_int64(1, static_cast<std::int64_t>(checkpoint->size)),
          cos->bind_text(2, cosign_key->name()),
          cos->bind_blob(3, crypto::as_bytes(cosignature_line)), cos->bind_int64(4, now.unix_ms),
          cos->bind_blob(5, checkpoint->root), cos->run()})
        if (!s) return s;

    const std::string receipt_hash = crypto::to_hex(crypto::sha256(receipt.receipt_note));
    for (const auto& item : e.item_ids) {
        CustodyDetails details;
        details.add("bundle", e.bundle_id)
            .add("server", body["server"].get<std::string>())
            .add("receipt_sha256", receipt_hash)
            .add("checkpoint_size", std::to_string(checkpoint->size));
        if (auto logged =
                change->log(CustodyEvent::receipt_received, e.case_id, item, details.text());
            !logged)
            return std::move(logged).error();
    }
    return change->commit();
}

Result<crypto::Ed25519Signature> Vault::sign_sync_request(
    std::span<const std::uint8_t> message) const {
    // sync::protocol::kRequestContext and the newline that ends it; core
    // cannot include sync/, and a sync test pins the two together.
    constexpr std::string_view kPrefix = "custodia/v1/request\n";
    if (message.size() <= kPrefix.size() ||
        !std::equal(kPrefix.begin(), kPrefix.end(), message.begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }))
        return malformed("the device key signs only sync requests here");
    return state_->device_key.sign_ed25519(message);
}

}  // namespace custodia::core
