// A thin RAII layer over the SQLite C API for the intake server's index.
// SQLCipher is linked as the SQLite library (core needs it, and two SQLite
// builds cannot share one binary); no key is ever set, so it is plain SQLite.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/crypto/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace custodia::intake {

class Statement {
  public:
    Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::span<const std::uint8_t> bytes);
    Statement& bind_null(int index);

    // true: a row is ready; false: done. Errors become Errc::io.
    [[nodiscard]] Result<bool> step();
    // step() until done, for statements that return no rows.
    [[nodiscard]] Status run();

    std::int64_t column_int(int index) const;
    std::string column_text(int index) const;
    std::vector<std::uint8_t> column_blob(int index) const;
    bool column_is_null(int index) const;

  private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

class Database {
  public:
    [[nodiscard]] static Result<std::unique_ptr<Database>> open(const std::filesystem::path& path,
                                                                bool create);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    [[nodiscard]] Status exec(std::string_view sql);
    [[nodiscard]] Result<Statement> prepare(std::string_view sql);
    // Rows changed by the last INSERT/UPDATE/DELETE.
    std::int64_t changes() const;

  private:
    explicit Database(sqlite3* db) : db_(db) {}
    sqlite3* db_;
};

// BEGIN IMMEDIATE … COMMIT, rolled back unless commit() succeeded.
class Transaction {
  public:
    explicit Transaction(Database& db) : db_(db) {}
    [[nodiscard]] Status begin() {
        auto st = db_.exec("BEGIN IMMEDIATE");
        active_ = st.ok();
        return st;
    }
    [[nodiscard]] Status commit() {
        auto st = db_.exec("COMMIT");
        if (st) active_ = false;
        return st;
    }
    ~Transaction() {
        if (active_) (void)db_.exec("ROLLBACK");
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

  private:
    Database& db_;
    bool active_ = false;
};

}  // namespace custodia::intake
