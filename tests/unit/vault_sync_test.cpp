// Sync state in the vault (docs/FORMAT.md "Sync state"): the v3 migration,
// the device key's refusal to sign anything but sync requests, servers and
// settings, the outbox's receipts (checked again by the vault, logged per
// item) and the custody_receipts check of bundles that carry them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "custodia/core/bundle_custody.h"
#include "custodia/core/bundle_reader.h"
#include "custodia/core/bundle_writer.h"
#include "custodia/core/custody_entry.h"
#include "custodia/core/database.h"
#include "custodia/core/note.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/sync/outbox.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/receipt.h"
#include "custodia/sync/request_auth.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;
using custodia::testing::cheap_options;
using custodia::testing::secret;
namespace fs = std::filesystem;

std::vector<std::uint8_t> bytes_of(std::string_view s) {
    return {s.begin(), s.end()};
}

// ---- Migration ---------------------------------------------------------------------------

struct TestDb {
    custodia::testing::TempDir tmp;
    fs::path path = tmp.path() / "vault.db";
    crypto::SecretBytes key = crypto::SecretBytes::copy_of(std::string(32, 'k'));
};

int query_int(Database& db, const std::string& sql) {
    auto st = db.prepare(sql);
    if (!st) {
        ADD_FAILURE() << sql << ": " << st.error().message;
        return -1;
    }
    auto row = st->step();
    EXPECT_TRUE(row && *row);
    return static_cast<int>(st->column_int64(0));
}

// Whether `table` has these columns (SQLCipher 3.4.1's SQLite has no
// pragma_table_info function): preparing the SELECT fails otherwise.
bool has_columns(Database& db, const std::string& table, const std::string& columns) {
    return db.prepare("SELECT " + columns + " FROM " + table + " LIMIT 0").ok();
}

TEST(VaultSyncMigration, SchemaThreeHasServersAndTheNewOutbox) {
    TestDb t;
    auto db = Database::create(t.path, t.key);
    ASSERT_TRUE(db);
    EXPECT_EQ(db->schema_version().value(), 3);
    EXPECT_TRUE(has_columns(*db, "sync_servers", "name, pin_json, added_at, added_offset"));
    EXPECT_TRUE(has_columns(*db, "outbox",
                            "receipt_note, cosigned_checkpoint, bytes_confirmed, last_error,"
                            " item_ids, receipt_verifier, cosignature_verifier"));
    EXPECT_FALSE(has_columns(*db, "outbox", "destination"));  // the v1 placeholder is gone
}

TEST(VaultSyncMigration, AVersionTwoDatabaseIsMigratedOnOpenKeepingItsData) {
    TestDb t;
    {
        auto db = Database::create(t.path, t.key);
        ASSERT_TRUE(db);
        // Take v3 back out, as a database written by the previous release.
        ASSERT_TRUE(db->execute(
            "DROP TABLE sync_servers; DROP TABLE outbox;"
            "CREATE TABLE outbox (id INTEGER PRIMARY KEY, bundle_id BLOB NOT NULL,"
            " destination TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"
            " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, last_error TEXT,"
            " created_at INTEGER NOT NULL, UNIQUE (bundle_id, destination));"
            "INSERT INTO settings (key, value) VALUES ('kept', x'01');"
            "PRAGMA user_version = 2;"));
        ASSERT_EQ(db->schema_version().value(), 2);
    }
    auto db = Database::open(t.path, t.key);
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ(db->schema_version().value(), 3);
    EXPECT_EQ(query_int(*db, "SELECT count(*) FROM settings WHERE key = 'kept'"), 1);
    EXPECT_FALSE(has_columns(*db, "outbox", "destination"));
    EXPECT_TRUE(has_columns(*db, "outbox", "receipt_note, bytes_confirmed"));
    ASSERT_TRUE(
        db->execute("INSERT INTO sync_servers (name, pin_json, added_at) VALUES ('s', '{}', 1)"));
}

TEST(VaultSyncMigration, AReceivedEntryCannotBeChangedOrDeleted) {
    TestDb t;
    auto db = Database::create(t.path, t.key);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->execute(
        "INSERT INTO outbox (bundle_id, server, case_id, item_ids, size, queued_at, state,"
        " receipt_note, cosigned_checkpoint) VALUES ('b', 's', 'c', '[]', 1, 1, 'received',"
        " 'r', 'c')"));
    EXPECT_FALSE(db->execute("UPDATE outbox SET receipt_note = 'forged'"));
    EXPECT_FALSE(db->execute("DELETE FROM outbox"));
    // Received without a receipt is not a state the table accepts.
    EXPECT_FALSE(db->execute(
        "INSERT INTO outbox (bundle_id, server, case_id, item_ids, size, queued_at, state)"
        " VALUES ('b2', 's', 'c', '[]', 1, 1, 'received')"));
}

// ---- The vault ---------------------------------------------------------------------------

class VaultSync : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = Vault::create(dir, secret("correct horse"), cheap_options(), random, clock);
        ASSERT_TRUE(created) << created.error().message;
        vault = std::move(created->vault);
        auto c = vault->create_case("Case one", "", {});
        ASSERT_TRUE(c);
        case_id = c->id;
        ItemFields fields;
        fields.kind = ItemKind::testimony;
        fields.consent.type = ConsentType::written;
        for (const char* text : {"First account.", "Second account."}) {
            auto id = vault->add_testimony(case_id, text, fields);
            ASSERT_TRUE(id) << id.error().message;
            items.push_back(*id);
        }
    }

    sync::ServerPin pin(const crypto::Ed25519SecretKey& key) const {
        return *sync::ServerPin::make("https://127.0.0.1:1", "intake.test", key.public_key());
    }

    ExportedBundle export_to(const std::string& name) {
        auto b = vault->export_bundle(case_id, {}, {ngo.recipient().to_string()}, false,
                                      tmp.path() / name);
        EXPECT_TRUE(b) << b.error().message;
        return b ? *b : ExportedBundle{};
    }

    // What a genuine server would answer for `entry`, signed with `key`.
    OutboxReceipt receipt_for(const OutboxEntry& entry, const crypto::Ed25519SecretKey& key) {
        sync::Receipt r;
        r.bundle_id = entry.bundle_id;
        r.device = crypto::minisign::key_id_hex(vault->device_key().key_id());
        r.received = 1'700'000'500;
        r.server = "intake.test";
        r.size = entry.size;
        auto note = sync::sign_receipt(r, "intake.test", key);
        EXPECT_TRUE(note);
        auto checkpoint = SignedNote::parse(*vault->checkpoint());
        EXPECT_TRUE(checkpoint);
        EXPECT_TRUE(cosign_checkpoint_v1(*checkpoint, "intake.test", key, 1'700'000'500));
        const auto p = pin(server_key);
        return OutboxReceipt{*note, checkpoint->serialize(), p.receipt_verifier().to_string(),
                             p.cosignature_verifier().to_string()};
    }

    custodia::testing::TempDir tmp;
    fs::path dir = tmp.path() / "vault";
    crypto::DeterministicRandom random{42};
    FixedClock clock{1'700'000'000'000, 1000, 60};
    crypto::Ed25519SecretKey server_key = crypto::Ed25519SecretKey::generate(random);
    crypto::Ed25519SecretKey other_key = crypto::Ed25519SecretKey::generate(random);
    crypto::age::Identity ngo = crypto::age::Identity::generate(random);
    std::unique_ptr<Vault> vault;
    CaseId case_id;
    std::vector<ItemId> items;
};

TEST_F(VaultSync, DeviceKeySignsSyncRequestsAndNothingElse) {
    const auto message =
        sync::request_signing_message(server_key.public_key(), "POST", "/v1/uploads", 1'700'000'000,
                                      "AAAAAAAAAAAAAAAAAAAAAA", crypto::sha256(""));
    auto signature = vault->sign_sync_request(crypto::as_bytes(message));
    ASSERT_TRUE(signature);
    EXPECT_TRUE(
        crypto::verify_ed25519(vault->device_key().key(), crypto::as_bytes(message), *signature));

    const std::string refused[] = {
        *vault->checkpoint(),                          // a fake checkpoint
        "custodia/v1/capture\nanything",               // a capture record's domain
        "custodia.envelope/v1 bundle=x",               // an envelope statement
        std::string(sync::protocol::kRequestContext),  // no newline, nothing after
        std::string(sync::protocol::kRequestContext) + "X\n",
        "",
    };
    for (const auto& m : refused) {
        auto s = vault->sign_sync_request(crypto::as_bytes(m));
        ASSERT_FALSE(s) << m;
        EXPECT_EQ(s.error().code, Errc::malformed);
    }

    // The adapter signs requests that verify, and nothing else usefully.
    const sync::VaultDeviceSigner signer(*vault);
    const auto auth = sync::sign_request(signer, server_key.public_key(), "HEAD", "/v1/uploads/x",
                                         crypto::sha256(""), 1'700'000'000, random);
    auto parsed = sync::parse_request_auth(auth.device, auth.time, auth.nonce, auth.signature);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(sync::verify_request_signature(*parsed, signer.public_key(),
                                               server_key.public_key(), "HEAD", "/v1/uploads/x",
                                               crypto::sha256("")));
    const auto forged = signer.sign_ed25519(crypto::as_bytes(*vault->checkpoint()));
    EXPECT_FALSE(crypto::verify_ed25519(signer.public_key(), crypto::as_bytes(*vault->checkpoint()),
                                        forged));
}

TEST_F(VaultSync, ServersAndSettingsSurviveReopening) {
    ASSERT_TRUE(vault->add_server("ngo-1", pin(server_key).to_json()));
    EXPECT_FALSE(vault->add_server("ngo-1", pin(other_key).to_json()));  // name taken
    EXPECT_FALSE(vault->add_server("../x", pin(other_key).to_json()));
    EXPECT_FALSE(vault->add_server("", pin(other_key).to_json()));
    ASSERT_TRUE(vault->set_sync_settings({"socks5h://127.0.0.1:9050", true}));
    vault.reset();
    auto reopened = Vault::open(dir, secret("correct horse"), random, clock);
    ASSERT_TRUE(reopened);
    vault = std::move(*reopened);
    auto servers = vault->list_servers();
    ASSERT_TRUE(servers);
    ASSERT_EQ(servers->size(), 1u);
    EXPECT_EQ((*servers)[0].name, "ngo-1");
    EXPECT_EQ((*servers)[0].pin_json, pin(server_key).to_json());
    auto settings = vault->sync_settings();
    ASSERT_TRUE(settings);
    EXPECT_EQ(settings->proxy, "socks5h://127.0.0.1:9050");
    EXPECT_TRUE(settings->require_proxy);
    // A command line may make sync stricter than the vault, never looser.
    auto t = sync::transport_for(*vault, sync::TransportOverrides{});
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->require_proxy);
    EXPECT_EQ(t->proxy, "socks5h://127.0.0.1:9050");
    EXPECT_TRUE(vault->remove_server("ngo-1"));
    EXPECT_FALSE(vault->remove_server("ngo-1"));
}

std::set<std::string> outbox_names(const fs::path& vault_dir) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(vault_dir / "outbox", ec))
        names.insert(e.path().filename().string());
    return names;
}

TEST_F(VaultSync, ExportToOutboxSealsInPlaceAndQueues) {
    ASSERT_TRUE(vault->add_server("ngo-1", pin(server_key).to_json()));
    // An unknown server is refused before anything is sealed or logged.
    const auto log_size = vault->custody_log()->size();
    auto refused =
        vault->export_to_outbox(case_id, {}, {ngo.recipient().to_string()}, false, "nobody");
    ASSERT_FALSE(refused);
    EXPECT_TRUE(outbox_names(dir).empty());
    EXPECT_EQ(vault->custody_log()->size(), log_size);

    auto sealed =
        vault->export_to_outbox(case_id, {}, {ngo.recipient().to_string()}, false, "ngo-1");
    ASSERT_TRUE(sealed) << sealed.error().message;
    const std::string id = sealed->bundle_id;
    EXPECT_EQ(outbox_names(dir),
              (std::set<std::string>{id + ".custodia", id + ".custodia.envelope"}));
    EXPECT_EQ(sealed->bundle_path, dir / "outbox" / (id + ".custodia"));
    auto outbox = vault->list_outbox();
    ASSERT_TRUE(outbox);
    ASSERT_EQ(outbox->size(), 1u);
    EXPECT_EQ((*outbox)[0].bundle_id, id);
    EXPECT_EQ((*outbox)[0].server, "ngo-1");
    EXPECT_EQ((*outbox)[0].size, fs::file_size(sealed->bundle_path));
    // What was queued is what the NGO's key opens.
    BundleReadOptions read;
    read.device_key = vault->device_key();
    auto report = verify_bundle_file(sealed->bundle_path, std::span(&ngo, 1), read);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->ok());
}

TEST_F(VaultSync, OpeningRemovesOutboxFilesNoEntryNamesAndKeepsTheRest) {
    ASSERT_TRUE(vault->add_server("ngo-1", pin(server_key).to_json()));
    auto queued =
        vault->export_to_outbox(case_id, {}, {ngo.recipient().to_string()}, false, "ngo-1");
    ASSERT_TRUE(queued) << queued.error().message;
    const std::string id = queued->bundle_id;
    // What a crash can leave: a bundle sealed in place before its row was
    // written, a copy cut short, a hidden temporary; and a file that is not
    // the outbox's at all.
    const auto outbox = dir / "outbox";
    for (const char* name : {"0123abcd.custodia", "0123abcd.custodia.envelope", "4567.custodia.tmp",
                             ".x.custodia-tmp-Ab12Cd", "notes.txt"})
        custodia::testing::write_file(outbox / name, std::vector<std::uint8_t>{1, 2, 3});
    vault.reset();
    auto reopened = Vault::open(dir, secret("correct horse"), random, clock);
    ASSERT_TRUE(reopened) << reopened.error().message;
    vault = std::move(*reopened);
    EXPECT_EQ(outbox_names(dir),
              (std::set<std::string>{id + ".custodia", id + ".custodia.envelope", "notes.txt"}));
    auto entries = vault->list_outbox();
    ASSERT_TRUE(entries);
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ(custodia::testing::read_file((*entries)[0].bundle_path),
              custodia::testing::read_file(queued->bundle_path));
}

TEST_F(VaultSync, QueuedBundleIsCopiedAndAReceiptIsCheckedLoggedAndCarried) {
    ASSERT_TRUE(vault->add_server("ngo-1", pin(server_key).to_json()));
    const auto bundle = export_to("first.custodia");
    EXPECT_EQ(bundle.item_ids.size(), 2u);
    auto entry = vault->queue_bundle(bundle, "ngo-1");
    ASSERT_TRUE(entry) << entry.error().message;
    EXPECT_EQ(entry->state, OutboxState::queued);
    EXPECT_EQ(custodia::testing::read_file(entry->bundle_path),
              custodia::testing::read_file(bundle.bundle_path));
    EXPECT_EQ(vault->queue_bundle(bundle, "ngo-1")->id, entry->id);  // not queued twice
    EXPECT_FALSE(vault->queue_bundle(bundle, "nobody"));

    // Only a receipt signed by the pinned key is stored.
    auto forged = receipt_for(*entry, other_key);
    auto refused = vault->outbox_record_receipt(entry->id, forged);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::auth_failed);
    EXPECT_EQ(vault->list_outbox()->front().state, OutboxState::queued);
    // Progress cannot claim "received".
    EXPECT_FALSE(vault->outbox_progress(entry->id, OutboxState::received, 1, "", true));

    const auto before = vault->custody_log()->size();
    ASSERT_TRUE(vault->outbox_record_receipt(entry->id, receipt_for(*entry, server_key)));
    const auto after = vault->list_outbox()->front();
    EXPECT_EQ(after.state, OutboxState::received);
    EXPECT_EQ(after.bytes_confirmed, after.size);
    EXPECT_FALSE(after.receipt_note.empty());
    const auto log = *vault->custody_log();
    ASSERT_EQ(log.size(), before + 2);
    for (std::size_t i = before; i < log.size(); ++i) {
        EXPECT_EQ(log[i].event, CustodyEvent::receipt_received);
        auto details = CustodyDetails::parse(log[i].details);
        ASSERT_TRUE(details);
        ASSERT_EQ(details->size(), 4u);
        EXPECT_EQ((*details)[0], std::make_pair(std::string("bundle"), bundle.bundle_id));
        EXPECT_EQ((*details)[3].first, "checkpoint_size");
    }
    // Received is final.
    ASSERT_TRUE(vault->outbox_progress(entry->id, OutboxState::failed, 0, "x", true));
    EXPECT_EQ(vault->list_outbox()->front().state, OutboxState::received);
    auto report = vault->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok());

    // The next bundle of the case carries the receipt, and it verifies.
    const auto later = export_to("later.custodia");
    BundleCustodyVerifier custody(vault->device_key());
    BundleReadOptions options;
    options.device_key = vault->device_key();
    options.custody_verifier = &custody;
    auto read = verify_bundle_file(later.bundle_path, std::span(&ngo, 1), options);
    ASSERT_TRUE(read);
    EXPECT_TRUE(read->ok()) << ::testing::PrintToString(read->failed_checks());
    const auto* check = read->find(bundle_check::kCustodyReceipts);
    ASSERT_NE(check, nullptr);
    EXPECT_EQ(check->outcome, CheckOutcome::passed) << check->detail;
    // The receipt_received entries travel too, proven against the checkpoint.
    int carried = 0;
    for (const auto& f : read->custody_files)
        if (f.path.starts_with("custody/entries/")) {
            auto e = decode_custody_entry(f.bytes);
            if (e && e->event == CustodyEvent::receipt_received) ++carried;
        }
    EXPECT_EQ(carried, 2);
}

// ---- custody_receipts on bundles built by hand ---------------------------------------------

class ReceiptCheck : public ::testing::Test {
  protected:
    struct Parts {
        std::string receipt;
        std::string checkpoint;
        std::string vkeys;
    };

    Parts genuine() {
        Checkpoint c{origin, 3, crypto::sha256("tree"), {}};
        auto note = SignedNote::from_text(*c.to_text());
        EXPECT_TRUE(sign_note_ed25519(*note, origin, device));
        EXPECT_TRUE(cosign_checkpoint_v1(*note, "intake.test", server, 1'700'000'500));
        sync::Receipt r;
        r.bundle_id = "b1";
        r.device = sync::device_key_id_hex(device.public_key());
        r.received = 1'700'000'500;
        r.server = "intake.test";
        r.size = 10;
        const auto pin =
            *sync::ServerPin::make("https://127.0.0.1:1", "intake.test", server.public_key());
        return Parts{*sync::sign_receipt(r, "intake.test", server), note->serialize(),
                     pin.receipt_verifier().to_string() + "\n" +
                         pin.cosignature_verifier().to_string() + "\n"};
    }

    // Seals a bundle whose custody/receipts holds `parts`; returns the check.
    BundleCheck check(const Parts& parts) {
        BundleContents c;
        c.case_id = "c0ffee00c0ffee00c0ffee00c0ffee00";
        c.case_title = "t";
        BundleItem item;
        item.id = "0123456789abcdef0123456789abcdef";
        item.metadata_json = R"({"kind":"note"})";
        c.items.push_back(item);
        const auto pub = crypto::minisign::PublicKey::derive_from(device.public_key());
        c.custody.push_back({"device.pub", bytes_of(pub.to_file())});
        c.custody.push_back({"checkpoint", bytes_of(genuine().checkpoint)});
        const std::string stem = "receipts/b1-0a0b0c0d";
        if (!parts.receipt.empty())
            c.custody.push_back({stem + ".receipt", bytes_of(parts.receipt)});
        c.custody.push_back({stem + ".checkpoint", bytes_of(parts.checkpoint)});
        c.custody.push_back({stem + ".vkeys", bytes_of(parts.vkeys)});
        FixedClock clock{1'700'000'000'000};
        crypto::VectorSink out;
        const std::vector<crypto::age::Recipient> recipients = {ngo.recipient()};
        auto sealed = seal_bundle(out, c, recipients, BundleSigner{device, clock, random});
        EXPECT_TRUE(sealed);
        BundleCustodyVerifier custody(pub);
        BundleReadOptions options;
        options.device_key = pub;
        options.custody_verifier = &custody;
        crypto::MemorySource in(out.bytes());
        auto report = verify_bundle(in, std::span(&ngo, 1), options);
        EXPECT_TRUE(report);
        // Everything but the custody checks this hand-made bundle cannot pass.
        EXPECT_EQ(report->find(bundle_check::kFileHashes)->outcome, CheckOutcome::passed);
        const auto* found = report->find(bundle_check::kCustodyReceipts);
        EXPECT_NE(found, nullptr);
        return found ? *found : BundleCheck{};
    }

    crypto::DeterministicRandom random{9};
    crypto::Ed25519SecretKey device = crypto::Ed25519SecretKey::generate(random);
    crypto::Ed25519SecretKey server = crypto::Ed25519SecretKey::generate(random);
    crypto::Ed25519SecretKey other = crypto::Ed25519SecretKey::generate(random);
    crypto::age::Identity ngo = crypto::age::Identity::generate(random);
    std::string origin = "custodia.device/TEST";
};

TEST_F(ReceiptCheck, GenuineReceiptPasses) {
    const auto c = check(genuine());
    EXPECT_EQ(c.outcome, CheckOutcome::passed) << c.detail;
}

TEST_F(ReceiptCheck, ReceiptWithAFlippedByteFails) {
    auto p = genuine();
    p.receipt[p.receipt.find("\"size\":10") + 7] = '9';
    const auto c = check(p);
    EXPECT_EQ(c.outcome, CheckOutcome::failed);
    EXPECT_NE(c.detail.find(".receipt"), std::string::npos) << c.detail;
}

TEST_F(ReceiptCheck, ReceiptSignedByAnotherKeyFails) {
    auto p = genuine();
    sync::Receipt r = *sync::Receipt::from_note_text(SignedNote::parse(p.receipt)->text());
    p.receipt = *sync::sign_receipt(r, "intake.test", other);
    EXPECT_EQ(check(p).outcome, CheckOutcome::failed);
}

TEST_F(ReceiptCheck, ReceiptForAnotherDeviceFails) {
    auto p = genuine();
    sync::Receipt r = *sync::Receipt::from_note_text(SignedNote::parse(p.receipt)->text());
    r.device = sync::device_key_id_hex(other.public_key());
    p.receipt = *sync::sign_receipt(r, "intake.test", server);
    const auto c = check(p);
    EXPECT_EQ(c.outcome, CheckOutcome::failed);
    EXPECT_NE(c.detail.find("another bundle or device"), std::string::npos) << c.detail;
}

TEST_F(ReceiptCheck, CosignatureByAnotherKeyFails) {
    auto p = genuine();
    Checkpoint c{origin, 3, crypto::sha256("tree"), {}};
    auto note = SignedNote::from_text(*c.to_text());
    ASSERT_TRUE(sign_note_ed25519(*note, origin, device));
    ASSERT_TRUE(cosign_checkpoint_v1(*note, "intake.test", other, 1'700'000'500));
    p.checkpoint = note->serialize();
    const auto r = check(p);
    EXPECT_EQ(r.outcome, CheckOutcome::failed);
    EXPECT_NE(r.detail.find(".checkpoint"), std::string::npos) << r.detail;
}

TEST_F(ReceiptCheck, MissingReceiptFileFails) {
    auto p = genuine();
    p.receipt.clear();
    EXPECT_EQ(check(p).outcome, CheckOutcome::failed);
}

}  // namespace
