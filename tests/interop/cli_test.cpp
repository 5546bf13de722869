// custodia-cli as a user runs it, checked against Debian's age and
// age-keygen: key files interchange both ways, files interchange both ways,
// and each kind of failure gives its documented exit status (see
// `custodia-cli --help`) without leaving a partial output file behind.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "custodia/crypto/age.h"
#include "custodia/crypto/random.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
namespace age = custodia::crypto::age;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;

// The documented exit statuses.
constexpr int kSuccess = 0;
constexpr int kVerificationFailed = 1;
constexpr int kUsage = 2;
constexpr int kWrongKey = 3;
constexpr int kFailure = 4;

std::string cli() {
    return quote(CUSTODIA_CLI);
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

void write_random(const fs::path& path, std::size_t size, std::uint64_t seed) {
    std::string bytes(size, '\0');
    custodia::crypto::DeterministicRandom random(seed);
    random.fill(std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()));
    write_text(path, bytes);
}

// Files in `dir` other than those expected: temporaries left behind show up here.
std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

class Cli : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::exists(CUSTODIA_CLI)) << CUSTODIA_CLI;
        ASSERT_EQ(
            run_shell("command -v age >/dev/null && command -v age-keygen >/dev/null").exit_code, 0)
            << "Debian's age is a declared test dependency (packaging/install-deps.sh)";
    }

    fs::path path(const std::string& name) const { return dir / name; }
    std::string q(const std::string& name) const { return quote(path(name).string()); }

    // Makes a key with Debian's age-keygen and returns its recipient.
    std::string age_keygen(const std::string& name) {
        EXPECT_EQ(run_shell("age-keygen -o " + q(name) + " 2>/dev/null").exit_code, 0);
        const auto y = run_shell("age-keygen -y " + q(name));
        EXPECT_EQ(y.exit_code, 0);
        return y.out.substr(0, y.out.find('\n'));
    }

    TempDir dir;
};

TEST_F(Cli, KeygenFileIsAnAgeKeygenIdentityFile) {
    const auto run = run_shell(cli() + " keygen -o " + q("key") + " 2>" + q("stderr"));
    ASSERT_EQ(run.exit_code, kSuccess);

    // age-keygen's layout, line by line.
    const std::string text = read_text(path("key"));
    const std::regex layout(
        "# created: \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z\n"
        "# public key: (age1[02-9ac-hj-np-z]{58})\n"
        "AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}\n");
    std::smatch match;
    ASSERT_TRUE(std::regex_match(text, match, layout)) << "identity file layout differs";
    const std::string public_key_comment = match[1];

    // The recipient printed is the one age-keygen derives from the secret.
    const auto y = run_shell("age-keygen -y " + q("key"));
    ASSERT_EQ(y.exit_code, 0);
    EXPECT_EQ(run.out, y.out);
    EXPECT_EQ(y.out, public_key_comment + "\n");
    EXPECT_EQ(read_text(path("stderr")), "Public key: " + public_key_comment + "\n");

    struct stat st {};
    ASSERT_EQ(::stat(path("key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "an identity file must be private to its owner";
}

TEST_F(Cli, KeygenWithoutOutputWritesTheIdentityFileToStdout) {
    const auto run = run_shell(cli() + " keygen 2>/dev/null");
    ASSERT_EQ(run.exit_code, kSuccess);
    write_text(path("key"), run.out);
    const auto y = run_shell("age-keygen -y " + q("key"));
    ASSERT_EQ(y.exit_code, 0) << "age-keygen cannot read what keygen printed";
    EXPECT_NE(run.out.find("# public key: " + y.out), std::string::npos);
}

TEST_F(Cli, RecipientOfAgeKeygenKeyMatchesAgeKeygenY) {
    const std::string expected = age_keygen("key");
    const auto from_file = run_shell(cli() + " recipient -i " + q("key"));
    ASSERT_EQ(from_file.exit_code, kSuccess);
    EXPECT_EQ(from_file.out, expected + "\n");

    const auto from_stdin = run_shell(cli() + " recipient -i - <" + q("key"));
    ASSERT_EQ(from_stdin.exit_code, kSuccess);
    EXPECT_EQ(from_stdin.out, expected + "\n");
}

TEST_F(Cli, RecipientPrintsOneLinePerIdentity) {
    const std::string first = age_keygen("a");
    const std::string second = age_keygen("b");
    write_text(path("both"), read_text(path("a")) + "\n" + read_text(path("b")));
    const auto run = run_shell(cli() + " recipient -i " + q("both"));
    ASSERT_EQ(run.exit_code, kSuccess);
    EXPECT_EQ(run.out, first + "\n" + second + "\n");
}

TEST_F(Cli, KeygenRefusesToOverwriteAnExistingFile) {
    write_text(path("key"), "precious\n");
    const auto run = run_shell(cli() + " keygen -o " + q("key") + " 2>" + q("stderr"));
    EXPECT_EQ(run.exit_code, kFailure);
    EXPECT_EQ(read_text(path("key")), "precious\n");
    EXPECT_EQ(read_text(path("stderr")).rfind("custodia-cli: ", 0), 0u);
}

TEST_F(Cli, UsageErrorsExitTwo) {
    const std::string recipient = age_keygen("key");
    write_text(path("plain"), "x");
    const std::vector<std::string> bad_command_lines = {
        "",                                             // no verb
        "frobnicate",                                   // unknown verb
        "keygen --no-such-option",                      // unknown option
        "keygen -o",                                    // option without its value
        "encrypt " + q("plain"),                        // no recipient
        "encrypt -r not-a-recipient " + q("plain"),     // recipient does not parse
        "encrypt -r " + recipient + " a b",             // two inputs
        "decrypt " + q("plain"),                        // no identity
        "decrypt -i - -o " + q("out"),                  // identity and input both stdin
        "decrypt -i " + q("plain") + " " + q("plain"),  // identity file is not one
        "recipient",                                    // no identity
    };
    for (const auto& args : bad_command_lines) {
        const auto run = run_shell(cli() + " " + args + " </dev/null >/dev/null 2>" + q("stderr"));
        EXPECT_EQ(run.exit_code, kUsage) << args;
        EXPECT_EQ(read_text(path("stderr")).rfind("custodia-cli: ", 0), 0u) << args;
    }
    EXPECT_FALSE(fs::exists(path("out")));
}

TEST_F(Cli, HelpListsTheExitStatuses) {
    const auto run = run_shell(cli() + " --help");
    ASSERT_EQ(run.exit_code, kSuccess);
    for (const char* line : {"0  success", "1  verification failed", "2  usage error",
                             "3  wrong passphrase or key", "4  I/O or other failure"}) {
        EXPECT_NE(run.out.find(line), std::string::npos) << line;
    }
}

TEST_F(Cli, EncryptedFileDecryptsWithAge) {
    const std::string ours = age_keygen("key1");
    const std::string other = age_keygen("key2");
    // Three full STREAM chunks and a partial one.
    write_random(path("plain"), 3 * 65536 + 1234, 1);
    // The input right after a repeatable option: it must not be taken as a recipient.
    ASSERT_EQ(run_shell(cli() + " encrypt -o " + q("file.age") + " -r " + ours + " -r " + other +
                        " " + q("plain"))
                  .exit_code,
              kSuccess);
    for (const char* key : {"key1", "key2"}) {
        ASSERT_EQ(
            run_shell("age -d -i " + q(key) + " -o " + q("back") + " " + q("file.age")).exit_code,
            0)
            << key;
        EXPECT_EQ(read_text(path("back")), read_text(path("plain"))) << key;
        fs::remove(path("back"));
    }
}

TEST_F(Cli, EncryptFromStdinToStdoutDecryptsWithAge) {
    const std::string recipient = age_keygen("key");
    write_random(path("plain"), 65536, 2);  // exactly one full chunk
    ASSERT_EQ(
        run_shell(cli() + " encrypt -r " + recipient + " <" + q("plain") + " >" + q("file.age"))
            .exit_code,
        kSuccess);
    const auto back = run_shell("age -d -i " + q("key") + " " + q("file.age"));
    ASSERT_EQ(back.exit_code, 0);
    EXPECT_EQ(back.out, read_text(path("plain")));
}

TEST_F(Cli, EmptyInputRoundTripsThroughAge) {
    const std::string recipient = age_keygen("key");
    write_text(path("empty"), "");
    ASSERT_EQ(
        run_shell(cli() + " encrypt -r " + recipient + " -o " + q("file.age") + " " + q("empty"))
            .exit_code,
        kSuccess);
    const auto back = run_shell("age -d -i " + q("key") + " " + q("file.age"));
    ASSERT_EQ(back.exit_code, 0);
    EXPECT_EQ(back.out, "");
}

TEST_F(Cli, AgeEncryptedFileDecrypts) {
    const std::string recipient = age_keygen("key");
    write_random(path("plain"), 2 * 65536 + 17, 3);
    ASSERT_EQ(
        run_shell("age -e -r " + recipient + " -o " + q("file.age") + " " + q("plain")).exit_code,
        0);
    // To a file...
    ASSERT_EQ(
        run_shell(cli() + " decrypt -o " + q("back") + " -i " + q("key") + " " + q("file.age"))
            .exit_code,
        kSuccess);
    EXPECT_EQ(read_text(path("back")), read_text(path("plain")));
    struct stat st {};
    ASSERT_EQ(::stat(path("back").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u) << "decrypted evidence must not be readable by others";
    // ...and from stdin to stdout.
    const auto piped = run_shell(cli() + " decrypt -i " + q("key") + " <" + q("file.age"));
    ASSERT_EQ(piped.exit_code, kSuccess);
    EXPECT_EQ(piped.out, read_text(path("plain")));
}

TEST_F(Cli, DecryptWithWrongIdentityExitsThreeAndWritesNothing) {
    const std::string recipient = age_keygen("right");
    age_keygen("wrong");
    write_random(path("plain"), 1000, 4);
    ASSERT_EQ(
        run_shell("age -e -r " + recipient + " -o " + q("file.age") + " " + q("plain")).exit_code,
        0);
    const auto before = entries(dir.path());
    const auto run = run_shell(cli() + " decrypt -i " + q("wrong") + " -o " + q("out") + " " +
                               q("file.age") + " 2>" + q("stderr"));
    EXPECT_EQ(run.exit_code, kWrongKey);
    fs::remove(path("stderr"));
    EXPECT_EQ(entries(dir.path()), before) << "no output and no temporary may remain";
}

// Each case damages an age-made file in one place; decrypt must exit 1 and
// leave neither the output nor a temporary file behind.
struct Tamper {
    const char* name;
    void (*apply)(std::string& file);
};

std::size_t payload_offset(const std::string& file) {
    // The header ends with the line "--- <43 base64 chars>\n"; a 16-byte nonce follows.
    return file.find("\n--- ") + 5 + 43 + 1 + 16;
}

const Tamper kTampers[] = {
    {"flip_byte_in_payload_chunk_2",
     [](std::string& f) { f[payload_offset(f) + 65536 + 16 + 100] ^= 0x01; }},
    {"flip_byte_in_header_mac", [](std::string& f) { f[f.find("\n--- ") + 10] ^= 0x01; }},
    {"drop_final_chunk", [](std::string& f) { f.resize(payload_offset(f) + 2 * (65536 + 16)); }},
    {"truncate_inside_last_tag", [](std::string& f) { f.resize(f.size() - 5); }},
    {"append_trailing_garbage", [](std::string& f) { f += "garbage"; }},
};

class CliTamper : public Cli, public ::testing::WithParamInterface<Tamper> {};

TEST_P(CliTamper, DecryptExitsOneAndLeavesNoOutput) {
    const std::string recipient = age_keygen("key");
    write_random(path("plain"), 2 * 65536 + 500, 5);
    ASSERT_EQ(
        run_shell("age -e -r " + recipient + " -o " + q("file.age") + " " + q("plain")).exit_code,
        0);
    std::string file = read_text(path("file.age"));
    GetParam().apply(file);
    write_text(path("file.age"), file);

    const auto before = entries(dir.path());
    const auto run = run_shell(cli() + " decrypt -i " + q("key") + " -o " + q("out") + " " +
                               q("file.age") + " 2>" + q("stderr"));
    EXPECT_EQ(run.exit_code, kVerificationFailed);
    EXPECT_EQ(read_text(path("stderr")).rfind("custodia-cli: decrypt ", 0), 0u);
    EXPECT_EQ(read_text(path("stderr")).find("AGE-SECRET-KEY"), std::string::npos);
    fs::remove(path("stderr"));
    EXPECT_FALSE(fs::exists(path("out")));
    EXPECT_EQ(entries(dir.path()), before) << "no output and no temporary may remain";
}

INSTANTIATE_TEST_SUITE_P(AgeFile, CliTamper, ::testing::ValuesIn(kTampers),
                         [](const auto& test_info) { return std::string(test_info.param.name); });

TEST_F(Cli, FailedDecryptKeepsAnExistingOutputFileUnchanged) {
    const std::string recipient = age_keygen("key");
    write_random(path("plain"), 70000, 6);
    ASSERT_EQ(
        run_shell("age -e -r " + recipient + " -o " + q("file.age") + " " + q("plain")).exit_code,
        0);
    std::string file = read_text(path("file.age"));
    file[file.size() - 1] ^= 0x01;  // last tag
    write_text(path("file.age"), file);
    write_text(path("out"), "earlier output\n");
    EXPECT_EQ(run_shell(cli() + " decrypt -i " + q("key") + " -o " + q("out") + " " +
                        q("file.age") + " 2>/dev/null")
                  .exit_code,
              kVerificationFailed);
    EXPECT_EQ(read_text(path("out")), "earlier output\n");
}

TEST_F(Cli, EncryptToMissingDirectoryExitsFour) {
    const std::string recipient = age_keygen("key");
    write_text(path("plain"), "x");
    EXPECT_EQ(run_shell(cli() + " encrypt -r " + recipient + " -o " + q("no/such/dir/out") + " " +
                        q("plain") + " 2>/dev/null")
                  .exit_code,
              kFailure);
    EXPECT_EQ(run_shell(cli() + " encrypt -r " + recipient + " -o " + q("out") + " " +
                        q("missing-input") + " 2>/dev/null")
                  .exit_code,
              kFailure);
    EXPECT_FALSE(fs::exists(path("out")));
}

}  // namespace
