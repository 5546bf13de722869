// Allocation failure inside the vault: this binary replaces the global
// operator new (every form; delete to match) with one that throws
// std::bad_alloc at the k-th allocation after it is armed, on any thread.
// (An LD_PRELOAD malloc would fight AddressSanitizer's; this stays inside
// the C++ allocation functions, which ASan lets a program replace.)
//
// For Vault::ingest, add_testimony and export_bundle, and k = 1, 2, … until
// the call completes without reaching allocation k: the call either
// succeeds, returns an error, or throws std::bad_alloc, never crashes; and
// after disarming, the same Vault object verifies, every acknowledged item
// extracts byte-identical, a failed export leaves no file behind, and the
// vault reopened from disk verifies too.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "custodia/core/clock.h"
#include "custodia/core/vault.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/stream_io.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

// 0: disarmed. Otherwise the number of allocations still allowed plus one.
std::atomic<long> g_countdown{0};
std::atomic<bool> g_fired{false};

bool allocation_fails() noexcept {
    if (g_countdown.load(std::memory_order_relaxed) == 0) return false;
    if (g_countdown.fetch_sub(1) != 1) return false;
    g_fired.store(true);
    return true;
}

void* allocate(std::size_t size) {
    if (allocation_fails()) throw std::bad_alloc();
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

void* allocate_aligned(std::size_t size, std::align_val_t align) {
    if (allocation_fails()) throw std::bad_alloc();
    void* p = nullptr;
    const auto a = std::max(static_cast<std::size_t>(align), sizeof(void*));
    if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) throw std::bad_alloc();
    return p;
}

}  // namespace

void* operator new(std::size_t size) {
    return allocate(size);
}
void* operator new[](std::size_t size) {
    return allocate(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return allocate(size);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
    try {
        return allocate(size);
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}
void* operator new(std::size_t size, std::align_val_t align) {
    return allocate_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
    return allocate_aligned(size, align);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    std::free(p);
}

namespace {

using namespace custodia;
using namespace custodia::core;
namespace fs = std::filesystem;
using custodia::testing::cheap_options;
using custodia::testing::extract_all;
using custodia::testing::pattern_bytes;
using custodia::testing::secret;

// A published test key (C2SP CCTV age/testdata) as a recipient.
constexpr const char* kRecipient = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";
constexpr const char* kPassphrase = "allocation failure passphrase";

enum class Outcome { ok, error, threw };

class AllocFaults : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = Vault::create(dir_, secret(kPassphrase), cheap_options(), random_, clock_);
        ASSERT_TRUE(created) << created.error().message;
        vault_ = std::move(created->vault);
        auto c = vault_->create_case("Allocation failures", "", {});
        ASSERT_TRUE(c) << c.error().message;
        case_id_ = c->id;
        add_item(pattern_bytes(3000, 1));
    }

    void add_item(const std::vector<std::uint8_t>& bytes) {
        crypto::MemorySource src(bytes);
        ItemFields fields;
        fields.title = "first";
        auto id = vault_->ingest(case_id_, src, "first.bin", "application/octet-stream", fields);
        ASSERT_TRUE(id) << id.error().message;
        acknowledged_[*id] = bytes;
    }

    // Runs `op` with allocation k failing; says what happened and whether
    // allocation k was reached.
    static std::pair<Outcome, bool> with_failing_allocation(long k,
                                                            const std::function<bool()>& op) {
        g_fired.store(false);
        g_countdown.store(k);
        Outcome outcome = Outcome::threw;
        try {
            outcome = op() ? Outcome::ok : Outcome::error;
        } catch (const std::bad_alloc&) {
            outcome = Outcome::threw;
        }
        g_countdown.store(0);
        return {outcome, g_fired.load()};
    }

    void check_intact(const std::string& what) {
        SCOPED_TRACE(what);
        auto report = vault_->verify();
        ASSERT_TRUE(report) << report.error().message;
        for (const auto& p : report->problems) ADD_FAILURE() << p.what << ": " << p.message;
        for (const auto& [id, bytes] : acknowledged_) {
            Status s;
            const auto got = extract_all(*vault_, id, &s);
            EXPECT_TRUE(s) << "extract " << id << ": " << s.error().message;
            EXPECT_TRUE(got == bytes) << "item " << id << " changed";
        }
    }

    void check_reopens() {
        vault_.reset();
        auto reopened = Vault::open(dir_, secret(kPassphrase), random_, clock_);
        ASSERT_TRUE(reopened) << reopened.error().message;
        vault_ = std::move(*reopened);
        check_intact("reopened from disk");
    }

    // k = 1, 2, … until `op` no longer reaches allocation k. `op` returns
    // whether it succeeded; `after` records what a success acknowledged.
    void run_until_done(const std::string& name, const std::function<bool(long)>& op) {
        for (long k = 1;; ++k) {
            const auto [outcome, fired] = with_failing_allocation(k, [&] { return op(k); });
            const std::string what = name + " with allocation #" + std::to_string(k) + " failing";
            if (!fired) {
                EXPECT_EQ(outcome, Outcome::ok) << name << " fails without a failed allocation";
                check_intact(what);
                std::printf("%s: %ld allocations, each failed once\n", name.c_str(), k - 1);
                break;
            }
            ++failures_seen_;
            check_intact(what);
            if (::testing::Test::HasFatalFailure()) return;
            ASSERT_LT(k, 20000) << name << " allocates without end";
        }
        EXPECT_GT(failures_seen_, 0) << name << " never allocated";
        check_reopens();
    }

    fs::path out(long k) const {
        return tmp_.path() / ("export-" + std::to_string(k) + ".custodia");
    }

    custodia::testing::TempDir tmp_;
    fs::path dir_ = tmp_.path() / "vault";
    crypto::DeterministicRandom random_{7};
    FixedClock clock_{1'764'000'000'000, 1000, 0};
    std::unique_ptr<Vault> vault_;
    CaseId case_id_;
    std::map<ItemId, std::vector<std::uint8_t>> acknowledged_;
    int failures_seen_ = 0;
};

TEST_F(AllocFaults, IngestFailsCleanlyAtEachAllocation) {
    const auto bytes = pattern_bytes(5000, 2);
    std::optional<ItemId> added;
    run_until_done("ingest", [&](long) {
        crypto::MemorySource src(bytes);
        ItemFields fields;
        fields.title = "under allocation failure";
        auto id = vault_->ingest(case_id_, src, "second.bin", "application/octet-stream", fields);
        if (!id) return false;
        added = std::move(*id);  // a move: nothing to allocate while armed
        return true;
    });
    ASSERT_TRUE(added.has_value());
    acknowledged_[*added] = bytes;
    check_reopens();
}

TEST_F(AllocFaults, AddTestimonyFailsCleanlyAtEachAllocation) {
    const std::string text = "A testimony recorded while allocations fail.";
    std::optional<ItemId> added;
    run_until_done("add_testimony", [&](long) {
        ItemFields fields;
        fields.kind = ItemKind::testimony;
        fields.title = "testimony";
        auto id = vault_->add_testimony(case_id_, text, fields);
        if (!id) return false;
        added = std::move(*id);
        return true;
    });
    ASSERT_TRUE(added.has_value());
    acknowledged_[*added] = std::vector<std::uint8_t>(text.begin(), text.end());
    check_reopens();
}

// export_bundle builds its manifest with nlohmann::json, whose destructor
// allocates (json_value::destroy reserves a stack): an allocation failure
// there cannot be caught and terminates the process. So each export runs in
// a child process; a child that aborts is counted and reported, and what
// is checked is what a crash must not break: the vault verifies and nothing
// is left under the bundle's final names. A clean failure must also leave
// no temporary file.
TEST_F(AllocFaults, ExportFailsCleanlyOrAbortsHarmlesslyAtEachAllocation) {
    ExportOptions options;
    options.allow_without_consent = true;
    const bool full = std::getenv("CUSTODIA_FAULTS_FULL") != nullptr;
    // Child exit code: outcome (0 ok, 1 error, 2 threw) + 4 when allocation k
    // was reached; 8 when the vault did not open.
    auto run_child = [&](long k, const fs::path& path) -> int {
        vault_.reset();
        const pid_t pid = fork();
        if (pid == 0) {
            auto v = Vault::open(dir_, secret(kPassphrase), random_, clock_);
            if (!v) _exit(8);
            const auto [outcome, fired] = with_failing_allocation(k, [&] {
                return (*v)
                    ->export_bundle(case_id_, {}, {kRecipient}, false, path, {}, options)
                    .ok();
            });
            v->reset();
            _exit(static_cast<int>(outcome) + (fired ? 4 : 0));
        }
        int status = 0;
        EXPECT_EQ(waitpid(pid, &status, 0), pid);
        auto reopened = Vault::open(dir_, secret(kPassphrase), random_, clock_);
        EXPECT_TRUE(reopened) << reopened.error().message;
        if (reopened) vault_ = std::move(*reopened);
        if (WIFSIGNALED(status)) return -WTERMSIG(status);
        return WEXITSTATUS(status);
    };

    // How many allocations an export makes: a run with a countdown that
    // cannot reach zero. Every k is tried with CUSTODIA_FAULTS_FULL=1; in CI
    // the first 150 (opening, manifest, key wrapping) and 100 spread over the
    // rest (mostly the payload stream, one chunk after another).
    constexpr long kNever = 1L << 50;
    g_countdown.store(kNever);
    {
        auto counted =
            vault_->export_bundle(case_id_, {}, {kRecipient}, false, out(0), {}, options);
        ASSERT_TRUE(counted) << counted.error().message;
    }
    const long total = kNever - g_countdown.exchange(0);
    std::vector<long> ks;
    for (long k = 1; k <= total + 1; ++k)
        if (full || k <= 150 || k > total || (k - 150) % std::max(1L, (total - 150) / 100) == 0)
            ks.push_back(k);

    long aborted = 0;
    long clean = 0;
    for (const long k : ks) {
        const auto path = out(k);
        const fs::path envelope = path.string() + ".envelope";
        const int code = run_child(k, path);
        if (::testing::Test::HasFatalFailure() || vault_ == nullptr) return;
        SCOPED_TRACE("export_bundle with allocation #" + std::to_string(k) + " failing");
        ASSERT_NE(code, 8) << "the vault did not open in the child";
        check_intact("after the export");
        if (code == -SIGABRT) {
            ++aborted;
            EXPECT_FALSE(fs::exists(path) && !fs::exists(envelope)) << "bundle without envelope";
        } else {
            ASSERT_GE(code, 0) << "the child died of signal " << -code;
            const auto outcome = static_cast<Outcome>(code & 3);
            if (outcome == Outcome::ok) {
                EXPECT_TRUE(fs::exists(path) && fs::exists(envelope));
            } else {
                EXPECT_FALSE(fs::exists(path)) << "partial bundle";
                EXPECT_FALSE(fs::exists(envelope)) << "envelope of a failed export";
            }
            if ((code & 4) == 0) {
                EXPECT_EQ(outcome, Outcome::ok) << "export fails without a failed allocation";
                std::printf(
                    "export_bundle: %ld allocations; %ld failed cleanly, %ld aborted in "
                    "nlohmann::json\n",
                    k - 1, clean, aborted);
                break;
            }
            ++clean;
        }
        // Nothing but the vault, finished exports and (after an abort, as
        // after any crash) their temporary files.
        for (const auto& e : fs::directory_iterator(tmp_.path())) {
            if (e.path() == dir_) continue;
            const auto name = e.path().filename().string();
            const bool final_name = name.size() > 9 && (name.ends_with(".custodia") ||
                                                        name.ends_with(".custodia.envelope"));
            if (code == -SIGABRT && !final_name) {
                fs::remove(e.path());
                continue;
            }
            EXPECT_TRUE(final_name) << "left behind: " << name;
        }
    }
    EXPECT_GT(clean, 0);
    // Most allocation failures are reported, not fatal.
    EXPECT_LT(aborted, clean) << aborted << " aborts, " << clean << " clean failures";
    check_reopens();
}

}  // namespace
