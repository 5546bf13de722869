// kill -9 in the middle of `custodia-cli export`, `checkpoint`, `passwd` and
// a many-file `add` (ingest), at seeded kill points: whatever moment the
// process dies at, the vault must still open and verify, lose nothing that
// was acknowledged, keep no orphan blob past an open, and show no partial
// bundle under a bundle's final name. `passwd` must leave exactly one of the
// old and the new passphrase working, never neither (and the recovery key
// working throughout).
//
// After every kill point, for every operation:
//   - `verify` exits 0 (every blob decrypts to its signed SHA-256, the
//     custody log matches its signed checkpoint, no orphan or temporary);
//   - every acknowledged item is listed, with the SHA-256 Debian's sha256sum
//     gives for its source file;
//   - every file under blobs/ is the blob of a listed item: the open that
//     verify did removed whatever the kill left (checked here by listing the
//     directory ourselves, not by trusting verify's own orphan check).
// Plus, per operation:
//   - export: a file under a final name (`*.custodia`) passes `verify-bundle`
//     with the NGO's key (made by Debian's age-keygen) and the device key;
//     an envelope under its final name has its bundle; an acknowledged
//     export has both; and no temporary is left at all (the bundle is an
//     unnamed O_TMPFILE inode until it is complete);
//   - passwd: exactly one passphrase opens; an acknowledged change means the
//     new one;
//   - ingest: the n-th acknowledged id is the n-th file.
//
// The seed and the number of kill points per operation are fixed here for
// CI and can be given with CUSTODIA_CRASH_SEED / CUSTODIA_CRASH_POINTS
// (tests/crash/long-run.sh). Each operation prints one "crash-summary" line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "custodia/crypto/random.h"
#include "support/kill_harness.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::clean_environment;
using custodia::testing::complete_lines_matching;
using custodia::testing::crash_points;
using custodia::testing::crash_seed;
using custodia::testing::kill_delay;
using custodia::testing::KillClock;
using custodia::testing::KillOutcome;
using custodia::testing::quote;
using custodia::testing::run_and_kill;
using custodia::testing::run_shell;
using custodia::testing::TempDir;
using nlohmann::json;

constexpr std::uint32_t kSeed = 0x6f707321;  // "ops!"
constexpr int kPointsPerVault = 12;          // a fresh vault keeps verify's cost bounded
constexpr double kKillSpan = 1.2;            // see cli_crash_test.cpp
const std::string kPassphraseA = "crash ops passphrase A";
const std::string kPassphraseB = "crash ops passphrase B, the other one";
const std::regex kIdLine("[0-9a-f]{32}");
const std::regex kRecoveryLine(" *([0-9A-Z]{4}(-[0-9A-Z]{4}){7,})");

double ms(KillClock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

std::string sha256sum(const fs::path& path) {
    const auto run = run_shell("sha256sum " + quote(path.string()));
    EXPECT_EQ(run.exit_code, 0);
    return run.out.substr(0, 64);
}

int failures_so_far() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
}

class CliCrashOps : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(fs::exists(CUSTODIA_CLI)) << CUSTODIA_CLI; }

    fs::path vault() const { return dir_ / "vault"; }

    custodia::testing::ProcessResult cli(const std::string& args,
                                         const std::string& passphrase) const {
        return run_shell("env -u CUSTODIA_INSECURE_TEST_KDF CUSTODIA_PASSPHRASE=" +
                         quote(passphrase) + " " + quote(CUSTODIA_CLI) + " --vault " +
                         quote(vault().string()) + " " + args + " </dev/null 2>/dev/null");
    }

    KillOutcome run(const std::vector<std::string>& verb, std::optional<KillClock::duration> delay,
                    const std::string& passphrase) const {
        std::vector<std::string> argv = {CUSTODIA_CLI, "--vault", vault().string()};
        argv.insert(argv.end(), verb.begin(), verb.end());
        return run_and_kill(argv, clean_environment({"CUSTODIA_PASSPHRASE=" + passphrase}), delay);
    }

    // A fresh vault with one case and `files` (name, size) added to it.
    void fresh_vault(int number, const std::vector<std::pair<std::string, std::size_t>>& files) {
        fs::remove_all(vault());
        passphrase_ = kPassphraseA;
        const auto init =
            run_shell("env CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=" + quote(passphrase_) +
                      " " + quote(CUSTODIA_CLI) + " --vault " + quote(vault().string()) +
                      " init </dev/null 2>/dev/null");
        ASSERT_EQ(init.exit_code, 0);
        std::smatch m;
        recovery_.clear();
        for (std::size_t start = 0, end; (end = init.out.find('\n', start)) != std::string::npos;
             start = end + 1) {
            const std::string line = init.out.substr(start, end - start);
            if (std::regex_match(line, m, kRecoveryLine)) recovery_ = m[1];
        }
        ASSERT_FALSE(recovery_.empty()) << "init printed no recovery key";
        { std::ofstream(dir_ / "recovery.key") << recovery_ << "\n"; }
        const auto made =
            cli("case create " + quote("Vault " + std::to_string(number)), passphrase_);
        ASSERT_EQ(made.exit_code, 0);
        case_id_ = made.out.substr(made.out.size() - 33, 32);
        ASSERT_EQ(cli("identity", passphrase_).exit_code, 0);
        { std::ofstream(dir_ / "device.pub") << cli("identity", passphrase_).out; }
        acknowledged_.clear();
        for (const auto& [name, size] : files) {
            const fs::path source = write_source(name, size);
            const auto added =
                cli("add --case " + case_id_ + " " + quote(source.string()), passphrase_);
            ASSERT_EQ(added.exit_code, 0);
            acknowledged_.push_back(added.out.substr(0, 32));
        }
    }

    // Random bytes from the seed, so that each file's SHA-256 is its own.
    fs::path write_source(const std::string& name, std::size_t size) {
        const fs::path path = dir_ / name;
        if (!fs::exists(path)) {
            std::string bytes(size, '\0');
            custodia::crypto::DeterministicRandom random(seed_ + std::hash<std::string>{}(name));
            random.fill(std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()));
            std::ofstream(path, std::ios::binary)
                .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            expected_sha_[name] = sha256sum(path);
        }
        return path;
    }

    // The checks every operation shares; `where` names the kill point.
    void check_vault(const std::string& where) {
        const auto verify = cli("verify --json", passphrase_);
        EXPECT_EQ(verify.exit_code, 0) << where << "\n" << verify.out;
        const auto list = cli("list --json --limit 100000", passphrase_);
        ASSERT_EQ(list.exit_code, 0) << where;
        std::map<std::string, json> listed;
        std::set<std::string> blob_ids;
        for (const auto& item : json::parse(list.out)) {
            listed[item.at("id")] = item;
            if (!item.contains("attachment")) continue;
            const auto& a = item.at("attachment");
            blob_ids.insert(a.at("blob_id").get<std::string>());
            const std::string name = a.at("original_name");
            ASSERT_TRUE(expected_sha_.count(name) == 1) << where << ": unknown file " << name;
            EXPECT_EQ(a.at("sha256"), expected_sha_[name]) << where << ": " << name;
        }
        for (const auto& id : acknowledged_) {
            EXPECT_TRUE(listed.count(id) == 1)
                << where << ": acknowledged item " << id << " is missing";
        }
        if (fs::exists(vault() / "blobs")) {
            for (const auto& e : fs::recursive_directory_iterator(vault() / "blobs")) {
                if (!e.is_regular_file()) continue;
                EXPECT_TRUE(blob_ids.count(e.path().filename().string()) == 1)
                    << where << ": " << e.path().filename() << " survived an open";
            }
        }
    }

    struct Tally {
        int points = 0;
        int killed = 0;
        int finished = 0;
        int failed_points = 0;
    };

    void summary(const std::string& op, const Tally& t, const std::string& extra = "") {
        std::cout << "crash-summary op=" << op << " seed=" << seed_ << " points=" << t.points
                  << " killed=" << t.killed << " finished=" << t.finished
                  << " failed=" << t.failed_points << extra << "\n";
        RecordProperty(op + "_points", t.points);
        RecordProperty(op + "_failed", t.failed_points);
    }

    // Runs `points` kill points of `verb(point)`, in vaults of at most
    // kPointsPerVault points each: `setup` makes the vault, two whole runs
    // measure the duration, then each point runs, is killed, and `after`
    // checks the aftermath. `after` gets the point, its outcome and a label.
    template <typename Setup, typename Verb, typename After>
    Tally kill_loop(int points, Setup setup, Verb verb, After after) {
        Tally tally;
        for (int first = 0; first < points; first += kPointsPerVault) {
            setup(first / kPointsPerVault);
            if (::testing::Test::HasFatalFailure()) return tally;
            double full_ms = 1e18;
            for (int i = 0; i < 2; ++i) {
                const int point = -1 - i - first;  // measuring runs
                const auto outcome = run(verb(point), std::nullopt, passphrase_);
                EXPECT_EQ(outcome.exit_code, 0) << "an uninterrupted run failed";
                after(point, outcome, "measuring run");
                full_ms = std::min(full_ms, ms(outcome.elapsed));
            }
            const int last = std::min(points, first + kPointsPerVault);
            for (int point = first; point < last; ++point) {
                const int before = failures_so_far();
                const auto delay = kill_delay(seed_, point, points, full_ms, kKillSpan);
                const auto outcome = run(verb(point), delay, passphrase_);
                ++tally.points;
                if (outcome.killed) {
                    ++tally.killed;
                } else {
                    ++tally.finished;
                    EXPECT_EQ(outcome.exit_code, 0) << "failed on its own at point " << point;
                    full_ms = std::min(full_ms, ms(outcome.elapsed));
                }
                const std::string where = "kill point " + std::to_string(point) + " (" +
                                          std::to_string(static_cast<int>(ms(delay))) + " ms of " +
                                          std::to_string(static_cast<int>(full_ms)) + " ms, " +
                                          (outcome.killed ? "killed" : "finished") + ", seed " +
                                          std::to_string(seed_) + ")";
                after(point, outcome, where);
                if (failures_so_far() != before) ++tally.failed_points;
            }
        }
        return tally;
    }

    TempDir dir_;
    std::uint32_t seed_ = crash_seed(kSeed);
    std::string passphrase_ = kPassphraseA;
    std::string recovery_;
    std::string case_id_;
    std::vector<std::string> acknowledged_;
    std::map<std::string, std::string> expected_sha_;
};

TEST_F(CliCrashOps, ExportKilledLeavesNoPartialBundleUnderItsFinalName) {
    const int points = crash_points(8);
    ASSERT_EQ(
        run_shell("age-keygen -o " + quote((dir_ / "ngo.key").string()) + " 2>/dev/null").exit_code,
        0);
    const auto recipient = run_shell("age-keygen -y " + quote((dir_ / "ngo.key").string()));
    ASSERT_EQ(recipient.exit_code, 0);
    const std::string to = recipient.out.substr(0, recipient.out.find('\n'));
    const fs::path out_dir = dir_ / "bundles";
    int partial_leftovers = 0;
    int bundle_without_envelope = 0;
    int bundles_verified = 0;

    auto setup = [&](int number) {
        fresh_vault(
            number,
            {{"interview.mp4", 6u << 20}, {"photo.jpg", 1u << 20}, {"notes.pdf", 512u << 10}});
        fs::remove_all(out_dir);
        fs::create_directories(out_dir);
    };
    auto bundle_name = [&](int point) {
        return (out_dir / ("b" + std::to_string(point + 1000) + ".custodia")).string();
    };
    auto verb = [&](int point) {
        return std::vector<std::string>{
            "export", "--case",          case_id_, "--to", to, "--allow-without-consent",
            "-o",     bundle_name(point)};
    };
    auto after = [&](int point, const KillOutcome& outcome, const std::string& where) {
        check_vault(where);
        const bool acknowledged = !complete_lines_matching(outcome.out, kIdLine).empty();
        const fs::path bundle = bundle_name(point);
        const fs::path envelope = bundle.string() + ".envelope";
        if (acknowledged) {
            EXPECT_TRUE(fs::exists(bundle) && fs::exists(envelope))
                << where << ": an acknowledged export left no bundle or no envelope";
        }
        for (const auto& e : fs::directory_iterator(out_dir)) {
            const std::string name = e.path().filename().string();
            if (name.find(".custodia-tmp-") != std::string::npos ||
                name.find(".partial-") != std::string::npos) {
                // The bundle is written unnamed (O_TMPFILE, core/new_file.h)
                // on this file system: a kill must leave nothing.
                ADD_FAILURE() << where << ": a kill left a temporary behind: " << name;
                ++partial_leftovers;
            } else if (name.ends_with(".custodia")) {
                const auto checked =
                    run_shell(quote(CUSTODIA_CLI) + " verify-bundle " + quote(e.path().string()) +
                              " -i " + quote((dir_ / "ngo.key").string()) + " --device-key " +
                              quote((dir_ / "device.pub").string()) + " </dev/null 2>&1");
                EXPECT_EQ(checked.exit_code, 0)
                    << where << ": " << name << " is under its final name and does not verify\n"
                    << checked.out;
                ++bundles_verified;
                if (!fs::exists(e.path().string() + ".envelope")) ++bundle_without_envelope;
            } else if (name.ends_with(".custodia.envelope")) {
                EXPECT_TRUE(fs::exists(out_dir / name.substr(0, name.size() - 9)))
                    << where << ": an envelope without its bundle: " << name;
            } else {
                ADD_FAILURE() << where << ": unexpected file " << name;
            }
        }
        // Checked once: empty the folder so that each point is judged alone.
        for (const auto& e : fs::directory_iterator(out_dir)) fs::remove(e.path());
    };
    const auto tally = kill_loop(points, setup, verb, after);
    summary("export", tally,
            " bundles_verified=" + std::to_string(bundles_verified) +
                " partial_leftovers=" + std::to_string(partial_leftovers) +
                " bundle_without_envelope=" + std::to_string(bundle_without_envelope));
    EXPECT_GE(tally.killed, tally.points / 3) << "too few kills landed while export ran";
}

TEST_F(CliCrashOps, CheckpointKilledLeavesTheVaultIntact) {
    const int points = crash_points(6);
    auto setup = [&](int number) {
        fresh_vault(number, {{"a.jpg", 256u << 10}, {"b.mp4", 1u << 20}});
    };
    auto verb = [&](int) { return std::vector<std::string>{"checkpoint"}; };
    std::string last_note;
    auto after = [&](int, const KillOutcome& outcome, const std::string& where) {
        check_vault(where);
        if (!outcome.killed) {
            // A finished run prints the same note a later one does: the kill
            // of another did not sign or log anything new.
            const auto again = cli("checkpoint", passphrase_);
            EXPECT_EQ(again.exit_code, 0) << where;
            EXPECT_EQ(outcome.out, again.out) << where;
        }
    };
    const auto tally = kill_loop(points, setup, verb, after);
    summary("checkpoint", tally);
}

TEST_F(CliCrashOps, PasswdKilledLeavesExactlyOnePassphraseThatOpens) {
    const int points = crash_points(8);
    int changed = 0;
    auto other = [](const std::string& p) {
        return p == kPassphraseA ? kPassphraseB : kPassphraseA;
    };
    auto setup = [&](int number) { fresh_vault(number, {{"statement.pdf", 128u << 10}}); };
    auto verb = [&](int) {
        const fs::path file = dir_ / "new-passphrase";
        std::ofstream(file, std::ios::trunc) << other(passphrase_) << "\n";
        return std::vector<std::string>{"passwd", "--new-passphrase-file", file.string()};
    };
    auto after = [&](int, const KillOutcome& outcome, const std::string& where) {
        const std::string old_one = passphrase_;
        const std::string new_one = other(old_one);
        const bool acknowledged =
            outcome.out.find("The passphrase was changed") != std::string::npos;
        const int old_exit = cli("checkpoint", old_one).exit_code;
        const int new_exit = cli("checkpoint", new_one).exit_code;
        EXPECT_TRUE((old_exit == 0) != (new_exit == 0))
            << where << ": old passphrase exit " << old_exit << ", new " << new_exit;
        EXPECT_TRUE(old_exit == 3 || new_exit == 3)
            << where << ": the passphrase that does not open must be refused as wrong (exit 3)";
        if (acknowledged || !outcome.killed) {
            EXPECT_EQ(new_exit, 0) << where << ": the change was acknowledged";
        }
        if (new_exit == 0) {
            passphrase_ = new_one;
            ++changed;
        }
        const auto recovered = run_shell(
            quote(CUSTODIA_CLI) + " --vault " + quote(vault().string()) + " --recovery-key-file " +
            quote((dir_ / "recovery.key").string()) + " checkpoint </dev/null 2>/dev/null");
        EXPECT_EQ(recovered.exit_code, 0) << where << ": the recovery key no longer opens";
        check_vault(where);
    };
    const auto tally = kill_loop(points, setup, verb, after);
    summary("passwd", tally, " changed=" + std::to_string(changed));
    EXPECT_GE(tally.killed, tally.points / 3) << "too few kills landed while passwd ran";
}

TEST_F(CliCrashOps, IngestKilledLosesNothingAcknowledged) {
    const int points = crash_points(8);
    const std::vector<std::pair<std::string, std::size_t>> files = {{"clip1.mp4", 3u << 20},
                                                                    {"photo2.jpg", 768u << 10},
                                                                    {"audio3.m4a", 2u << 20},
                                                                    {"scan4.pdf", 256u << 10}};
    std::vector<std::string> sources;
    int unacknowledged_total = 0;
    auto setup = [&](int number) {
        fresh_vault(number, {});
        sources.clear();
        for (const auto& [name, size] : files) sources.push_back(write_source(name, size).string());
    };
    auto verb = [&](int) {
        std::vector<std::string> v = {"add", "--case", case_id_};
        v.insert(v.end(), sources.begin(), sources.end());
        return v;
    };
    auto after = [&](int, const KillOutcome& outcome, const std::string& where) {
        const auto ids = complete_lines_matching(outcome.out, kIdLine);
        EXPECT_LE(ids.size(), files.size()) << where;
        if (!outcome.killed) {
            EXPECT_EQ(ids.size(), files.size()) << where;
        }
        acknowledged_.insert(acknowledged_.end(), ids.begin(), ids.end());
        check_vault(where);
        // Ids come in file order: the n-th id is the n-th file, whole.
        const auto list = json::parse(cli("list --json --limit 100000", passphrase_).out);
        std::map<std::string, std::string> name_of;
        for (const auto& item : list)
            name_of[item.at("id")] = item.at("attachment").at("original_name");
        for (std::size_t i = 0; i < ids.size(); ++i) {
            EXPECT_EQ(name_of[ids[i]], files[i].first) << where << ": id " << i;
        }
        unacknowledged_total =
            static_cast<int>(list.size()) - static_cast<int>(acknowledged_.size());
    };
    const auto tally = kill_loop(points, setup, verb, after);
    summary("ingest", tally,
            " committed_unacknowledged_last_vault=" + std::to_string(unacknowledged_total));
    EXPECT_GE(tally.killed, tally.points / 3) << "too few kills landed while add ran";
}

}  // namespace
