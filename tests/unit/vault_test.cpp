// The vault end to end (DESIGN.md §3–§5): create/open/unlock paths, ingest
// and extraction, listing and search, the custody log and its checkpoints,
// tamper detection by verify(), crypto-shredding, key slots and wiping.
#include "custodia/core/vault.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "custodia/core/merkle.h"
#include "custodia/core/note.h"
#include "custodia/core/vault_header.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;
using custodia::testing::blob_files;
using custodia::testing::cheap_options;
using custodia::testing::extract_all;
using custodia::testing::pattern_bytes;
using custodia::testing::read_file;
using custodia::testing::secret;
using custodia::testing::snapshot;
using custodia::testing::write_file;
namespace fs = std::filesystem;

class VaultTest : public ::testing::Test {
  protected:
    custodia::testing::TempDir tmp;
    fs::path dir = tmp.path() / "vault";
    crypto::DeterministicRandom random{42};
    FixedClock clock{1'700'000'000'000, 1000, 120};

    std::unique_ptr<Vault> create(std::string_view passphrase = "correct horse") {
        auto created = Vault::create(dir, secret(passphrase), cheap_options(), random, clock);
        EXPECT_TRUE(created) << created.error().message;
        if (!created) return nullptr;
        recovery_text = std::string(created->recovery_key.view());
        return std::move(created->vault);
    }
    Result<std::unique_ptr<Vault>> open(std::string_view passphrase = "correct horse") {
        return Vault::open(dir, secret(passphrase), random, clock);
    }
    ItemId ingest(Vault& v, const CaseId& c, const std::vector<std::uint8_t>& bytes,
                  const std::string& name = "file.bin", ItemFields fields = {}) {
        crypto::MemorySource src(bytes);
        if (fields.title.empty()) fields.title = name;
        auto id = v.ingest(c, src, name, "application/octet-stream", fields);
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : ItemId{};
    }
    CaseId make_case(Vault& v, const std::string& title = "Case one") {
        auto c = v.create_case(title, "what happened", {});
        EXPECT_TRUE(c) << c.error().message;
        return c ? c->id : CaseId{};
    }
    static bool has_problem(const VerifyReport& r, std::string_view what,
                            const std::optional<ItemId>& item = std::nullopt) {
        for (const auto& p : r.problems)
            if (p.what == what && (!item || p.item_id == item)) return true;
        return false;
    }
    static std::string describe(const VerifyReport& r) {
        std::string s;
        for (const auto& p : r.problems)
            s += p.what + " [" + p.item_id.value_or("-") + "]: " + p.message + "\n";
        return s;
    }

    std::string recovery_text;
};

// ---- Create, open, unlock -----------------------------------------------------------------

TEST_F(VaultTest, CreateThenReopenKeepsDeviceKeyAndCases) {
    std::string device;
    CaseId case_id;
    {
        auto v = create();
        ASSERT_TRUE(v);
        EXPECT_EQ(v->investigator(), "Investigator A");
        device = v->device_key().to_base64();
        case_id = make_case(*v);
        EXPECT_TRUE(fs::exists(dir / "vault.header"));
        EXPECT_TRUE(fs::exists(dir / "vault.db"));
        EXPECT_TRUE(fs::exists(dir / "vault.checkpoint"));
    }
    auto v = open();
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ((*v)->device_key().to_base64(), device);
    auto cases = (*v)->list_cases();
    ASSERT_TRUE(cases);
    ASSERT_EQ(cases->size(), 1u);
    EXPECT_EQ((*cases)[0].id, case_id);
    EXPECT_EQ((*cases)[0].title, "Case one");
    EXPECT_EQ((*cases)[0].created_unix_ms % 1000, 0);
}

TEST_F(VaultTest, CreateRefusesADirectoryWithAVault) {
    auto v = create();
    ASSERT_TRUE(v);
    v.reset();
    const auto before = snapshot(dir);
    auto again = Vault::create(dir, secret("other"), cheap_options(), random, clock);
    ASSERT_FALSE(again);
    EXPECT_EQ(snapshot(dir), before);
}

TEST_F(VaultTest, SecondOpenWhileOpenIsRefused) {
    auto v = create();
    ASSERT_TRUE(v);
    auto second = open();
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, Errc::io);
}

TEST_F(VaultTest, WrongPassphraseLeavesEveryFileUntouched) {
    {
        auto v = create();
        ingest(*v, make_case(*v), pattern_bytes(100'000, 1));
    }
    const auto before = snapshot(dir);
    auto v = open("wrong horse");
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code, Errc::wrong_passphrase);
    EXPECT_EQ(snapshot(dir), before);
}

TEST_F(VaultTest, CorruptedHeaderIsMalformedAndLeftAlone) {
    { create(); }
    auto header = read_file(dir / "vault.header");
    header[40] ^= 0x01;
    write_file(dir / "vault.header", header);
    const auto before = snapshot(dir);
    auto v = open();
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code, Errc::malformed);
    EXPECT_EQ(snapshot(dir), before);
    EXPECT_TRUE(Vault::exists(dir));
}

TEST_F(VaultTest, CorruptedDatabaseIsMalformedAndLeftAlone) {
    { create(); }
    auto db = read_file(dir / "vault.db");
    ASSERT_GT(db.size(), 4096u);
    db[200] ^= 0x80;  // inside page 1, after SQLCipher's salt: its HMAC fails
    write_file(dir / "vault.db", db);
    const auto before = snapshot(dir);
    auto v = open();
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code, Errc::malformed) << v.error().message;
    EXPECT_EQ(snapshot(dir), before);
}

TEST_F(VaultTest, RecoveryKeyOpensAndAnotherKeyDoesNot) {
    CaseId c;
    {
        auto v = create();
        c = make_case(*v);
    }
    auto v = Vault::open_with_recovery_key(dir, secret(recovery_text), random, clock);
    ASSERT_TRUE(v) << v.error().message;
    auto got = (*v)->get_case(c);
    ASSERT_TRUE(got);
    v->reset();

    crypto::DeterministicRandom other(7);
    auto wrong_key = RecoveryKey::generate(other).to_text();
    auto w = Vault::open_with_recovery_key(dir, wrong_key, random, clock);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, Errc::wrong_passphrase);

    std::string typo = recovery_text;
    typo[0] = typo[0] == 'A' ? 'B' : 'A';
    auto t = Vault::open_with_recovery_key(dir, secret(typo), random, clock);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code, Errc::malformed);
}

// ---- Ingest and extract ---------------------------------------------------------------------

TEST_F(VaultTest, IngestExtractsExactlyAtChunkAndPieceEdges) {
    auto v = create();
    const CaseId c = make_case(*v);
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{65536}, std::size_t{65537},
                             std::size_t{1} << 20, (std::size_t{3} << 20) + 17}) {
        SCOPED_TRACE(size);
        const auto original = pattern_bytes(size, size + 1);
        const ItemId id = ingest(*v, c, original);
        auto item = v->get_item(id);
        ASSERT_TRUE(item);
        ASSERT_TRUE(item->attachment);
        EXPECT_EQ(item->attachment->size, size);
        EXPECT_EQ(item->attachment->sha256, crypto::sha256(original));
        EXPECT_TRUE(v->capture_signature_valid(*item));
        Status s;
        EXPECT_EQ(extract_all(*v, id, &s), original);
        EXPECT_TRUE(s) << s.error().message;
        // The blob on disk is named at random, and holds no plaintext.
        const auto blob = read_file(dir / "blobs" / item->attachment->blob_id.substr(0, 2) /
                                    item->attachment->blob_id);
        EXPECT_EQ(blob.size(), 33 + size + 16 * (size == 0 ? 1 : (size + 65535) / 65536));
        EXPECT_NE(item->attachment->blob_id,
                  crypto::to_hex(crypto::sha256(original)).substr(0, 32));
        if (size >= 64) {
            EXPECT_EQ(
                std::search(blob.begin(), blob.end(), original.begin(), original.begin() + 64),
                blob.end());
        }
    }
}

TEST_F(VaultTest, UnicodeAndVeryLongFileNamesRoundTrip) {
    auto v = create();
    const CaseId c = make_case(*v);
    const std::string unicode = "свидетельство 証言 🎥 — \"quoted\" 'single'.mp4";
    std::string long_name;
    while (long_name.size() < 4000) long_name += "ünïcødé-";
    for (const std::string& name : {unicode, long_name}) {
        const ItemId id = ingest(*v, c, pattern_bytes(10, 3), name);
        auto item = v->get_item(id);
        ASSERT_TRUE(item);
        EXPECT_EQ(item->attachment->original_name, name);
    }
    crypto::MemorySource src(pattern_bytes(4, 4));
    const std::string invalid_utf8 = "bad\xC3(.bin";
    auto bad = v->ingest(c, src, invalid_utf8, "application/octet-stream", {});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::malformed);
}

TEST_F(VaultTest, ItemKeepsWhatTheInvestigatorStated) {
    auto v = create();
    const CaseId c = make_case(*v);
    const ItemId first = ingest(*v, c, pattern_bytes(10, 1));
    ItemFields f;
    f.kind = ItemKind::photo;
    f.title = "Checkpoint at the bridge";
    f.description = "Taken from the north bank";
    f.language = "ar";
    f.tags = {"bridge", "checkpoint"};
    f.witness = "W-17";
    f.consent.type = ConsentType::oral_recorded;
    f.consent.scope = {"Example NGO", "courts"};
    f.consent.recorded_in = first;
    f.location = Location{48.8584, 2.2945, 12.5, "gps"};
    f.derived_from = first;
    const ItemId id = ingest(*v, c, pattern_bytes(2000, 2), "bridge.jpg", f);
    auto item = v->get_item(id);
    ASSERT_TRUE(item) << item.error().message;
    EXPECT_EQ(item->case_id, c);
    EXPECT_EQ(item->fields.kind, ItemKind::photo);
    EXPECT_EQ(item->fields.title, f.title);
    EXPECT_EQ(item->fields.description, f.description);
    EXPECT_EQ(item->fields.language, "ar");
    EXPECT_EQ(item->fields.tags, f.tags);
    EXPECT_EQ(item->fields.witness, "W-17");
    EXPECT_EQ(item->fields.consent.type, ConsentType::oral_recorded);
    EXPECT_EQ(item->fields.consent.scope, (std::vector<std::string>{"Example NGO", "courts"}));
    EXPECT_EQ(item->fields.consent.recorded_in, first);
    EXPECT_FALSE(item->fields.consent.withdrawn);
    EXPECT_EQ(item->fields.derived_from, first);
    ASSERT_TRUE(item->capture.location);
    EXPECT_EQ(item->capture.location->lat, 48.8584);
    EXPECT_EQ(item->capture.location->lon, 2.2945);
    EXPECT_EQ(item->capture.location->accuracy_m, 12.5);
    EXPECT_EQ(item->capture.location->source, "gps");
    EXPECT_EQ(item->capture.investigator, "Investigator A");
    EXPECT_EQ(item->capture.clock_source, "fixed");
    EXPECT_EQ(item->capture.time.offset_minutes, 120);
    EXPECT_EQ(item->state, ItemState::active);
    EXPECT_TRUE(v->capture_signature_valid(*item));

    // The signature binds the hash, the place and the time.
    Item changed = *item;
    changed.attachment->sha256[0] ^= 1;
    EXPECT_FALSE(v->capture_signature_valid(changed));
    changed = *item;
    changed.capture.location->lat += 0.001;
    EXPECT_FALSE(v->capture_signature_valid(changed));
    changed = *item;
    changed.capture.time.unix_ms += 1;
    EXPECT_FALSE(v->capture_signature_valid(changed));
    changed = *item;
    changed.capture.investigator = "Someone else";
    EXPECT_FALSE(v->capture_signature_valid(changed));
}

TEST_F(VaultTest, RejectsBadInputBeforeWritingAnything) {
    auto v = create();
    const CaseId c = make_case(*v);
    const auto before = v->custody_log()->size();
    crypto::MemorySource src(pattern_bytes(10, 1));
    ItemFields bad_location;
    bad_location.location = Location{91.0, 0.0, std::nullopt, "typed"};
    EXPECT_EQ(v->ingest(c, src, "a", "b", bad_location).error().code, Errc::malformed);
    EXPECT_EQ(v->ingest("00112233445566778899aabbccddeeff", src, "a", "b", {}).error().code,
              Errc::malformed);
    EXPECT_EQ(v->ingest("not an id", src, "a", "b", {}).error().code, Errc::malformed);
    ItemFields dangling;
    dangling.derived_from = "00112233445566778899aabbccddeeff";
    EXPECT_EQ(v->ingest(c, src, "a", "b", dangling).error().code, Errc::malformed);
    EXPECT_EQ(v->custody_log()->size(), before);
    EXPECT_TRUE(blob_files(dir).empty());
}

TEST_F(VaultTest, CancelledIngestLeavesNothingBehind) {
    auto v = create();
    const CaseId c = make_case(*v);
    const auto log_before = v->custody_log()->size();
    std::atomic<bool> cancel{false};
    Progress progress;
    progress.cancel = &cancel;
    progress.report = [&](std::uint64_t done, std::uint64_t) {
        if (done > 0) cancel = true;
    };
    const auto bytes = pattern_bytes(8u << 20, 5);
    crypto::MemorySource src(bytes);
    auto id = v->ingest(c, src, "big.bin", "application/octet-stream", {}, progress);
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code, Errc::cancelled);
    EXPECT_TRUE(blob_files(dir).empty());
    EXPECT_EQ(v->custody_log()->size(), log_before);
    EXPECT_TRUE(v->list_items(c, 0, 10)->empty());
}

// A source that fails part-way, like a USB stick pulled out mid-import.
class FailingSource final : public crypto::ByteSource {
  public:
    explicit FailingSource(std::uint64_t good_bytes) : left_(good_bytes) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        if (left_ == 0) return make_error(Errc::io, "read: Input/output error");
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), left_));
        std::fill_n(out.begin(), n, std::uint8_t{0x5A});
        left_ -= n;
        return n;
    }

  private:
    std::uint64_t left_;
};

TEST_F(VaultTest, ReadErrorMidIngestLeavesNothingBehind) {
    auto v = create();
    const CaseId c = make_case(*v);
    const auto log_before = v->custody_log()->size();
    FailingSource src((2u << 20) + 100);
    auto id = v->ingest(c, src, "usb.bin", "application/octet-stream", {});
    ASSERT_FALSE(id);
    EXPECT_EQ(id.error().code, Errc::io);
    EXPECT_TRUE(blob_files(dir).empty());
    EXPECT_EQ(v->custody_log()->size(), log_before);
    EXPECT_TRUE(v->verify()->ok());
}

TEST_F(VaultTest, IngestReportsProgressToTheEnd) {
    auto v = create();
    const CaseId c = make_case(*v);
    std::uint64_t last_done = 0, last_total = 0, calls = 0;
    Progress progress;
    progress.report = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_GE(done, last_done);
        last_done = done;
        last_total = total;
        ++calls;
    };
    const auto bytes = pattern_bytes((5u << 20) + 3, 9);
    crypto::MemorySource src(bytes);
    ASSERT_TRUE(v->ingest(c, src, "f", "application/octet-stream", {}, progress));
    EXPECT_EQ(last_done, bytes.size());
    EXPECT_EQ(last_total, bytes.size());
    EXPECT_GE(calls, 5u);
}

// ---- Listing and search -----------------------------------------------------------------------

TEST_F(VaultTest, ListsPagesPerCaseInCaptureOrder) {
    auto v = create();
    const CaseId a = make_case(*v, "A");
    const CaseId b = make_case(*v, "B");
    std::vector<ItemId> in_a;
    for (int i = 0; i < 7; ++i) {
        in_a.push_back(ingest(*v, a, pattern_bytes(5, i), "a" + std::to_string(i)));
        ingest(*v, b, pattern_bytes(5, 100 + i), "b" + std::to_string(i));
    }
    std::vector<ItemId> seen;
    for (std::uint64_t offset = 0; offset < 10; offset += 3) {
        auto page = v->list_items(a, offset, 3);
        ASSERT_TRUE(page);
        for (const auto& item : *page) {
            EXPECT_EQ(item.case_id, a);
            seen.push_back(item.id);
        }
    }
    EXPECT_EQ(seen, in_a);
    auto all = v->list_items(std::nullopt, 0, 100);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 14u);
    for (std::size_t i = 1; i < all->size(); ++i)
        EXPECT_LT((*all)[i - 1].capture.time.unix_ms, (*all)[i].capture.time.unix_ms);
}

TEST_F(VaultTest, SearchFindsTestimonyTextTitlesAndTags) {
    auto v = create();
    const CaseId c = make_case(*v);
    ItemFields f;
    f.kind = ItemKind::testimony;
    f.title = "Statement of W-3";
    auto t =
        v->add_testimony(c, "Soldiers arrived at the école before dawn and took the records.", f);
    ASSERT_TRUE(t) << t.error().message;
    ItemFields g;
    g.title = "Harbour photo";
    g.tags = {"harbour", "night"};
    const ItemId photo = ingest(*v, c, pattern_bytes(10, 1), "p.jpg", g);

    auto by_text = v->search("soldiers dawn", 10);
    ASSERT_TRUE(by_text) << by_text.error().message;
    ASSERT_EQ(by_text->size(), 1u);
    EXPECT_EQ((*by_text)[0].id, *t);
    // unicode61 with remove_diacritics: "ecole" finds "école".
    EXPECT_EQ(v->search("ecole", 10)->size(), 1u);
    EXPECT_EQ(v->search("recor*", 10)->size(), 1u);
    auto by_tag = v->search("harbour", 10);
    ASSERT_EQ(by_tag->size(), 1u);
    EXPECT_EQ((*by_tag)[0].id, photo);
    EXPECT_EQ(v->search("night", 10)->size(), 1u);
    EXPECT_TRUE(v->search("absent", 10)->empty());
    // Query syntax characters are taken literally, never as an error.
    for (const char* q : {"\"", "AND", "-soldiers", "NEAR(", "a OR", "*", "soldiers\"dawn"}) {
        auto r = v->search(q, 10);
        EXPECT_TRUE(r) << q << ": " << r.error().message;
    }

    // The testimony is an attachment like any other, with the exact text.
    auto item = v->get_item(*t);
    ASSERT_TRUE(item);
    EXPECT_EQ(item->attachment->original_name, "testimony.txt");
    EXPECT_EQ(item->attachment->mime_type, "text/plain; charset=utf-8");
    const auto text = extract_all(*v, *t);
    EXPECT_EQ(std::string(text.begin(), text.end()),
              "Soldiers arrived at the école before dawn and took the records.");
}

// ---- Custody log and checkpoints ----------------------------------------------------------------

TEST_F(VaultTest, CustodyLogRecordsEveryEventInOrder) {
    auto v = create();
    const CaseId c = make_case(*v);
    const ItemId id = ingest(*v, c, pattern_bytes(100, 1));
    auto t = v->add_testimony(c, "text", {});
    ASSERT_TRUE(t);
    extract_all(*v, id);
    auto log = v->custody_log();
    ASSERT_TRUE(log);
    std::vector<CustodyEvent> events;
    for (std::size_t i = 0; i < log->size(); ++i) {
        EXPECT_EQ((*log)[i].index, i);
        events.push_back((*log)[i].event);
    }
    EXPECT_EQ(events, (std::vector<CustodyEvent>{CustodyEvent::created, CustodyEvent::created,
                                                 CustodyEvent::imported, CustodyEvent::captured,
                                                 CustodyEvent::extracted}));
    EXPECT_FALSE((*log)[0].case_id);
    EXPECT_EQ((*log)[1].case_id, c);
    EXPECT_EQ((*log)[2].item_id, id);
    auto for_item = v->custody_log(id);
    ASSERT_TRUE(for_item);
    ASSERT_EQ(for_item->size(), 2u);
    EXPECT_EQ((*for_item)[0].event, CustodyEvent::imported);
    EXPECT_EQ((*for_item)[1].event, CustodyEvent::extracted);
    // The import entry binds the content hash and the capture signature.
    auto item = v->get_item(id);
    EXPECT_NE((*for_item)[0].details.find("sha256=" + crypto::to_hex(item->attachment->sha256)),
              std::string::npos);
    EXPECT_NE((*for_item)[0].details.find(crypto::to_hex(item->capture_signature)),
              std::string::npos);
}

TEST_F(VaultTest, CheckpointIsASignedTreeHeadOfTheWholeLog) {
    auto v = create();
    const CaseId c = make_case(*v);
    auto first_note = v->checkpoint();
    ASSERT_TRUE(first_note);
    ingest(*v, c, pattern_bytes(10, 1));
    ingest(*v, c, pattern_bytes(10, 2));
    auto note_text = v->checkpoint();
    ASSERT_TRUE(note_text);
    // vault.checkpoint holds the same bytes, outside the database.
    const auto file = read_file(dir / "vault.checkpoint");
    EXPECT_EQ(std::string(file.begin(), file.end()), *note_text);

    const std::string origin =
        "custodia.device/" + crypto::minisign::key_id_hex(v->device_key().key_id());
    auto verifier =
        NoteVerifierKey::make(origin, NoteSignatureType::ed25519, v->device_key().key());
    ASSERT_TRUE(verifier);
    auto note = SignedNote::parse(*note_text);
    ASSERT_TRUE(note);
    const NoteVerifierKey known[] = {*verifier};
    EXPECT_TRUE(verify_note(*note, known));
    auto cp = Checkpoint::parse(note->text());
    ASSERT_TRUE(cp);
    EXPECT_EQ(cp->origin, origin);

    // Recompute the tree from the entries' bytes alone.
    MemoryLeafHashes tree;
    auto log = v->custody_log();
    for (const auto& e : *log) tree.append_entry(e.encoded);
    EXPECT_EQ(cp->size, log->size());
    EXPECT_EQ(*merkle_root(tree, cp->size), cp->root);
    // The earlier head is a prefix of this one: a consistency proof links them.
    auto old_cp = Checkpoint::parse(SignedNote::parse(*first_note)->text());
    ASSERT_TRUE(old_cp);
    auto proof = consistency_proof(tree, old_cp->size, cp->size);
    ASSERT_TRUE(proof);
    EXPECT_TRUE(verify_consistency(old_cp->size, cp->size, old_cp->root, cp->root, *proof));
}

// ---- verify()
// ----------------------------------------------------------------------------------------

TEST_F(VaultTest, VerifyPassesOnACleanVault) {
    auto v = create();
    const CaseId c = make_case(*v);
    for (int i = 0; i < 3; ++i) ingest(*v, c, pattern_bytes(70'000 * i, i));
    ASSERT_TRUE(v->add_testimony(c, "words", {}));
    std::uint64_t last = 0;
    Progress p;
    p.report = [&](std::uint64_t done, std::uint64_t total) {
        last = done;
        EXPECT_EQ(total, 4u);
    };
    auto report = v->verify(p);
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->ok()) << describe(*report);
    EXPECT_EQ(report->items_checked, 4u);
    EXPECT_EQ(report->log_size, 6u);
    EXPECT_EQ(last, 4u);
}

TEST_F(VaultTest, VerifyNamesTheItemWithATruncatedBlobAndOthersStillExtract) {
    auto v = create();
    const CaseId c = make_case(*v);
    const auto good_bytes = pattern_bytes(200'000, 1);
    const ItemId good = ingest(*v, c, good_bytes);
    const ItemId bad = ingest(*v, c, pattern_bytes(200'000, 2));
    const auto blob = v->get_item(bad)->attachment->blob_id;
    fs::resize_file(dir / "blobs" / blob.substr(0, 2) / blob, 70'000);

    auto report = v->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(has_problem(*report, "blob", bad)) << describe(*report);
    EXPECT_FALSE(has_problem(*report, "blob", good)) << describe(*report);
    EXPECT_EQ(report->problems.size(), 1u) << describe(*report);
    EXPECT_EQ(extract_all(*v, good), good_bytes);
    Status s;
    extract_all(*v, bad, &s);
    EXPECT_FALSE(s);
}

TEST_F(VaultTest, VerifyNamesEveryItemWithAFlippedBlobByte) {
    auto v = create();
    const CaseId c = make_case(*v);
    std::vector<ItemId> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(ingest(*v, c, pattern_bytes(150'000, i)));
    for (int i : {1, 3}) {
        const auto blob = v->get_item(ids[i])->attachment->blob_id;
        const auto path = dir / "blobs" / blob.substr(0, 2) / blob;
        auto bytes = read_file(path);
        bytes[100'000] ^= 0x04;
        write_file(path, bytes);
    }
    auto report = v->verify();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->problems.size(), 2u) << describe(*report);
    EXPECT_TRUE(has_problem(*report, "blob", ids[1]));
    EXPECT_TRUE(has_problem(*report, "blob", ids[3]));
    EXPECT_EQ(extract_all(*v, ids[0]), pattern_bytes(150'000, 0));
    EXPECT_EQ(extract_all(*v, ids[2]), pattern_bytes(150'000, 2));
}

TEST_F(VaultTest, VerifyReportsAMissingBlob) {
    auto v = create();
    const CaseId c = make_case(*v);
    const ItemId id = ingest(*v, c, pattern_bytes(1000, 1));
    const auto blob = v->get_item(id)->attachment->blob_id;
    fs::remove(dir / "blobs" / blob.substr(0, 2) / blob);
    auto report = v->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(has_problem(*report, "blob", id)) << describe(*report);
}

TEST_F(VaultTest, DatabaseRolledBackToAnOlderCopyIsReportedAndNotBuiltOn) {
    const fs::path aside = tmp.path() / "aside";
    fs::create_directory(aside);
    CaseId c;
    {
        auto v = create();
        c = make_case(*v);
        ingest(*v, c, pattern_bytes(100, 1));
    }
    for (const char* f : {"vault.db", "vault.db-wal", "vault.db-shm"})
        if (fs::exists(dir / f)) fs::copy_file(dir / f, aside / f);
    {
        auto v = open();
        ASSERT_TRUE(v);
        ingest(**v, c, pattern_bytes(100, 2));
        ingest(**v, c, pattern_bytes(100, 3));
    }
    const auto blobs_before = blob_files(dir).size();
    for (const char* f : {"vault.db", "vault.db-wal", "vault.db-shm"}) {
        fs::remove(dir / f);
        if (fs::exists(aside / f)) fs::copy_file(aside / f, dir / f);
    }
    auto v = open();
    ASSERT_TRUE(v) << v.error().message;
    auto report = (*v)->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(has_problem(*report, "database rolled back")) << describe(*report);
    // The blobs of the lost items are kept: they may be recoverable.
    EXPECT_EQ(blob_files(dir).size(), blobs_before);
    // Nothing is appended on top of a rolled-back log, and vault.checkpoint
    // keeps the evidence.
    const auto outside = read_file(dir / "vault.checkpoint");
    auto more = (*v)->create_case("after rollback", "", {});
    ASSERT_FALSE(more);
    EXPECT_EQ(more.error().code, Errc::auth_failed);
    EXPECT_EQ(read_file(dir / "vault.checkpoint"), outside);
}

TEST_F(VaultTest, ACheckpointFileBehindTheDatabaseIsCaughtUpAtOpen) {
    std::vector<std::uint8_t> older;
    {
        auto v = create();
        older = read_file(dir / "vault.checkpoint");
        make_case(*v);
    }
    // As if the app died between the commit and the file write.
    write_file(dir / "vault.checkpoint", older);
    auto v = open();
    ASSERT_TRUE(v);
    auto note = (*v)->checkpoint();
    const auto now = read_file(dir / "vault.checkpoint");
    EXPECT_EQ(std::string(now.begin(), now.end()), *note);
    auto report = (*v)->verify();
    EXPECT_TRUE(report->ok()) << describe(*report);
}

TEST_F(VaultTest, LeftoversOfACrashedImportAreRemovedAtOpen) {
    {
        auto v = create();
        ingest(*v, make_case(*v), pattern_bytes(100, 1));
    }
    const auto kept = blob_files(dir);
    ASSERT_EQ(kept.size(), 1u);
    fs::create_directories(dir / "blobs" / "ab");
    const auto tmp_blob = dir / "blobs" / "ab" / "ab00000000000000000000000000000f.tmp";
    const auto orphan = dir / "blobs" / "ab" / "ab00000000000000000000000000000e";
    const auto foreign = dir / "blobs" / "ab" / "notes.txt";
    for (const auto& p : {tmp_blob, orphan, foreign}) write_file(p, pattern_bytes(10, 1));
    auto v = open();
    ASSERT_TRUE(v);
    EXPECT_FALSE(fs::exists(tmp_blob));
    EXPECT_FALSE(fs::exists(orphan));
    EXPECT_TRUE(fs::exists(foreign));  // not ours: never touched
    EXPECT_TRUE(fs::exists(kept[0]));
    fs::remove(foreign);
    EXPECT_TRUE((*v)->verify()->ok());
}

// ---- Consent withdrawal
// ------------------------------------------------------------------------------

TEST_F(VaultTest, WithdrawingConsentShredsTheItem) {
    auto v = create();
    const CaseId c = make_case(*v);
    ItemFields f;
    f.title = "Interview";
    auto shred = v->add_testimony(c, "The witness named the commander.", f);
    ASSERT_TRUE(shred);
    const auto keep_bytes = pattern_bytes(5000, 9);
    const ItemId keep = ingest(*v, c, keep_bytes);
    const auto blob = v->get_item(*shred)->attachment->blob_id;
    const auto blob_path = dir / "blobs" / blob.substr(0, 2) / blob;
    ASSERT_TRUE(fs::exists(blob_path));
    ASSERT_EQ(v->search("commander", 10)->size(), 1u);

    ASSERT_TRUE(v->withdraw_consent(*shred, "the witness asked on 3 May"));
    EXPECT_FALSE(fs::exists(blob_path));
    auto item = v->get_item(*shred);
    ASSERT_TRUE(item);
    EXPECT_EQ(item->state, ItemState::shredded);
    EXPECT_TRUE(item->fields.consent.withdrawn);
    Status s;
    extract_all(*v, *shred, &s);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::no_matching_key);
    EXPECT_TRUE(v->search("commander", 10)->empty());
    EXPECT_TRUE(v->search("interview", 10)->empty());
    EXPECT_EQ(extract_all(*v, keep), keep_bytes);

    auto log = v->custody_log(*shred);
    ASSERT_TRUE(log);
    ASSERT_EQ(log->size(), 3u);
    EXPECT_EQ((*log)[1].event, CustodyEvent::consent_withdrawn);
    EXPECT_NE((*log)[1].details.find("the witness asked on 3 May"), std::string::npos);
    EXPECT_EQ((*log)[2].event, CustodyEvent::destroyed);

    auto report = v->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->ok()) << describe(*report);
    // The signed hash of what was captured survives the content.
    EXPECT_TRUE(v->capture_signature_valid(*item));
}

// ---- Key slots
// ---------------------------------------------------------------------------------------------

TEST_F(VaultTest, ChangingThePassphraseRewritesOneSlotOnly) {
    { create("old passphrase"); }
    const auto before = read_file(dir / "vault.header");
    const auto db_before = snapshot(dir);
    {
        auto v = open("old passphrase");
        ASSERT_TRUE(v);
        EXPECT_EQ((*v)->change_passphrase(secret("not it"), secret("x")).error().code,
                  Errc::wrong_passphrase);
        ASSERT_TRUE((*v)->change_passphrase(secret("old passphrase"), secret("new passphrase")));
        auto log = (*v)->custody_log();
        EXPECT_EQ(log->back().event, CustodyEvent::passphrase_changed);
    }
    const auto after = read_file(dir / "vault.header");
    ASSERT_EQ(after.size(), before.size());
    int slots_changed = 0;
    for (std::size_t s = 0; s < kVaultSlotCount; ++s) {
        const auto at = VaultHeader::kPrefixSize + s * VaultHeader::kSlotSize;
        if (!std::equal(before.begin() + at, before.begin() + at + VaultHeader::kSlotSize,
                        after.begin() + at))
            ++slots_changed;
    }
    EXPECT_EQ(slots_changed, 1);
    EXPECT_TRUE(
        std::equal(before.begin(), before.begin() + VaultHeader::kPrefixSize, after.begin()));

    auto old_open = open("old passphrase");
    ASSERT_FALSE(old_open);
    EXPECT_EQ(old_open.error().code, Errc::wrong_passphrase);
    auto new_open = open("new passphrase");
    ASSERT_TRUE(new_open) << new_open.error().message;
    EXPECT_TRUE((*new_open)->verify()->ok());
}

TEST_F(VaultTest, DuressPassphraseWipesAndOpensAnEmptyVault) {
    {
        auto v = create("real passphrase");
        const CaseId c = make_case(*v);
        ingest(*v, c, pattern_bytes(1000, 1));
        ASSERT_TRUE(v->set_duress_passphrase(secret("real passphrase"), secret("duress words")));
    }
    const auto old_blobs = blob_files(dir);
    ASSERT_EQ(old_blobs.size(), 1u);
    auto v = open("duress words");
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_TRUE((*v)->list_cases()->empty());
    EXPECT_TRUE((*v)->list_items(std::nullopt, 0, 10)->empty());
    EXPECT_EQ((*v)->custody_log()->size(), 1u);
    EXPECT_FALSE(fs::exists(old_blobs[0]));
    EXPECT_TRUE((*v)->verify()->ok());
    v->reset();

    auto real = open("real passphrase");
    ASSERT_FALSE(real);
    EXPECT_EQ(real.error().code, Errc::wrong_passphrase);
    auto again = open("duress words");  // now simply the new vault's passphrase
    ASSERT_TRUE(again) << again.error().message;
}

TEST_F(VaultTest, WipeErasesSlotsAndRemovesEveryVaultFile) {
    {
        auto v = create();
        ingest(*v, make_case(*v), pattern_bytes(1000, 1));
    }
    write_file(dir / "unrelated.txt", pattern_bytes(3, 3));
    ASSERT_TRUE(Vault::wipe(dir));
    EXPECT_FALSE(Vault::exists(dir));
    EXPECT_FALSE(fs::exists(dir / "vault.db"));
    EXPECT_FALSE(fs::exists(dir / "vault.checkpoint"));
    EXPECT_FALSE(fs::exists(dir / "blobs"));
    EXPECT_TRUE(fs::exists(dir / "unrelated.txt"));
    auto v = open();
    ASSERT_FALSE(v);
}

TEST_F(VaultTest, WipeWorksWhileTheVaultIsOpen) {
    auto v = create();
    ingest(*v, make_case(*v), pattern_bytes(1000, 1));
    ASSERT_TRUE(Vault::wipe(dir));
    EXPECT_FALSE(Vault::exists(dir));
    EXPECT_TRUE(blob_files(dir).empty());
}

}  // namespace
