// The vault's signed and hashed values checked with Debian's own tools:
// `sha256sum` agrees with the SHA-256 the device signs, `openssl pkeyutl`
// verifies the capture signature and the checkpoint signature (plain
// Ed25519, RFC 8032), and GNU `date` agrees with our RFC 3339 times.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "custodia/core/capture_record.h"
#include "custodia/core/clock.h"
#include "custodia/core/note.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/encoding.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;
using custodia::testing::quote;
using custodia::testing::run_shell;
namespace fs = std::filesystem;

// SubjectPublicKeyInfo for an Ed25519 key (RFC 8410 §4): fixed 12-byte
// prefix, then the 32 key bytes.
std::string ed25519_public_pem(const crypto::Ed25519PublicKey& key) {
    std::vector<std::uint8_t> der = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    der.insert(der.end(), key.begin(), key.end());
    return "-----BEGIN PUBLIC KEY-----\n" + crypto::to_base64(der, true) +
           "\n-----END PUBLIC KEY-----\n";
}

class VaultInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run_shell("command -v openssl >/dev/null && command -v sha256sum >/dev/null").exit_code,
            0)
            << "openssl and sha256sum are declared test dependencies (packaging/install-deps.sh)";
        auto created = Vault::create(tmp.path() / "vault", custodia::testing::secret("pass"),
                                     custodia::testing::cheap_options(), random, clock);
        ASSERT_TRUE(created) << created.error().message;
        vault = std::move(created->vault);
        auto c = vault->create_case("Case", "", {});
        ASSERT_TRUE(c);
        case_id = c->id;
    }

    bool openssl_verifies(std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig,
                          const crypto::Ed25519PublicKey& key) {
        const auto pem = ed25519_public_pem(key);
        custodia::testing::write_file(tmp / "pub.pem", crypto::as_bytes(pem));
        custodia::testing::write_file(tmp / "msg.bin", message);
        custodia::testing::write_file(tmp / "sig.bin", sig);
        auto r =
            run_shell("openssl pkeyutl -verify -pubin -inkey " + quote((tmp / "pub.pem").string()) +
                      " -rawin -in " + quote((tmp / "msg.bin").string()) + " -sigfile " +
                      quote((tmp / "sig.bin").string()) + " 2>&1");
        return r.exit_code == 0 &&
               r.out.find("Signature Verified Successfully") != std::string::npos;
    }

    custodia::testing::TempDir tmp;
    crypto::DeterministicRandom random{5};
    FixedClock clock{1'700'000'000'000, 1000, 60};
    std::unique_ptr<Vault> vault;
    CaseId case_id;
};

TEST_F(VaultInterop, SignedSha256EqualsSha256sumOfTheOriginalFile) {
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, (std::size_t{3} << 20) + 17}) {
        const auto path = tmp / ("original-" + std::to_string(size));
        custodia::testing::write_file(path, custodia::testing::pattern_bytes(size, size));
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        crypto::FdSource source(fd);
        auto id = vault->ingest(case_id, source, path.filename().string(),
                                "application/octet-stream", {});
        ::close(fd);
        ASSERT_TRUE(id) << id.error().message;
        auto r = run_shell("sha256sum " + quote(path.string()));
        ASSERT_EQ(r.exit_code, 0);
        auto item = vault->get_item(*id);
        ASSERT_TRUE(item);
        EXPECT_EQ(r.out.substr(0, 64), crypto::to_hex(item->attachment->sha256)) << size;
    }
}

TEST_F(VaultInterop, OpensslVerifiesTheCaptureSignature) {
    ItemFields f;
    f.location = Location{-33.8568, 151.2153, 5.0, "gps"};
    auto id = vault->add_testimony(case_id, "What I saw.", f);
    ASSERT_TRUE(id);
    auto item = vault->get_item(*id);
    ASSERT_TRUE(item);
    auto record = encode_capture_record(*item);
    ASSERT_TRUE(record);
    const crypto::Ed25519PublicKey key = vault->device_key().key();
    EXPECT_TRUE(openssl_verifies(*record, item->capture_signature, key));
    (*record)[record->size() - 1] ^= 1;  // another investigator name
    EXPECT_FALSE(openssl_verifies(*record, item->capture_signature, key));
}

TEST_F(VaultInterop, OpensslVerifiesTheCheckpointSignature) {
    auto text = vault->checkpoint();
    ASSERT_TRUE(text);
    auto note = SignedNote::parse(*text);
    ASSERT_TRUE(note);
    ASSERT_EQ(note->signatures().size(), 1u);
    const auto& sig = note->signatures()[0].signature;  // after the 4-byte key ID
    ASSERT_EQ(sig.size(), 64u);
    const crypto::Ed25519PublicKey key = vault->device_key().key();
    EXPECT_TRUE(openssl_verifies(crypto::as_bytes(note->text()), sig, key));
    std::string altered = note->text();
    altered[altered.size() - 2] ^= 1;
    EXPECT_FALSE(openssl_verifies(crypto::as_bytes(altered), sig, key));
}

TEST(ClockInterop, GnuDateAgreesOnUtcTimes) {
    ASSERT_EQ(run_shell("date -u -d @0 +%s >/dev/null 2>&1").exit_code, 0) << "GNU date missing";
    for (std::int64_t secs :
         {std::int64_t{0}, std::int64_t{951'782'400}, std::int64_t{1'700'000'000},
          std::int64_t{-86'400 * 365}, std::int64_t{4'102'444'799}}) {
        auto r = run_shell("date -u -d @" + std::to_string(secs) + " +%Y-%m-%dT%H:%M:%S.000Z");
        ASSERT_EQ(r.exit_code, 0);
        EXPECT_EQ(format_utc(secs * 1000) + "\n", r.out) << secs;
    }
}

}  // namespace
