// vault.db opens in Debian's `sqlcipher` shell, with the raw key derived by
// `openssl kdf` from the master key as docs/FORMAT.md describes: nothing of
// ours runs on the reading side. And the other way round: what the shell
// writes, Database::open reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <string>

#include "custodia/core/database.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

using custodia::core::Database;
using custodia::crypto::SecretBytes;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;
namespace fs = std::filesystem;

bool have(const std::string& tool) {
    return run_shell("command -v " + tool + " >/dev/null 2>&1 && echo yes").out == "yes\n";
}

// HKDF-SHA-256(master, salt = empty, info = "custodia/v1/db-key") by OpenSSL's
// command line, which prints the 32 bytes as colon-separated upper-case hex.
std::string db_key_hex_by_openssl(const SecretBytes& master) {
    const auto r = run_shell("openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:" +
                             custodia::crypto::to_hex(master.span()) +
                             " -kdfopt info:custodia/v1/db-key HKDF");
    std::string hex;
    for (char c : r.out)
        if (std::isxdigit(static_cast<unsigned char>(c)))
            hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r.exit_code == 0 ? hex : std::string();
}

// Feeds a script to the sqlcipher shell on stdin (the key never appears in
// a command line) and returns what it printed, errors included.
custodia::testing::ProcessResult sqlcipher(const TempDir& tmp, const fs::path& db,
                                           const std::string& script) {
    const auto script_path = tmp / "script.sql";
    {
        std::ofstream out(script_path);
        out << script;
    }
    auto r = run_shell("sqlcipher -batch " + quote(db.string()) + " < " +
                       quote(script_path.string()) + " 2>&1");
    fs::remove(script_path);
    return r;
}

std::string key_pragma(const std::string& hex) {
    return "PRAGMA key = \"x'" + hex + "'\";\n";
}

struct Fixture {
    TempDir tmp;
    fs::path path = tmp / "vault.db";
    SecretBytes master{32};
    std::string hex;

    Fixture() {
        custodia::crypto::DeterministicRandom(42).fill(master.span());
        auto db = Database::create(path, master);
        if (!db) throw std::runtime_error(db.error().message);
        auto q = db->prepare(
            "INSERT INTO cases (id, title, description, created_at) "
            "VALUES (zeroblob(16), 'Case written by Custodia', '', 0)");
        if (!q || !q->run()) throw std::runtime_error("insert failed");
        hex = db_key_hex_by_openssl(master);
    }
};

TEST(SqlCipherInterop, DebianShellReadsOurDatabaseWithTheDocumentedRawKey) {
    ASSERT_TRUE(have("sqlcipher") && have("openssl"))
        << "sqlcipher and openssl are declared test dependencies (packaging/install-deps.sh)";
    Fixture f;
    ASSERT_EQ(f.hex.size(), 64u);
    const auto r = sqlcipher(f.tmp, f.path,
                             key_pragma(f.hex) +
                                 "PRAGMA cipher_page_size = 4096;\n"
                                 "SELECT 'version=' || sqlite_version();\n"
                                 "PRAGMA journal_mode;\n"
                                 "PRAGMA user_version;\n"
                                 "SELECT title FROM cases;\n");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("Case written by Custodia"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("wal"), std::string::npos) << r.out;
}

// SQLCipher 3.4.1's default page size is 1024: if ours were not 4096, this
// would open; that it fails proves the page size on disk.
TEST(SqlCipherInterop, DebianShellNeedsPageSize4096) {
    ASSERT_TRUE(have("sqlcipher") && have("openssl"))
        << "sqlcipher and openssl are declared test dependencies (packaging/install-deps.sh)";
    Fixture f;
    const auto r = sqlcipher(f.tmp, f.path, key_pragma(f.hex) + "SELECT title FROM cases;\n");
    EXPECT_EQ(r.out.find("Case written by Custodia"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("not a database"), std::string::npos) << r.out;
}

TEST(SqlCipherInterop, DebianShellRefusesAnotherKey) {
    ASSERT_TRUE(have("sqlcipher") && have("openssl"))
        << "sqlcipher and openssl are declared test dependencies (packaging/install-deps.sh)";
    Fixture f;
    std::string wrong = f.hex;
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    const auto r = sqlcipher(f.tmp, f.path,
                             key_pragma(wrong) +
                                 "PRAGMA cipher_page_size = 4096;\n"
                                 "SELECT title FROM cases;\n");
    EXPECT_EQ(r.out.find("Case written by Custodia"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("not a database"), std::string::npos) << r.out;
}

TEST(SqlCipherInterop, WhatTheDebianShellWritesWeRead) {
    ASSERT_TRUE(have("sqlcipher") && have("openssl"))
        << "sqlcipher and openssl are declared test dependencies (packaging/install-deps.sh)";
    Fixture f;
    const auto r =
        sqlcipher(f.tmp, f.path,
                  key_pragma(f.hex) +
                      "PRAGMA cipher_page_size = 4096;\n"
                      "INSERT INTO settings (key, value) VALUES ('from', 'sqlcipher shell');\n");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    auto db = Database::open(f.path, f.master);
    ASSERT_TRUE(db) << db.error().message;
    auto q = db->prepare("SELECT value FROM settings WHERE key = 'from'");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->step().value());
    EXPECT_EQ(q->column_text(0), "sqlcipher shell");
}

}  // namespace
