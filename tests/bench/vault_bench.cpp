// Vault benchmarks (DESIGN.md §9), run by vault_bench.sh on a release build.
//
//   vault_bench ingest <file> <work dir>   ingest one file (hash, sign, encrypt, fsync, commit)
//   vault_bench log <entries> <work dir>   verify a vault whose custody log has <entries> entries
//   vault_bench items <items> <work dir>   list a page and search among <items> items
//
// Each prints "<name> <seconds>" lines. Filling a vault with 100,000 entries
// through the public API would take 100,000 durable commits, so `log` and
// `items` write the rows directly into the database, in one transaction,
// through the same custody-log code the vault uses (core/src).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "custodia/core/custody_entry.h"
#include "custodia/core/database.h"
#include "custodia/core/vault.h"
#include "custodia/core/vault_header.h"
#include "custodia/crypto/encoding.h"
#include "custody_log.h"
#include "ids.h"

namespace {

using namespace custodia;
using namespace custodia::core;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "vault_bench: %s\n", what.c_str());
    std::exit(1);
}

template <class T>
T must(Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(r).value();
}
void must(Status s, const char* what) {
    if (!s) die(std::string(what) + ": " + s.error().message);
}

VaultOptions bench_options() {
    // Key-slot cost does not enter any figure measured here.
    VaultOptions o;
    o.investigator = "bench";
    o.kdf.calibrate = false;
    o.kdf.opslimit = 1;
    o.kdf.memlimit = 8192;
    return o;
}

const crypto::SecretBytes& passphrase() {
    static const auto p = crypto::SecretBytes::copy_of(std::string_view("bench passphrase"));
    return p;
}

int ingest(const fs::path& file, const fs::path& work) {
    const fs::path dir = work / "ingest-vault";
    auto created = must(
        Vault::create(dir, passphrase(), bench_options(), crypto::system_random(), system_clock()),
        "create");
    auto c = must(created.vault->create_case("bench", "", {}), "case");
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + file.string());
    crypto::FdSource source(fd);
    const auto start = Clock::now();
    auto id = must(created.vault->ingest(c.id, source, file.filename().string(),
                                         "application/octet-stream", {}),
                   "ingest");
    const double s = seconds_since(start);
    ::close(fd);
    auto item = must(created.vault->get_item(id), "get_item");
    std::printf("ingest_seconds %.3f\n", s);
    std::printf("ingest_sha256 %s\n", crypto::to_hex(item.attachment->sha256).c_str());
    return 0;
}

// Unlocks with the recovery key to reach the database the way the vault does.
Database open_database(const fs::path& dir, const crypto::SecretBytes& recovery_text) {
    auto key = must(RecoveryKey::parse(recovery_text.view()), "recovery key");
    auto unlock = must(unlock_vault_with_recovery_key(dir, key), "unlock");
    return must(Database::open(dir / "vault.db", unlock.master_key), "open db");
}

crypto::Ed25519SecretKey device_key(Database& db) {
    auto st = must(db.prepare("SELECT secret_seed FROM device_keys ORDER BY id LIMIT 1"), "key");
    if (!must(st.step(), "key row")) die("no device key");
    return must(crypto::Ed25519SecretKey::from_seed(st.column_secret(0).span()), "seed");
}

// Appends `entries` custody entries (and, with items, an item row each) and
// signs one checkpoint, as one transaction.
void fill(const fs::path& dir, const crypto::SecretBytes& recovery_text, const CaseId& case_id,
          std::uint64_t entries, bool items) {
    Database db = open_database(dir, recovery_text);
    auto key = device_key(db);
    const std::string origin =
        "custodia.device/" +
        crypto::minisign::key_id_hex(
            crypto::minisign::PublicKey::derive_from(key.public_key()).key_id());
    auto log = must(CustodyLog::load(db), "load log");
    auto tx = must(db.begin(), "begin");
    crypto::DeterministicRandom random(99);
    auto item_insert = must(
        db.prepare("INSERT INTO items (id, case_id, kind, title, captured_at, utc_offset_minutes,"
                   " clock_source, investigator, created_at) VALUES (?1, ?2, 'note', ?3, ?4, 0,"
                   " 'system', 'bench', ?4)"),
        "prepare");
    const IdBytes case_bytes = *id_bytes(case_id);
    const std::int64_t t0 = 1'700'000'000'000;
    for (std::uint64_t i = 0; i < entries; ++i) {
        std::optional<ItemId> item;
        if (items) {
            item = new_id(random);
            const std::string title = "Item " + std::to_string(i) + " word" +
                                      std::to_string(i % 100) + (i == entries / 2 ? " needle" : "");
            must(item_insert.reset(), "reset");
            must(item_insert.bind_blob(1, *id_bytes(*item)), "bind");
            must(item_insert.bind_blob(2, case_bytes), "bind");
            must(item_insert.bind_text(3, title), "bind");
            must(item_insert.bind_int64(4, t0 + static_cast<std::int64_t>(i) * 1000), "bind");
            must(item_insert.run(), "insert item");
        }
        CustodyDetails details;
        details.add("sha256", std::string(64, 'a')).add("size", std::to_string(i));
        must(log.append(db, CustodyEvent::imported, Timestamp{t0 + static_cast<std::int64_t>(i), 0},
                        case_id, item, details.text()),
             "append");
    }
    auto note =
        must(log.sign_checkpoint(db, CheckpointSigner{origin, &key}, std::nullopt, t0), "sign");
    must(tx.commit(), "commit");
    FILE* f = std::fopen((dir / "vault.checkpoint").c_str(), "wb");
    if (f == nullptr) die("cannot write vault.checkpoint");
    std::fwrite(note.data(), 1, note.size(), f);
    std::fclose(f);
}

int log_or_items(std::uint64_t n, const fs::path& work, bool items) {
    const fs::path dir = work / (items ? "items-vault" : "log-vault");
    auto created = must(
        Vault::create(dir, passphrase(), bench_options(), crypto::system_random(), system_clock()),
        "create");
    const crypto::SecretBytes recovery = std::move(created.recovery_key);
    auto c = must(created.vault->create_case("bench", "", {}), "case");
    created.vault.reset();

    auto start = Clock::now();
    fill(dir, recovery, c.id, n, items);
    std::printf("fill_seconds %.3f\n", seconds_since(start));

    // The recovery key skips Argon2id, so this is everything else unlocking
    // costs: header, HKDF, SQLCipher open, schema and checkpoint checks.
    start = Clock::now();
    must(Vault::open_with_recovery_key(dir, recovery, crypto::system_random(), system_clock()),
         "open with recovery key")
        .reset();
    std::printf("unlock_without_kdf_seconds %.4f\n", seconds_since(start));

    start = Clock::now();
    auto vault =
        must(Vault::open(dir, passphrase(), crypto::system_random(), system_clock()), "open");
    std::printf("open_seconds %.3f\n", seconds_since(start));
    if (!items) {
        start = Clock::now();
        auto report = must(vault->verify(), "verify");
        const double s = seconds_since(start);
        std::printf("verify_seconds %.3f\n", s);
        std::printf("verify_log_size %llu\n", static_cast<unsigned long long>(report.log_size));
        std::printf("verify_problems %zu\n", report.problems.size());
        for (const auto& p : report.problems)
            std::fprintf(stderr, "  %s: %s\n", p.what.c_str(), p.message.c_str());
        return report.ok() ? 0 : 1;
    }
    // A page in the middle of the case, and the same across all cases.
    start = Clock::now();
    auto page = must(vault->list_items(c.id, n / 2, 50), "list");
    std::printf("list_page_seconds %.4f\n", seconds_since(start));
    start = Clock::now();
    auto all = must(vault->list_items(std::nullopt, 0, 50), "list all");
    std::printf("list_first_page_seconds %.4f\n", seconds_since(start));
    start = Clock::now();
    auto rare = must(vault->search("needle", 50), "search");
    std::printf("search_rare_seconds %.4f\n", seconds_since(start));
    start = Clock::now();
    auto common = must(vault->search("word7", 50), "search");
    std::printf("search_common_seconds %.4f\n", seconds_since(start));
    if (page.size() != 50 || all.size() != 50 || rare.size() != 1 || common.size() != 50)
        die("unexpected result sizes");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(
            stderr,
            "usage: vault_bench ingest <file> <work> | log <n> <work> | items <n> <work>\n");
        return 2;
    }
    const std::string mode = argv[1];
    if (mode == "ingest") return ingest(argv[2], argv[3]);
    if (mode == "log") return log_or_items(std::stoull(argv[2]), argv[3], false);
    if (mode == "items") return log_or_items(std::stoull(argv[2]), argv[3], true);
    std::fprintf(stderr, "vault_bench: unknown mode %s\n", mode.c_str());
    return 2;
}
