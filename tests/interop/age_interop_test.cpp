// Interop with Debian's `age` and `age-keygen`, both ways: files we write
// decrypt with `age -d`, files `age -e` writes decrypt with ours. Sizes sit on
// the STREAM chunk edges; one and three recipients.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

using namespace custodia;
using namespace custodia::crypto;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, std::span<const std::uint8_t> data) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

class AgeInterop : public ::testing::TestWithParam<std::size_t> {
  protected:
    void SetUp() override {
        ASSERT_EQ(
            run_shell("command -v age >/dev/null && command -v age-keygen >/dev/null").exit_code, 0)
            << "Debian's age is a declared test dependency (packaging/install-deps.sh)";
        plain.resize(GetParam());
        system_random().fill(plain);
        write_file(dir / "plain", plain);
        // Three identities made by age-keygen itself.
        for (int i = 0; i < 3; ++i) {
            auto key = dir / ("key" + std::to_string(i));
            ASSERT_EQ(run_shell("age-keygen -o " + quote(key.string()) + " 2>/dev/null").exit_code,
                      0);
            auto text = read_file(key);
            auto ids =
                age::parse_identity_file({reinterpret_cast<const char*>(text.data()), text.size()});
            ASSERT_TRUE(ids);
            recipients.push_back((*ids)[0].recipient());
            identities.push_back(std::move((*ids)[0]));
            // age-keygen -y must agree with the recipient we derive.
            auto y = run_shell("age-keygen -y " + quote(key.string()));
            ASSERT_EQ(y.exit_code, 0);
            EXPECT_EQ(y.out, recipients.back().to_string() + "\n");
        }
    }

    void encrypt_ours(std::span<const age::Recipient> to, const std::filesystem::path& out_path) {
        int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_GE(fd, 0);
        FdSink sink(fd);
        auto enc = age::Encryptor::create(sink, to, system_random());
        ASSERT_TRUE(enc);
        // Uneven writes, so chunking does not depend on how data arrives.
        std::span<const std::uint8_t> rest(plain);
        for (std::size_t step = 1; !rest.empty(); step = step * 3 + 7) {
            std::size_t n = std::min(step, rest.size());
            ASSERT_TRUE((*enc)->write(rest.first(n)));
            rest = rest.subspan(n);
        }
        ASSERT_TRUE((*enc)->finish());
        ::close(fd);
    }

    std::vector<std::uint8_t> decrypt_ours(const std::filesystem::path& in_path,
                                           std::size_t which) {
        int fd = ::open(in_path.c_str(), O_RDONLY);
        EXPECT_GE(fd, 0);
        FdSource src(fd);
        std::vector<age::Identity> ids;
        ids.push_back(std::move(*age::Identity::parse(identities[which].to_string().view())));
        auto dec = age::Decryptor::open(src, ids);
        EXPECT_TRUE(dec) << (dec ? "" : dec.error().message);
        VectorSink out;
        if (dec) {
            EXPECT_TRUE(copy_stream(**dec, out));
        }
        ::close(fd);
        return out.bytes();
    }

    TempDir dir;
    std::vector<std::uint8_t> plain;
    std::vector<age::Recipient> recipients;
    std::vector<age::Identity> identities;
};

TEST_P(AgeInterop, OursDecryptsWithAge_OneRecipient) {
    encrypt_ours(std::span(recipients).first(1), dir / "ours.age");
    auto r = run_shell("age -d -i " + quote((dir / "key0").string()) + " " +
                       quote((dir / "ours.age").string()) + " | sha256sum");
    ASSERT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out.substr(0, 64), to_hex(sha256(plain)));
}

TEST_P(AgeInterop, OursDecryptsWithAge_ThreeRecipients) {
    encrypt_ours(recipients, dir / "ours.age");
    for (int i = 0; i < 3; ++i) {
        auto r = run_shell("age -d -i " + quote((dir / ("key" + std::to_string(i))).string()) +
                           " " + quote((dir / "ours.age").string()) + " | sha256sum");
        ASSERT_EQ(r.exit_code, 0);
        EXPECT_EQ(r.out.substr(0, 64), to_hex(sha256(plain))) << "recipient " << i;
    }
}

TEST_P(AgeInterop, AgeOutputDecryptsWithOurs_OneRecipient) {
    auto cmd = "age -e -r " + recipients[0].to_string() + " -o " +
               quote((dir / "theirs.age").string()) + " " + quote((dir / "plain").string());
    ASSERT_EQ(run_shell(cmd).exit_code, 0);
    EXPECT_EQ(decrypt_ours(dir / "theirs.age", 0), plain);
}

TEST_P(AgeInterop, AgeOutputDecryptsWithOurs_ThreeRecipients) {
    std::string cmd = "age -e";
    for (const auto& r : recipients) cmd += " -r " + r.to_string();
    cmd += " -o " + quote((dir / "theirs.age").string()) + " " + quote((dir / "plain").string());
    ASSERT_EQ(run_shell(cmd).exit_code, 0);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(decrypt_ours(dir / "theirs.age", i), plain) << i;
}

TEST_P(AgeInterop, AgeRefusesOurFileTruncated) {
    // With more than one chunk, cut exactly before the final chunk (what a
    // reader without the final-chunk flag would accept); otherwise one byte.
    encrypt_ours(std::span(recipients).first(1), dir / "ours.age");
    auto file = read_file(dir / "ours.age");
    std::size_t cut = 1;
    if (plain.size() > kStreamChunkSize) {
        std::size_t last_chunk = (plain.size() - 1) / kStreamChunkSize;
        cut = (plain.size() - last_chunk * kStreamChunkSize) + 16;
    }
    file.resize(file.size() - cut);
    write_file(dir / "cut.age", file);
    auto r = run_shell("age -d -i " + quote((dir / "key0").string()) + " " +
                       quote((dir / "cut.age").string()) + " >/dev/null 2>&1");
    EXPECT_NE(r.exit_code, 0) << "Debian's age accepted a stream with its final chunk dropped";
}

INSTANTIATE_TEST_SUITE_P(Sizes, AgeInterop,
                         ::testing::Values(0, 1, 65535, 65536, 65537, 10 * 1024 * 1024),
                         [](const auto& size) { return "bytes_" + std::to_string(size.param); });

}  // namespace
