// vault.header: key slots, unlock, passphrase change, duress, recovery,
// crypto-erase, rate limiting, and a strict byte-exact parser.
//
// Passphrase slots use InsecureTestingKdf (1 pass, 8 KiB) except in the one
// test that checks production calibration.
#include "custodia/core/vault_header.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "custodia/core/database.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "support/temp_dir.h"

namespace {

using custodia::Errc;
using custodia::core::InsecureTestingKdf;
using custodia::core::KeySlotKind;
using custodia::core::RecoveryKey;
using custodia::core::UnlockedBy;
using custodia::core::VaultHeader;
using custodia::crypto::as_bytes;
using custodia::crypto::SecretBytes;
using custodia::testing::TempDir;
namespace core = custodia::core;
namespace fs = std::filesystem;

constexpr std::string_view kPassphrase = "correct horse battery staple";
constexpr std::string_view kNewPassphrase = "a different passphrase entirely";
constexpr std::string_view kDuress = "duress: open the harmless one";

// Byte layout of format version 1 (docs/FORMAT.md, "Vault header").
constexpr std::size_t kPrefix = 27;
constexpr std::size_t kSlot = 98;
constexpr std::size_t kChecksumAt = 811;
constexpr std::size_t slot_at(std::size_t i) {
    return kPrefix + i * kSlot;
}

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

std::vector<std::uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

void fix_checksum(std::vector<std::uint8_t>& bytes) {
    const auto digest = custodia::crypto::sha256(std::span(bytes).first(kChecksumAt));
    std::copy(digest.begin(), digest.end(), bytes.begin() + kChecksumAt);
}

struct TestVault {
    TempDir tmp;
    fs::path dir = tmp / "vault";
    SecretBytes master;
    SecretBytes recovery_text;

    TestVault() {
        auto created = core::create_vault_header(
            dir, as_bytes(kPassphrase), custodia::crypto::system_random(), InsecureTestingKdf{});
        if (!created) throw std::runtime_error(created.error().message);
        master = std::move(created->master_key);
        recovery_text = created->recovery_key.to_text();
    }
    fs::path header_path() const { return dir / "vault.header"; }
    std::vector<std::uint8_t> header_bytes() const { return read_file(header_path()); }
    RecoveryKey recovery() const { return RecoveryKey::parse(recovery_text.view()).value(); }
    core::VaultUnlock unlock(std::string_view passphrase) const {
        auto u = core::unlock_vault(dir, as_bytes(passphrase), kNow);
        if (!u) throw std::runtime_error(u.error().message);
        return std::move(u).value();
    }
};

VaultHeader parse_ok(const std::vector<std::uint8_t>& bytes) {
    auto h = VaultHeader::parse(bytes);
    if (!h) throw std::runtime_error(h.error().message);
    return std::move(h).value();
}

// ---- Create and unlock --------------------------------------------------------

TEST(VaultHeader, CreateThenUnlockWithPassphraseGivesTheMasterKey) {
    TestVault v;
    ASSERT_EQ(v.master.size(), 32u);
    auto u = core::unlock_vault(v.dir, as_bytes(kPassphrase), kNow);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->by, UnlockedBy::passphrase);
    EXPECT_TRUE(u->master_key.equals(v.master.span()));
    EXPECT_EQ(read_file(v.header_path()).size(), VaultHeader::kSize);
}

TEST(VaultHeader, WrongPassphraseIsRefused) {
    TestVault v;
    auto u = core::unlock_vault(v.dir, as_bytes("correct horse battery stapler"), kNow);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, Errc::wrong_passphrase);
}

TEST(VaultHeader, NewVaultHasPassphraseDecoyAndRecoverySlotsThatLookAlike) {
    TestVault v;
    const auto h = parse_ok(v.header_bytes());
    const auto& s = h.slots();
    EXPECT_EQ(s[0].kind, KeySlotKind::passphrase);
    EXPECT_EQ(s[1].kind, KeySlotKind::passphrase);
    EXPECT_EQ(s[2].kind, KeySlotKind::recovery);
    for (std::size_t i = 3; i < core::kVaultSlotCount; ++i)
        EXPECT_EQ(s[i].kind, KeySlotKind::empty);
    EXPECT_EQ(s[0].opslimit, s[1].opslimit);
    EXPECT_EQ(s[0].memlimit_kib, s[1].memlimit_kib);
    EXPECT_NE(s[0].salt, s[1].salt);
}

TEST(VaultHeader, CreateRefusesToReplaceAnExistingHeader) {
    TestVault v;
    const auto before = v.header_bytes();
    auto again = core::create_vault_header(v.dir, as_bytes(kNewPassphrase),
                                           custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_FALSE(again);
    EXPECT_EQ(v.header_bytes(), before);
    EXPECT_TRUE(v.unlock(kPassphrase).master_key.equals(v.master.span()));
}

TEST(VaultHeader, CreateRefusesADirectoryThatHoldsAVaultDatabase) {
    TempDir tmp;
    const auto dir = tmp / "vault";
    fs::create_directory(dir);
    write_file(dir / "vault.db", {1, 2, 3});
    auto created = core::create_vault_header(
        dir, as_bytes(kPassphrase), custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_FALSE(created);
    EXPECT_FALSE(fs::exists(dir / "vault.header"));
    EXPECT_EQ(read_file(dir / "vault.db"), (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST(VaultHeader, TestingKdfOutsideLibsodiumBoundsIsRefused) {
    TempDir tmp;
    auto created = core::create_vault_header(tmp / "v", as_bytes(kPassphrase),
                                             custodia::crypto::system_random(),
                                             InsecureTestingKdf{1, 1000});  // not whole KiB
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, Errc::limit);
}

// ---- Recovery key -------------------------------------------------------------

TEST(RecoveryKey, TextIsFourteenGroupsOfFourCrockfordCharacters) {
    TestVault v;
    const std::string_view text = v.recovery_text.view();
    ASSERT_EQ(text.size(), 69u);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i % 5 == 4) {
            EXPECT_EQ(text[i], '-') << i;
        } else {
            EXPECT_NE(std::string_view("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(text[i]),
                      std::string_view::npos)
                << i;
        }
    }
}

// Known answer, computed independently of this code base with Python 3:
//   key = bytes(range(32))
//   chk = hashlib.sha256(b"custodia/v1/recovery-key-check" + key).digest()[:3]
//   n = int.from_bytes(key + chk, "big")          # 280 bits = 56 symbols
//   s = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(n >> (5 * (55 - i))) & 31]
//               for i in range(56))
//   "-".join(s[i:i + 4] for i in range(0, 56, 4))
TEST(RecoveryKey, KnownAnswerFromAnIndependentEncoder) {
    std::array<std::uint8_t, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
    const auto rk = RecoveryKey::from_bytes(key);
    const std::string expected =
        "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-2GAH-C5RR-34D1-P70X-3RFS-KAJZ";
    EXPECT_EQ(rk.to_text().view(), expected);
    auto parsed = RecoveryKey::parse(expected);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->bytes().equals(key));
}

TEST(RecoveryKey, ParseAcceptsLowerCaseNoSeparatorsAndCrockfordAliases) {
    TestVault v;
    std::string text(v.recovery_text.view());
    std::string loose;
    for (char c : text) {
        if (c == '-') {
            loose += ' ';
            continue;
        }
        if (c == '0') c = 'o';
        if (c == '1') c = 'l';
        loose += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto parsed = RecoveryKey::parse(loose);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_TRUE(parsed->bytes().equals(v.recovery().bytes().span()));
}

TEST(RecoveryKey, EverySingleCharacterTypoIsCaughtByTheChecksum) {
    TestVault v;
    const std::string text(v.recovery_text.view());
    const std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    int tried = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '-') continue;
        for (char c : alphabet) {
            if (c == text[i]) continue;
            std::string typo = text;
            typo[i] = c;
            auto parsed = RecoveryKey::parse(typo);
            ASSERT_FALSE(parsed) << "typo at " << i;
            EXPECT_EQ(parsed.error().code, Errc::malformed);
            ++tried;
        }
    }
    EXPECT_EQ(tried, 56 * 31);
}

TEST(RecoveryKey, WrongLengthOrAlphabetIsMalformed) {
    TestVault v;
    const std::string text(v.recovery_text.view());
    for (const std::string& bad : {text.substr(0, text.size() - 1), text + "0", text + "U",
                                   std::string("!") + text, std::string()}) {
        auto parsed = RecoveryKey::parse(bad);
        ASSERT_FALSE(parsed);
        EXPECT_EQ(parsed.error().code, Errc::malformed);
    }
}

TEST(VaultHeader, RecoveryKeyUnlocksTheSameMasterKey) {
    TestVault v;
    auto u = core::unlock_vault_with_recovery_key(v.dir, v.recovery());
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->by, UnlockedBy::recovery_key);
    EXPECT_EQ(u->slot, 2u);
    EXPECT_TRUE(u->master_key.equals(v.master.span()));
}

TEST(VaultHeader, AnotherRecoveryKeyIsRefused) {
    TestVault v;
    auto other = RecoveryKey::generate(custodia::crypto::system_random());
    auto u = core::unlock_vault_with_recovery_key(v.dir, other);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, Errc::wrong_passphrase);
}

// ---- Changing the passphrase -------------------------------------------------

TEST(VaultHeader, ChangePassphraseRewritesOneSlotAndKeepsTheDataKey) {
    TestVault v;
    // A database under the vault's key, to show the data is untouched.
    {
        auto db = core::Database::create(v.dir / "vault.db", v.master);
        ASSERT_TRUE(db) << db.error().message;
        ASSERT_TRUE(db->execute("INSERT INTO settings (key, value) VALUES ('k', 'still here')"));
    }
    const auto before = v.header_bytes();
    const auto unlock = v.unlock(kPassphrase);
    auto s = core::change_passphrase(v.dir, unlock, as_bytes(kNewPassphrase),
                                     custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_TRUE(s) << s.error().message;
    const auto after = v.header_bytes();
    ASSERT_EQ(after.size(), before.size());

    // Only slot 0 (and the checksum over it) changed.
    EXPECT_FALSE(std::equal(before.begin() + slot_at(0), before.begin() + slot_at(1),
                            after.begin() + slot_at(0)));
    EXPECT_TRUE(std::equal(before.begin(), before.begin() + slot_at(0), after.begin()));
    EXPECT_TRUE(std::equal(before.begin() + slot_at(1), before.begin() + kChecksumAt,
                           after.begin() + slot_at(1)));

    auto old = core::unlock_vault(v.dir, as_bytes(kPassphrase), kNow);
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().code, Errc::wrong_passphrase);
    const auto fresh = v.unlock(kNewPassphrase);
    EXPECT_TRUE(fresh.master_key.equals(v.master.span()));
    auto rec = core::unlock_vault_with_recovery_key(v.dir, v.recovery());
    ASSERT_TRUE(rec);
    EXPECT_TRUE(rec->master_key.equals(v.master.span()));

    auto db = core::Database::open(v.dir / "vault.db", fresh.master_key);
    ASSERT_TRUE(db) << db.error().message;
    auto q = db->prepare("SELECT value FROM settings WHERE key = 'k'");
    ASSERT_TRUE(q);
    ASSERT_TRUE(q->step().value());
    EXPECT_EQ(q->column_text(0), "still here");
}

TEST(VaultHeader, ChangePassphraseOverwritesTheReplacedFileInPlace) {
    TestVault v;
    const auto before = v.header_bytes();
    // Holding the old inode open shows what happens to the bytes it held.
    const int fd = ::open(v.header_path().c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    auto s = core::change_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kNewPassphrase),
                                     custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_TRUE(s) << s.error().message;
    std::vector<std::uint8_t> old(before.size());
    ASSERT_EQ(::pread(fd, old.data(), old.size(), 0), static_cast<ssize_t>(old.size()));
    ::close(fd);
    EXPECT_NE(old, before);
    EXPECT_FALSE(VaultHeader::parse(old));
}

TEST(VaultHeader, ChangePassphraseAfterRecoveryResetsTheDuressSlot) {
    TestVault v;
    ASSERT_TRUE(core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                            custodia::crypto::system_random()));
    auto rec = core::unlock_vault_with_recovery_key(v.dir, v.recovery());
    ASSERT_TRUE(rec);
    auto s = core::change_passphrase(v.dir, *rec, as_bytes(kNewPassphrase),
                                     custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_TRUE(v.unlock(kNewPassphrase).master_key.equals(v.master.span()));
    for (auto gone : {kPassphrase, kDuress}) {
        auto u = core::unlock_vault(v.dir, as_bytes(gone), kNow);
        ASSERT_FALSE(u);
        EXPECT_EQ(u.error().code, Errc::wrong_passphrase);
    }
    const auto h = parse_ok(v.header_bytes());
    EXPECT_EQ(h.slots()[0].kind, KeySlotKind::passphrase);
    EXPECT_EQ(h.slots()[1].kind, KeySlotKind::passphrase);
}

TEST(VaultHeader, ChangePassphraseForAnotherVaultIsRefused) {
    TestVault a;
    TestVault b;
    const auto before = b.header_bytes();
    auto s = core::change_passphrase(b.dir, a.unlock(kPassphrase), as_bytes(kNewPassphrase),
                                     custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::no_matching_key);
    EXPECT_EQ(b.header_bytes(), before);
}

// ---- Duress -------------------------------------------------------------------

TEST(VaultHeader, DuressPassphraseOpensTheDuressSlotWhichHoldsNoKey) {
    TestVault v;
    const auto before = parse_ok(v.header_bytes());
    auto s = core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                         custodia::crypto::system_random());
    ASSERT_TRUE(s) << s.error().message;
    auto u = core::unlock_vault(v.dir, as_bytes(kDuress), kNow);
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->by, UnlockedBy::duress);
    EXPECT_EQ(u->slot, 1u);
    EXPECT_TRUE(u->master_key.empty());
    EXPECT_TRUE(v.unlock(kPassphrase).master_key.equals(v.master.span()));

    // The duress slot replaced the decoy with the same kind and cost: on disk
    // the vault looks as it did.
    const auto after = parse_ok(v.header_bytes());
    EXPECT_EQ(after.slots()[1].kind, before.slots()[1].kind);
    EXPECT_EQ(after.slots()[1].opslimit, before.slots()[1].opslimit);
    EXPECT_EQ(after.slots()[1].memlimit_kib, before.slots()[1].memlimit_kib);
    EXPECT_EQ(after.slots()[0].salt, before.slots()[0].salt);
}

TEST(VaultHeader, DuressPassphraseEqualToThePassphraseIsRefused) {
    TestVault v;
    const auto before = v.header_bytes();
    auto s = core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kPassphrase),
                                         custodia::crypto::system_random());
    ASSERT_FALSE(s);
    EXPECT_EQ(v.header_bytes(), before);
}

TEST(VaultHeader, NewPassphraseEqualToTheDuressPassphraseIsRefused) {
    TestVault v;
    ASSERT_TRUE(core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                            custodia::crypto::system_random()));
    const auto before = v.header_bytes();
    auto s = core::change_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                     custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_FALSE(s);
    EXPECT_EQ(v.header_bytes(), before);
}

TEST(VaultHeader, RemovedDuressPassphraseNoLongerOpens) {
    TestVault v;
    ASSERT_TRUE(core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                            custodia::crypto::system_random()));
    ASSERT_TRUE(core::remove_duress_passphrase(v.dir, v.unlock(kPassphrase),
                                               custodia::crypto::system_random()));
    auto u = core::unlock_vault(v.dir, as_bytes(kDuress), kNow);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, Errc::wrong_passphrase);
    EXPECT_TRUE(v.unlock(kPassphrase).master_key.equals(v.master.span()));
    EXPECT_EQ(parse_ok(v.header_bytes()).slots()[1].kind, KeySlotKind::passphrase);
}

TEST(VaultHeader, DuressUnlockCannotChangeKeySlots) {
    TestVault v;
    ASSERT_TRUE(core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                            custodia::crypto::system_random()));
    const auto duress = v.unlock(kDuress);
    const auto before = v.header_bytes();
    EXPECT_FALSE(core::change_passphrase(v.dir, duress, as_bytes(kNewPassphrase),
                                         custodia::crypto::system_random(), InsecureTestingKdf{}));
    EXPECT_FALSE(core::remove_duress_passphrase(v.dir, duress, custodia::crypto::system_random()));
    EXPECT_EQ(v.header_bytes(), before);
}

// ---- Crypto-erase ---------------------------------------------------------------

TEST(VaultHeader, CryptoEraseOverwritesTheHeaderInPlaceThenRemovesIt) {
    TestVault v;
    const auto before = v.header_bytes();
    write_file(v.dir / "vault.header.tmp", before);  // as an interrupted write would leave it
    const int fd = ::open(v.header_path().c_str(), O_RDONLY);
    const int tmp_fd = ::open((v.dir / "vault.header.tmp").c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_GE(tmp_fd, 0);
    ASSERT_TRUE(core::crypto_erase_vault_header(v.dir, custodia::crypto::system_random()));

    EXPECT_FALSE(fs::exists(v.header_path()));
    EXPECT_FALSE(fs::exists(v.dir / "vault.header.tmp"));
    for (int f : {fd, tmp_fd}) {
        std::vector<std::uint8_t> left(before.size());
        ASSERT_EQ(::pread(f, left.data(), left.size(), 0), static_cast<ssize_t>(left.size()));
        ::close(f);
        // Every slot's bytes are gone from the inode, not only its name.
        for (std::size_t i = 0; i < 3; ++i)
            EXPECT_FALSE(std::equal(before.begin() + slot_at(i), before.begin() + slot_at(i + 1),
                                    left.begin() + slot_at(i)))
                << "slot " << i;
        EXPECT_FALSE(VaultHeader::parse(left));
    }
}

TEST(VaultHeader, CryptoEraseWorksOnAHeaderThatNoLongerParses) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[100] ^= 0xFF;
    write_file(v.header_path(), bytes);
    ASSERT_TRUE(core::crypto_erase_vault_header(v.dir, custodia::crypto::system_random()));
    EXPECT_FALSE(fs::exists(v.header_path()));
}

// ---- Never destroy on doubt -----------------------------------------------------

TEST(VaultHeader, MalformedHeaderIsReportedAndNeverRewritten) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[slot_at(0) + 60] ^= 0x01;  // checksum no longer matches
    write_file(v.header_path(), bytes);
    const auto unlock_before = v.dir / "vault.unlock-failures";

    auto u = core::unlock_vault(v.dir, as_bytes(kPassphrase), kNow);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, Errc::malformed);
    EXPECT_NE(u.error().message.find("checksum"), std::string::npos);
    auto r = core::unlock_vault_with_recovery_key(v.dir, v.recovery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::malformed);
    auto c = core::create_vault_header(v.dir, as_bytes(kPassphrase),
                                       custodia::crypto::system_random(), InsecureTestingKdf{});
    ASSERT_FALSE(c);

    EXPECT_EQ(v.header_bytes(), bytes);
    EXPECT_FALSE(fs::exists(unlock_before));
    EXPECT_FALSE(fs::exists(v.dir / "vault.header.tmp"));
}

// ---- Parser: strict, exact, never crashes ----------------------------------------

TEST(VaultHeaderParse, RoundTripIsExact) {
    TestVault v;
    ASSERT_TRUE(core::set_duress_passphrase(v.dir, v.unlock(kPassphrase), as_bytes(kDuress),
                                            custodia::crypto::system_random()));
    const auto bytes = v.header_bytes();
    EXPECT_EQ(parse_ok(bytes).serialize(), bytes);
}

TEST(VaultHeaderParse, TruncationAtEveryLengthIsMalformed) {
    TestVault v;
    const auto bytes = v.header_bytes();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto h = VaultHeader::parse(std::span(bytes).first(n));
        ASSERT_FALSE(h) << n;
        EXPECT_EQ(h.error().code, Errc::malformed) << n;
    }
    auto longer = bytes;
    longer.push_back(0);
    auto h = VaultHeader::parse(longer);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, Errc::malformed);
}

TEST(VaultHeaderParse, EveryFlippedByteIsRejected) {
    TestVault v;
    const auto bytes = v.header_bytes();
    for (const int mask : {0x01, 0x80, 0xFF}) {
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            auto t = bytes;
            t[i] = static_cast<std::uint8_t>(t[i] ^ mask);
            auto h = VaultHeader::parse(t);
            ASSERT_FALSE(h) << "byte " << i;
            const bool version = i == 8 || i == 9;
            EXPECT_EQ(h.error().code, version ? Errc::unsupported : Errc::malformed) << i;
        }
    }
}

// Flips each byte and then repairs the checksum, as an attacker could: what
// still parses must fail to unlock exactly where the flip touched a slot's
// authenticated bytes, and must never give a different key.
TEST(VaultHeaderParse, FlippedByteWithRepairedChecksumFailsWhereItShould) {
    TestVault v;
    const auto bytes = v.header_bytes();
    const auto recovery = v.recovery();
    int parsed_count = 0;
    for (const int mask : {0x01, 0xFF}) {
        for (std::size_t i = 0; i < kChecksumAt; ++i) {
            auto t = bytes;
            t[i] = static_cast<std::uint8_t>(t[i] ^ mask);
            fix_checksum(t);
            auto h = VaultHeader::parse(t);
            if (!h) {
                EXPECT_TRUE(h.error().code == Errc::malformed ||
                            h.error().code == Errc::unsupported);
                continue;
            }
            ++parsed_count;
            EXPECT_EQ(h->serialize(), t);
            const bool in_prefix = i < kPrefix;
            const bool in_slot0 = i >= slot_at(0) && i < slot_at(1);
            const bool in_slot2 = i >= slot_at(2) && i < slot_at(3);
            auto p = core::unlock_with_passphrase(*h, as_bytes(kPassphrase));
            if (in_prefix || in_slot0) {
                ASSERT_FALSE(p) << "byte " << i;
                EXPECT_EQ(p.error().code, Errc::wrong_passphrase) << i;
            } else {
                ASSERT_TRUE(p) << "byte " << i << ": " << p.error().message;
                EXPECT_TRUE(p->master_key.equals(v.master.span()));
            }
            auto r = core::unlock_with_recovery_key(*h, recovery);
            if (in_prefix || in_slot2) {
                ASSERT_FALSE(r) << "byte " << i;
            } else {
                ASSERT_TRUE(r) << "byte " << i;
                EXPECT_TRUE(r->master_key.equals(v.master.span()));
            }
        }
    }
    EXPECT_GT(parsed_count, 0);
}

TEST(VaultHeaderParse, NewerFormatVersionIsUnsupported) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[9] = 2;
    fix_checksum(bytes);
    auto h = VaultHeader::parse(bytes);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, Errc::unsupported);
}

TEST(VaultHeaderParse, NonZeroByteInAnEmptySlotIsMalformed) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[slot_at(5) + 97] = 1;
    fix_checksum(bytes);
    auto h = VaultHeader::parse(bytes);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, Errc::malformed);
}

TEST(VaultHeaderParse, RecoverySlotWithArgon2idFieldsIsMalformed) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[slot_at(2) + 4] = 1;  // opslimit of a recovery slot
    fix_checksum(bytes);
    EXPECT_FALSE(VaultHeader::parse(bytes));
}

TEST(VaultHeaderParse, HugeArgon2idMemoryIsRefusedBeforeAnyDerivation) {
    TestVault v;
    auto bytes = v.header_bytes();
    // memlimit_kib = 0x00800000 = 8 GiB, above the 4 GiB bound.
    const std::array<std::uint8_t, 4> mem = {0x00, 0x80, 0x00, 0x00};
    std::copy(mem.begin(), mem.end(), bytes.begin() + slot_at(0) + 5);
    fix_checksum(bytes);
    auto h = VaultHeader::parse(bytes);
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().code, Errc::malformed);
}

// ---- Tamper: the AEAD binds each slot to its place ----------------------------

TEST(VaultHeaderTamper, LoweringTheArgon2idCostBreaksTheSlot) {
    TestVault v;
    auto bytes = v.header_bytes();
    bytes[slot_at(0) + 8] = 0x10;  // memlimit 8 KiB -> 16 KiB; any change will do
    fix_checksum(bytes);
    auto p = core::unlock_with_passphrase(parse_ok(bytes), as_bytes(kPassphrase));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Errc::wrong_passphrase);
}

TEST(VaultHeaderTamper, SwappingPassphraseSlotsBreaksThem) {
    TestVault v;
    auto bytes = v.header_bytes();
    std::swap_ranges(bytes.begin() + slot_at(0), bytes.begin() + slot_at(1),
                     bytes.begin() + slot_at(1));
    fix_checksum(bytes);
    auto p = core::unlock_with_passphrase(parse_ok(bytes), as_bytes(kPassphrase));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Errc::wrong_passphrase);
}

TEST(VaultHeaderTamper, RecoverySlotMovedToAnotherIndexDoesNotOpen) {
    TestVault v;
    auto bytes = v.header_bytes();
    std::swap_ranges(bytes.begin() + slot_at(2), bytes.begin() + slot_at(3),
                     bytes.begin() + slot_at(4));
    fix_checksum(bytes);
    auto r = core::unlock_with_recovery_key(parse_ok(bytes), v.recovery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::wrong_passphrase);
}

TEST(VaultHeaderTamper, SlotTransplantedIntoAnotherVaultDoesNotOpen) {
    TestVault a;
    TestVault b;
    auto bytes = b.header_bytes();
    const auto donor = a.header_bytes();
    std::copy(donor.begin() + slot_at(0), donor.begin() + slot_at(1), bytes.begin() + slot_at(0));
    fix_checksum(bytes);
    auto p = core::unlock_with_passphrase(parse_ok(bytes), as_bytes(kPassphrase));
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().code, Errc::wrong_passphrase);
}

// ---- Failed-unlock rate limiting -------------------------------------------------

TEST(UnlockRateLimit, DelayGrowsAfterFiveFailuresAndSuccessClearsIt) {
    using std::chrono::seconds;
    TestVault v;
    auto t = kNow;
    for (int i = 0; i < 5; ++i) {
        auto u = core::unlock_vault(v.dir, as_bytes("guess"), t);
        ASSERT_FALSE(u);
        EXPECT_EQ(u.error().code, Errc::wrong_passphrase) << i;
    }
    EXPECT_EQ(core::unlock_wait_remaining(v.dir, t).value(), seconds(30));
    // While the wait runs, even the right passphrase is not tried.
    auto blocked = core::unlock_vault(v.dir, as_bytes(kPassphrase), t + seconds(29));
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, Errc::limit);
    // A clock set back does not shorten the wait.
    EXPECT_EQ(core::unlock_wait_remaining(v.dir, t - seconds(1000)).value(), seconds(30));

    t += seconds(30);
    auto sixth = core::unlock_vault(v.dir, as_bytes("guess"), t);
    ASSERT_FALSE(sixth);
    EXPECT_EQ(sixth.error().code, Errc::wrong_passphrase);
    EXPECT_EQ(core::unlock_wait_remaining(v.dir, t).value(), seconds(60));

    t += seconds(60);
    auto ok = core::unlock_vault(v.dir, as_bytes(kPassphrase), t);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(core::unlock_wait_remaining(v.dir, t).value(), seconds(0));
    EXPECT_FALSE(fs::exists(v.dir / "vault.unlock-failures"));
}

TEST(UnlockRateLimit, FailedAttemptIsCountedOnDisk) {
    TestVault v;
    ASSERT_FALSE(core::unlock_vault(v.dir, as_bytes("guess"), kNow));
    const auto bytes = read_file(v.dir / "vault.unlock-failures");
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()),
              "custodia-unlock-failures/v1 1 1700000000\n");
}

TEST(UnlockRateLimit, DelayIsCappedAtOneHour) {
    TestVault v;
    const std::string text = "custodia-unlock-failures/v1 400 1700000000\n";
    write_file(v.dir / "vault.unlock-failures",
               std::vector<std::uint8_t>(text.begin(), text.end()));
    EXPECT_EQ(core::unlock_wait_remaining(v.dir, kNow).value(), std::chrono::seconds(3600));
}

// ---- Production cost --------------------------------------------------------------

// The one test that pays for real Argon2id: about a second to calibrate and
// create, and two to unlock (both passphrase slots are always derived).
TEST(VaultHeaderCalibration, ProductionCostIsNeverBelowModerateAndNearOneSecond) {
    TempDir tmp;
    const auto dir = tmp / "vault";
    auto created =
        core::create_vault_header(dir, as_bytes(kPassphrase), custodia::crypto::system_random());
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_GE(created->passphrase_cost.opslimit, 3u);
    EXPECT_GE(created->passphrase_cost.memlimit, 256u * 1024 * 1024);
    std::cout << "[ calibration ] Argon2id opslimit=" << created->passphrase_cost.opslimit
              << " memlimit=" << created->passphrase_cost.memlimit / (1024 * 1024)
              << " MiB, one derivation took " << created->passphrase_derivation_time.count()
              << " ms\n";
    RecordProperty("argon2id_opslimit", static_cast<int>(created->passphrase_cost.opslimit));
    RecordProperty("argon2id_ms", static_cast<int>(created->passphrase_derivation_time.count()));

    const auto h = parse_ok(read_file(dir / "vault.header"));
    EXPECT_EQ(h.slots()[0].opslimit, created->passphrase_cost.opslimit);
    EXPECT_EQ(h.slots()[1].opslimit, h.slots()[0].opslimit);
    EXPECT_EQ(h.slots()[1].memlimit_kib, h.slots()[0].memlimit_kib);

    const auto start = std::chrono::steady_clock::now();
    auto u = core::unlock_vault(dir, as_bytes(kPassphrase), kNow);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_TRUE(u->master_key.equals(created->master_key.span()));
    std::cout << "[ calibration ] unlock (two passphrase slots) took " << ms << " ms\n";
}

}  // namespace
