// Search within one case (Vault::search with a case filter): the filter is
// part of the SQL, so it applies before the limit, and it never leaks an item
// of another case.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "custodia/core/vault.h"
#include "support/temp_dir.h"
#include "support/vault_testing.h"

namespace {

using namespace custodia;
using namespace custodia::core;
using custodia::testing::cheap_options;
using custodia::testing::secret;

class VaultSearchTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = Vault::create(tmp.path() / "vault", secret("correct horse"), cheap_options(),
                                     random, clock);
        ASSERT_TRUE(created) << created.error().message;
        vault = std::move(created->vault);
        auto a = vault->create_case("River", "", {});
        auto b = vault->create_case("Market", "", {});
        ASSERT_TRUE(a && b);
        river = a->id;
        market = b->id;
    }
    ItemId testimony(const CaseId& c, const std::string& title, const std::string& text) {
        ItemFields f;
        f.kind = ItemKind::testimony;
        f.title = title;
        auto id = vault->add_testimony(c, text, f);
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : ItemId{};
    }

    custodia::testing::TempDir tmp;
    crypto::DeterministicRandom random{7};
    FixedClock clock{1'700'000'000'000, 1000, 0};
    std::unique_ptr<Vault> vault;
    CaseId river, market;
};

TEST_F(VaultSearchTest, CaseFilterReturnsOnlyThatCase) {
    const ItemId r1 = testimony(river, "Boat", "They took the boat near the bridge");
    testimony(market, "Stalls", "The stalls by the bridge burned");
    const ItemId r2 = testimony(river, "Beating", "Officers beat him at the bridge");

    auto all = vault->search("bridge", std::nullopt, 10);
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->size(), 3u);

    auto in_river = vault->search("bridge", river, 10);
    ASSERT_TRUE(in_river) << in_river.error().message;
    ASSERT_EQ(in_river->size(), 2u);
    EXPECT_EQ((*in_river)[0].id, r2) << "newest first";
    EXPECT_EQ((*in_river)[1].id, r1);
    for (const auto& item : *in_river) EXPECT_EQ(item.case_id, river);

    auto in_market = vault->search("boat", market, 10);
    ASSERT_TRUE(in_market);
    EXPECT_TRUE(in_market->empty()) << "a match in another case is not returned";
}

// The limit counts matches in the case, not matches in the whole vault:
// filtering after a vault-wide LIMIT would return nothing here.
TEST_F(VaultSearchTest, FilterAppliesBeforeTheLimit) {
    const ItemId old_river = testimony(river, "First", "curfew announced");
    for (int i = 0; i < 6; ++i)
        testimony(market, "Market " + std::to_string(i), "curfew at the market");
    auto found = vault->search("curfew", river, 3);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ((*found)[0].id, old_river);
    auto unfiltered = vault->search("curfew", 3);
    ASSERT_TRUE(unfiltered);
    EXPECT_EQ(unfiltered->size(), 3u);
    for (const auto& item : *unfiltered) EXPECT_EQ(item.case_id, market);
}

TEST_F(VaultSearchTest, MalformedCaseIdIsRefused) {
    testimony(river, "One", "words");
    auto r = vault->search("words", CaseId("not-an-id"), 10);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::malformed);
    // A well-formed id of no case matches nothing.
    auto none = vault->search("words", CaseId(std::string(32, '0')), 10);
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_TRUE(none->empty());
}

}  // namespace
