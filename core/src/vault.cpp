// Creating, opening, locking and wiping a vault; key slots; the custody log's
// read side. Items live in vault_items.cpp, verify() in vault_verify.cpp.
#include "custodia/core/vault.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <set>

#include "custodia/core/custody_entry.h"
#include "custodia/core/vault_header.h"
#include "custodia/crypto/encoding.h"
#include "ids.h"
#include "outbox_files.h"
#include "vault_state.h"

namespace custodia::core {

namespace {

constexpr std::string_view kSettingInvestigator = "investigator";
// vault.checkpoint is one signed note: origin, size, root, one signature.
constexpr std::size_t kMaxCheckpointFile = std::size_t{64} * 1024;
// libsodium's MODERATE memory cost; passphrase slots below it were made with
// InsecureTestingKdf.
constexpr std::uint64_t kModerateMemlimit = 256ull << 20;

std::chrono::system_clock::time_point to_time_point(const Timestamp& t) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(t.unix_ms));
}

// A vault created with cheap test parameters keeps them when a slot is
// rewritten (passphrase change, duress re-creation); a real vault's slot is
// calibrated anew. The cost is bound into each slot's AEAD, so it cannot be
// lowered by editing the header.
std::optional<InsecureTestingKdf> kept_testing_cost(const VaultHeader& header) {
    for (const KeySlot& slot : header.slots()) {
        if (slot.kind != KeySlotKind::passphrase) continue;
        const std::uint64_t memlimit = std::uint64_t{slot.memlimit_kib} * 1024;
        if (memlimit < kModerateMemlimit) return InsecureTestingKdf{slot.opslimit, memlimit};
        return std::nullopt;
    }
    return std::nullopt;
}

Status remove_file(const std::filesystem::path& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return errno_error("cannot remove " + path.filename().string(), errno);
    return {};
}

Result<std::string> read_setting(Database& db, std::string_view key) {
    auto st = db.prepare("SELECT value FROM settings WHERE key = ?1");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, key); !s) return std::move(s).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row)
        return make_error(Errc::malformed, "vault.db has no " + std::string(key) + " setting");
    const auto bytes = st->column_blob(0);
    return std::string(bytes.begin(), bytes.end());
}

std::string origin_for(const crypto::Ed25519PublicKey& key) {
    return std::string(vault_format::kCheckpointOriginPrefix) +
           crypto::minisign::key_id_hex(crypto::minisign::PublicKey::derive_from(key).key_id());
}

// Leftovers of interrupted work are removed, but only while the database
// and vault.checkpoint agree: if the database was rolled back, a blob with no
// row may be the only trace of evidence that a newer database copy holds.
void tidy_up(Vault::State& state) {
    if (state.log_damage) return;
    auto outside = read_outside_checkpoint(state);
    if (!outside) return;
    auto latest_note = latest_checkpoint_note(state.db);
    if (!latest_note || !*latest_note) return;
    auto verifier = state.signer().verifier();
    if (!verifier) return;
    auto latest = parse_device_checkpoint(**latest_note, *verifier);
    if (!latest || latest->checkpoint.size != state.log.size() ||
        latest->checkpoint.root != state.log.root())
        return;
    if (*outside && !check_extends(state.db, (*outside)->checkpoint, latest->checkpoint)) return;

    auto listing = state.blobs.list();
    if (!listing) return;
    for (const auto& tmp : listing->temporaries) ::unlink(tmp.c_str());
    std::set<std::string> wanted;
    if (auto st = state.db.prepare(
            "SELECT a.blob_id FROM attachments a"
            " WHERE NOT EXISTS (SELECT 1 FROM shredded_items s WHERE s.item_id = a.item_id)")) {
        while (true) {
            auto row = st->step();
            if (!row) return;  // unsure what is referenced: remove nothing
            if (!*row) break;
            wanted.insert(st->column_text(0));
        }
    } else {
        return;
    }
    for (const BlobId& id : listing->blobs)
        if (!wanted.contains(id)) (void)state.blobs.remove(id);
    if (!listing->temporaries.empty()) (void)fsync_directory(state.blobs.root());
    remove_unqueued_outbox_files(state.db, state.dir);

    // A crash between the commit and the file write leaves the file one
    // checkpoint behind; bring it up to date.
    if (!*outside || (*outside)->note != latest->note)
        (void)replace_file_durably(state.checkpoint_path(), crypto::as_bytes(latest->note));
}

struct DeviceKey {
    std::int64_t row = 0;
    crypto::Ed25519SecretKey key;
};

// The signing key in use: the newest one not retired.
Result<DeviceKey> load_device_key(Database& db) {
    auto st = db.prepare(
        "SELECT id, secret_seed, public_key FROM device_keys WHERE retired_at IS NULL"
        " ORDER BY id DESC LIMIT 1");
    if (!st) return std::move(st).error();
    auto row = st->step();
    if (!row) return std::move(row).error();
    if (!*row) return make_error(Errc::malformed, "vault.db holds no device key");
    auto key = crypto::Ed25519SecretKey::from_seed(st->column_secret(1).span());
    if (!key) return make_error(Errc::malformed, "vault.db holds a malformed device key");
    const auto stored_public = st->column_blob(2);
    if (!std::equal(stored_public.begin(), stored_public.end(), key->public_key().begin(),
                    key->public_key().end()))
        return make_error(Errc::malformed, "vault.db device key does not match its public key");
    return DeviceKey{st->column_int64(0), std::move(key).value()};
}

Result<std::unique_ptr<Vault::State>> open_state(const std::filesystem::path& dir, UniqueFd lock,
                                                 crypto::SecretBytes master_key,
                                                 crypto::RandomSource& random, Clock& clock) {
    auto db = Database::open(dir / vault_format::kDatabaseFileName, master_key);
    if (!db) return std::move(db).error();
    auto investigator = read_setting(*db, kSettingInvestigator);
    if (!investigator) return std::move(investigator).error();

    auto device = load_device_key(*db);
    if (!device) return std::move(device).error();

    auto state =
        std::make_unique<Vault::State>(dir, random, clock, std::move(lock), std::move(master_key),
                                       std::move(db).value(), std::move(device->key));
    state->device_key_row = device->row;
    state->investigator = std::move(investigator).value();
    state->origin = origin_for(state->device_key.public_key());
    auto log = CustodyLog::load(state->db);
    if (log)
        state->log = std::move(log).value();
    else
        state->log_damage = make_error(
            Errc::malformed, "the custody log could not be loaded: " + log.error().message);
    tidy_up(*state);
    return state;
}

}  // namespace

// ---- Shared with the other vault files ---------------------------------------------

Result<UniqueFd> lock_vault_directory(const std::filesystem::path& dir) {
    auto fd = open_directory(dir);
    if (!fd) return std::move(fd).error();
    if (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return make_error(Errc::io, "the vault is open in another program");
        return errno_error("cannot lock the vault directory", errno);
    }
    return fd;
}

Result<std::optional<VerifiedCheckpoint>> read_outside_checkpoint(const Vault::State& state) {
    auto bytes = read_small_file(state.checkpoint_path(), kMaxCheckpointFile);
    if (!bytes) return std::move(bytes).error();
    if (!*bytes) return std::optional<VerifiedCheckpoint>{};
    auto verifier = state.signer().verifier();
    if (!verifier) return std::move(verifier).error();
    const std::string_view text(reinterpret_cast<const char*>((*bytes)->data()), (*bytes)->size());
    auto cp = parse_device_checkpoint(text, *verifier);
    if (!cp) return std::move(cp).error();
    return std::optional<VerifiedCheckpoint>{std::move(cp).value()};
}

Result<VaultChange> VaultChange::begin(Vault::State& state) {
    if (state.log_damage) return *state.log_damage;
    auto tx = state.db.begin();
    if (!tx) return std::move(tx).error();
    return VaultChange(state, std::move(tx).value());
}

VaultChange::~VaultChange() {
    if (state_ != nullptr && !committed_) state_->log = std::move(saved_log_);
}

Result<CustodyEntry> VaultChange::log(CustodyEvent event, const std::optional<CaseId>& case_id,
                                      const std::optional<ItemId>& item_id, std::string details) {
    return state_->log.append(state_->db, event, state_->clock.now(), case_id, item_id,
                              std::move(details));
}

Status VaultChange::commit() {
    auto outside = read_outside_checkpoint(*state_);
    if (!outside)
        return make_error(outside.error().code,
                          "vault.checkpoint is not a valid checkpoint of this vault (" +
                              outside.error().message + "); nothing was changed");
    std::optional<Checkpoint> anchor;
    if (*outside) anchor = (*outside)->checkpoint;
    auto note = state_->log.sign_checkpoint(state_->db, state_->signer(), anchor,
                                            state_->clock.now().unix_ms);
    if (!note) return std::move(note).error();
    if (auto s = tx_.commit(); !s) return s;
    committed_ = true;
    // The database now holds the change and its checkpoint. The file is a
    // second copy that open() refreshes if this write does not happen, and
    // nothing may throw past the commit (std::bad_alloc): callers undo what
    // they wrote for a change that failed.
    try {
        (void)replace_file_durably(state_->checkpoint_path(), crypto::as_bytes(*note));
    } catch (const std::exception&) {
    }
    return {};
}

// ---- Vault ------------------------------------------------------------------------------

Vault::Vault(std::unique_ptr<State> state) : state_(std::move(state)) {}
Vault::~Vault() = default;

bool Vault::exists(const std::filesystem::path& dir) {
    struct stat st {};
    return ::lstat((dir / kVaultHeaderFileName).c_str(), &st) == 0;
}

Result<CreatedVault> Vault::create(const std::filesystem::path& dir,
                                   const crypto::SecretBytes& passphrase,
                                   const VaultOptions& options, crypto::RandomSource& random,
                                   Clock& clock) {
    if (exists(dir))
        return make_error(Errc::io, "a vault already exists there; refusing to replace it");
    if (auto s = make_directory_durably(dir); !s) return std::move(s).error();
    auto lock = lock_vault_directory(dir);
    if (!lock) return std::move(lock).error();
    for (std::string_view name :
         {vault_format::kDatabaseFileName, vault_format::kCheckpointFileName,
          vault_format::kBlobDirectoryName}) {
        struct stat st {};
        if (::lstat((dir / name).c_str(), &st) == 0)
            return make_error(Errc::io, "the directory holds " + std::string(name) +
                                            " from an earlier vault; refusing to create over it");
    }

    auto made = options.kdf.calibrate
                    ? create_vault_header(dir, passphrase.span(), random)
                    : create_vault_header(
                          dir, passphrase.span(), random,
                          InsecureTestingKdf{static_cast<std::uint32_t>(options.kdf.opslimit),
                                             options.kdf.memlimit});
    if (!made) return std::move(made).error();

    // From here on a failure leaves a header with no usable database; the
    // header is this call's own and protects nothing yet, so it is erased.
    auto fail = [&](Error e) -> Result<CreatedVault> {
        (void)crypto_erase_vault_header(dir, random);
        (void)remove_file(dir / vault_format::kDatabaseFileName);
        return e;
    };
    auto db = Database::create(dir / vault_format::kDatabaseFileName, made->master_key);
    if (!db) return fail(std::move(db).error());
    auto device = crypto::Ed25519SecretKey::generate(random);
    const Timestamp created = clock.now();
    {
        auto tx = db->begin();
        if (!tx) return fail(std::move(tx).error());
        auto setting = db->prepare("INSERT INTO settings (key, value) VALUES (?1, ?2)");
        if (!setting) return fail(std::move(setting).error());
        for (Status s :
             {setting->bind_text(1, kSettingInvestigator),
              setting->bind_blob(2, crypto::as_bytes(options.investigator)), setting->run()})
            if (!s) return fail(std::move(s).error());
        auto key = db->prepare(
            "INSERT INTO device_keys (public_key, secret_seed, created_at) VALUES (?1, ?2, ?3)");
        if (!key) return fail(std::move(key).error());
        for (Status s : {key->bind_blob(1, device.public_key()), key->bind_blob(2, device.seed()),
                         key->bind_int64(3, created.unix_ms), key->run()})
            if (!s) return fail(std::move(s).error());
        if (auto s = tx->commit(); !s) return fail(std::move(s).error());
    }

    auto state =
        open_state(dir, std::move(lock).value(), std::move(made->master_key), random, clock);
    if (!state) return fail(std::move(state).error());
    {
        std::lock_guard guard((*state)->mutex);
        auto change = VaultChange::begin(**state);
        if (!change) return fail(std::move(change).error());
        CustodyDetails details;
        details.add("object", "vault")
            .add("device_key",
                 crypto::minisign::PublicKey::derive_from(device.public_key()).to_base64())
            .add("investigator", options.investigator);
        if (auto e = change->log(CustodyEvent::created, {}, {}, details.text()); !e)
            return fail(std::move(e).error());
        if (auto s = change->commit(); !s) return fail(std::move(s).error());
    }
    return CreatedVault{std::unique_ptr<Vault>(new Vault(std::move(state).value())),
                        made->recovery_key.to_text()};
}

Result<std::unique_ptr<Vault>> Vault::open(const std::filesystem::path& dir,
                                           const crypto::SecretBytes& passphrase,
                                           crypto::RandomSource& random, Clock& clock) {
    auto lock = lock_vault_directory(dir);
    if (!lock) return std::move(lock).error();
    auto unlocked = unlock_vault(dir, passphrase.span(), to_time_point(clock.now()));
    if (!unlocked) return std::move(unlocked).error();

    if (unlocked->by == UnlockedBy::duress) {
        // The duress slot verified: this is the one case where destroying is
        // the intent. The new vault keeps the old slot's cost, so it looks
        // and unlocks like the one it replaces.
        auto header = load_vault_header(dir);
        if (!header) return std::move(header).error();
        const auto testing = kept_testing_cost(*header);
        lock->reset();
        if (auto s = wipe(dir); !s) return std::move(s).error();
        VaultOptions options;
        if (testing) {
            options.kdf.calibrate = false;
            options.kdf.opslimit = testing->opslimit;
            options.kdf.memlimit = testing->memlimit;
        }
        auto created = create(dir, passphrase, options, random, clock);
        if (!created) return std::move(created).error();
        return std::move(created->vault);
    }

    auto state =
        open_state(dir, std::move(lock).value(), std::move(unlocked->master_key), random, clock);
    if (!state) return std::move(state).error();
    return std::unique_ptr<Vault>(new Vault(std::move(state).value()));
}

Result<std::unique_ptr<Vault>> Vault::open_with_recovery_key(
    const std::filesystem::path& dir, const crypto::SecretBytes& recovery_key,
    crypto::RandomSource& random, Clock& clock) {
    auto lock = lock_vault_directory(dir);
    if (!lock) return std::move(lock).error();
    auto key = RecoveryKey::parse(recovery_key.view());
    if (!key) return std::move(key).error();
    auto unlocked = unlock_vault_with_recovery_key(dir, *key);
    if (!unlocked) return std::move(unlocked).error();
    auto state =
        open_state(dir, std::move(lock).value(), std::move(unlocked->master_key), random, clock);
    if (!state) return std::move(state).error();
    return std::unique_ptr<Vault>(new Vault(std::move(state).value()));
}

Status Vault::wipe(const std::filesystem::path& dir) {
    // The key slots go first: once they are overwritten and synced nothing
    // else can be decrypted, so a wipe cut short still destroyed the vault.
    Status first = crypto_erase_vault_header(dir, crypto::system_random());
    auto keep = [&](Status s) {
        if (!s && first) first = std::move(s);
    };
    const std::string db_name(vault_format::kDatabaseFileName);
    for (const std::string& name :
         {db_name, db_name + "-wal", db_name + "-shm", db_name + "-journal",
          std::string(vault_format::kCheckpointFileName),
          std::string(vault_format::kCheckpointFileName) + std::string(vault_format::kTempSuffix),
          // The failed-unlock counter holds no secret, but it belongs to the vault.
          std::string(kUnlockFailuresFileName)})
        keep(remove_file(dir / name));
    BlobStore blobs(dir / vault_format::kBlobDirectoryName);
    if (auto listing = blobs.list()) {
        for (const BlobId& id : listing->blobs) keep(remove_file(blobs.path_of(id)));
        for (const auto& tmp : listing->temporaries) keep(remove_file(tmp));
        std::error_code ec;
        for (std::filesystem::directory_iterator it(blobs.root(), ec), end; !ec && it != end;
             it.increment(ec))
            ::rmdir(it->path().c_str());  // only empty shard directories go
        ::rmdir(blobs.root().c_str());
    } else {
        keep(std::move(listing).error());
    }
    // Outbox files are ciphertext, but they show what was sent.
    keep(remove_outbox_directory(dir));
    keep(fsync_directory(dir));
    return first;
}

const std::filesystem::path& Vault::dir() const {
    return state_->dir;
}

crypto::minisign::PublicKey Vault::device_key() const {
    return crypto::minisign::PublicKey::derive_from(state_->device_key.public_key());
}

std::string Vault::investigator() const {
    return state_->investigator;
}

// ---- Key slots -----------------------------------------------------------------------

namespace {

// Rewrites the passphrase slot for `unlocked` and logs it; keeps the cheap
// test cost of a vault made with one.
Status rewrite_passphrase_slot(Vault::State& state, const VaultUnlock& unlocked,
                               const crypto::SecretBytes& new_passphrase, std::string_view how) {
    auto header = load_vault_header(state.dir);
    if (!header) return std::move(header).error();
    const auto testing = kept_testing_cost(*header);
    Status changed =
        testing ? core::change_passphrase(state.dir, unlocked, new_passphrase.span(), state.random,
                                          *testing)
                : core::change_passphrase(state.dir, unlocked, new_passphrase.span(), state.random);
    if (!changed) return changed;
    auto change = VaultChange::begin(state);
    if (!change) return std::move(change).error();
    CustodyDetails details;
    details.add("slot", "passphrase");
    if (!how.empty()) details.add("with", std::string(how));
    if (auto e = change->log(CustodyEvent::passphrase_changed, {}, {}, details.text()); !e)
        return std::move(e).error();
    return change->commit();
}

}  // namespace

Status Vault::change_passphrase(const crypto::SecretBytes& old_passphrase,
                                const crypto::SecretBytes& new_passphrase) {
    std::lock_guard guard(state_->mutex);
    auto unlocked =
        unlock_vault(state_->dir, old_passphrase.span(), to_time_point(state_->clock.now()));
    if (!unlocked) return std::move(unlocked).error();
    // A duress passphrase typed here changes nothing and destroys nothing:
    // it simply is not the passphrase.
    if (unlocked->by != UnlockedBy::passphrase ||
        !state_->master_key.equals(unlocked->master_key.span()))
        return make_error(Errc::wrong_passphrase, "the current passphrase is not correct");
    return rewrite_passphrase_slot(*state_, *unlocked, new_passphrase, "");
}

Status Vault::reset_passphrase(const crypto::SecretBytes& recovery_key,
                               const crypto::SecretBytes& new_passphrase) {
    std::lock_guard guard(state_->mutex);
    auto key = RecoveryKey::parse(recovery_key.view());
    if (!key) return std::move(key).error();
    auto unlocked = unlock_vault_with_recovery_key(state_->dir, *key);
    if (!unlocked) return std::move(unlocked).error();
    if (unlocked->by != UnlockedBy::recovery_key ||
        !state_->master_key.equals(unlocked->master_key.span()))
        return make_error(Errc::wrong_passphrase, "the recovery key is not this vault's");
    return rewrite_passphrase_slot(*state_, *unlocked, new_passphrase, "recovery key");
}

Status Vault::set_duress_passphrase(const crypto::SecretBytes& passphrase,
                                    const crypto::SecretBytes& duress) {
    std::lock_guard guard(state_->mutex);
    auto unlocked =
        unlock_vault(state_->dir, passphrase.span(), to_time_point(state_->clock.now()));
    if (!unlocked) return std::move(unlocked).error();
    if (unlocked->by != UnlockedBy::passphrase ||
        !state_->master_key.equals(unlocked->master_key.span()))
        return make_error(Errc::wrong_passphrase, "the passphrase is not correct");
    // Deliberately not logged: the custody log is readable by whoever opens
    // the vault, and must not tell a coercer that a duress passphrase exists.
    return core::set_duress_passphrase(state_->dir, *unlocked, duress.span(), state_->random);
}

// ---- Custody log (read side) -------------------------------------------------------------

Result<std::vector<CustodyEntry>> Vault::custody_log(const std::optional<ItemId>& item_id) {
    std::lock_guard guard(state_->mutex);
    auto st = item_id ? state_->db.prepare(
                            "SELECT entry FROM custody_entries WHERE item_id = ?1 ORDER BY seq")
                      : state_->db.prepare("SELECT entry FROM custody_entries ORDER BY seq");
    if (!st) return std::move(st).error();
    if (item_id) {
        auto bytes = id_bytes(*item_id);
        if (!bytes) return make_error(Errc::malformed, "malformed item id");
        if (auto s = st->bind_blob(1, *bytes); !s) return std::move(s).error();
    }
    std::vector<CustodyEntry> out;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        auto entry = decode_custody_entry(st->column_blob(0));
        if (!entry) return std::move(entry).error();
        out.push_back(std::move(entry).value());
    }
    return out;
}

Result<std::string> Vault::checkpoint() {
    std::lock_guard guard(state_->mutex);
    auto note = latest_checkpoint_note(state_->db);
    if (!note) return std::move(note).error();
    if (!*note) return make_error(Errc::malformed, "the vault has no checkpoint");
    return std::move(**note);
}

}  // namespace custodia::core
