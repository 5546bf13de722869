// Exporting a case as a sealed bundle and opening it again, checked with
// the standard tools a court expert would use instead of Custodia: age
// (decrypt), tar --zstd (unpack), minisign (manifest and envelope
// signatures under the device key that `custodia-cli identity` prints) and
// sha256sum -c. Also: a flipped byte in the bundle makes `open` fail, and
// the custody verifier names the check that a modified entry, proof or key
// breaks.
//
// Vaults here are created with CUSTODIA_INSECURE_TEST_KDF=1 (libsodium's
// minimum Argon2id cost): the test-only switch the CLI documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "custodia/core/bundle_custody.h"
#include "custodia/core/bundle_format.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;
using nlohmann::json;

const std::string kPassphrase = "correct horse battery staple";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string last_line(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const auto nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

bool is_id(const std::string& text) {
    return std::regex_match(text, std::regex("[0-9a-f]{32}"));
}

bool have_tools() {
    return run_shell("command -v age age-keygen minisign tar sha256sum zstd >/dev/null 2>&1")
               .exit_code == 0;
}

struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
};

class CliExport : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(CUSTODIA_CLI)) << CUSTODIA_CLI;
        ASSERT_TRUE(have_tools()) << "age, age-keygen, minisign, tar and zstd are declared test "
                                     "dependencies (packaging/install-deps.sh)";
        ASSERT_EQ(cli("init --investigator 'Investigator A'").code, 0);
        case_id = last_line(cli("case create 'Case one'").out);
        ASSERT_TRUE(is_id(case_id));

        const std::string photo(150'000, 'p');
        std::string doc(70'000, '\0');
        custodia::crypto::DeterministicRandom random(7);
        random.fill(std::span(reinterpret_cast<std::uint8_t*>(doc.data()), doc.size()));
        write_text(path("photo.jpg"), photo);
        write_text(path("report.pdf"), doc);
        const auto added =
            cli("add --case " + case_id + " --consent written " +
                quote(path("photo.jpg").string()) + " " + quote(path("report.pdf").string()));
        ASSERT_EQ(added.code, 0) << added.err;
        const auto testimony = cli("testimony --case " + case_id +
                                   " --consent oral-recorded --text 'They came at night.'");
        ASSERT_EQ(testimony.code, 0) << testimony.err;

        ASSERT_EQ(run_shell("age-keygen -o " + quote(path("key.txt").string()) + " 2>/dev/null")
                      .exit_code,
                  0);
        recipient = last_line(run_shell("age-keygen -y " + quote(path("key.txt").string())).out);
        const auto identity = cli("identity");
        ASSERT_EQ(identity.code, 0);
        write_text(path("device.pub"), identity.out);
        device_key_line = last_line(identity.out);
    }

    fs::path path(const std::string& name) const { return dir.path() / name; }

    CliRun cli(const std::string& args, bool with_vault = true) const {
        std::string command =
            "env -u XDG_DATA_HOME CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=" +
            quote(kPassphrase) + " " + quote(CUSTODIA_CLI) + " ";
        if (with_vault) command += "--vault " + quote(path("vault").string()) + " ";
        command += args + " </dev/null 2>" + quote(path("stderr").string());
        const auto result = run_shell(command);
        return CliRun{result.exit_code, result.out, read_text(path("stderr"))};
    }

    fs::path export_bundle(const std::string& name) const {
        const auto run = cli("export --case " + case_id + " --to " + recipient + " -o " +
                             quote(path(name).string()));
        EXPECT_EQ(run.code, 0) << run.err;
        EXPECT_TRUE(is_id(last_line(run.out))) << run.out;
        return path(name);
    }

    TempDir dir;
    std::string case_id;
    std::string recipient;
    std::string device_key_line;
};

TEST_F(CliExport, OpenRestoresTheOriginalsAndEveryCheckPasses) {
    const auto bundle = export_bundle("case.custodia");
    const auto opened =
        cli("open " + quote(bundle.string()) + " -i " + quote(path("key.txt").string()) + " -o " +
                quote(path("out").string()) + " --device-key " + quote(path("device.pub").string()),
            false);
    ASSERT_EQ(opened.code, 0) << opened.out << opened.err;
    const json report = json::parse(read_text(path("out") / "report.json"));
    EXPECT_TRUE(report["ok"].get<bool>());
    EXPECT_EQ(report["device_key_source"], "caller");
    for (const auto name : {"custody_checkpoint", "custody_inclusion", "capture_signatures",
                            "manifest_signature", "envelope"}) {
        bool passed = false;
        for (const auto& c : report["checks"])
            if (c["name"] == name) passed = c["outcome"] == "passed";
        EXPECT_TRUE(passed) << name;
    }
    int originals = 0;
    for (const auto& entry : fs::recursive_directory_iterator(path("out") / "files")) {
        if (!entry.is_regular_file()) continue;
        const auto name = entry.path().filename().string();
        if (name == "photo.jpg" || name == "report.pdf") {
            EXPECT_EQ(read_text(entry.path()), read_text(path(name))) << name;
            ++originals;
        } else {
            EXPECT_EQ(name, "testimony.txt");
            EXPECT_EQ(read_text(entry.path()), "They came at night.");
            ++originals;
        }
    }
    EXPECT_EQ(originals, 3);

    // The vault logged the export, one entry per item.
    const auto log = cli("log --json");
    ASSERT_EQ(log.code, 0);
    EXPECT_NE(log.out.find("exported"), std::string::npos);
}

TEST_F(CliExport, StandardToolsChainVerifiesTheBundle) {
    const auto bundle = export_bundle("chain.custodia");
    const auto d = path("d");
    fs::create_directory(d);
    EXPECT_EQ(run_shell("age -d -i " + quote(path("key.txt").string()) + " " +
                        quote(bundle.string()) + " | tar --zstd -xf - -C " + quote(d.string()))
                  .exit_code,
              0);
    EXPECT_EQ(run_shell("minisign -Vm " + quote((d / "manifest.json").string()) + " -P " +
                        quote(device_key_line) + " >/dev/null")
                  .exit_code,
              0);
    EXPECT_EQ(
        run_shell("cd " + quote(d.string()) + " && sha256sum --quiet -c SHA256SUMS").exit_code, 0);
    EXPECT_EQ(run_shell("minisign -Vm " + quote(bundle.string()) + " -x " +
                        quote(bundle.string() + ".envelope") + " -P " + quote(device_key_line) +
                        " >/dev/null")
                  .exit_code,
              0);
    // A key that is not the device's must not verify (the chain can fail).
    EXPECT_NE(run_shell("minisign -Vm " + quote((d / "manifest.json").string()) +
                        " -P RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3 "
                        ">/dev/null 2>&1")
                  .exit_code,
              0);
}

TEST_F(CliExport, FlippedByteMakesOpenFail) {
    const auto bundle = export_bundle("flip.custodia");
    std::string bytes = read_text(bundle);
    ASSERT_GT(bytes.size(), 4000U);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    write_text(bundle, bytes);
    const auto opened =
        cli("open " + quote(bundle.string()) + " -i " + quote(path("key.txt").string()) + " -o " +
                quote(path("flip").string()),
            false);
    EXPECT_EQ(opened.code, 1) << opened.out << opened.err;
    EXPECT_NE(opened.err.find("decrypt"), std::string::npos) << opened.err;
    EXPECT_NE(opened.err.find("envelope"), std::string::npos) << opened.err;
}

TEST_F(CliExport, ItemWithoutConsentIsRefusedUnlessAllowed) {
    write_text(path("unconsented.txt"), "no consent");
    const auto added =
        cli("add --case " + case_id + " --consent none " + quote(path("unconsented.txt").string()));
    ASSERT_EQ(added.code, 0) << added.err;
    const auto item = last_line(added.out);
    const auto refused = cli("export --case " + case_id + " --item " + item + " --to " + recipient +
                             " -o " + quote(path("refused.custodia").string()));
    EXPECT_NE(refused.code, 0);
    EXPECT_NE(refused.err.find("consent"), std::string::npos) << refused.err;
    EXPECT_FALSE(fs::exists(path("refused.custodia")));
    const auto allowed =
        cli("export --case " + case_id + " --item " + item + " --to " + recipient +
            " --allow-without-consent -o " + quote(path("allowed.custodia").string()));
    EXPECT_EQ(allowed.code, 0) << allowed.err;
    EXPECT_TRUE(fs::exists(path("allowed.custodia")));
}

// The custody verifier on the unpacked files of a real export, fed directly.
class CustodyVerifierOnExport : public CliExport {
  protected:
    void SetUp() override {
        CliExport::SetUp();
        if (IsSkipped()) return;
        const auto bundle = export_bundle("cv.custodia");
        unpacked = path("cv");
        fs::create_directory(unpacked);
        ASSERT_EQ(
            run_shell("age -d -i " + quote(path("key.txt").string()) + " " +
                      quote(bundle.string()) + " | tar --zstd -xf - -C " + quote(unpacked.string()))
                .exit_code,
            0);
    }

    custodia::core::BundleReport report() const {
        custodia::core::BundleReport r;
        const auto manifest = read_text(unpacked / "manifest.json");
        auto parsed = custodia::core::bundle::BundleManifest::parse(
            std::span(reinterpret_cast<const std::uint8_t*>(manifest.data()), manifest.size()));
        EXPECT_TRUE(static_cast<bool>(parsed));
        if (parsed) r.manifest = std::move(*parsed);
        for (const auto& e : fs::recursive_directory_iterator(unpacked / "custody")) {
            if (!e.is_regular_file()) continue;
            const auto text = read_text(e.path());
            r.custody_files.push_back({fs::relative(e.path(), unpacked).string(),
                                       std::vector<std::uint8_t>(text.begin(), text.end()), true});
        }
        return r;
    }

    static const custodia::core::BundleCheck* find(
        const std::vector<custodia::core::BundleCheck>& checks, std::string_view name) {
        for (const auto& c : checks)
            if (c.name == name) return &c;
        return nullptr;
    }

    fs::path unpacked;
};

// The proof-checking script docs/VERIFY.md gives court experts, run as
// printed there (bash, xxd, sha256sum, base64) on a real export.
TEST_F(CustodyVerifierOnExport, VerifyGuideScriptChecksEveryProofAndCatchesAnAlteredEntry) {
    const std::string guide =
        read_text(fs::path(CUSTODIA_VECTORS_DIR) / ".." / ".." / "docs" / "VERIFY.md");
    const auto begin = guide.find("#!/bin/bash");
    ASSERT_NE(begin, std::string::npos);
    const auto end = guide.find("```", begin);
    ASSERT_NE(end, std::string::npos);
    write_text(path("check-proof.sh"), guide.substr(begin, end - begin));
    int checked = 0;
    const auto cp = quote((unpacked / "custody" / "checkpoint").string());
    for (const auto& e : fs::directory_iterator(unpacked / "custody" / "entries")) {
        const auto name = e.path().filename().string();
        const auto run = run_shell(
            "bash " + quote(path("check-proof.sh").string()) + " " + quote(e.path().string()) +
            " " + quote((unpacked / "custody" / "proofs" / name).string()) + " " + cp);
        EXPECT_EQ(run.exit_code, 0) << name << ": " << run.out;
        EXPECT_EQ(run.out, "OK\n");
        ++checked;
    }
    EXPECT_GE(checked, 3);
    const auto first = fs::directory_iterator(unpacked / "custody" / "entries")->path();
    std::string bytes = read_text(first);
    bytes[0] = static_cast<char>(bytes[0] ^ 0x01);
    write_text(path("altered-entry"), bytes);
    const auto run =
        run_shell("bash " + quote(path("check-proof.sh").string()) + " " +
                  quote(path("altered-entry").string()) + " " +
                  quote((unpacked / "custody" / "proofs" / first.filename()).string()) + " " + cp);
    EXPECT_NE(run.exit_code, 0) << run.out;
}

// A manifest re-made from the export's with one item changed by `change`
// (not re-signed: the custody verifier is what is under test here).
custodia::core::BundleReport with_item_changed(
    custodia::core::BundleReport r,
    const std::function<void(json&, std::optional<custodia::core::bundle::ManifestAttachment>&)>&
        change) {
    namespace bundle = custodia::core::bundle;
    const auto& m = *r.manifest;
    bundle::ManifestDraft draft{.bundle_id = m.bundle_id(),
                                .created = m.created(),
                                .device_key = m.device_key(),
                                .case_id = m.case_id(),
                                .case_title = m.case_title(),
                                .case_description = m.case_description(),
                                .items = {},
                                .custody = m.custody(),
                                .sha256sums = m.sha256sums()};
    bool first = true;
    for (const auto& item : m.items()) {
        json j = json::parse(item.json);
        j.erase("attachment");
        auto attachment = item.attachment;
        if (first) change(j, attachment);
        first = false;
        draft.items.push_back({item.id, j.dump(), attachment});
    }
    auto remade = bundle::BundleManifest::create(draft);
    EXPECT_TRUE(static_cast<bool>(remade)) << (remade ? "" : remade.error().message);
    if (remade) r.manifest = std::move(*remade);
    return r;
}

TEST_F(CustodyVerifierOnExport, AttachmentSizeNotTheSignedOneFailsCaptureSignatures) {
    auto r = with_item_changed(report(), [](json&, auto& attachment) {
        ASSERT_TRUE(attachment.has_value());
        attachment->size += 1;
    });
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    const auto* capture = find(checks, custodia::core::bundle_check::kCaptureSignatures);
    EXPECT_EQ(capture->outcome, custodia::core::CheckOutcome::failed);
    EXPECT_NE(capture->detail.find("signed SHA-256 or size"), std::string::npos) << capture->detail;
}

TEST_F(CustodyVerifierOnExport, AlteredCaptureRecordFailsCaptureSignatures) {
    auto r = with_item_changed(report(), [](json& j, auto&) {
        std::string record = j["capture_record"].get<std::string>();
        record[10] = record[10] == 'A' ? 'B' : 'A';
        j["capture_record"] = record;
    });
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    const auto* capture = find(checks, custodia::core::bundle_check::kCaptureSignatures);
    EXPECT_EQ(capture->outcome, custodia::core::CheckOutcome::failed);
    EXPECT_NE(capture->detail.find("capture signature does not verify"), std::string::npos)
        << capture->detail;
}

TEST_F(CustodyVerifierOnExport, UnmodifiedCustodyFilesPass) {
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(report());
    ASSERT_EQ(checks.size(), 3U);
    for (const auto& c : checks)
        EXPECT_EQ(c.outcome, custodia::core::CheckOutcome::passed) << c.name << ": " << c.detail;
}

TEST_F(CustodyVerifierOnExport, AlteredEntryFailsInclusion) {
    auto r = report();
    bool altered = false;
    for (auto& f : r.custody_files) {
        if (f.path.starts_with("custody/entries/") && !altered) {
            f.bytes.back() ^= 0x01;
            altered = true;
        }
    }
    ASSERT_TRUE(altered);
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    const auto* inclusion = find(checks, custodia::core::bundle_check::kCustodyInclusion);
    ASSERT_NE(inclusion, nullptr);
    EXPECT_EQ(inclusion->outcome, custodia::core::CheckOutcome::failed);
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCustodyCheckpoint)->outcome,
              custodia::core::CheckOutcome::passed);
}

TEST_F(CustodyVerifierOnExport, AlteredProofHashFailsInclusion) {
    auto r = report();
    bool altered = false;
    for (auto& f : r.custody_files) {
        if (!f.path.starts_with("custody/proofs/") || altered) continue;
        std::string text(f.bytes.begin(), f.bytes.end());
        const auto at = text.find("\nhash ");
        if (at == std::string::npos) continue;
        char& c = text[at + 6];
        c = c == '0' ? '1' : '0';
        f.bytes.assign(text.begin(), text.end());
        altered = true;
    }
    ASSERT_TRUE(altered);
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCustodyInclusion)->outcome,
              custodia::core::CheckOutcome::failed);
}

TEST_F(CustodyVerifierOnExport, AlteredCheckpointFailsItsSignature) {
    auto r = report();
    for (auto& f : r.custody_files) {
        if (f.path != "custody/checkpoint") continue;
        std::string text(f.bytes.begin(), f.bytes.end());
        const auto first_nl = text.find('\n');
        ASSERT_NE(first_nl, std::string::npos);
        // The tree size line: one more leaf than was signed.
        const auto second_nl = text.find('\n', first_nl + 1);
        const auto size = std::stoull(text.substr(first_nl + 1, second_nl - first_nl - 1));
        text.replace(first_nl + 1, second_nl - first_nl - 1, std::to_string(size + 1));
        f.bytes.assign(text.begin(), text.end());
    }
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCustodyCheckpoint)->outcome,
              custodia::core::CheckOutcome::failed);
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCustodyInclusion)->outcome,
              custodia::core::CheckOutcome::not_run);
}

TEST_F(CustodyVerifierOnExport, AnotherDeviceKeyFailsCheckpointAndCaptureSignatures) {
    // minisign's own example public key: not this device.
    auto other = custodia::crypto::minisign::PublicKey::parse(
        "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3");
    ASSERT_TRUE(static_cast<bool>(other));
    custodia::core::BundleCustodyVerifier verifier(*other);
    const auto checks = verifier.verify(report());
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCustodyCheckpoint)->outcome,
              custodia::core::CheckOutcome::failed);
    EXPECT_EQ(find(checks, custodia::core::bundle_check::kCaptureSignatures)->outcome,
              custodia::core::CheckOutcome::failed);
}

TEST_F(CustodyVerifierOnExport, MissingEntryFailsInclusionForItsItem) {
    auto r = report();
    const auto before = r.custody_files.size();
    std::erase_if(r.custody_files,
                  [](const auto& f) { return f.path.starts_with("custody/entries/"); });
    ASSERT_LT(r.custody_files.size(), before);
    custodia::core::BundleCustodyVerifier verifier;
    const auto checks = verifier.verify(r);
    const auto* inclusion = find(checks, custodia::core::bundle_check::kCustodyInclusion);
    EXPECT_EQ(inclusion->outcome, custodia::core::CheckOutcome::failed);
    EXPECT_NE(inclusion->detail.find("has no proven custody entry"), std::string::npos);
}

// Vault::export_bundle directly, for what the CLI cannot set up.
class VaultExport : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = custodia::core::Vault::create(
            dir.path() / "vault", custodia::testing::secret("pass"),
            custodia::testing::cheap_options(), random, custodia::core::system_clock());
        ASSERT_TRUE(static_cast<bool>(created));
        vault = std::move(created->vault);
        auto c = vault->create_case("Case", "", {});
        ASSERT_TRUE(static_cast<bool>(c));
        case_id = c->id;
        identities.push_back(custodia::crypto::age::Identity::generate(random));
        recipient = identities[0].recipient().to_string();
    }

    custodia::core::ItemId ingest(const std::vector<std::uint8_t>& bytes) {
        custodia::crypto::MemorySource source(bytes);
        custodia::core::ItemFields fields;
        fields.consent.type = custodia::core::ConsentType::written;
        auto id = vault->ingest(case_id, source, "file.bin", "application/octet-stream", fields);
        EXPECT_TRUE(static_cast<bool>(id));
        return id ? *id : custodia::core::ItemId();
    }

    TempDir dir;
    custodia::crypto::DeterministicRandom random{42};
    std::vector<custodia::crypto::age::Identity> identities;
    std::unique_ptr<custodia::core::Vault> vault;
    std::string case_id;
    std::string recipient;
};

TEST_F(VaultExport, WithdrawnConsentIsRefusedAndLeftOutOfWholeCaseExports) {
    const auto kept = ingest(custodia::testing::pattern_bytes(1000, 1));
    const auto withdrawn = ingest(custodia::testing::pattern_bytes(1000, 2));
    ASSERT_TRUE(static_cast<bool>(vault->withdraw_consent(withdrawn, "asked to")));
    auto refused = vault->export_bundle(case_id, {withdrawn}, {recipient}, false,
                                        dir.path() / "refused.custodia");
    EXPECT_FALSE(static_cast<bool>(refused));
    EXPECT_FALSE(fs::exists(dir.path() / "refused.custodia"));
    auto whole =
        vault->export_bundle(case_id, {}, {recipient}, false, dir.path() / "whole.custodia");
    ASSERT_TRUE(static_cast<bool>(whole)) << whole.error().message;
    EXPECT_EQ(whole->items, 1U);

    custodia::core::BundleCustodyVerifier custody(vault->device_key());
    custodia::core::BundleReadOptions read;
    read.device_key = vault->device_key();
    read.custody_verifier = &custody;
    auto report = custodia::core::verify_bundle_file(whole->bundle_path, identities, read);
    ASSERT_TRUE(static_cast<bool>(report));
    EXPECT_TRUE(report->ok());
    ASSERT_TRUE(report->manifest.has_value());
    ASSERT_EQ(report->manifest->items().size(), 1U);
    EXPECT_EQ(report->manifest->items()[0].id, kept);
}

// Export does not hash originals again: it relies on each blob's
// authenticated encryption (FORMAT.md "Writing a bundle"). Every way a stored
// blob can differ from what was captured must therefore fail the export.
class DamagedBlob : public VaultExport {
  protected:
    std::size_t exports_logged(const custodia::core::ItemId& id) {
        auto log = vault->custody_log(id);
        EXPECT_TRUE(static_cast<bool>(log));
        if (!log) return 0;
        return static_cast<std::size_t>(std::count_if(log->begin(), log->end(), [](const auto& e) {
            return e.event == custodia::core::CustodyEvent::exported;
        }));
    }
    void expect_never_sealed(const custodia::core::ItemId& id, const std::string& what) {
        const auto out = dir.path() / "damaged.custodia";
        const std::size_t logged = exports_logged(id);
        auto exported = vault->export_bundle(case_id, {id}, {recipient}, false, out);
        EXPECT_FALSE(static_cast<bool>(exported)) << what;
        EXPECT_FALSE(fs::exists(out)) << what;
        EXPECT_FALSE(fs::exists(out.string() + ".envelope")) << what;
        EXPECT_EQ(exports_logged(id), logged) << what;
    }
    static void overwrite(const fs::path& blob, const std::vector<std::uint8_t>& bytes) {
        fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
        custodia::testing::write_file(blob, bytes);
    }
};

TEST_F(DamagedBlob, FlippedTruncatedOrExtendedBlobIsNeverSealed) {
    const auto original = custodia::testing::pattern_bytes(200'000, 3);
    const auto id = ingest(original);
    const auto blobs = custodia::testing::blob_files(dir.path() / "vault");
    ASSERT_EQ(blobs.size(), 1U);
    const auto stored = custodia::testing::read_file(blobs[0]);

    // A control: the untouched blob exports.
    auto good =
        vault->export_bundle(case_id, {id}, {recipient}, false, dir.path() / "good.custodia");
    ASSERT_TRUE(static_cast<bool>(good)) << good.error().message;
    EXPECT_EQ(exports_logged(id), 1U);

    for (std::size_t at : {std::size_t{40}, stored.size() / 2, stored.size() - 1}) {
        auto bytes = stored;
        bytes[at] ^= 0x01;
        overwrite(blobs[0], bytes);
        expect_never_sealed(id, "flipped byte at " + std::to_string(at));
    }
    // Whole 64 KiB chunks dropped (the end is authenticated too), one byte
    // short, and bytes appended after the final chunk.
    for (std::size_t keep : {stored.size() - 1, stored.size() - (200'000 % 65536) - 16}) {
        overwrite(blobs[0], {stored.begin(), stored.begin() + static_cast<std::ptrdiff_t>(keep)});
        expect_never_sealed(id, "truncated to " + std::to_string(keep));
    }
    auto longer = stored;
    longer.insert(longer.end(), 17, 0x00);
    overwrite(blobs[0], longer);
    expect_never_sealed(id, "extended");
}

TEST_F(DamagedBlob, AnotherItemsBlobInItsPlaceIsNeverSealed) {
    // Same size, so only the content can tell them apart.
    const auto a = ingest(custodia::testing::pattern_bytes(150'000, 5));
    const auto first = custodia::testing::blob_files(dir.path() / "vault");
    ASSERT_EQ(first.size(), 1U);
    ingest(custodia::testing::pattern_bytes(150'000, 6));
    auto all = custodia::testing::blob_files(dir.path() / "vault");
    ASSERT_EQ(all.size(), 2U);
    const auto other = all[0] == first[0] ? all[1] : all[0];
    overwrite(first[0], custodia::testing::read_file(other));
    expect_never_sealed(a, "blob of another item");
}

}  // namespace
