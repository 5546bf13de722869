// Ingest memory stays bounded whatever the size of the content (DESIGN.md
// §9: ≤ 64 MiB RSS for a 4 GiB file). 256 MiB is streamed from a source that
// generates it; if ingest buffered the content, RSS would grow by about that.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "custodia/core/vault.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;

// kB of a "VmRSS:" / "VmHWM:" line in /proc/self/status.
std::int64_t status_kib(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field, 0) == 0) return std::stoll(line.substr(field.size()));
    return -1;
}

// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where not allowed.
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

class GeneratedSource final : public crypto::ByteSource {
  public:
    explicit GeneratedSource(std::uint64_t size) : left_(size) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), left_));
        for (std::size_t i = 0; i < n; ++i) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            out[i] = static_cast<std::uint8_t>(state_);
        }
        left_ -= n;
        return n;
    }

  private:
    std::uint64_t left_;
    std::uint64_t state_ = 0x9E3779B97F4A7C15ull;
};

TEST(VaultMemory, Ingesting256MiBGrowsRssByLessThan64MiB) {
    custodia::testing::TempDir tmp;
    crypto::DeterministicRandom random(1);
    FixedClock clock(1'700'000'000'000);
    auto created = Vault::create(tmp.path() / "vault", custodia::testing::secret("p"),
                                 custodia::testing::cheap_options(), random, clock);
    ASSERT_TRUE(created) << created.error().message;
    auto& vault = *created->vault;
    auto c = vault.create_case("Case", "", {});
    ASSERT_TRUE(c);

    const std::int64_t baseline = status_kib("VmRSS:");
    ASSERT_GT(baseline, 0);
    const bool peak_reset = reset_peak_rss();
    std::int64_t sampled_peak = baseline;
    Progress progress;
    progress.report = [&](std::uint64_t, std::uint64_t) {
        sampled_peak = std::max(sampled_peak, status_kib("VmRSS:"));
    };
    constexpr std::uint64_t kSize = 256ull << 20;
    GeneratedSource source(kSize);
    auto id =
        vault.ingest(c->id, source, "generated.bin", "application/octet-stream", {}, progress);
    ASSERT_TRUE(id) << id.error().message;
    const std::int64_t peak =
        peak_reset ? std::max(status_kib("VmHWM:"), sampled_peak) : sampled_peak;
    EXPECT_LT(peak - baseline, 64 * 1024)
        << "baseline " << baseline << " KiB, peak " << peak << " KiB";
    std::cout << "RSS growth while ingesting 256 MiB: " << (peak - baseline) / 1024 << " MiB ("
              << (peak_reset ? "VmHWM" : "sampled VmRSS") << ")\n";
    auto item = vault.get_item(*id);
    ASSERT_TRUE(item);
    EXPECT_EQ(item->attachment->size, kSize);
}

}  // namespace
