// Forgeries of a real export, made the way someone holding the NGO's age key
// (but not the device key) can: decrypt with Debian's age, unpack with tar,
// edit, re-list SHA256SUMS and the manifest, re-seal with tar, zstd and age
// to the same recipient. `custodia-cli verify` must reject every one (exit
// 1, never 0) and name the check that catches it. Two controls show the
// re-sealing itself is sound: unchanged, the re-sealed bundle is accepted.
#include "interop/bundle_cli_fixture.h"

namespace {

using namespace custodia::testing::bundle_cli;
using custodia::testing::quote;
using custodia::testing::run_shell;

bool contains(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

class BundleTamperCli : public BundleCliTest {
  protected:
    void SetUp() override {
        BundleCliTest::SetUp();
        if (HasFatalFailure()) return;
        bundle = export_bundle("case.custodia");
        unpacked = unpack(bundle, "unpacked");
    }

    std::vector<fs::path> entries() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(unpacked / "custody" / "entries"))
            out.push_back(e.path());
        std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
            return std::stoull(a.filename().string()) < std::stoull(b.filename().string());
        });
        return out;
    }

    fs::path photo_file() const {
        for (const auto& e : fs::directory_iterator(unpacked / "files" / photo_id)) return e.path();
        return {};
    }

    fs::path bundle;
    fs::path unpacked;
};

TEST_F(BundleTamperCli, Control_ResealedUnchangedIsAccepted) {
    const auto [code, report] = verify_json(reseal(unpacked, "same.custodia"));
    EXPECT_EQ(code, 0) << report.dump(2);
    EXPECT_TRUE(failed(report).empty());
}

TEST_F(BundleTamperCli, Control_RelistingUnchangedFilesRewritesTheSameManifest) {
    const auto before = read_text(unpacked / "manifest.json");
    relist(unpacked);
    EXPECT_EQ(read_text(unpacked / "manifest.json"), before);
    const auto [code, report] = verify_json(reseal(unpacked, "relisted.custodia"));
    EXPECT_EQ(code, 0) << report.dump(2);
}

// An older checkpoint of the same vault, validly signed by the same device,
// served in place of the one the bundle was sealed with.
TEST_F(BundleTamperCli, OlderCheckpointServed_FileHashesAndInclusionFail) {
    const auto older = read_text(unpacked / "custody" / "checkpoint");
    // The log grows: a later export carries a later checkpoint.
    write_text(path("later.txt"), "later");
    ASSERT_EQ(
        cli("add --case " + case_id + " --consent written " + quote(path("later.txt").string()))
            .code,
        0);
    const auto later = unpack(export_bundle("later.custodia"), "later");
    ASSERT_NE(read_text(later / "custody" / "checkpoint"), older);

    // Only the checkpoint swapped: the signed manifest's hash no longer matches.
    write_text(later / "custody" / "checkpoint", older);
    {
        const auto [code, report] = verify_json(reseal(later, "older-a.custodia"));
        EXPECT_EQ(code, 1);
        EXPECT_TRUE(contains(failed(report), "file_hashes")) << report.dump(2);
        EXPECT_TRUE(contains(failed(report), "custody_checkpoint")) << report.dump(2);
    }
    // The forger also re-lists SHA256SUMS and the manifest: the signature
    // fails, and the custody layer on its own still refuses the older tree
    // although the checkpoint's own signature is valid.
    relist(later);
    const auto [code, report] = verify_json(reseal(later, "older-b.custodia"));
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
    EXPECT_EQ(outcome(report, "custody_checkpoint"), "passed") << report.dump(2);
    EXPECT_EQ(outcome(report, "custody_inclusion"), "failed");
    EXPECT_NE(detail(report, "custody_inclusion").find("another entry or tree"), std::string::npos)
        << detail(report, "custody_inclusion");
    // No entry of the timeline is shown as proven against the older tree.
    ASSERT_FALSE(report["custody_timeline"].empty());
    for (const auto& e : report["custody_timeline"]) EXPECT_FALSE(e["proven"].get<bool>()) << e;
}

TEST_F(BundleTamperCli, CustodyEntriesReordered_Rejected) {
    const auto list = entries();
    ASSERT_GE(list.size(), 2U);
    const fs::path a = list.front();
    const fs::path b = list.back();
    const fs::path pa = unpacked / "custody" / "proofs" / a.filename();
    const fs::path pb = unpacked / "custody" / "proofs" / b.filename();
    // Each entry moves with its proof, as a forger would move them.
    const auto ea = read_text(a), eb = read_text(b), qa = read_text(pa), qb = read_text(pb);
    write_text(a, eb);
    write_text(b, ea);
    write_text(pa, qb);
    write_text(pb, qa);
    {
        const auto [code, report] = verify_json(reseal(unpacked, "reordered-a.custodia"));
        EXPECT_EQ(code, 1);
        EXPECT_TRUE(contains(failed(report), "file_hashes")) << report.dump(2);
    }
    relist(unpacked);
    const auto [code, report] = verify_json(reseal(unpacked, "reordered-b.custodia"));
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
    EXPECT_EQ(outcome(report, "custody_inclusion"), "failed") << report.dump(2);
}

TEST_F(BundleTamperCli, CustodyEntryDropped_Rejected) {
    const auto list = entries();
    ASSERT_FALSE(list.empty());
    const auto name = list.front().filename();
    fs::remove(unpacked / "custody" / "entries" / name);
    fs::remove(unpacked / "custody" / "proofs" / name);
    {
        const auto [code, report] = verify_json(reseal(unpacked, "dropped-a.custodia"));
        EXPECT_EQ(code, 1);
        EXPECT_TRUE(contains(failed(report), "no_missing_files")) << report.dump(2);
    }
    relist(unpacked);
    const auto [code, report] = verify_json(reseal(unpacked, "dropped-b.custodia"));
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
}

// A valid minisign signature of the exact manifest, with the right trusted
// comment, by a key that is not the device's.
TEST_F(BundleTamperCli, ManifestSignedByAnotherKey_SignatureFails) {
    ASSERT_EQ(run_shell("minisign -G -W -f -p " + quote(path("other.pub").string()) + " -s " +
                        quote(path("other.key").string()) + " >/dev/null 2>&1")
                  .exit_code,
              0);
    const auto manifest = json::parse(read_text(unpacked / "manifest.json"));
    const std::string bundle_id = manifest["bundle_id"];
    fs::remove(unpacked / "manifest.json.minisig");
    ASSERT_EQ(run_shell("minisign -S -s " + quote(path("other.key").string()) + " -m " +
                        quote((unpacked / "manifest.json").string()) +
                        " -c 'custodia bundle manifest, signed by the device key' -t " +
                        quote("custodia.manifest/v1 bundle=" + bundle_id) + " >/dev/null 2>&1")
                  .exit_code,
              0);
    // The signature is good under the other key: only the key is wrong.
    ASSERT_EQ(run_shell("minisign -Vm " + quote((unpacked / "manifest.json").string()) + " -p " +
                        quote(path("other.pub").string()) + " >/dev/null 2>&1")
                  .exit_code,
              0);
    const auto resealed = reseal(unpacked, "other-signer.custodia");
    {
        const auto [code, report] = verify_json(resealed, true);
        EXPECT_EQ(code, 1);
        EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
    }
    // Without a trusted key the manifest's own device key is used: still refused.
    const auto [code, report] = verify_json(resealed, false);
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
}

TEST_F(BundleTamperCli, FileSwapped_Rejected) {
    const auto photo = photo_file();
    ASSERT_FALSE(photo.empty());
    const auto size = fs::file_size(photo);
    write_text(photo, std::string(size, 'q'));  // same size, other bytes
    {
        const auto [code, report] = verify_json(reseal(unpacked, "swapped-a.custodia"));
        EXPECT_EQ(code, 1);
        EXPECT_TRUE(contains(failed(report), "file_hashes")) << report.dump(2);
    }
    relist(unpacked);
    const auto [code, report] = verify_json(reseal(unpacked, "swapped-b.custodia"));
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "manifest_signature")) << report.dump(2);
    EXPECT_TRUE(contains(failed(report), "capture_signatures")) << report.dump(2);
    // The report pins the failure on the swapped item, and only on it.
    for (const auto& item : report["items"]) {
        const bool swapped = item["id"] == photo_id;
        EXPECT_EQ(item["capture_signature"]["ok"].get<bool>(), !swapped) << item.dump(2);
        if (swapped) {
            EXPECT_NE(item["capture_signature"]["status"].get<std::string>().find("SHA-256"),
                      std::string::npos);
        }
    }
}

// The same forgeries, unpacked into a folder instead of re-sealed: `verify
// DIR` re-checks what `open` extracted.
TEST_F(BundleTamperCli, OpenedFolderWithSwappedFile_Rejected) {
    const auto opened = path("opened");
    const auto run = cli("open " + quote(bundle.string()) + " -i " +
                             quote(path("key.txt").string()) + " -o " + quote(opened.string()),
                         false);
    ASSERT_EQ(run.code, 0) << run.err;
    {
        const auto [code, report] = verify_json(opened);
        EXPECT_EQ(code, 0) << report.dump(2);
    }
    for (const auto& e : fs::directory_iterator(opened / "files" / photo_id))
        write_text(e.path(), std::string(fs::file_size(e.path()), 'q'));
    const auto [code, report] = verify_json(opened);
    EXPECT_EQ(code, 1);
    EXPECT_TRUE(contains(failed(report), "file_hashes")) << report.dump(2);
}

}  // namespace
