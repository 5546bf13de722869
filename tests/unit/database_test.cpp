// vault.db: SQLCipher 3.4.1 in raw-key mode, the RAII layer, schema
// migrations, the evidence model's constraints, and full-text search.
#include "custodia/core/database.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "custodia/crypto/random.h"
#include "support/temp_dir.h"

namespace {

using custodia::Errc;
using custodia::core::Database;
using custodia::core::SchemaMigration;
using custodia::crypto::SecretBytes;
using custodia::testing::TempDir;
namespace core = custodia::core;
namespace fs = std::filesystem;

SecretBytes test_master(std::uint64_t seed) {
    SecretBytes key(32);
    custodia::crypto::DeterministicRandom(seed).fill(key.span());
    return key;
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::map<std::string, std::vector<std::uint8_t>> snapshot(const fs::path& dir) {
    std::map<std::string, std::vector<std::uint8_t>> files;
    for (const auto& e : fs::directory_iterator(dir))
        files[e.path().filename()] = read_file(e.path());
    return files;
}

bool contains(const std::vector<std::uint8_t>& haystack, std::string_view needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
           haystack.end();
}

std::string query_text(Database& db, std::string_view sql) {
    auto q = db.prepare(sql);
    if (!q) throw std::runtime_error(q.error().message);
    auto row = q->step();
    if (!row) throw std::runtime_error(row.error().message);
    return *row ? q->column_text(0) : std::string();
}

std::int64_t query_int(Database& db, std::string_view sql) {
    auto q = db.prepare(sql);
    if (!q) throw std::runtime_error(q.error().message);
    auto row = q->step();
    if (!row || !*row) throw std::runtime_error("no row");
    return q->column_int64(0);
}

// A schema dump to compare before and after re-running migrations.
std::string schema_dump(Database& db) {
    auto q =
        db.prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name");
    std::string out;
    while (q->step().value())
        out += q->column_text(0) + " " + q->column_text(1) + " " + q->column_text(2) + "\n";
    return out + "user_version " + query_text(db, "PRAGMA user_version");
}

struct TestDb {
    TempDir tmp;
    fs::path path = tmp / "vault.db";
    SecretBytes master = test_master(1);

    Database create() {
        auto db = Database::create(path, master);
        if (!db) throw std::runtime_error(db.error().message);
        return std::move(db).value();
    }
    Database open() {
        auto db = Database::open(path, master);
        if (!db) throw std::runtime_error(db.error().message);
        return std::move(db).value();
    }
};

const std::array<std::uint8_t, 16> kCaseId = {1, 2,  3,  4,  5,  6,  7,  8,
                                              9, 10, 11, 12, 13, 14, 15, 16};

void insert_case(Database& db, std::string_view title) {
    auto q =
        db.prepare("INSERT INTO cases (id, title, description, created_at) VALUES (?, ?, '', 0)");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->bind_blob(1, kCaseId));
    ASSERT_TRUE(q->bind_text(2, title));
    ASSERT_TRUE(q->run());
}

custodia::Status insert_item(Database& db, std::uint8_t n, std::string_view title,
                             std::string_view body,
                             std::span<const std::uint8_t> case_id = kCaseId) {
    std::array<std::uint8_t, 16> id{};
    id.fill(n);
    auto q = db.prepare(
        "INSERT INTO items (id, case_id, kind, title, body, captured_at, utc_offset_minutes, "
        "clock_source, investigator, created_at) VALUES (?, ?, 'testimony', ?, ?, 0, 60, 'system', "
        "'inv', 0)");
    if (!q) return std::move(q).error();
    if (auto s = q->bind_blob(1, id); !s) return s;
    if (auto s = q->bind_blob(2, case_id); !s) return s;
    if (auto s = q->bind_text(3, title); !s) return s;
    if (auto s = q->bind_text(4, body); !s) return s;
    return q->run();
}

// ---- Opening -------------------------------------------------------------------

TEST(Database, CreateThenOpenWithTheSameKeyReadsBack) {
    TestDb t;
    {
        auto db = t.create();
        insert_case(db, "first case");
        ASSERT_TRUE(db.close());
    }
    auto db = t.open();
    EXPECT_EQ(query_text(db, "SELECT title FROM cases"), "first case");
    EXPECT_EQ(db.schema_version().value(), static_cast<int>(core::schema_migrations().size()));
    EXPECT_EQ((fs::status(t.path).permissions() & fs::perms::all),
              fs::perms::owner_read | fs::perms::owner_write);
}

TEST(Database, RunsOnSqlCipher341WithTheRequiredSettings) {
    TestDb t;
    auto db = t.create();
    EXPECT_EQ(query_text(db, "PRAGMA cipher_version"), "3.4.1");
    EXPECT_EQ(query_text(db, "PRAGMA cipher_page_size"), "4096");
    EXPECT_EQ(query_text(db, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_int(db, "PRAGMA synchronous"), 2);  // FULL
    EXPECT_EQ(query_int(db, "PRAGMA secure_delete"), 1);
    EXPECT_EQ(query_int(db, "PRAGMA foreign_keys"), 1);
    EXPECT_EQ(query_int(db, "PRAGMA temp_store"), 2);  // MEMORY
    bool fts = false;
    auto q = db.prepare("PRAGMA compile_options");
    while (q->step().value()) fts = fts || q->column_text(0) == "ENABLE_FTS3";
    EXPECT_TRUE(fts);
}

TEST(Database, CipherVersionOtherThan341IsRefused) {
    EXPECT_TRUE(core::require_cipher_version("3.4.1"));
    for (std::string_view v : {"", "3.4.2", "4.5.6", "3.4.1 community"}) {
        auto s = core::require_cipher_version(v);
        ASSERT_FALSE(s) << v;
        EXPECT_EQ(s.error().code, Errc::unsupported) << v;
    }
}

TEST(Database, DatabaseKeyIsHkdfOfTheMasterKey) {
    // RFC 5869 HKDF-SHA-256 with an empty salt, computed independently with
    // Python's hmac module: PRK = HMAC(32 zero bytes, IKM),
    // OKM = HMAC(PRK, b"custodia/v1/db-key" + b"\x01"), IKM = bytes(range(32)).
    std::array<std::uint8_t, 32> ikm{};
    for (std::size_t i = 0; i < ikm.size(); ++i) ikm[i] = static_cast<std::uint8_t>(i);
    const std::array<std::uint8_t, 32> expected = {0xfa, 0x8e, 0x7f, 0xf2, 0xbb, 0xab, 0xef, 0x16,
                                                   0x4c, 0xfe, 0xaf, 0x20, 0xb4, 0x85, 0x75, 0x19,
                                                   0x0e, 0xb8, 0x68, 0xe1, 0xb5, 0x75, 0xf2, 0xcf,
                                                   0x62, 0x22, 0x6a, 0x3d, 0xbb, 0xd5, 0xad, 0xbe};
    auto key = core::derive_database_key(SecretBytes::copy_of(ikm));
    ASSERT_TRUE(key);
    EXPECT_TRUE(key->equals(expected));
}

TEST(Database, WrongKeyIsMalformedAndLeavesTheFileByteIdentical) {
    TestDb t;
    {
        auto db = t.create();
        insert_case(db, "keep me");
        ASSERT_TRUE(db.close());
    }
    const auto before = snapshot(t.tmp.path());
    auto db = Database::open(t.path, test_master(2));
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, Errc::malformed);
    EXPECT_EQ(snapshot(t.tmp.path()), before);
    // And the right key still opens it.
    auto reopened = t.open();
    EXPECT_EQ(query_text(reopened, "SELECT title FROM cases"), "keep me");
}

TEST(Database, NotADatabaseIsMalformedAndUntouched) {
    TestDb t;
    {
        std::ofstream out(t.path, std::ios::binary);
        out << std::string(8192, 'x');
    }
    const auto before = snapshot(t.tmp.path());
    auto db = Database::open(t.path, t.master);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, Errc::malformed);
    EXPECT_EQ(snapshot(t.tmp.path()), before);
}

TEST(Database, OpenRefusesAMissingFileAndCreatesNothing) {
    TestDb t;
    auto db = Database::open(t.path, t.master);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, Errc::io);
    EXPECT_TRUE(fs::is_empty(t.tmp.path()));
}

TEST(Database, CreateRefusesAnExistingFile) {
    TestDb t;
    {
        auto db = t.create();
        insert_case(db, "original");
    }
    const auto before = snapshot(t.tmp.path());
    auto again = Database::create(t.path, test_master(3));
    ASSERT_FALSE(again);
    EXPECT_EQ(snapshot(t.tmp.path()), before);
}

TEST(Database, CreateRefusesALeftoverWriteAheadLog) {
    TestDb t;
    { std::ofstream out(t.tmp / "vault.db-wal"); }
    auto db = Database::create(t.path, t.master);
    ASSERT_FALSE(db);
    EXPECT_FALSE(fs::exists(t.path));
}

// ---- Migrations ------------------------------------------------------------------

int latest() {
    return static_cast<int>(core::schema_migrations().size());
}

TEST(DatabaseMigrations, BuiltInVersionsRunOneTwoThreeWithoutGaps) {
    const auto list = core::schema_migrations();
    ASSERT_FALSE(list.empty());
    for (std::size_t i = 0; i < list.size(); ++i)
        EXPECT_EQ(list[i].version, static_cast<int>(i) + 1);
}

TEST(DatabaseMigrations, ReopeningAppliesNothingTwice) {
    TestDb t;
    std::string first;
    {
        auto db = t.create();
        first = schema_dump(db);
    }
    auto db = t.open();
    EXPECT_EQ(schema_dump(db), first);
    ASSERT_TRUE(db.migrate(core::schema_migrations()));
    EXPECT_EQ(schema_dump(db), first);
    EXPECT_NE(first.find("user_version " + std::to_string(latest())), std::string::npos);
}

TEST(DatabaseMigrations, LaterMigrationIsAppliedOnceInOrder) {
    TestDb t;
    auto db = t.create();
    std::vector<SchemaMigration> list(core::schema_migrations().begin(),
                                      core::schema_migrations().end());
    list.push_back({latest() + 1, "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (7);"});
    ASSERT_TRUE(db.migrate(list));
    ASSERT_TRUE(db.migrate(list));
    EXPECT_EQ(db.schema_version().value(), latest() + 1);
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM extra"), 1);
}

TEST(DatabaseMigrations, FailedMigrationRollsBackCompletely) {
    TestDb t;
    auto db = t.create();
    std::vector<SchemaMigration> list(core::schema_migrations().begin(),
                                      core::schema_migrations().end());
    list.push_back(
        {latest() + 1, "CREATE TABLE extra (x INTEGER); INSERT INTO no_such_table VALUES (1);"});
    ASSERT_FALSE(db.migrate(list));
    EXPECT_EQ(db.schema_version().value(), latest());
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'extra'"), 0);
}

TEST(DatabaseMigrations, MigrationsWithAGapAreRefused) {
    TestDb t;
    auto db = t.create();
    const std::array<SchemaMigration, 2> gap = {SchemaMigration{1, "SELECT 1;"},
                                                SchemaMigration{3, "SELECT 1;"}};
    auto s = db.migrate(gap);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::internal);
}

TEST(DatabaseMigrations, NewerSchemaIsUnsupportedAndUntouched) {
    TestDb t;
    {
        auto db = t.create();
        ASSERT_TRUE(db.execute("PRAGMA user_version = 99"));
        ASSERT_TRUE(db.close());
    }
    const auto before = snapshot(t.tmp.path());
    auto db = Database::open(t.path, t.master);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code, Errc::unsupported);
    EXPECT_EQ(snapshot(t.tmp.path()), before);
}

// ---- Nothing readable on disk ------------------------------------------------------

TEST(Database, PlaintextMarkerNeverReachesTheDisk) {
    constexpr std::string_view kMarker = "PLAINTEXT-MARKER-5f0c1d7e9a";
    TestDb t;
    // The search must find the marker where it is in the clear, or a pass
    // would prove nothing.
    {
        std::ofstream control(t.tmp / "control.txt");
        control << "before " << kMarker << " after";
    }
    ASSERT_TRUE(contains(read_file(t.tmp / "control.txt"), kMarker));
    fs::remove(t.tmp / "control.txt");

    auto db = t.create();
    insert_case(db, kMarker);
    ASSERT_TRUE(insert_item(db, 1, kMarker, std::string("testimony ") + std::string(kMarker)));
    {
        auto q = db.prepare("INSERT INTO item_tags (item_id, tag) VALUES (?, ?)");
        std::array<std::uint8_t, 16> item{};
        item.fill(1);
        ASSERT_TRUE(q->bind_blob(1, item));
        ASSERT_TRUE(q->bind_text(2, kMarker));
        ASSERT_TRUE(q->run());
    }  // close() refuses while a statement is alive

    // While open, the committed rows sit in vault.db-wal; after close, in vault.db.
    for (int phase = 0; phase < 2; ++phase) {
        int files = 0;
        for (const auto& e : fs::directory_iterator(t.tmp.path())) {
            ++files;
            EXPECT_FALSE(contains(read_file(e.path()), kMarker)) << e.path() << " phase " << phase;
        }
        EXPECT_GT(files, 0);
        if (phase == 0) {
            ASSERT_TRUE(db.close());
        }
    }
    auto reopened = t.open();
    EXPECT_EQ(query_text(reopened, "SELECT title FROM cases"), kMarker);
}

// ---- Full-text search ---------------------------------------------------------------

std::vector<std::string> search(Database& db, std::string_view match) {
    auto q = db.prepare(
        "SELECT i.title FROM item_search s JOIN items i ON i.local_id = s.docid "
        "WHERE item_search MATCH ? ORDER BY i.title");
    EXPECT_TRUE(q->bind_text(1, match));
    std::vector<std::string> titles;
    while (q->step().value()) titles.push_back(q->column_text(0));
    return titles;
}

TEST(DatabaseSearch, Fts4FindsItemsByTitleBodyAndTag) {
    TestDb t;
    auto db = t.create();
    insert_case(db, "case");
    ASSERT_TRUE(insert_item(db, 1, "Checkpoint at the bridge", "Soldiers stopped the bus."));
    ASSERT_TRUE(insert_item(db, 2, "Market fire", "Witness saw smoke near Bogotá market."));
    ASSERT_TRUE(insert_item(db, 3, "Unrelated", "Nothing to see."));
    auto tag = db.prepare("INSERT INTO item_tags (item_id, tag) VALUES (?, ?)");
    std::array<std::uint8_t, 16> id{};
    id.fill(3);
    ASSERT_TRUE(tag->bind_blob(1, id));
    ASSERT_TRUE(tag->bind_text(2, "detention"));
    ASSERT_TRUE(tag->run());

    EXPECT_EQ(search(db, "checkpoint"), std::vector<std::string>{"Checkpoint at the bridge"});
    EXPECT_EQ(search(db, "soldiers"), std::vector<std::string>{"Checkpoint at the bridge"});
    EXPECT_EQ(search(db, "bogota"), std::vector<std::string>{"Market fire"});  // diacritics folded
    EXPECT_EQ(search(db, "detention"), std::vector<std::string>{"Unrelated"});
    EXPECT_EQ(search(db, "tags:detention"), std::vector<std::string>{"Unrelated"});
    EXPECT_TRUE(search(db, "tags:soldiers").empty());

    auto untag = db.prepare("DELETE FROM item_tags WHERE tag = 'detention'");
    ASSERT_TRUE(untag->run());
    EXPECT_TRUE(search(db, "detention").empty());
}

// ---- The evidence model's rules ------------------------------------------------------

TEST(DatabaseSchema, ItemsAreImmutable) {
    TestDb t;
    auto db = t.create();
    insert_case(db, "case");
    ASSERT_TRUE(insert_item(db, 1, "original", "what was said"));
    auto s = db.execute("UPDATE items SET body = 'edited'");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::malformed);
    EXPECT_EQ(query_text(db, "SELECT body FROM items"), "what was said");
}

TEST(DatabaseSchema, ItemOfAnUnknownCaseIsRefused) {
    TestDb t;
    auto db = t.create();
    const std::array<std::uint8_t, 16> nowhere{};
    auto s = insert_item(db, 1, "orphan", "", nowhere);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::malformed);
}

TEST(DatabaseSchema, CustodyLogIsContiguousAndAppendOnly) {
    TestDb t;
    auto db = t.create();
    auto append = [&](std::int64_t seq) {
        auto q = db.prepare(
            "INSERT INTO custody_entries (seq, event, entry, leaf_hash, recorded_at) "
            "VALUES (?, 'created', x'00', zeroblob(32), 0)");
        EXPECT_TRUE(q->bind_int64(1, seq));
        return q->run();
    };
    ASSERT_TRUE(append(0));
    ASSERT_TRUE(append(1));
    EXPECT_FALSE(append(3));
    EXPECT_FALSE(append(1));
    EXPECT_FALSE(db.execute("UPDATE custody_entries SET recorded_at = 5 WHERE seq = 0"));
    EXPECT_FALSE(db.execute("DELETE FROM custody_entries WHERE seq = 1"));
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM custody_entries"), 2);
}

// ---- The RAII layer -----------------------------------------------------------------

TEST(DatabaseApi, TransactionRollsBackUnlessCommitted) {
    TestDb t;
    auto db = t.create();
    {
        auto tx = db.begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(db.execute("INSERT INTO settings VALUES ('a', 1)"));
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM settings"), 0);
    {
        auto tx = db.begin();
        ASSERT_TRUE(db.execute("INSERT INTO settings VALUES ('b', 2)"));
        ASSERT_TRUE(tx->commit());
    }
    EXPECT_EQ(query_int(db, "SELECT count(*) FROM settings"), 1);
}

TEST(DatabaseApi, BlobsSecretsNullsAndEmptyBlobsRoundTrip) {
    TestDb t;
    auto db = t.create();
    const SecretBytes key = test_master(9);
    auto ins = db.prepare("INSERT INTO settings (key, value) VALUES (?, ?)");
    ASSERT_TRUE(ins->bind_text(1, "secret"));
    ASSERT_TRUE(ins->bind_blob(2, key.span()));
    ASSERT_TRUE(ins->run());
    ASSERT_TRUE(ins->reset());
    ASSERT_TRUE(ins->bind_text(1, "empty"));
    ASSERT_TRUE(ins->bind_blob(2, {}));
    ASSERT_TRUE(ins->run());

    auto q = db.prepare("SELECT value, typeof(value) FROM settings WHERE key = ?");
    ASSERT_TRUE(q->bind_text(1, "secret"));
    ASSERT_TRUE(q->step().value());
    EXPECT_TRUE(q->column_secret(0).equals(key.span()));
    ASSERT_TRUE(q->reset());
    ASSERT_TRUE(q->bind_text(1, "empty"));
    ASSERT_TRUE(q->step().value());
    EXPECT_EQ(q->column_text(1), "blob");  // an empty blob, not NULL
    EXPECT_TRUE(q->column_blob(0).empty());

    auto n = db.prepare("SELECT NULL");
    ASSERT_TRUE(n->step().value());
    EXPECT_TRUE(n->column_is_null(0));
}

TEST(DatabaseApi, PrepareTakesExactlyOneStatement) {
    TestDb t;
    auto db = t.create();
    EXPECT_FALSE(db.prepare("SELECT 1; SELECT 2"));
    EXPECT_TRUE(db.prepare("SELECT 1;"));
    EXPECT_FALSE(db.prepare("SELEKT 1"));
}

}  // namespace
