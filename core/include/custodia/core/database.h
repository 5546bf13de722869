// vault.db: the vault's SQLCipher database (metadata, evidence model,
// custody log, outbox, device keys), and a thin RAII layer over SQLite.
//
// The database is opened with a raw 256-bit key, so SQLCipher's own PBKDF2
// never runs: key = HKDF-SHA-256(master key, salt = empty,
// info = "custodia/v1/db-key"). Only SQLCipher 3.4.1 is accepted, because a
// plain SQLite linked by mistake ignores the key and would write plaintext.
//
// A database that will not decrypt with the key from a slot that verified is
// damaged or belongs to another vault: that is Errc::malformed, and the file
// is never touched, re-created or re-initialised.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

struct sqlite3;
struct sqlite3_stmt;

namespace custodia::core {

inline constexpr std::string_view kVaultDbFileName = "vault.db";
inline constexpr std::string_view kRequiredCipherVersion = "3.4.1";
inline constexpr int kCipherPageSize = 4096;

// HKDF-SHA-256(master_key, salt = empty, info = "custodia/v1/db-key"), 32 bytes.
[[nodiscard]] Result<crypto::SecretBytes> derive_database_key(
    const crypto::SecretBytes& master_key);

// What `PRAGMA cipher_version` must report; an empty answer means plain
// SQLite (no codec). Errc::unsupported otherwise.
[[nodiscard]] Status require_cipher_version(std::string_view reported);

// One prepared statement. Parameter and column indexes are those of SQLite:
// parameters from 1, columns from 0. Bound text and blobs are copied.
class Statement {
  public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    [[nodiscard]] Status bind_int64(int index, std::int64_t value);
    [[nodiscard]] Status bind_double(int index, double value);
    [[nodiscard]] Status bind_text(int index, std::string_view value);
    [[nodiscard]] Status bind_blob(int index, std::span<const std::uint8_t> value);
    [[nodiscard]] Status bind_null(int index);

    // true: a row is ready to read; false: the statement has finished.
    [[nodiscard]] Result<bool> step();
    // Steps to the end, ignoring rows (INSERT, UPDATE, DELETE, DDL).
    [[nodiscard]] Status run();
    // Makes the statement ready to run again and clears its bindings.
    [[nodiscard]] Status reset();

    int column_count() const noexcept;
    bool column_is_null(int column) const noexcept;
    std::int64_t column_int64(int column) const noexcept;
    double column_double(int column) const noexcept;
    std::string column_text(int column) const;
    std::vector<std::uint8_t> column_blob(int column) const;
    // For keys kept in the database (blob keys, device key seeds).
    crypto::SecretBytes column_secret(int column) const;

  private:
    friend class Database;
    Statement(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT (or, from begin_read(), BEGIN ... for one
// consistent snapshot); rolls back unless commit() succeeded. Must not
// outlive the Database that began it.
class Transaction {
  public:
    Transaction(Transaction&& other) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    [[nodiscard]] Status commit();

  private:
    friend class Database;
    explicit Transaction(sqlite3* db) noexcept : db_(db) {}

    sqlite3* db_ = nullptr;  // null once committed or rolled back
};

// A forward migration: the SQL that takes the schema from version - 1 to
// version, applied with `PRAGMA user_version = version` in one transaction.
struct SchemaMigration {
    int version = 0;
    std::string_view sql;
};

// The built-in migrations, in order; the last version is the current schema.
std::span<const SchemaMigration> schema_migrations();

class Database {
  public:
    // Creates a new vault.db at `path` (mode 0600) and applies every
    // migration. Refuses if the file, or a journal of an older one, exists.
    [[nodiscard]] static Result<Database> create(const std::filesystem::path& path,
                                                 const crypto::SecretBytes& master_key);
    // Opens an existing vault.db, checks the key and the SQLCipher build, and
    // applies the migrations it does not have yet. Errc::malformed if the key
    // does not decrypt it; Errc::unsupported for a schema newer than this build.
    [[nodiscard]] static Result<Database> open(const std::filesystem::path& path,
                                               const crypto::SecretBytes& master_key);

    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // Exactly one SQL statement.
    [[nodiscard]] Result<Statement> prepare(std::string_view sql);
    // Any number of statements without parameters (DDL, PRAGMA).
    [[nodiscard]] Status execute(std::string_view sql);
    [[nodiscard]] Result<Transaction> begin();
    // A read transaction: the statements in it see one snapshot and share
    // one lock instead of taking their own (much cheaper for many reads).
    [[nodiscard]] Result<Transaction> begin_read();

    // `PRAGMA user_version`.
    [[nodiscard]] Result<int> schema_version();
    // Applies, each in its own transaction, the migrations above the current
    // version. Versions must run 1, 2, 3, ... with no gap.
    [[nodiscard]] Status migrate(std::span<const SchemaMigration> migrations);

    std::int64_t last_insert_rowid() const noexcept;
    // Closes now and reports a failure that the destructor would swallow.
    [[nodiscard]] Status close();

  private:
    explicit Database(sqlite3* db) noexcept : db_(db) {}
    [[nodiscard]] static Result<Database> open_keyed(const std::filesystem::path& path,
                                                     const crypto::SecretBytes& master_key);

    sqlite3* db_ = nullptr;
};

}  // namespace custodia::core
