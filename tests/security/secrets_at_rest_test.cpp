// What a seized disk shows after a whole session with custodia-cli: init, a
// written testimony, a media file, an export, and the process gone (the CLI
// locks by exiting). HOME, every XDG base directory and TMPDIR point into
// this test's own directory, the vault sits at its default place under
// XDG_DATA_HOME, and the bundle is exported under HOME. Then every file there
// is searched for the testimony text, any 64-byte window of the media, the
// passphrase and the recovery key (UTF-8 and UTF-16), and every byte the CLI
// wrote to stdout and stderr for the same secrets: none may appear, except
// the recovery key on the stdout of init, which exists to show it once.
//
// The inputs (the media file, the NGO's key) live in a folder outside the
// scanned ones, as a person's own files would.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "security/secret_scan.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::add_text_needle;
using custodia::testing::describe;
using custodia::testing::Hit;
using custodia::testing::MediaWindows;
using custodia::testing::Needle;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::scan_tree;
using custodia::testing::TempDir;

class SecretsAtRest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(CUSTODIA_CLI));
        // Unique per run, so that nothing else on the machine can match.
        std::vector<std::uint8_t> nonce(12);
        custodia::crypto::system_random().fill(nonce);
        const std::string tag = custodia::crypto::to_hex(nonce);
        passphrase_ = "correct horse " + tag + " battery";
        marker_ = "The soldiers came at dawn to the well of " + tag + " and took four men.";
        for (const auto* d : {"home/.config", "home/.cache", "home/.local/share",
                              "home/.local/state", "tmp", "inbox", "logs"})
            fs::create_directories(dir_ / d);
        media_.resize(1u << 20);
        custodia::crypto::system_random().fill(media_);
        std::ofstream(dir_ / "inbox" / "scene.jpg", std::ios::binary)
            .write(reinterpret_cast<const char*>(media_.data()),
                   static_cast<std::streamsize>(media_.size()));
    }

    fs::path home() const { return dir_ / "home"; }

    // One CLI run in the confined environment; stdout and stderr are kept
    // in logs/<step>.out and .err for the log scan.
    custodia::testing::ProcessResult cli(const std::string& step, const std::string& args,
                                         const std::string& extra_env = "") {
        const fs::path out = dir_ / "logs" / (step + ".out");
        const fs::path err = dir_ / "logs" / (step + ".err");
        const std::string env = "env -i PATH=/usr/bin:/bin HOME=" + quote(home().string()) +
                                " XDG_CONFIG_HOME=" + quote((home() / ".config").string()) +
                                " XDG_CACHE_HOME=" + quote((home() / ".cache").string()) +
                                " XDG_DATA_HOME=" + quote((home() / ".local/share").string()) +
                                " XDG_STATE_HOME=" + quote((home() / ".local/state").string()) +
                                " TMPDIR=" + quote((dir_ / "tmp").string()) +
                                " CUSTODIA_PASSPHRASE=" + quote(passphrase_) + " " + extra_env +
                                " ";
        auto r = run_shell(env + quote(CUSTODIA_CLI) + " " + args + " </dev/null 2>" +
                           quote(err.string()) + " | tee " + quote(out.string()));
        steps_.push_back(step);
        return r;
    }

    TempDir dir_;
    std::string passphrase_;
    std::string marker_;
    std::vector<std::uint8_t> media_;
    std::vector<std::string> steps_;
};

TEST_F(SecretsAtRest, AWholeCliSessionLeavesNoSecretOnDiskOrInItsOutput) {
    const auto init = cli("init", "init --investigator Tester", "CUSTODIA_INSECURE_TEST_KDF=1");
    ASSERT_EQ(init.exit_code, 0);
    std::smatch m;
    std::string recovery;
    const std::regex line(" *([0-9A-Z]{4}(-[0-9A-Z]{4}){7,})");
    for (std::size_t s = 0, e; (e = init.out.find('\n', s)) != std::string::npos; s = e + 1) {
        const std::string text = init.out.substr(s, e - s);
        if (std::regex_match(text, m, line)) recovery = m[1];
    }
    ASSERT_FALSE(recovery.empty()) << "init printed no recovery key";
    ASSERT_TRUE(fs::exists(home() / ".local/share/custodia/vault.header"))
        << "the vault is not at its default place";

    const auto made = cli("case", "case create 'Northern villages'");
    ASSERT_EQ(made.exit_code, 0);
    const std::string case_id = made.out.substr(made.out.size() - 33, 32);
    ASSERT_EQ(cli("testimony", "testimony --case " + case_id + " --witness W-9 --consent written " +
                                   "--text " + quote(marker_))
                  .exit_code,
              0);
    ASSERT_EQ(cli("add", "add --case " + case_id + " --consent written " +
                             quote((dir_ / "inbox" / "scene.jpg").string()))
                  .exit_code,
              0);
    ASSERT_EQ(
        run_shell("age-keygen -o " + quote((dir_ / "inbox" / "ngo.key").string()) + " 2>/dev/null")
            .exit_code,
        0);
    const auto recipient = run_shell("age-keygen -y " + quote((dir_ / "inbox/ngo.key").string()));
    fs::create_directories(home() / "exports");
    ASSERT_EQ(cli("export", "export --case " + case_id + " --to " +
                                recipient.out.substr(0, recipient.out.find('\n')) + " -o " +
                                quote((home() / "exports" / "bundle.custodia").string()))
                  .exit_code,
              0);
    ASSERT_EQ(cli("verify", "verify").exit_code, 0);
    ASSERT_EQ(cli("list", "list --json").exit_code, 0);
    ASSERT_EQ(cli("log", "log").exit_code, 0);
    // The export must be real for its scan to mean anything.
    const auto opened = run_shell("age -d -i " + quote((dir_ / "inbox/ngo.key").string()) + " " +
                                  quote((home() / "exports/bundle.custodia").string()) +
                                  " | tar --zstd -xOf - | grep -c " + quote(marker_.substr(0, 40)));
    EXPECT_EQ(opened.exit_code, 0)
        << "the testimony is not in the bundle, so the scan proves little";

    std::vector<Needle> needles;
    add_text_needle(needles, "testimony text", marker_);
    add_text_needle(needles, "passphrase", passphrase_);
    add_text_needle(needles, "recovery key", recovery);
    // The recovery key without its dashes, as someone might type it.
    add_text_needle(needles, "recovery key (no dashes)",
                    std::regex_replace(recovery, std::regex("-"), ""));
    const MediaWindows media(media_);

    std::size_t files = 0;
    std::vector<Hit> hits = scan_tree(home(), needles, &media, &files);
    const auto tmp_hits = scan_tree(dir_ / "tmp", needles, &media, &files);
    hits.insert(hits.end(), tmp_hits.begin(), tmp_hits.end());
    EXPECT_TRUE(hits.empty()) << "secrets on disk after the session:\n" << describe(hits);
    EXPECT_GE(files, 4u) << "the scan saw too few files (vault header, database, blob, bundle)";
    RecordProperty("files_scanned", static_cast<int>(files));

    // The logs: every step's stdout and stderr, init's stdout apart.
    std::vector<Needle> log_needles;
    add_text_needle(log_needles, "testimony text", marker_);
    add_text_needle(log_needles, "passphrase", passphrase_);
    std::vector<Needle> no_recovery = log_needles;
    add_text_needle(log_needles, "recovery key", recovery);
    std::vector<Hit> log_hits;
    for (const auto& step : steps_) {
        for (const char* ext : {".out", ".err"}) {
            const fs::path p = dir_ / "logs" / (step + ext);
            const custodia::testing::MappedFile f(p);
            const bool shows_recovery = step == "init" && std::string(ext) == ".out";
            auto found =
                custodia::testing::scan_bytes(p.filename().string(), f.bytes(),
                                              shows_recovery ? no_recovery : log_needles, &media);
            log_hits.insert(log_hits.end(), found.begin(), found.end());
        }
    }
    EXPECT_TRUE(log_hits.empty()) << "secrets in the CLI's output:\n" << describe(log_hits);
    // And the one place the recovery key must appear, so the needle works.
    const custodia::testing::MappedFile init_out(dir_ / "logs" / "init.out");
    EXPECT_EQ(custodia::testing::count_occurrences(init_out.bytes(), needles[4].bytes), 1u);
}

}  // namespace
