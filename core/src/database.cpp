#include "custodia/core/database.h"

// SQLCipher's header declares sqlite3_key() only for codec builds.
#define SQLITE_HAS_CODEC 1
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "custodia/crypto/hash.h"

namespace custodia::core {

using crypto::SecretBytes;

namespace {

constexpr std::string_view kDatabaseKeyInfo = "custodia/v1/db-key";

// ---- Schema ---------------------------------------------------------------

// Schema v1: the evidence model of DESIGN.md §4. Times are milliseconds since
// the Unix epoch, UTC. Ids that leave the device (cases, items, attachments,
// witnesses, consents) are 16 random bytes; local_id columns are stable local
// row numbers that VACUUM cannot renumber.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;

-- The device's Ed25519 signing keys. A retired key stays, so that what it
-- signed can still be verified.
CREATE TABLE device_keys (
    id          INTEGER PRIMARY KEY,
    public_key  BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),
    secret_seed BLOB NOT NULL CHECK (length(secret_seed) = 32),
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE cases (
    id          BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

-- Default recipients of a case's bundles: the NGO's age X25519 recipients.
CREATE TABLE case_recipients (
    case_id   BLOB NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    recipient TEXT NOT NULL CHECK (recipient GLOB 'age1*'),
    label     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, recipient)
) WITHOUT ROWID;

-- Items name a witness by pseudonym only.
CREATE TABLE witnesses (
    id         BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    case_id    BLOB NOT NULL REFERENCES cases(id),
    pseudonym  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (case_id, pseudonym)
);

-- Identifying details live apart, so that nothing that reads items reads
-- them, and an export includes them only when asked to.
CREATE TABLE witness_identities (
    witness_id BLOB PRIMARY KEY NOT NULL REFERENCES witnesses(id) ON DELETE CASCADE,
    full_name  TEXT NOT NULL DEFAULT '',
    contact    TEXT NOT NULL DEFAULT '',
    notes      TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE items (
    local_id            INTEGER PRIMARY KEY,
    id                  BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    case_id             BLOB NOT NULL REFERENCES cases(id),
    kind                TEXT NOT NULL
                        CHECK (kind IN ('testimony', 'audio', 'video', 'photo', 'document', 'note')),
    title               TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    body                TEXT NOT NULL DEFAULT '',  -- the text of a testimony or note
    captured_at         INTEGER NOT NULL,
    utc_offset_minutes  INTEGER NOT NULL CHECK (utc_offset_minutes BETWEEN -1080 AND 1080),
    clock_source        TEXT NOT NULL CHECK (length(clock_source) > 0),  -- Clock::source()
    latitude            REAL CHECK (latitude BETWEEN -90 AND 90),
    longitude           REAL CHECK (longitude BETWEEN -180 AND 180),
    location_accuracy_m REAL CHECK (location_accuracy_m >= 0),
    location_source     TEXT,  -- "gps", "typed", ...: what the capture says
    investigator        TEXT NOT NULL,
    language            TEXT NOT NULL DEFAULT '',  -- BCP 47
    witness_id          BLOB REFERENCES witnesses(id),
    derived_from        BLOB REFERENCES items(id),
    derivation          TEXT CHECK (derivation IN
                        ('correction', 'annotation', 'transcript', 'translation', 'redaction', 'extract')),
    created_at          INTEGER NOT NULL,
    CHECK ((latitude IS NULL) = (longitude IS NULL)),
    CHECK ((latitude IS NULL) = (location_source IS NULL)),
    CHECK (latitude IS NOT NULL OR location_accuracy_m IS NULL),
    CHECK (derived_from IS NOT NULL OR derivation IS NULL)
);
CREATE INDEX items_by_case ON items (case_id, captured_at);
CREATE INDEX items_by_witness ON items (witness_id) WHERE witness_id IS NOT NULL;
CREATE INDEX items_by_origin ON items (derived_from) WHERE derived_from IS NOT NULL;

-- Items are immutable after capture: a correction, transcript or redaction is
-- a new item that names the original in derived_from.
CREATE TRIGGER items_are_immutable BEFORE UPDATE ON items
BEGIN
    SELECT RAISE(ABORT, 'items are immutable; record a derived item instead');
END;

CREATE TABLE item_tags (
    item_id BLOB NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    tag     TEXT NOT NULL CHECK (length(tag) > 0),
    PRIMARY KEY (item_id, tag)
) WITHOUT ROWID;

CREATE TABLE attachments (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    item_id       BLOB NOT NULL REFERENCES items(id),
    original_name TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size          INTEGER NOT NULL CHECK (size >= 0),
    sha256        BLOB NOT NULL CHECK (length(sha256) = 32),
    blob_id       TEXT NOT NULL UNIQUE,  -- random file name under blobs/, never the content hash
    created_at    INTEGER NOT NULL
);
CREATE INDEX attachments_by_item ON attachments (item_id);
CREATE TRIGGER attachments_are_immutable BEFORE UPDATE ON attachments
BEGIN
    SELECT RAISE(ABORT, 'attachments are immutable');
END;

-- Each blob's own random key, apart from the attachment: deleting the row
-- crypto-shreds the blob (consent withdrawn, item destroyed).
CREATE TABLE blob_keys (
    attachment_id BLOB PRIMARY KEY NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    key           BLOB NOT NULL CHECK (length(key) = 32)
) WITHOUT ROWID;

CREATE TABLE consents (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    witness_id     BLOB REFERENCES witnesses(id),  -- NULL: no witness named
    type           TEXT NOT NULL CHECK (type IN ('written', 'oral_recorded', 'none')),
    share_courts   INTEGER NOT NULL CHECK (share_courts IN (0, 1)),
    share_public   INTEGER NOT NULL CHECK (share_public IN (0, 1)),
    record_item_id BLOB REFERENCES items(id),  -- the item that records the consent
    given_at       INTEGER NOT NULL
);
CREATE TRIGGER consents_are_immutable BEFORE UPDATE ON consents
BEGIN
    SELECT RAISE(ABORT, 'consents are immutable; withdrawal is an event');
END;

-- Organisations the witness allows sharing with, by name.
CREATE TABLE consent_organisations (
    consent_id   BLOB NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
    organisation TEXT NOT NULL,
    PRIMARY KEY (consent_id, organisation)
) WITHOUT ROWID;

CREATE TABLE consent_items (
    consent_id BLOB NOT NULL REFERENCES consents(id),
    item_id    BLOB NOT NULL REFERENCES items(id),
    PRIMARY KEY (consent_id, item_id)
) WITHOUT ROWID;

-- Withdrawal of consent is an event, never an edit of the consent.
CREATE TABLE consent_withdrawals (
    consent_id   BLOB PRIMARY KEY NOT NULL REFERENCES consents(id),
    withdrawn_at INTEGER NOT NULL,
    shredded     INTEGER NOT NULL CHECK (shredded IN (0, 1)),
    custody_seq  INTEGER REFERENCES custody_entries(seq)
) WITHOUT ROWID;

-- "The signed hash": the exact statement bytes the device signed at capture
-- or import (item id, SHA-256, size, capture time, location, investigator).
CREATE TABLE capture_records (
    id            INTEGER PRIMARY KEY,
    item_id       BLOB NOT NULL REFERENCES items(id),
    attachment_id BLOB REFERENCES attachments(id),
    statement     BLOB NOT NULL,
    signature     BLOB NOT NULL CHECK (length(signature) = 64),
    device_key_id INTEGER NOT NULL REFERENCES device_keys(id),
    signed_at     INTEGER NOT NULL
);
CREATE INDEX capture_records_by_item ON capture_records (item_id);
CREATE UNIQUE INDEX capture_records_by_attachment ON capture_records (attachment_id)
    WHERE attachment_id IS NOT NULL;
CREATE TRIGGER capture_records_are_immutable BEFORE UPDATE ON capture_records
BEGIN
    SELECT RAISE(ABORT, 'capture records are immutable');
END;

-- The custody log (DESIGN.md §5): seq is the leaf index, leaf_hash is
-- SHA-256(0x00 || entry). Entries outlive what they describe, so case_id and
-- item_id are not foreign keys. Append-only: contiguous, never changed.
CREATE TABLE custody_entries (
    seq         INTEGER PRIMARY KEY CHECK (seq >= 0),
    event       TEXT NOT NULL CHECK (event IN ('created', 'captured', 'imported', 'annotated',
                'extracted', 'exported', 'bundled', 'uploaded', 'receipt_received', 'timestamped',
                'consent_withdrawn', 'destroyed', 'passphrase_changed')),
    case_id     BLOB,
    item_id     BLOB,
    entry       BLOB NOT NULL,
    leaf_hash   BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    recorded_at INTEGER NOT NULL
);
CREATE INDEX custody_entries_by_item ON custody_entries (item_id) WHERE item_id IS NOT NULL;
CREATE INDEX custody_entries_by_case ON custody_entries (case_id) WHERE case_id IS NOT NULL;
CREATE TRIGGER custody_entries_are_contiguous BEFORE INSERT ON custody_entries
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq) + 1, 0) FROM custody_entries)
BEGIN
    SELECT RAISE(ABORT, 'custody log entries are appended in order');
END;
CREATE TRIGGER custody_entries_no_update BEFORE UPDATE ON custody_entries
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;
CREATE TRIGGER custody_entries_no_delete BEFORE DELETE ON custody_entries
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;

-- Signed checkpoints (C2SP tlog-checkpoint as a signed note, exact bytes),
-- cosignatures from intake servers, and RFC 3161 timestamp tokens.
CREATE TABLE checkpoints (
    tree_size  INTEGER PRIMARY KEY CHECK (tree_size >= 0),
    root_hash  BLOB NOT NULL CHECK (length(root_hash) = 32),
    note       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TRIGGER checkpoints_are_immutable BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are immutable');
END;

CREATE TABLE checkpoint_cosignatures (
    tree_size   INTEGER NOT NULL REFERENCES checkpoints(tree_size),
    cosigner    TEXT NOT NULL,
    signature   BLOB NOT NULL,  -- the cosignature line, exact bytes
    received_at INTEGER NOT NULL,
    PRIMARY KEY (tree_size, cosigner)
) WITHOUT ROWID;

CREATE TABLE checkpoint_timestamps (
    tree_size   INTEGER NOT NULL REFERENCES checkpoints(tree_size),
    authority   TEXT NOT NULL,
    token       BLOB NOT NULL,  -- DER TimeStampResp
    received_at INTEGER NOT NULL,
    PRIMARY KEY (tree_size, authority)
) WITHOUT ROWID;

-- Placeholder for the sync outbox (DESIGN.md §7); its own migration will
-- grow it when upload lands.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    bundle_id       BLOB NOT NULL CHECK (length(bundle_id) = 16),
    destination     TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'uploading', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (bundle_id, destination)
);

-- Full-text search over items (FTS4: SQLCipher 3.4.1 has no FTS5). The docid
-- is items.local_id; triggers keep the index in step with items and tags.
CREATE VIRTUAL TABLE item_search USING fts4(
    title, description, body, tags, tokenize=unicode61 "remove_diacritics=1");
CREATE TRIGGER item_search_on_insert AFTER INSERT ON items
BEGIN
    INSERT INTO item_search (docid, title, description, body, tags)
    VALUES (NEW.local_id, NEW.title, NEW.description, NEW.body, '');
END;
CREATE TRIGGER item_search_on_delete AFTER DELETE ON items
BEGIN
    DELETE FROM item_search WHERE docid = OLD.local_id;
END;
CREATE TRIGGER item_search_on_tag_insert AFTER INSERT ON item_tags
BEGIN
    UPDATE item_search
       SET tags = (SELECT group_concat(tag, ' ') FROM item_tags WHERE item_id = NEW.item_id)
     WHERE docid = (SELECT local_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER item_search_on_tag_delete AFTER DELETE ON item_tags
BEGIN
    UPDATE item_search
       SET tags = coalesce((SELECT group_concat(tag, ' ') FROM item_tags
                             WHERE item_id = OLD.item_id), '')
     WHERE docid = (SELECT local_id FROM items WHERE id = OLD.item_id);
END;
)sql";

// Schema v2: what the vault (vault.cpp) needs beyond the evidence model.
constexpr std::string_view kSchemaV2 = R"sql(
-- The custody log's perfect interior nodes (level >= 1; level 0 is
-- custody_entries.leaf_hash): the node at (level, idx) covers the leaves
-- [idx * 2^level, (idx + 1) * 2^level). Appending never reads old entries,
-- and every proof costs O(log n) lookups.
CREATE TABLE custody_nodes (
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TRIGGER custody_nodes_no_update BEFORE UPDATE ON custody_nodes
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;
CREATE TRIGGER custody_nodes_no_delete BEFORE DELETE ON custody_nodes
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;

-- Items whose content was crypto-shredded (consent withdrawn): the blob key
-- row is gone, the blob removed, the item dropped from search. The item row
-- itself stays, because the custody log names it.
CREATE TABLE shredded_items (
    item_id     BLOB PRIMARY KEY NOT NULL REFERENCES items(id),
    shredded_at INTEGER NOT NULL,
    custody_seq INTEGER NOT NULL REFERENCES custody_entries(seq)
) WITHOUT ROWID;

-- A page of the newest items across cases.
CREATE INDEX items_by_time ON items (captured_at);
)sql";

// Schema v3: sync state (DESIGN.md §7, docs/FORMAT.md "Sync state"). The
// v1 outbox was a placeholder nothing ever wrote; it is replaced.
constexpr std::string_view kSchemaV3 = R"sql(
DROP TABLE outbox;

-- Intake servers the device enrolled with. pin_json is what the sync layer
-- keeps about the server (URL, name, public key); the vault does not read it.
CREATE TABLE sync_servers (
    name           TEXT PRIMARY KEY NOT NULL,
    pin_json       TEXT NOT NULL,
    added_at       INTEGER NOT NULL,
    added_offset   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Sealed bundles waiting for (or holding) a server's receipt. The files are
-- <vault>/outbox/<bundle_id>.custodia and .custodia.envelope. Only 'received'
-- means sent, and it is final: the receipt it holds is evidence.
CREATE TABLE outbox (
    id                   INTEGER PRIMARY KEY,
    bundle_id            TEXT NOT NULL,
    server               TEXT NOT NULL,
    case_id              TEXT NOT NULL,
    item_ids             TEXT NOT NULL,  -- JSON array of item ids (32 hex)
    size                 INTEGER NOT NULL CHECK (size >= 0),
    state                TEXT NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'sending', 'received', 'failed')),
    bytes_confirmed      INTEGER NOT NULL DEFAULT 0 CHECK (bytes_confirmed >= 0),
    last_error           TEXT NOT NULL DEFAULT '',
    attempts             INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    queued_at            INTEGER NOT NULL,
    queued_offset        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at      INTEGER,
    received_at          INTEGER,
    receipt_note         TEXT,
    cosigned_checkpoint  TEXT,
    receipt_verifier     TEXT,
    cosignature_verifier TEXT,
    UNIQUE (bundle_id, server),
    CHECK ((state = 'received') = (receipt_note IS NOT NULL AND cosigned_checkpoint IS NOT NULL))
);
CREATE TRIGGER outbox_received_is_final BEFORE UPDATE ON outbox WHEN OLD.state = 'received'
BEGIN
    SELECT RAISE(ABORT, 'a received outbox entry holds a receipt and is final');
END;
CREATE TRIGGER outbox_received_is_kept BEFORE DELETE ON outbox WHEN OLD.state = 'received'
BEGIN
    SELECT RAISE(ABORT, 'a received outbox entry holds a receipt and is kept');
END;
)sql";

constexpr SchemaMigration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
};

// ---- Errors -------------------------------------------------------------------

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    Errc code = Errc::internal;
    switch (rc & 0xFF) {
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
        case SQLITE_FORMAT:
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
            code = Errc::malformed;
            break;
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_FULL:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_PROTOCOL:
            code = Errc::io;
            break;
        case SQLITE_NOMEM:
        case SQLITE_TOOBIG:
            code = Errc::limit;
            break;
        case SQLITE_INTERRUPT:
            code = Errc::cancelled;
            break;
        default:
            break;
    }
    std::string message(what);
    message += ": ";
    message += sqlite3_errstr(rc);
    if (db != nullptr && sqlite3_errcode(db) == rc) {
        message += " (";
        message += sqlite3_errmsg(db);
        message += ")";
    }
    return make_error(code, std::move(message));
}

Error io_error(const std::string& what, int err) {
    return make_error(Errc::io, what + ": " + std::generic_category().message(err));
}

bool path_exists(const std::filesystem::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

std::filesystem::path with_suffix(const std::filesystem::path& p, std::string_view suffix) {
    return std::filesystem::path(p.native() + std::string(suffix));
}

// The "x'<64 hex digits>'" form makes SQLCipher use the bytes as its key and
// skip PBKDF2. Built in sodium_malloc memory and wiped with it.
SecretBytes raw_key_literal(const SecretBytes& key) {
    static constexpr char kHex[] = "0123456789abcdef";
    SecretBytes literal(2 + key.size() * 2 + 1);
    std::uint8_t* out = literal.data();
    *out++ = 'x';
    *out++ = '\'';
    for (const std::uint8_t b : key.span()) {
        *out++ = static_cast<std::uint8_t>(kHex[b >> 4]);
        *out++ = static_cast<std::uint8_t>(kHex[b & 0x0F]);
    }
    *out = '\'';
    return literal;
}

// Runs a one-row PRAGMA and returns its first column as text ("" for no row).
Result<std::string> pragma_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, sql);
    std::string value;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt, 0);
        if (text != nullptr)
            value.assign(reinterpret_cast<const char*>(text),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt, 0)));
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, sql);
    return value;
}

Status require_fts4(sqlite3* db) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA compile_options", -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "PRAGMA compile_options");
    bool found = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt, 0);
        if (text == nullptr) continue;
        const std::string_view option(reinterpret_cast<const char*>(text));
        // FTS4 is part of the FTS3 module.
        if (option == "ENABLE_FTS3" || option == "ENABLE_FTS4") found = true;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, "PRAGMA compile_options");
    if (!found) return make_error(Errc::unsupported, "this SQLCipher build has no FTS4");
    return {};
}

Status exec(sqlite3* db, const char* sql) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(db, rc, "SQL statement failed");
    return {};
}

Status set_pragma(sqlite3* db, const char* sql, std::string_view expected) {
    auto value = pragma_text(db, sql);
    if (!value) return std::move(value).error();
    if (!expected.empty() && *value != expected)
        return make_error(Errc::unsupported,
                          std::string(sql) + " was not applied (got '" + *value + "')");
    return {};
}

}  // namespace

// ---- Free functions --------------------------------------------------------------

Result<SecretBytes> derive_database_key(const SecretBytes& master_key) {
    if (master_key.size() != 32)
        return make_error(Errc::internal, "the master key must be 32 bytes");
    return crypto::hkdf_sha256(master_key.span(), {}, kDatabaseKeyInfo, 32);
}

Status require_cipher_version(std::string_view reported) {
    if (reported.empty())
        return make_error(
            Errc::unsupported,
            "linked SQLite has no encryption codec; refusing to store the vault in plaintext");
    if (reported != kRequiredCipherVersion)
        return make_error(Errc::unsupported, "SQLCipher " + std::string(reported) +
                                                 " found; this vault format needs SQLCipher " +
                                                 std::string(kRequiredCipherVersion));
    return {};
}

std::span<const SchemaMigration> schema_migrations() {
    return kMigrations;
}

// ---- Statement -------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        db_ = std::exchange(other.db_, nullptr);
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Status Statement::bind_int64(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "bind failed");
    return {};
}

Status Statement::bind_double(int index, double value) {
    const int rc = sqlite3_bind_double(stmt_, index, value);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "bind failed");
    return {};
}

Status Statement::bind_text(int index, std::string_view value) {
    if (value.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(Errc::limit, "text too long for SQLite");
    const int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "bind failed");
    return {};
}

Status Statement::bind_blob(int index, std::span<const std::uint8_t> value) {
    if (value.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(Errc::limit, "blob too large for SQLite");
    // A zero-length blob, not NULL: sqlite3_bind_blob with a null pointer binds NULL.
    static const std::uint8_t empty = 0;
    const int rc = sqlite3_bind_blob(stmt_, index, value.empty() ? &empty : value.data(),
                                     static_cast<int>(value.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "bind failed");
    return {};
}

Status Statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "bind failed");
    return {};
}

Result<bool> Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sqlite_error(db_, rc, "statement failed");
}

Status Statement::run() {
    for (;;) {
        auto more = step();
        if (!more) return std::move(more).error();
        if (!*more) return {};
    }
}

Status Statement::reset() {
    // sqlite3_reset repeats the last step's error; that error was already
    // reported by step(), so only clearing matters here.
    sqlite3_reset(stmt_);
    const int rc = sqlite3_clear_bindings(stmt_);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "reset failed");
    return {};
}

int Statement::column_count() const noexcept {
    return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int column) const noexcept {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int column) const noexcept {
    return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const noexcept {
    return sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
    const auto* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::vector<std::uint8_t> Statement::column_blob(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    if (data == nullptr) return {};
    return std::vector<std::uint8_t>(data, data + size);
}

SecretBytes Statement::column_secret(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
    if (data == nullptr) return {};
    return SecretBytes::copy_of(std::span<const std::uint8_t>(data, size));
}

// ---- Transaction -------------------------------------------------------------------

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
    if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::commit() {
    if (db_ == nullptr) return make_error(Errc::internal, "transaction already finished");
    if (auto s = exec(db_, "COMMIT"); !s) return s;  // still open: the destructor rolls back
    db_ = nullptr;
    return {};
}

// ---- Database ----------------------------------------------------------------------

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        sqlite3_close_v2(db_);
        db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
}

Database::~Database() {
    sqlite3_close_v2(db_);
}

Status Database::close() {
    if (db_ == nullptr) return {};
    const int rc = sqlite3_close(db_);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "closing vault.db failed");
    db_ = nullptr;
    return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
    if (sql.size() > static_cast<std::size_t>(INT_MAX))
        return make_error(Errc::limit, "SQL too long");
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
    if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare failed");
    Statement statement(db_, stmt);
    if (stmt == nullptr) return make_error(Errc::internal, "prepare: no SQL statement");
    const std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
    if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos)
        return make_error(Errc::internal, "prepare takes exactly one SQL statement");
    return statement;
}

Status Database::execute(std::string_view sql) {
    return exec(db_, std::string(sql).c_str());
}

Result<Transaction> Database::begin() {
    if (auto s = exec(db_, "BEGIN IMMEDIATE"); !s) return std::move(s).error();
    return Transaction(db_);
}

Result<Transaction> Database::begin_read() {
    if (auto s = exec(db_, "BEGIN DEFERRED"); !s) return std::move(s).error();
    return Transaction(db_);
}

Result<int> Database::schema_version() {
    auto text = pragma_text(db_, "PRAGMA user_version");
    if (!text) return std::move(text).error();
    try {
        return std::stoi(*text);
    } catch (const std::exception&) {
        return make_error(Errc::malformed, "PRAGMA user_version is not a number");
    }
}

Status Database::migrate(std::span<const SchemaMigration> migrations) {
    for (std::size_t i = 0; i < migrations.size(); ++i)
        if (migrations[i].version != static_cast<int>(i) + 1)
            return make_error(Errc::internal, "schema migrations must be numbered 1, 2, 3, ...");
    auto current = schema_version();
    if (!current) return std::move(current).error();
    const int latest = static_cast<int>(migrations.size());
    if (*current < 0 || *current > latest)
        return make_error(Errc::unsupported, "vault.db schema version " + std::to_string(*current) +
                                                 " is newer than this build (" +
                                                 std::to_string(latest) + ")");
    for (const SchemaMigration& m : migrations.subspan(static_cast<std::size_t>(*current))) {
        auto tx = begin();
        if (!tx) return std::move(tx).error();
        if (auto s = execute(m.sql); !s)
            return make_error(s.error().code, "schema migration " + std::to_string(m.version) +
                                                  " failed: " + s.error().message);
        const std::string bump = "PRAGMA user_version = " + std::to_string(m.version);
        if (auto s = execute(bump); !s) return s;
        if (auto s = tx->commit(); !s) return s;
    }
    return {};
}

std::int64_t Database::last_insert_rowid() const noexcept {
    return sqlite3_last_insert_rowid(db_);
}

Result<Database> Database::open_keyed(const std::filesystem::path& path,
                                      const SecretBytes& master_key) {
    auto db_key = derive_database_key(master_key);
    if (!db_key) return std::move(db_key).error();

    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
    Database db(raw);  // closes on every return below, even when the open failed
    if (rc != SQLITE_OK) return sqlite_error(raw, rc, "cannot open vault.db");
    sqlite3_extended_result_codes(raw, 1);

    // Same effect as PRAGMA key = "x'...'", without the key passing through
    // the SQL parser's buffers.
    {
        const SecretBytes literal = raw_key_literal(*db_key);
        rc = sqlite3_key(raw, literal.data(), static_cast<int>(literal.size()));
    }
    if (rc != SQLITE_OK) return sqlite_error(raw, rc, "cannot set the vault.db key");

    // Nothing below writes until the key has been shown to decrypt page 1.
    auto version = pragma_text(raw, "PRAGMA cipher_version");
    if (!version) return std::move(version).error();
    if (auto s = require_cipher_version(*version); !s) return std::move(s).error();
    if (auto s = exec(raw, "PRAGMA cipher_page_size = 4096"); !s) return std::move(s).error();
    if (auto s = require_fts4(raw); !s) return std::move(s).error();

    sqlite3_stmt* probe = nullptr;
    rc = sqlite3_prepare_v2(raw, "SELECT count(*) FROM sqlite_master", -1, &probe, nullptr);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(probe);
        if (rc == SQLITE_ROW) rc = SQLITE_OK;
    }
    sqlite3_finalize(probe);
    if (rc != SQLITE_OK) {
        // The key came from a slot whose tag verified, so it is the right key:
        // a file it cannot read is damaged or is not this vault's database.
        if ((rc & 0xFF) == SQLITE_NOTADB || (rc & 0xFF) == SQLITE_CORRUPT)
            return make_error(Errc::malformed,
                              "vault.db cannot be decrypted with this vault's key: it is damaged "
                              "or belongs to another vault (left untouched)");
        return sqlite_error(raw, rc, "cannot read vault.db");
    }

    if (auto s = set_pragma(raw, "PRAGMA journal_mode = WAL", "wal"); !s)
        return std::move(s).error();
    if (auto s = exec(raw, "PRAGMA synchronous = FULL"); !s) return std::move(s).error();
    if (auto s = set_pragma(raw, "PRAGMA secure_delete = ON", "1"); !s) return std::move(s).error();
    if (auto s = exec(raw, "PRAGMA foreign_keys = ON"); !s) return std::move(s).error();
    // Sorting and temporary indexes stay in memory, never in a temp file.
    if (auto s = exec(raw, "PRAGMA temp_store = MEMORY"); !s) return std::move(s).error();
    if (auto s = set_pragma(raw, "PRAGMA foreign_keys", "1"); !s) return std::move(s).error();
    if (auto s = set_pragma(raw, "PRAGMA synchronous", "2"); !s) return std::move(s).error();

    if (auto s = db.migrate(schema_migrations()); !s) return std::move(s).error();
    return db;
}

Result<Database> Database::create(const std::filesystem::path& path,
                                  const SecretBytes& master_key) {
    for (const char* suffix : {"-wal", "-shm", "-journal"})
        if (path_exists(with_suffix(path, suffix)))
            return make_error(Errc::io, "a journal of an earlier vault.db is still there (" +
                                            with_suffix(path, suffix).filename().string() +
                                            "); refusing to create over it");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return make_error(Errc::io, "vault.db already exists; refusing to replace it");
        return io_error("cannot create vault.db", errno);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    // The new directory entry must survive a crash as well as the contents.
    const auto parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool dir_synced = dir_fd >= 0 && ::fsync(dir_fd) == 0;
    if (dir_fd >= 0) ::close(dir_fd);
    if (!synced || !dir_synced) return io_error("cannot fsync the new vault.db", errno);

    auto db = open_keyed(path, master_key);
    if (!db) {
        // Only a file still empty, i.e. the one just made, is removed.
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && st.st_size == 0) ::unlink(path.c_str());
    }
    return db;
}

Result<Database> Database::open(const std::filesystem::path& path, const SecretBytes& master_key) {
    if (!path_exists(path)) return make_error(Errc::io, "vault.db does not exist");
    return open_keyed(path, master_key);
}

}  // namespace custodia::core
