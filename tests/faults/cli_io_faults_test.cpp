// custodia-cli under injected I/O faults (tests/faults/io_faults.cpp): for a
// command (add, testimony, export, passwd) and one file operation, the k-th
// call under the test's directory fails, with EIO once or with ENOSPC from
// then on, for k = 1, 2, … until the command runs without reaching call k.
// Each run starts from a copy of the same small vault, and afterwards,
// without faults:
//   - a fault that fired gives exit 4 and a message naming the failure, or
//     exit 0 only where the failed call is one of the documented best-effort
//     ones (kBestEffort);
//   - `verify` passes, every acknowledged item is listed and extracts
//     byte-identical (sha256sum), and an item the command did not
//     acknowledge is absent or verified;
//   - no temporary file is left;
//   - export: the bundle is absent, or complete (with its envelope) and
//     verify-bundle accepts it;
//   - passwd: the vault opens with the new passphrase if the change was
//     acknowledged, else with the old or (renamed into place before a later
//     fsync failed) the new one.
// CI runs every k of every operation except pwrite (SQLite's page writes,
// ~80 per command): there, the first, middle and last call. Set
// CUSTODIA_FAULTS_FULL=1 for every k of every operation in both modes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;

constexpr const char* kPassphrase = "fault injection passphrase";
constexpr const char* kTestimony = "Written under injected faults.";
constexpr const char* kNewPassphrase = "the new fault injection passphrase";
// A published test key (C2SP CCTV age/testdata), not a secret, and its recipient.
constexpr const char* kIdentity =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
constexpr const char* kRecipient = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";

const std::vector<std::string> kOps = {"write", "pwrite", "fsync", "fdatasync", "rename", "create"};

// Calls whose failure a command may survive with exit 0, by (operation, file
// name): each is a second copy or a courtesy, and none loses data.
//   vault.checkpoint(.tmp)  a copy of the checkpoint in vault.db; open()
//                           rewrites it when it is behind (vault.cpp)
//   fsync of the vault dir  after removing the failed-unlock counter, once
//                           the unlock succeeded (vault_header.cpp)
//   vault.db, SQLite        in WAL mode the database file is only written
//                           by checkpoints, after the commit's own sync of
//                           the WAL succeeded: a failed checkpoint (when the
//                           connection closes) leaves the WAL to replay
//                           (SQLite syncs the WAL again first; a failed
//                           sync of the WAL at COMMIT fails the command)
//   fdatasync of the dir    after creating the WAL (SQLite ignores it)
//   the old vault.header    overwritten in place after passwd renamed the
//                           new one into place (vault_header.cpp)
bool best_effort(const std::string& op, const fs::path& path) {
    const std::string name = path.filename().string();
    if (name == "vault.checkpoint" || name == "vault.checkpoint.tmp") return true;
    if (op == "fsync" && name == "vault") return true;
    if ((op == "pwrite" || op == "fsync") && name == "vault.header (deleted)") return true;
    if ((op == "pwrite" || op == "fdatasync") && name == "vault.db") return true;
    if (op == "fdatasync" && (name == "vault" || name == "vault.db-wal")) return true;
    return false;
}

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
};

class CliFaults {
  public:
    CliFaults() {
        const auto d = dir_.path();
        std::ofstream(d / "identity") << kIdentity << "\n";
        std::ofstream(d / "new_passphrase") << kNewPassphrase << "\n";
        {
            std::ofstream small(d / "small.bin", std::ios::binary);
            for (int i = 0; i < 6000; ++i) small.put(static_cast<char>((i * 131 + 7) % 251));
        }
        sums_["small.bin"] = sha256_of(d / "small.bin");
        // What `testimony --text` stores: the text's UTF-8 bytes as they are.
        std::ofstream(d / "testimony.txt") << kTestimony;
        sums_["testimony.txt"] = sha256_of(d / "testimony.txt");
        fs::create_directories(base() / "out");
        expect_ok(cli(base(), kPassphrase, "init --investigator Tester"), "init");
        const auto c = cli(base(), kPassphrase, "case create 'Fault injection'");
        expect_ok(c, "case create");
        case_id_ = last_line(c.out);
        const auto a = cli(base(), kPassphrase, "add --case " + case_id_ + " " + arg("small.bin"));
        expect_ok(a, "add");
        base_item_ = last_line(a.out);
    }

    // Every (op, k) of `command` in one mode.
    void run_all(const std::string& command, bool persist) {
        const bool full = std::getenv("CUSTODIA_FAULTS_FULL") != nullptr;
        for (const auto& op : kOps) {
            if (op == "pwrite" && !full) {
                const unsigned long n = count_calls(command, op);
                ASSERT_GT(n, 0u) << command << " makes no pwrite call under the vault";
                for (const unsigned long k : {1ul, (n + 1) / 2, n}) {
                    EXPECT_TRUE(run_one(command, op, k, persist)) << "pwrite #" << k;
                    if (::testing::Test::HasFatalFailure()) return;
                }
                EXPECT_FALSE(run_one(command, op, n + 1, persist)) << "pwrite #" << n + 1;
                continue;
            }
            for (unsigned long k = 1;; ++k) {
                const bool fired = run_one(command, op, k, persist);
                if (::testing::Test::HasFatalFailure()) return;
                if (!fired) break;
                if (k == 2000) {
                    ADD_FAILURE() << command << " makes more than 2000 " << op << " calls";
                    break;
                }
            }
        }
    }

  private:
    fs::path base() const { return dir_ / "base"; }
    fs::path work() const { return dir_ / "work"; }
    std::string arg(const std::string& name) const { return quote((dir_ / name).string()); }

    static std::string last_line(const std::string& text) {
        std::istringstream in(text);
        std::string line, last;
        while (std::getline(in, line))
            if (!line.empty()) last = line;
        return last;
    }

    static std::string sha256_of(const fs::path& p) {
        const auto r = run_shell("sha256sum " + quote(p.string()) + " | cut -d' ' -f1");
        return last_line(r.out);
    }

    static void expect_ok(const Run& r, const std::string& what) {
        ASSERT_EQ(r.exit_code, 0) << what << ": " << r.err;
    }

    // custodia-cli on the vault in `root`, with `env` before it (the shim).
    Run cli(const fs::path& root, const std::string& passphrase, const std::string& args,
            const std::string& env = "") const {
        const auto err = dir_ / "stderr";
        const std::string command =
            "cd " + quote(dir_.path().string()) +
            " && env CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=" + quote(passphrase) + " " +
            env + " " + quote(CUSTODIA_CLI) + " --vault " + quote((root / "vault").string()) + " " +
            args + " 2>" + quote(err.string());
        auto r = run_shell(command);
        Run out{r.exit_code, std::move(r.out), {}};
        std::ifstream in(err);
        std::stringstream s;
        s << in.rdbuf();
        // The insecure-KDF warning is on every run; keep only the rest.
        std::istringstream lines(s.str());
        for (std::string line; std::getline(lines, line);)
            if (line.find("WARNING") == std::string::npos) out.err += line + "\n";
        return out;
    }

    std::string command_args(const std::string& command) const {
        if (command == "add") return "add --case " + case_id_ + " " + arg("small.bin");
        if (command == "testimony")
            return "testimony --case " + case_id_ + " --text " + quote(kTestimony);
        if (command == "export")
            return "export --case " + case_id_ + " --to " + kRecipient +
                   " --allow-without-consent -o " + quote((work() / "out" / "b.custodia").string());
        return "passwd --new-passphrase-file " + arg("new_passphrase");
    }

    std::string shim_env(const std::string& op, unsigned long k, bool persist) const {
        std::string asan = "verify_asan_link_order=0";
        if (const char* existing = std::getenv("ASAN_OPTIONS"))
            asan = std::string(existing) + ":" + asan;
        return "LD_PRELOAD=" + quote(CUSTODIA_IO_FAULTS) + " ASAN_OPTIONS=" + quote(asan) +
               " CUSTODIA_FAULT_DIR=" + quote(work().string()) + " CUSTODIA_FAULT_OP=" + op +
               " CUSTODIA_FAULT_K=" + std::to_string(k) +
               " CUSTODIA_FAULT_MODE=" + (persist ? "persist" : "once") +
               " CUSTODIA_FAULT_ERRNO=" + (persist ? "ENOSPC" : "EIO") +
               " CUSTODIA_FAULT_REPORT=" + quote((dir_ / "report").string());
    }

    void fresh_copy() const {
        fs::remove_all(work());
        ASSERT_EQ(
            run_shell("cp -a " + quote(base().string()) + " " + quote(work().string())).exit_code,
            0);
        fs::remove(dir_ / "report");
    }

    // The report lines: faults fired ("fault <op> <n> <path>") and the count.
    std::vector<std::pair<std::string, std::string>> read_report(unsigned long* count) const {
        std::vector<std::pair<std::string, std::string>> faults;
        std::ifstream in(dir_ / "report");
        for (std::string line; std::getline(in, line);) {
            std::istringstream words(line);
            std::string kind, op, n, path;
            words >> kind >> op >> n;
            std::getline(words, path);
            if (!path.empty() && path[0] == ' ') path.erase(0, 1);
            if (kind == "fault") faults.emplace_back(op, path);
            if (kind == "count" && count != nullptr) *count = std::stoul(n);
        }
        return faults;
    }

    unsigned long count_calls(const std::string& command, const std::string& op) {
        fresh_copy();
        const auto r = cli(work(), kPassphrase, command_args(command), shim_env(op, 0, false));
        EXPECT_EQ(r.exit_code, 0) << command << " without faults: " << r.err;
        unsigned long n = 0;
        (void)read_report(&n);
        return n;
    }

    // One faulted run and every check after it; whether the fault fired.
    bool run_one(const std::string& command, const std::string& op, unsigned long k, bool persist) {
        fresh_copy();
        if (::testing::Test::HasFatalFailure()) return false;
        const std::string what = command + " with " + op + " #" + std::to_string(k) +
                                 (persist ? " failing from then on (ENOSPC)" : " failing (EIO)");
        SCOPED_TRACE(what);
        const auto r = cli(work(), kPassphrase, command_args(command), shim_env(op, k, persist));
        const auto faults = read_report(nullptr);
        const bool fired = !faults.empty();
        EXPECT_EQ(r.err.find("Sanitizer"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
        if (!fired) {
            EXPECT_EQ(r.exit_code, 0) << r.err;
        } else if (r.exit_code == 0) {
            for (const auto& [fop, path] : faults)
                EXPECT_TRUE(best_effort(fop, path))
                    << "exit 0 although " << fop << " of " << path << " failed";
        } else {
            EXPECT_EQ(r.exit_code, 4) << r.err;
            const bool says_why = r.err.find("Input/output error") != std::string::npos ||
                                  r.err.find("No space left on device") != std::string::npos ||
                                  r.err.find("disk I/O error") != std::string::npos ||
                                  r.err.find("database or disk is full") != std::string::npos ||
                                  r.err.find("unable to open database file") != std::string::npos;
            EXPECT_TRUE(says_why) << "unclear message: " << r.err;
        }
        const bool acknowledged = r.exit_code == 0;

        // Everything below runs without the shim.
        std::string passphrase = kPassphrase;
        if (command == "passwd") {
            const bool new_opens = cli(work(), kNewPassphrase, "case list").exit_code == 0;
            const bool old_opens = cli(work(), kPassphrase, "case list").exit_code == 0;
            EXPECT_TRUE(!acknowledged || new_opens) << "the new passphrase does not open";
            EXPECT_TRUE(new_opens || old_opens) << "neither passphrase opens the vault";
            if (new_opens) passphrase = kNewPassphrase;
        }
        const auto v = cli(work(), passphrase, "verify");
        EXPECT_EQ(v.exit_code, 0) << "verify: " << v.out << v.err;

        std::map<std::string, std::string> expected = {{base_item_, sums_.at("small.bin")}};
        std::string new_item;
        if (acknowledged && (command == "add" || command == "testimony")) {
            new_item = last_line(r.out);
            EXPECT_EQ(new_item.size(), 32u) << "acknowledged id: " << r.out;
            expected[new_item] = sums_.at(command == "add" ? "small.bin" : "testimony.txt");
        }
        const auto list = cli(work(), passphrase, "list --json");
        EXPECT_EQ(list.exit_code, 0) << list.err;
        for (const auto& [id, sum] : expected) {
            EXPECT_NE(list.out.find(id), std::string::npos) << "item " << id << " is missing";
            const auto out = dir_ / "extracted.bin";
            fs::remove(out);
            const auto x = cli(work(), passphrase, "extract " + id + " -o " + quote(out.string()));
            EXPECT_EQ(x.exit_code, 0) << "extract " << id << ": " << x.err;
            EXPECT_EQ(sha256_of(out), sum) << "item " << id << " changed";
        }

        // No temporary file, whatever its name.
        for (const auto& e : fs::recursive_directory_iterator(work())) {
            const auto name = e.path().filename().string();
            EXPECT_EQ(name.find("tmp"), std::string::npos) << "left behind: " << e.path();
            EXPECT_EQ(name.find("partial"), std::string::npos) << "left behind: " << e.path();
        }
        if (command == "export") {
            const auto bundle = work() / "out" / "b.custodia";
            const auto envelope = work() / "out" / "b.custodia.envelope";
            std::set<std::string> names;
            for (const auto& e : fs::directory_iterator(work() / "out"))
                names.insert(e.path().filename().string());
            EXPECT_TRUE(!acknowledged || (fs::exists(bundle) && fs::exists(envelope)))
                << "acknowledged export";
            EXPECT_TRUE(!fs::exists(envelope) || fs::exists(bundle)) << "envelope without bundle";
            if (fs::exists(bundle)) {
                EXPECT_TRUE(fs::exists(envelope)) << "bundle without envelope";
                const auto vb =
                    cli(work(), passphrase,
                        "verify-bundle -i " + arg("identity") + " " + quote(bundle.string()));
                EXPECT_EQ(vb.exit_code, 0) << "verify-bundle: " << vb.out << vb.err;
            }
            names.erase("b.custodia");
            names.erase("b.custodia.envelope");
            EXPECT_TRUE(names.empty()) << "other files in the output directory: " << *names.begin();
        }
        return fired;
    }

    TempDir dir_;
    std::string case_id_;
    std::string base_item_;
    std::map<std::string, std::string> sums_;
};

void check(const std::string& command, bool persist) {
    ASSERT_EQ(run_shell("command -v sha256sum >/dev/null").exit_code, 0) << "needs sha256sum";
    CliFaults faults;
    if (::testing::Test::HasFatalFailure()) return;
    faults.run_all(command, persist);
}

TEST(CliIoFaults, AddFailsCleanlyAtEachFailedCall) {
    check("add", false);
}
TEST(CliIoFaults, TestimonyFailsCleanlyAtEachFailedCall) {
    check("testimony", false);
}
TEST(CliIoFaults, ExportFailsCleanlyAtEachFailedCall) {
    check("export", false);
}
TEST(CliIoFaults, PasswdFailsCleanlyAtEachFailedCall) {
    check("passwd", false);
}
TEST(CliIoFaults, AddFailsCleanlyWhenTheDiskStaysFull) {
    check("add", true);
}
TEST(CliIoFaults, TestimonyFailsCleanlyWhenTheDiskStaysFull) {
    check("testimony", true);
}
TEST(CliIoFaults, ExportFailsCleanlyWhenTheDiskStaysFull) {
    check("export", true);
}
TEST(CliIoFaults, PasswdFailsCleanlyWhenTheDiskStaysFull) {
    check("passwd", true);
}

}  // namespace
