// Crash safety with a real kill -9 (DESIGN.md §3: "a crash must lose
// nothing"; vault.h: "nothing is reported saved before it is durable"). A
// child process adds items as fast as it can and is killed at an arbitrary
// moment, often in the middle of sealing a blob or committing. Afterwards the
// vault must open, verify clean, hold no half item and no leftover blob, and
// every item it lists must extract to exactly what was added.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "custodia/core/vault.h"
#include "custodia/crypto/hash.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;
using custodia::testing::blob_files;
using custodia::testing::pattern_bytes;
using custodia::testing::secret;

// Item n's content: its size cycles up to 24 MiB so that a kill often lands
// mid-ingest, and the seed makes it checkable after the crash.
std::size_t size_of(std::uint64_t n) {
    return std::size_t{1} << (10 + (n % 15));
}

[[noreturn]] void child_adds_items_forever(const std::filesystem::path& dir, const CaseId& c,
                                           int ready_fd) {
    crypto::DeterministicRandom random(getpid());
    FixedClock clock(1'800'000'000'000);
    auto v = Vault::open(dir, secret("p"), random, clock);
    if (!v) _exit(3);
    const char ready = 'r';
    if (write(ready_fd, &ready, 1) != 1) _exit(4);
    for (std::uint64_t n = 0;; ++n) {
        const auto bytes = pattern_bytes(size_of(n), n);
        crypto::MemorySource src(bytes);
        ItemFields f;
        f.title = std::to_string(n);  // lets the parent recompute the content
        if (!(*v)->ingest(c, src, "item.bin", "application/octet-stream", f)) _exit(5);
    }
}

TEST(VaultCrash, KillDashNineAtAnyMomentLeavesNoHalfItem) {
    custodia::testing::TempDir tmp;
    const auto dir = tmp.path() / "vault";
    crypto::DeterministicRandom random(1);
    FixedClock clock(1'700'000'000'000);
    CaseId c;
    {
        auto created =
            Vault::create(dir, secret("p"), custodia::testing::cheap_options(), random, clock);
        ASSERT_TRUE(created) << created.error().message;
        c = created->vault->create_case("crash", "", {})->id;
    }
    std::size_t total_items = 0;
    for (int round = 0; round < 6; ++round) {
        SCOPED_TRACE(round);
        int pipe_fds[2];
        ASSERT_EQ(pipe(pipe_fds), 0);
        const pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(pipe_fds[0]);
            child_adds_items_forever(dir, c, pipe_fds[1]);
        }
        close(pipe_fds[1]);
        char ready = 0;
        ASSERT_EQ(read(pipe_fds[0], &ready, 1), 1);
        close(pipe_fds[0]);
        std::this_thread::sleep_for(std::chrono::milliseconds(150 + 170 * round));
        ASSERT_EQ(kill(pid, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped on its own: " << status;

        const auto files_before_open = blob_files(dir).size();
        auto v = Vault::open(dir, secret("p"), random, clock);
        ASSERT_TRUE(v) << v.error().message;
        auto report = (*v)->verify();
        ASSERT_TRUE(report) << report.error().message;
        for (const auto& p : report->problems) ADD_FAILURE() << p.what << ": " << p.message;
        auto items = (*v)->list_items(c, 0, 1'000'000);
        ASSERT_TRUE(items);
        EXPECT_GE(items->size(), total_items);  // nothing committed was lost
        total_items = items->size();
        for (const auto& item : *items) {
            const auto expected = pattern_bytes(size_of(std::stoull(item.fields.title)),
                                                std::stoull(item.fields.title));
            ASSERT_TRUE(item.attachment);
            EXPECT_EQ(item.attachment->sha256, crypto::sha256(expected));
        }
        // One blob per item: temporaries and orphans were removed at open.
        EXPECT_EQ(blob_files(dir).size(), items->size());
        std::cout << "round " << round << ": " << items->size() << " items, "
                  << files_before_open - items->size() << " unfinished blob(s) removed\n";
    }
    EXPECT_GT(total_items, 0u);
}

}  // namespace
