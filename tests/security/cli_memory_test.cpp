// What a memory dump of custodia-cli shows while the vault is open: `passwd`
// on a terminal (a pseudo-terminal here) has read the current passphrase,
// unlocked the vault, and waits at the "New passphrase:" prompt. gcore (gdb)
// then dumps the process as a crash dump would — mappings marked
// MADV_DONTDUMP, where libsodium's guarded allocations (SecretBytes) live,
// are left out, as the kernel leaves them out of a core file. The dump must
// not hold the passphrase, the recovery key, or the text of a testimony in
// the vault: a copy of any of them outside locked memory would be there.
//
// The CLI makes itself non-dumpable (PR_SET_DUMPABLE 0); gdb attaches
// anyway because this test runs as root with CAP_SYS_PTRACE (an attacker
// without it cannot attach at all). Without that capability the case is
// skipped, and says so.
//
// A canary in the child's environment must be found: it proves that the
// dump holds the process's memory and that the search finds what is there.
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "security/gcore_support.h"
#include "security/secret_scan.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::add_text_needle;
using custodia::testing::describe;
using custodia::testing::MappedFile;
using custodia::testing::Needle;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::scan_bytes;
using custodia::testing::TempDir;

// Reads the pseudo-terminal until `text` has appeared (or 20 s passed).
bool read_until(int fd, std::string& seen, const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    char buffer[512];
    while (seen.find(text) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        timeval tv{0, 200000};
        if (::select(fd + 1, &set, nullptr, nullptr, &tv) <= 0) continue;
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) return false;
        seen.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
}

TEST(CliMemory, AnOpenVaultWaitingAtAPromptKeepsNoSecretInDumpableMemory) {
    CUSTODIA_REQUIRE_GCORE_OR_SKIP();
    TempDir dir;
    std::vector<std::uint8_t> nonce(12);
    custodia::crypto::system_random().fill(nonce);
    const std::string tag = custodia::crypto::to_hex(nonce);
    const std::string passphrase = "memory probe " + tag + " passphrase";
    const std::string marker = "Witness statement " + tag + ": the convoy left at night.";
    const std::string canary = "canary-" + tag;
    const fs::path vault = dir / "vault";

    const std::string env =
        "env -u CUSTODIA_INSECURE_TEST_KDF CUSTODIA_PASSPHRASE=" + quote(passphrase) + " " +
        quote(CUSTODIA_CLI) + " --vault " + quote(vault.string()) + " ";
    const auto init = run_shell("CUSTODIA_INSECURE_TEST_KDF=1 " + env + "init 2>/dev/null");
    ASSERT_EQ(init.exit_code, 0);
    std::smatch m;
    std::string recovery;
    const std::string init_out = init.out;
    if (std::regex_search(init_out, m, std::regex("([0-9A-Z]{4}(-[0-9A-Z]{4}){7,})")))
        recovery = m[1];
    ASSERT_FALSE(recovery.empty());
    const auto made = run_shell(env + "case create Probe 2>/dev/null");
    ASSERT_EQ(made.exit_code, 0);
    const std::string case_id = made.out.substr(made.out.size() - 33, 32);
    ASSERT_EQ(
        run_shell(env + "testimony --case " + case_id + " --text " + quote(marker) + " 2>/dev/null")
            .exit_code,
        0);

    // passwd on a terminal, its passphrase typed, not given in the environment.
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
        const std::string vault_arg = vault.string();
        const std::string canary_env = "PROBE_CANARY=" + canary;
        const char* argv[] = {CUSTODIA_CLI, "--vault", vault_arg.c_str(), "passwd", nullptr};
        const char* envp[] = {"PATH=/usr/bin:/bin", canary_env.c_str(), nullptr};
        ::execve(CUSTODIA_CLI, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
        ::_exit(127);
    }
    std::string seen;
    bool prompted = read_until(master, seen, "Passphrase for ");
    if (prompted) {
        const std::string typed = passphrase + "\n";
        EXPECT_EQ(::write(master, typed.data(), typed.size()), static_cast<ssize_t>(typed.size()));
        prompted = read_until(master, seen, "New passphrase: ");
    }
    const fs::path core_prefix = dir / "core";
    custodia::testing::ProcessResult dumped;
    if (prompted) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        dumped = run_shell("DEBUGINFOD_URLS= gcore -o " + quote(core_prefix.string()) + " " +
                           std::to_string(pid) + " 2>&1");
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(master);
    ASSERT_TRUE(prompted) << "the CLI did not reach the second prompt; it showed:\n" << seen;
    const fs::path core = core_prefix.string() + "." + std::to_string(pid);
    ASSERT_EQ(dumped.exit_code, 0) << dumped.out;
    ASSERT_TRUE(fs::exists(core)) << dumped.out;

    const MappedFile file(core);
    ASSERT_TRUE(file.ok());
    RecordProperty("core_bytes", static_cast<int>(file.bytes().size() >> 10));
    EXPECT_GE(custodia::testing::count_occurrences(
                  file.bytes(),
                  std::span(reinterpret_cast<const std::uint8_t*>(canary.data()), canary.size())),
              1u)
        << "the canary is not in the dump: the scan below would prove nothing";

    std::vector<Needle> needles;
    add_text_needle(needles, "passphrase", passphrase);
    add_text_needle(needles, "recovery key", recovery);
    add_text_needle(needles, "testimony text", marker);
    const auto hits = scan_bytes(core.filename().string(), file.bytes(), needles);
    EXPECT_TRUE(hits.empty()) << "secrets in the CLI's memory dump:\n" << describe(hits);
    fs::remove(core);
}

}  // namespace
