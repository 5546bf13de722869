// What `open` writes for a person (report.html) and a program (report.json),
// `verify PATH` on a bundle file and on an opened folder, and witness
// identities that travel only when asked for. Expected values come from the
// standard tools (sha256sum, the checkpoint note's own lines, `identity`),
// not from Custodia's output.
#include <cctype>

#include "custodia/core/bundle_report_html.h"
#include "interop/bundle_cli_fixture.h"

namespace {

using namespace custodia::testing::bundle_cli;
using custodia::testing::quote;
using custodia::testing::run_shell;

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + 1))
        ++n;
    return n;
}

// A page that can run nothing and load nothing, whatever the bundle held.
void expect_inert(const std::string& html) {
    const auto l = lower(html);
    EXPECT_EQ(count(l, "<script"), 0U);
    EXPECT_EQ(count(l, "<img"), 0U);
    EXPECT_EQ(count(l, "<b>"), 0U);
    EXPECT_EQ(count(l, "<i>"), 0U);
    EXPECT_EQ(count(l, "<link"), 0U);
    EXPECT_EQ(count(l, "http:"), 0U);
    EXPECT_EQ(count(l, "https:"), 0U);
    EXPECT_EQ(count(l, "url("), 0U);
    EXPECT_EQ(count(l, "@import"), 0U);
    EXPECT_NE(l.find("content-security-policy"), std::string::npos);
    EXPECT_NE(l.find("default-src 'none'"), std::string::npos);
}

class BundleReport : public BundleCliTest {
  protected:
    CliRun open(const fs::path& bundle, const fs::path& out, bool with_key = true) const {
        std::string args = "open " + quote(bundle.string()) + " -i " +
                           quote(path("key.txt").string()) + " -o " + quote(out.string());
        if (with_key) args += " --device-key " + quote(path("device.pub").string());
        return cli(args, false);
    }
};

TEST_F(BundleReport, OpenWritesAnInertHtmlReportWithEveryFactAndTheSameFactsAsJson) {
    const auto bundle = export_bundle("case.custodia");
    const auto out = path("out");
    const auto run = open(bundle, out);
    ASSERT_EQ(run.code, 0) << run.err;
    const auto html = read_text(out / "report.html");
    const auto report = json::parse(read_text(out / "report.json"));
    ASSERT_FALSE(html.empty());
    expect_inert(html);

    // The hostile strings are shown, escaped.
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(html.find("Case &lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
    EXPECT_NE(html.find("W-7 &quot;&gt;&lt;b&gt;x"), std::string::npos);

    // Verdict first.
    const auto verdict = html.find("VERIFIED: every check passed");
    ASSERT_NE(verdict, std::string::npos);
    EXPECT_LT(verdict, html.find("<h2>"));

    // Every check, by name, with its result.
    ASSERT_TRUE(report["checks"].is_array());
    EXPECT_GE(report["checks"].size(), 15U);
    for (const auto& c : report["checks"])
        EXPECT_NE(html.find(">" + c["name"].get<std::string>() + "<"), std::string::npos)
            << c["name"];

    // Each original: SHA-256 as sha256sum computes it, and its size.
    for (const auto& [name, size] :
         {std::pair<std::string, std::string>{"photo.jpg", "40000"}, {"report.pdf", "30000"}}) {
        const auto hash = sha256sum_of(path(name));
        EXPECT_NE(html.find(hash), std::string::npos) << name;
        EXPECT_NE(html.find(size + " bytes"), std::string::npos) << name;
        bool in_json = false;
        for (const auto& item : report["items"])
            if (item["attachment"].is_object() && item["attachment"]["sha256"] == hash &&
                std::to_string(item["attachment"]["size"].get<std::uint64_t>()) == size)
                in_json = true;
        EXPECT_TRUE(in_json) << name;
    }
    // Item metadata as given on the command line.
    for (const std::string fact : {"Investigator A", "48.85, 2.35 ±12", "m (typed)", "fr", "night",
                                   "written", "courts", "document", "testimony", "system"})
        EXPECT_NE(html.find(fact), std::string::npos) << fact;
    EXPECT_EQ(report["items"].size(), 3U);
    for (const auto& item : report["items"]) {
        EXPECT_EQ(item["capture_signature"]["status"], "verified");
        if (item["id"] == photo_id) {
            EXPECT_EQ(item["title"], kHostileTitle);
            EXPECT_EQ(item["language"], "fr");
        }
    }

    // The checkpoint as the note itself states it (line 2: size; line 3: root).
    const auto unpacked = unpack(bundle, "unpacked");
    std::istringstream note(read_text(unpacked / "custody" / "checkpoint"));
    std::string origin, size, root;
    std::getline(note, origin);
    std::getline(note, size);
    std::getline(note, root);
    const auto root_hex =
        run_shell("printf %s " + quote(root) + " | base64 -d | xxd -p -c 32").out.substr(0, 64);
    EXPECT_NE(html.find(origin), std::string::npos);
    EXPECT_NE(html.find("<td>" + size + "</td>"), std::string::npos);
    EXPECT_NE(html.find(root_hex), std::string::npos);
    EXPECT_EQ(report["checkpoint"]["root_hash"], root_hex);
    EXPECT_EQ(std::to_string(report["checkpoint"]["tree_size"].get<std::uint64_t>()), size);

    // The device key as `custodia-cli identity` printed it.
    EXPECT_NE(html.find(device_key_line), std::string::npos);
    EXPECT_EQ(report["device_key"], device_key_line);

    // The envelope: SHA-256 and size of the .custodia file, by coreutils.
    const auto file_hash = sha256sum_of(bundle);
    EXPECT_NE(html.find(file_hash), std::string::npos);
    EXPECT_EQ(report["envelope"]["sha256"], file_hash);
    EXPECT_NE(html.find(std::to_string(fs::file_size(bundle)) + " bytes"), std::string::npos);

    // A custody timeline row for each entry the bundle carries, in both.
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(unpacked / "custody" / "entries"))
        ++entries;
    ASSERT_GE(entries, 3U);
    EXPECT_EQ(report["custody_timeline"].size(), entries);
    EXPECT_EQ(count(html, ">imported<") + count(html, ">captured<"), entries);
    for (const auto& e : report["custody_timeline"]) EXPECT_TRUE(e["proven"].get<bool>());
}

TEST_F(BundleReport, FailedBundleStillGetsBothReportsNamingTheFailureInsideDirOnly) {
    const auto unpacked = unpack(export_bundle("case.custodia"), "unpacked");
    for (const auto& e : fs::directory_iterator(unpacked / "files" / photo_id))
        write_text(e.path(), std::string(fs::file_size(e.path()), 'q'));
    const auto forged = reseal(unpacked, "forged.custodia");
    const auto before = std::distance(fs::directory_iterator(dir.path()), {});
    const auto out = path("out");
    const auto run = open(forged, out);
    EXPECT_EQ(run.code, 1);
    EXPECT_NE(run.err.find("file_hashes"), std::string::npos) << run.err;
    // Only the new folder appeared beside it.
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), {}), before + 1);
    const auto html = read_text(out / "report.html");
    expect_inert(html);
    EXPECT_NE(html.find("NOT VERIFIED"), std::string::npos);
    EXPECT_LT(html.find("NOT VERIFIED"), html.find("<h2>"));
    EXPECT_NE(html.find("file_hashes"), std::string::npos);
    EXPECT_NE(html.find("FAIL"), std::string::npos);
    const auto report = json::parse(read_text(out / "report.json"));
    EXPECT_FALSE(report["ok"].get<bool>());
    EXPECT_NE(
        std::find(report["failed_checks"].begin(), report["failed_checks"].end(), "file_hashes"),
        report["failed_checks"].end());
    // The failure's reason is on the page, as the check states it.
    EXPECT_NE(html.find(custodia::core::html_escape(detail(report, "file_hashes"))),
              std::string::npos);
}

TEST_F(BundleReport, SelfAssertedKeyIsSaidOnThePage) {
    const auto out = path("out");
    ASSERT_EQ(open(export_bundle("case.custodia"), out, false).code, 0);
    EXPECT_NE(read_text(out / "report.html").find("self-asserted"), std::string::npos);
}

TEST(HtmlEscape, EscapesMarkupAndShowsInvisibleControls) {
    using custodia::core::html_escape;
    EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"),
              "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    // U+202E RIGHT-TO-LEFT OVERRIDE would reorder what a reader sees.
    EXPECT_EQ(html_escape("gpj.\u202Eexe"), "gpj.[U+202E]exe");
    EXPECT_EQ(html_escape(std::string("a\0b", 3)), "a[U+0000]b");
    EXPECT_EQ(html_escape("\xFF"), "\xEF\xBF\xBD");
    EXPECT_EQ(html_escape("caf\xC3\xA9\n"), "caf\xC3\xA9\n");
}

TEST_F(BundleReport, VerifyTakesABundleFileOrAnOpenedFolderAndStillVerifiesTheVault) {
    const auto bundle = export_bundle("case.custodia");
    const auto key = " -i " + quote(path("key.txt").string());
    const auto dev = " --device-key " + quote(path("device.pub").string());
    EXPECT_EQ(cli("verify " + quote(bundle.string()) + key + dev, false).code, 0);
    EXPECT_EQ(cli("verify-bundle " + quote(bundle.string()) + key + dev, false).code, 0);
    // A bundle file without a key is a usage error, not a verdict.
    const auto no_key = cli("verify " + quote(bundle.string()), false);
    EXPECT_EQ(no_key.code, 2) << no_key.err;

    const auto out = path("out");
    ASSERT_EQ(open(bundle, out).code, 0);
    {
        const auto [code, report] = verify_json(out);
        EXPECT_EQ(code, 0) << report.dump(2);
        EXPECT_EQ(outcome(report, "file_hashes"), "passed");
        EXPECT_EQ(outcome(report, "custody_inclusion"), "passed");
    }
    {
        const auto [code, report] = verify_json(out.string() + "/");
        EXPECT_EQ(code, 0) << report.dump(2);
    }
    write_text(out / "files" / "slipped-in.txt", "extra");
    {
        const auto [code, report] = verify_json(out);
        EXPECT_EQ(code, 1);
        EXPECT_EQ(outcome(report, "no_unlisted_files"), "failed") << report.dump(2);
    }
    fs::remove(out / "files" / "slipped-in.txt");
    fs::create_symlink("/etc/hostname", out / "custody" / "link");
    {
        const auto [code, report] = verify_json(out);
        EXPECT_EQ(code, 1);
        EXPECT_EQ(outcome(report, "entries"), "failed") << report.dump(2);
        EXPECT_NE(detail(report, "entries").find("custody/link"), std::string::npos)
            << detail(report, "entries");
    }

    // Without PATH, `verify` is the vault's own check, unchanged.
    const auto vault = cli("verify --json");
    EXPECT_EQ(vault.code, 0) << vault.err;
    const auto vj = json::parse(vault.out, nullptr, false);
    ASSERT_FALSE(vj.is_discarded()) << vault.out;
    EXPECT_TRUE(vj.contains("log_size"));
    EXPECT_FALSE(vj.contains("checks"));
}

TEST_F(BundleReport, WitnessIdentityTravelsOnlyWithTheFlag) {
    const std::string name = "Amina Qadir Witness";
    const std::string contact = "amina.q@example.org";
    const auto added = cli("witness add 'W-7 \"><b>x' --case " + case_id + " --name " +
                           quote(name) + " --contact " + quote(contact));
    ASSERT_EQ(added.code, 0) << added.err;

    const auto plain = export_bundle("plain.custodia");
    const auto tar = plaintext_tar(plain);
    ASSERT_GT(tar.size(), 70'000U);
    EXPECT_EQ(tar.find(name), std::string::npos);
    EXPECT_EQ(tar.find(contact), std::string::npos);
    EXPECT_EQ(tar.find("witness_identity"), std::string::npos);
    // Nor anywhere in the vault's ordinary listings.
    EXPECT_EQ(cli("list --json").out.find(name), std::string::npos);
    EXPECT_EQ(cli("show " + photo_id + " --json").out.find(name), std::string::npos);

    const auto with = export_bundle("with.custodia", "--include-witness-identities");
    const auto tar_with = plaintext_tar(with);
    EXPECT_NE(tar_with.find(name), std::string::npos);
    EXPECT_NE(tar_with.find(contact), std::string::npos);
    const auto out = path("out");
    ASSERT_EQ(open(with, out).code, 0);
    EXPECT_NE(read_text(out / "report.html").find(name), std::string::npos);
    const auto report = json::parse(read_text(out / "report.json"));
    bool shown = false;
    for (const auto& item : report["items"])
        if (item["id"] == photo_id)
            shown = item["witness_identity"].get<std::string>().find(contact) != std::string::npos;
    EXPECT_TRUE(shown);

    // A second call replaces the details; a bad case id is refused.
    EXPECT_EQ(cli("witness add W-9 --case " + case_id + " --name 'Other'").code, 0);
    EXPECT_NE(cli("witness add W-9 --case 00000000000000000000000000000000 --name X").code, 0);
}

}  // namespace
