// Disk full during ingest, on a real small file system: a 24 MiB tmpfs
// mounted by the test in a private mount namespace (`unshare -rm`, so it
// needs no privileges where user namespaces are enabled, and vanishes with
// the test). Every failure must be a clean error (exit 4), and the vault must
// stay intact: verify passes, acknowledged items extract, no temp blob stays.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace {

using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;

std::map<std::string, std::string> parse_results(const std::string& out) {
    std::map<std::string, std::string> r;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (line.rfind("R:", 0) == 0 && eq != std::string::npos)
            r[line.substr(2, eq - 2)] = line.substr(eq + 1);
    }
    return r;
}

TEST(CliDiskFull, IngestOnAFullDiskFailsCleanlyAndTheVaultStaysIntact) {
    ASSERT_EQ(run_shell("unshare -rm true 2>/dev/null").exit_code, 0)
        << "this test needs user and mount namespaces (unshare -rm)";
    TempDir dir;
    {
        std::ofstream script(dir / "scenario.sh");
        script << R"SH(
set -u
cli=$1; d=$2
mount -t tmpfs -o size=24m tmpfs "$d/fs" || { echo "R:mount=failed"; exit 0; }
export CUSTODIA_PASSPHRASE='disk full test passphrase' CUSTODIA_INSECURE_TEST_KDF=1
v="$d/fs/vault"
head -c 1048576 /dev/urandom > "$d/small.bin"
head -c 41943040 /dev/urandom > "$d/big.bin"
"$cli" --vault "$v" init --investigator tester >/dev/null 2>&1; echo "R:init=$?"
c=$("$cli" --vault "$v" case create "Disk full" 2>/dev/null | tail -1)
first=$("$cli" --vault "$v" add --case "$c" "$d/small.bin" 2>/dev/null | tail -1); echo "R:add_small=$?"
echo "R:first=$first"
"$cli" --vault "$v" add --case "$c" "$d/big.bin" >/dev/null 2>"$d/big.err"; echo "R:add_big=$?"
echo "R:big_err=$(tr '\n' ' ' < "$d/big.err")"
"$cli" --vault "$v" verify >/dev/null 2>&1; echo "R:verify_after_big=$?"
echo "R:tmp_blobs=$(find "$v/blobs" -name '*.tmp*' | wc -l)"
echo "R:items=$("$cli" --vault "$v" list --json 2>/dev/null | grep -o '"id"' | wc -l)"
# Now leave (almost) no room at all, and try a small add and a testimony.
head -c 30m /dev/zero > "$d/fs/filler" 2>/dev/null
"$cli" --vault "$v" add --case "$c" "$d/small.bin" >/dev/null 2>&1; echo "R:add_when_full=$?"
"$cli" --vault "$v" testimony --case "$c" --text "written while the disk is full" >/dev/null 2>&1; echo "R:testimony_when_full=$?"
rm -f "$d/fs/filler"
"$cli" --vault "$v" verify >/dev/null 2>&1; echo "R:verify_after_full=$?"
"$cli" --vault "$v" extract "$first" -o "$d/first.out" >/dev/null 2>&1; echo "R:extract_first=$?"
cmp -s "$d/small.bin" "$d/first.out"; echo "R:first_identical=$?"
# With room again, work goes on.
"$cli" --vault "$v" add --case "$c" "$d/small.bin" >/dev/null 2>&1; echo "R:add_after=$?"
"$cli" --vault "$v" verify >/dev/null 2>&1; echo "R:verify_end=$?"
)SH";
    }
    std::filesystem::create_directory(dir / "fs");
    auto r = run_shell("unshare -rm bash " + quote((dir / "scenario.sh").string()) + " " +
                       quote(CUSTODIA_CLI) + " " + quote(dir.path().string()));
    auto res = parse_results(r.out);
    ASSERT_NE(res["mount"], "failed") << "could not mount a tmpfs in the namespace";
    EXPECT_EQ(res["init"], "0");
    EXPECT_EQ(res["add_small"], "0");
    EXPECT_EQ(res["first"].size(), 32u) << "acknowledged id: " << res["first"];
    EXPECT_EQ(res["add_big"], "4") << "a full disk is an I/O failure";
    EXPECT_NE(res["big_err"].find("space"), std::string::npos) << res["big_err"];
    EXPECT_EQ(res["verify_after_big"], "0");
    EXPECT_EQ(res["tmp_blobs"], "0");
    EXPECT_EQ(res["items"], "1") << "the failed ingest must leave no item";
    EXPECT_EQ(res["add_when_full"], "4");
    EXPECT_EQ(res["testimony_when_full"], "4");
    EXPECT_EQ(res["verify_after_full"], "0");
    EXPECT_EQ(res["extract_first"], "0");
    EXPECT_EQ(res["first_identical"], "0");
    EXPECT_EQ(res["add_after"], "0");
    EXPECT_EQ(res["verify_end"], "0");
}

}  // namespace
