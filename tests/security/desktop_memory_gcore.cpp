// What a memory dump of the desktop app shows after it was unlocked, showed
// a testimony and a photo, and was locked again: the probe
// (desktop_memory_probe.cpp) does that through the real screens, offscreen,
// and waits. This test then dumps it twice with gdb:
//   - `gcore` as a crash dump would see it (the kernel's coredump filter;
//     mappings marked MADV_DONTDUMP — libsodium's guarded SecretBytes pages,
//     among others — left out);
//   - the whole memory, those mappings included (`set dump-excluded-mappings
//     on`, `set use-coredump-filter off`): what someone reading the RAM of a
//     seized, running, locked machine would see.
// Not under AddressSanitizer (skipped, with the reason): its address space
// is terabytes of readable reservations, and its allocator is not glibc's.
// Each dump is searched for the passphrase, the recovery key and the
// testimony text (UTF-8 and UTF-16, Qt's own encoding), and for any 64-byte
// window of the photo, both as the PNG file and as its decoded pixel rows.
// None may appear.
//
// The app makes itself non-dumpable (PR_SET_DUMPABLE 0, RLIMIT_CORE 0);
// gdb attaches anyway because the test runs as root with CAP_SYS_PTRACE.
// Without that capability the case is skipped, and says so. A canary in the
// probe's environment must be found in each dump, or the search proves
// nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "security/gcore_support.h"
#include "security/secret_scan.h"
#include "support/process.h"
#include "support/temp_dir.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using custodia::testing::add_text_needle;
using custodia::testing::describe;
using custodia::testing::MappedFile;
using custodia::testing::MediaWindows;
using custodia::testing::Needle;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::scan_bytes;
using custodia::testing::TempDir;

std::vector<std::uint8_t> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Probe {
    pid_t pid = -1;
    int to_child = -1;
    int from_child = -1;
    std::string out;
};

Probe start_probe(const std::vector<std::string>& extra_env) {
    Probe probe;
    int in_fds[2];
    int out_fds[2];
    if (::pipe(in_fds) != 0 || ::pipe(out_fds) != 0) return probe;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_fds[1], STDOUT_FILENO);
    for (const int fd : {in_fds[0], in_fds[1], out_fds[0], out_fds[1]})
        posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<std::string> env = extra_env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "PROBE_", 6) != 0 && std::strncmp(*e, "QT_", 3) != 0)
            env.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const char* argv[] = {CUSTODIA_MEMORY_PROBE, nullptr};
    const int rc = ::posix_spawn(&probe.pid, CUSTODIA_MEMORY_PROBE, &actions, nullptr,
                                 const_cast<char* const*>(argv), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(in_fds[0]);
    ::close(out_fds[1]);
    if (rc != 0) probe.pid = -1;
    probe.to_child = in_fds[1];
    probe.from_child = out_fds[0];
    return probe;
}

bool wait_for_line(Probe& probe, const std::string& text, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buffer[4096];
    while (probe.out.find(text + "\n") == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        pollfd watch{probe.from_child, POLLIN, 0};
        if (::poll(&watch, 1, 500) <= 0) continue;
        const ssize_t n = ::read(probe.from_child, buffer, sizeof buffer);
        if (n <= 0) return false;
        probe.out.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
}

TEST(DesktopMemory, AfterLockNoPassphraseKeyTestimonyOrPhotoIsInMemory) {
    CUSTODIA_REQUIRE_GCORE_OR_SKIP();
    TempDir dir;
    std::vector<std::uint8_t> nonce(10);
    custodia::crypto::system_random().fill(nonce);
    const std::string tag = custodia::crypto::to_hex(nonce);
    const std::string passphrase = "probe pass " + tag;
    const std::string marker = "They took the teacher from house " + tag + " at dusk";
    const std::string canary = "probe-canary-" + tag;

    // The photo is made by another process, the secrets handed over in a
    // file the probe wipes and removes (desktop_memory_probe.cpp says why).
    ASSERT_EQ(
        run_shell(quote(CUSTODIA_MEMORY_PROBE) + " --make-photo " + quote(dir.path().string()))
            .exit_code,
        0);
    std::ofstream(dir / "secrets") << passphrase << "\n" << marker << "\n";
    Probe probe = start_probe({"QT_QPA_PLATFORM=offscreen", "QT_QUICK_BACKEND=software",
                               "ASAN_OPTIONS=detect_leaks=0", "PROBE_DIR=" + dir.path().string(),
                               "PROBE_CANARY=" + canary});
    ASSERT_GT(probe.pid, 0) << "cannot start " << CUSTODIA_MEMORY_PROBE;
    const bool locked = wait_for_line(probe, "probe-locked", std::chrono::seconds(180));

    struct Dump {
        std::string name;
        fs::path file;
        custodia::testing::ProcessResult run;
    };
    std::vector<Dump> dumps;
    if (locked) {
        const std::string pid = std::to_string(probe.pid);
        const fs::path crash = dir / "crash-view";
        dumps.push_back({"crash-dump view (gcore)", crash.string() + "." + pid,
                         run_shell("DEBUGINFOD_URLS= gcore -o " + quote(crash.string()) + " " +
                                   pid + " 2>&1")});
        {
            const fs::path full = dir / "all-memory";
            dumps.push_back({"all memory (gdb, excluded mappings included)", full,
                             run_shell("DEBUGINFOD_URLS= gdb -nx -batch -p " + pid +
                                       " -ex 'set use-coredump-filter off'"
                                       " -ex 'set dump-excluded-mappings on' -ex " +
                                       quote("gcore " + full.string()) + " 2>&1")});
        }
    }
    ::close(probe.to_child);  // the probe exits
    for (int i = 0; i < 100; ++i) {
        int status = 0;
        if (::waitpid(probe.pid, &status, WNOHANG) == probe.pid) {
            probe.pid = -1;
            break;
        }
        ::usleep(100000);
    }
    if (probe.pid > 0) {
        ::kill(probe.pid, SIGKILL);
        ::waitpid(probe.pid, nullptr, 0);
    }
    ::close(probe.from_child);
    ASSERT_TRUE(locked) << "the probe did not reach the locked state:\n" << probe.out;

    std::string recovery;
    {
        std::ifstream in(dir / "recovery.key");
        std::getline(in, recovery);
    }
    ASSERT_GE(recovery.size(), 40u) << "the probe saw no recovery key";
    std::vector<Needle> needles;
    add_text_needle(needles, "passphrase", passphrase);
    add_text_needle(needles, "recovery key", recovery);
    add_text_needle(needles, "testimony text", marker);
    const MediaWindows png(read_all(dir / "photo.png"));
    const MediaWindows rows(read_all(dir / "photo.rows"));
    const std::vector<std::uint8_t> canary_bytes(canary.begin(), canary.end());

    for (const auto& dump : dumps) {
        SCOPED_TRACE(dump.name);
        ASSERT_TRUE(fs::exists(dump.file)) << dump.run.out;
        const MappedFile core(dump.file);
        std::cout << dump.name << ": " << (core.bytes().size() >> 20) << " MiB\n";
        EXPECT_GE(custodia::testing::count_occurrences(core.bytes(), canary_bytes), 1u)
            << "the canary is not in the dump: the search would prove nothing";
        auto hits = scan_bytes(dump.name, core.bytes(), needles);
        auto photo_hits = scan_bytes(dump.name, core.bytes(), {}, &png);
        for (auto& h : photo_hits) h.what = "photo (PNG file bytes)";
        hits.insert(hits.end(), photo_hits.begin(), photo_hits.end());
        photo_hits = scan_bytes(dump.name, core.bytes(), {}, &rows);
        for (auto& h : photo_hits) h.what = "photo (decoded pixel rows)";
        hits.insert(hits.end(), photo_hits.begin(), photo_hits.end());
        EXPECT_TRUE(hits.empty()) << "secrets in memory after lock:\n" << describe(hits);
        // For finding where a hit lives (gdb on the core): keep the evidence.
        if (const char* keep = std::getenv("CUSTODIA_MEMORY_KEEP_DUMPS"); keep && *keep) {
            for (const auto& f : {dump.file, dir / "photo.png", dir / "photo.rows"})
                fs::copy_file(f, fs::path(keep) / f.filename(),
                              fs::copy_options::overwrite_existing);
            std::ofstream(fs::path(keep) / "needles.txt") << passphrase << "\n"
                                                          << recovery << "\n"
                                                          << marker << "\n";
        }
        fs::remove(dump.file);
    }
}

}  // namespace
