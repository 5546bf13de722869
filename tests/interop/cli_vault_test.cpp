// The vault verbs of custodia-cli, run as a user runs them, over real files
// in a private temporary directory. What is checked against independent
// tools: extracted files against the originals byte for byte and against
// Debian's sha256sum, the device key and the signed checkpoint against
// OpenSSL's Ed25519. Failure kinds are checked by their documented exit
// status (0 ok, 1 verification failed, 2 usage, 3 wrong passphrase or key,
// 4 other), and "nothing changed" by comparing every file of the vault.
//
// Vaults here are created with CUSTODIA_INSECURE_TEST_KDF=1 (libsodium's
// minimum Argon2id cost): the test-only switch the CLI documents.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "custodia/core/vault_header.h"
#include "custodia/crypto/random.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::testing::quote;
using custodia::testing::run_shell;
using custodia::testing::TempDir;
using nlohmann::json;

constexpr int kSuccess = 0;
constexpr int kVerificationFailed = 1;
constexpr int kUsage = 2;
constexpr int kWrongKey = 3;
constexpr int kFailure = 4;

const std::string kPassphrase = "correct horse battery staple";

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
    std::string bytes(size, '\0');
    custodia::crypto::DeterministicRandom random(seed);
    random.fill(std::span(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size()));
    return bytes;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        if (end == std::string::npos) {
            lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

std::string last_line(const std::string& text) {
    const auto lines = lines_of(text);
    return lines.empty() ? std::string() : lines.back();
}

bool is_id(const std::string& text) {
    return std::regex_match(text, std::regex("[0-9a-f]{32}"));
}

// Debian's sha256sum, not ours.
std::string sha256sum(const fs::path& path) {
    const auto run = run_shell("sha256sum " + quote(path.string()));
    EXPECT_EQ(run.exit_code, 0);
    return run.out.substr(0, 64);
}

// Every file under `dir` with its bytes.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            files[fs::relative(entry.path(), dir).string()] = read_text(entry.path());
        }
    }
    return files;
}

// The failed-unlock counter is the one file a wrong passphrase is meant to
// change (docs/FORMAT.md, "Failed unlocks"): counting is its whole job.
std::map<std::string, std::string> without_unlock_counter(
    std::map<std::string, std::string> files) {
    files.erase(std::string(custodia::core::kUnlockFailuresFileName));
    return files;
}

struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
};

class CliVault : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(fs::exists(CUSTODIA_CLI)) << CUSTODIA_CLI; }

    fs::path path(const std::string& name) const { return dir / name; }
    fs::path vault() const { return dir / "vault"; }

    // Runs custodia-cli with a clean environment for the variables it reads;
    // `env` adds assignments (NAME=value, shell-quoted by the caller).
    CliRun cli(const std::string& args, const std::optional<std::string>& passphrase = kPassphrase,
               const std::string& env = "", bool with_vault = true) const {
        std::string command =
            "env -u CUSTODIA_PASSPHRASE -u CUSTODIA_INSECURE_TEST_KDF -u XDG_DATA_HOME ";
        if (passphrase) {
            command += "CUSTODIA_PASSPHRASE=" + quote(*passphrase) + " ";
        }
        command += env + " " + quote(CUSTODIA_CLI) + " ";
        if (with_vault) {
            command += "--vault " + quote(vault().string()) + " ";
        }
        command += args + " </dev/null 2>" + quote(path("stderr").string());
        const auto result = run_shell(command);
        return CliRun{result.exit_code, result.out, read_text(path("stderr"))};
    }

    CliRun init() const {
        return cli("init --investigator 'Investigator A'", kPassphrase,
                   "CUSTODIA_INSECURE_TEST_KDF=1");
    }

    std::string create_case(const std::string& title = "Case one") const {
        const auto run = cli("case create " + quote(title));
        EXPECT_EQ(run.code, kSuccess) << run.err;
        const std::string id = last_line(run.out);
        EXPECT_TRUE(is_id(id)) << run.out;
        return id;
    }

    std::string add(const std::string& case_id, const fs::path& file,
                    const std::string& extra = "") const {
        const auto run = cli("add --case " + case_id + " " + extra + " " + quote(file.string()));
        EXPECT_EQ(run.code, kSuccess) << run.err;
        const std::string id = last_line(run.out);
        EXPECT_TRUE(is_id(id)) << run.out;
        return id;
    }

    json show(const std::string& item) const {
        const auto run = cli("show " + item + " --json");
        EXPECT_EQ(run.code, kSuccess) << run.err;
        return json::parse(run.out);
    }

    fs::path blob_file(const std::string& blob_id) const {
        for (const auto& entry : fs::recursive_directory_iterator(vault() / "blobs")) {
            if (entry.is_regular_file() && entry.path().filename() == blob_id) {
                return entry.path();
            }
        }
        ADD_FAILURE() << "no blob file named " << blob_id;
        return {};
    }

    TempDir dir;
};

// ---- init ----------------------------------------------------------------------------------

TEST_F(CliVault, InitPrintsRecoveryKeyThenDeviceKeyOnTheLastLine) {
    const auto run = init();
    ASSERT_EQ(run.code, kSuccess) << run.err;
    EXPECT_NE(run.err.find("WARNING: CUSTODIA_INSECURE_TEST_KDF=1"), std::string::npos)
        << "a vault with the test KDF must be announced loudly";

    // The recovery key: 14 groups of 4 Crockford base32 characters.
    std::smatch match;
    ASSERT_TRUE(std::regex_search(
        run.out, match,
        std::regex("\n    ((?:[0-9A-HJKMNP-TV-Z]{4}-){13}[0-9A-HJKMNP-TV-Z]{4})\n")))
        << run.out;
    EXPECT_NE(run.out.find("shown only this once"), std::string::npos);

    // The last line is the device key, the same one `identity` prints as a
    // minisign .pub file: "Ed" || key id (8) || Ed25519 key (32), in base64.
    const std::string device_key = last_line(run.out);
    ASSERT_TRUE(std::regex_match(device_key, std::regex("RW[A-Za-z0-9+/]{54}"))) << device_key;
    const auto identity = cli("identity");
    ASSERT_EQ(identity.code, kSuccess) << identity.err;
    const auto pub = lines_of(identity.out);
    ASSERT_EQ(pub.size(), 2u);
    EXPECT_EQ(pub[0].rfind("untrusted comment: minisign public key ", 0), 0u);
    EXPECT_EQ(pub[1], device_key);
    EXPECT_EQ(run_shell("printf '%s' " + quote(device_key) + " | base64 -d | head -c 2").out, "Ed");

    // The mode of the vault directory keeps other users out.
    struct stat st {};
    ASSERT_EQ(::stat(vault().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u);
}

TEST_F(CliVault, RecoveryKeyPrintedAtInitOpensTheVault) {
    const auto run = init();
    ASSERT_EQ(run.code, kSuccess) << run.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(run.out, match, std::regex("\n    ([0-9A-Z-]{69})\n")));
    write_text(path("recovery"), match[1].str() + "\n");
    const std::string case_id = create_case();

    const auto opened =
        cli("--recovery-key-file " + quote(path("recovery").string()) + " case list --json",
            std::nullopt);
    ASSERT_EQ(opened.code, kSuccess) << opened.err;
    EXPECT_EQ(json::parse(opened.out).at(0).at("id"), case_id);

    // A well-formed recovery key of another vault: wrong key, exit 3.
    custodia::crypto::DeterministicRandom other_random(7);
    const auto other = custodia::core::RecoveryKey::generate(other_random);
    write_text(path("other"), std::string(other.to_text().view()) + "\n");
    EXPECT_EQ(
        cli("--recovery-key-file " + quote(path("other").string()) + " list", std::nullopt).code,
        kWrongKey);
    // A typo is caught by the key's checksum: a usage error.
    std::string typo = match[1].str();
    typo[0] = typo[0] == 'A' ? 'B' : 'A';
    write_text(path("typo"), typo + "\n");
    EXPECT_EQ(
        cli("--recovery-key-file " + quote(path("typo").string()) + " list", std::nullopt).code,
        kUsage);
}

TEST_F(CliVault, InitRefusesAnExistingVaultAndIfMissingLeavesItAlone) {
    ASSERT_EQ(init().code, kSuccess);
    create_case();
    const auto before = snapshot(vault());

    const auto again = init();
    EXPECT_EQ(again.code, kFailure);
    EXPECT_EQ(again.err.rfind("custodia-cli: ", 0), 0u) << again.err;
    const auto if_missing = cli("init --if-missing", kPassphrase, "CUSTODIA_INSECURE_TEST_KDF=1");
    EXPECT_EQ(if_missing.code, kSuccess) << if_missing.err;
    EXPECT_NE(if_missing.out.find("nothing was changed"), std::string::npos);
    EXPECT_EQ(snapshot(vault()), before);

    // A new passphrase must have a minimum length; nothing is created.
    fs::remove_all(vault());
    EXPECT_EQ(cli("init", "short", "CUSTODIA_INSECURE_TEST_KDF=1").code, kUsage);
    EXPECT_FALSE(fs::exists(vault() / "vault.header"));
}

TEST_F(CliVault, DefaultVaultDirectoryFollowsXdgDataHomeThenHome) {
    const fs::path xdg = path("xdg");
    const auto status =
        cli("status --json", std::nullopt, "XDG_DATA_HOME=" + quote(xdg.string()), false);
    ASSERT_EQ(status.code, kSuccess) << status.err;
    EXPECT_EQ(json::parse(status.out).at("vault"), (xdg / "custodia").string());
    EXPECT_EQ(json::parse(status.out).at("exists"), false);

    const auto made =
        cli("init", kPassphrase,
            "CUSTODIA_INSECURE_TEST_KDF=1 XDG_DATA_HOME=" + quote(xdg.string()), false);
    ASSERT_EQ(made.code, kSuccess) << made.err;
    EXPECT_TRUE(fs::exists(xdg / "custodia" / "vault.header"));
    const auto after =
        cli("status --json", std::nullopt, "XDG_DATA_HOME=" + quote(xdg.string()), false);
    EXPECT_EQ(json::parse(after.out).at("exists"), true);

    // Without XDG_DATA_HOME: ~/.local/share/custodia, parents created.
    const fs::path home = path("home");
    fs::create_directory(home);
    const auto in_home = cli("init", kPassphrase,
                             "CUSTODIA_INSECURE_TEST_KDF=1 HOME=" + quote(home.string()), false);
    ASSERT_EQ(in_home.code, kSuccess) << in_home.err;
    EXPECT_TRUE(fs::exists(home / ".local" / "share" / "custodia" / "vault.header"));
    // A relative XDG_DATA_HOME is invalid by the XDG spec and ignored.
    const auto relative = cli("status --json", std::nullopt,
                              "HOME=" + quote(home.string()) + " XDG_DATA_HOME=rel", false);
    EXPECT_EQ(json::parse(relative.out).at("vault"),
              (home / ".local" / "share" / "custodia").string());
}

// ---- the evidence round trip ---------------------------------------------------------------

TEST_F(CliVault, AddedFilesExtractByteForByteAndMatchSha256sum) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case("Eastern district, 2024");

    // 0 bytes, 1 byte, 3 MiB (many blob chunks), a Unicode name and a name of
    // NAME_MAX (255) bytes made of two-byte characters.
    const std::string unicode_name = "témoignage – 证据 🎥.mp4";
    std::string long_name = "long-";
    while (long_name.size() + 2 + 4 <= 255) long_name += "é";
    long_name += ".bin";
    ASSERT_LE(long_name.size(), 255u);
    const std::vector<std::pair<std::string, std::string>> files = {
        {"empty.jpg", ""},
        {"one.txt", "x"},
        {"three-mib.wav", random_bytes(3 << 20, 1)},
        {unicode_name, random_bytes(70000, 2)},
        {long_name, random_bytes(1000, 3)},
    };
    std::string args;
    for (const auto& [name, bytes] : files) {
        write_text(path(name), bytes);
        args += " " + quote(path(name).string());
    }
    const auto added = cli("add --case " + case_id +
                           " --witness W-17 --consent oral-recorded "
                           "--consent-scope courts --consent-scope 'Org A' --lat -1.2921 --lon "
                           "36.8219 --accuracy 12.5 --language sw --tag market --tag night" +
                           args);
    ASSERT_EQ(added.code, kSuccess) << added.err;
    const auto ids = lines_of(added.out);
    ASSERT_EQ(ids.size(), files.size()) << "one id per file, one per line";
    for (const auto& id : ids) EXPECT_TRUE(is_id(id)) << id;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());

    write_text(path("statement.txt"), "The lorries came at night; nobody was allowed to leave.\n");
    const auto testimony = cli("testimony --case " + case_id + " --text-file " +
                               quote(path("statement.txt").string()) +
                               " --title 'Statement of W-17' --witness W-17 --language en");
    ASSERT_EQ(testimony.code, kSuccess) << testimony.err;
    const std::string testimony_id = last_line(testimony.out);
    ASSERT_TRUE(is_id(testimony_id));

    // list --json: every item, in capture order, with the metadata given.
    const auto list = cli("list --case " + case_id + " --json");
    ASSERT_EQ(list.code, kSuccess) << list.err;
    const json items = json::parse(list.out);
    ASSERT_EQ(items.size(), files.size() + 1);
    for (std::size_t i = 0; i < files.size(); ++i) {
        const json& item = items.at(i);
        EXPECT_EQ(item.at("id"), ids[i]);
        EXPECT_EQ(item.at("case_id"), case_id);
        EXPECT_EQ(item.at("attachment").at("original_name"), files[i].first);
        EXPECT_EQ(item.at("attachment").at("size"), files[i].second.size());
        EXPECT_EQ(item.at("witness"), "W-17");
        EXPECT_EQ(item.at("consent").at("type"), "oral_recorded");
        auto scope = item.at("consent").at("scope").get<std::vector<std::string>>();
        std::sort(scope.begin(), scope.end());
        EXPECT_EQ(scope, (std::vector<std::string>{"Org A", "courts"}));
        EXPECT_DOUBLE_EQ(item.at("location").at("lat").get<double>(), -1.2921);
        EXPECT_DOUBLE_EQ(item.at("location").at("lon").get<double>(), 36.8219);
        EXPECT_DOUBLE_EQ(item.at("location").at("accuracy_m").get<double>(), 12.5);
        EXPECT_EQ(item.at("tags"), json({"market", "night"}));
        EXPECT_EQ(item.at("capture").at("investigator"), "Investigator A");
    }
    EXPECT_EQ(items.at(0).at("kind"), "photo");
    EXPECT_EQ(items.at(0).at("attachment").at("mime_type"), "image/jpeg");
    EXPECT_EQ(items.at(2).at("kind"), "audio");
    EXPECT_EQ(items.at(3).at("kind"), "video");
    EXPECT_EQ(items.at(3).at("attachment").at("mime_type"), "video/mp4");
    EXPECT_EQ(items.at(4).at("attachment").at("mime_type"), "application/octet-stream");
    EXPECT_EQ(items.at(5).at("id"), testimony_id);
    EXPECT_EQ(items.at(5).at("kind"), "testimony");

    // Paging.
    const json page = json::parse(cli("list --offset 2 --limit 2 --json").out);
    ASSERT_EQ(page.size(), 2u);
    EXPECT_EQ(page.at(0).at("id"), ids[2]);
    EXPECT_EQ(page.at(1).at("id"), ids[3]);

    // search finds the testimony by a word of its text, and nothing else.
    const auto found = cli("search lorries --json");
    ASSERT_EQ(found.code, kSuccess) << found.err;
    const json hits = json::parse(found.out);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits.at(0).at("id"), testimony_id);
    EXPECT_TRUE(json::parse(cli("search zebra --json").out).empty());

    // show --json, extract: the original comes back byte for byte, and
    // Debian's sha256sum of it is the SHA-256 the device signed.
    for (std::size_t i = 0; i < files.size(); ++i) {
        const json shown = show(ids[i]);
        EXPECT_EQ(shown.at("signature_valid"), true);
        ASSERT_FALSE(shown.at("custody").empty());
        EXPECT_EQ(shown.at("custody").at(0).at("event"), "imported");
        const fs::path out = path("extracted-" + std::to_string(i));
        const auto extracted = cli("extract " + ids[i] + " -o " + quote(out.string()));
        ASSERT_EQ(extracted.code, kSuccess) << extracted.err;
        EXPECT_TRUE(read_text(out) == files[i].second) << files[i].first;
        EXPECT_EQ(sha256sum(out), shown.at("attachment").at("sha256")) << files[i].first;
        EXPECT_EQ(sha256sum(path(files[i].first)), shown.at("attachment").at("sha256"));
    }
    const fs::path text_out = path("testimony-out.txt");
    ASSERT_EQ(cli("extract " + testimony_id + " -o " + quote(text_out.string())).code, kSuccess);
    EXPECT_EQ(read_text(text_out), read_text(path("statement.txt")));

    // Human output names the signature status and the SHA-256.
    const auto human = cli("show " + ids[2]);
    ASSERT_EQ(human.code, kSuccess);
    EXPECT_NE(human.out.find("✓"), std::string::npos);
    EXPECT_NE(human.out.find(sha256sum(path("three-mib.wav"))), std::string::npos);

    const auto verify = cli("verify");
    EXPECT_EQ(verify.code, kSuccess) << verify.out << verify.err;
    const json report = json::parse(cli("verify --json").out);
    EXPECT_EQ(report.at("ok"), true);
    EXPECT_EQ(report.at("items_checked"), files.size() + 1);
}

TEST_F(CliVault, ExtractWritesAPrivateFileOnceAndIsLogged) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("photo.jpg"), random_bytes(5000, 4));
    const std::string id = add(case_id, path("photo.jpg"));

    const fs::path out = path("out.jpg");
    ASSERT_EQ(cli("extract " + id + " -o " + quote(out.string())).code, kSuccess);
    struct stat st {};
    ASSERT_EQ(::stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "extracted evidence is private to its owner";

    // An existing file is not replaced without --force.
    write_text(out, "precious");
    EXPECT_EQ(cli("extract " + id + " -o " + quote(out.string())).code, kUsage);
    EXPECT_EQ(read_text(out), "precious");
    ASSERT_EQ(cli("extract " + id + " -o " + quote(out.string()) + " --force").code, kSuccess);
    EXPECT_EQ(read_text(out), read_text(path("photo.jpg")));

    // Each extraction is a custody event of that item, in the log and in show.
    const json log = json::parse(cli("log --json").out);
    int extracted = 0;
    for (const auto& entry : log) {
        if (entry.at("event") == "extracted" && entry.at("item_id") == id) ++extracted;
    }
    EXPECT_EQ(extracted, 2);
    const json shown = show(id);
    EXPECT_EQ(shown.at("custody").back().at("event"), "extracted");

    // No temporary left next to the output.
    for (const auto& entry : fs::directory_iterator(dir.path())) {
        EXPECT_EQ(entry.path().filename().string().find("custodia-tmp"), std::string::npos);
    }
}

// ---- tampering -----------------------------------------------------------------------------

TEST_F(CliVault, FlippedByteInOneBlobFailsVerifyNamingThatItemOnly) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        write_text(path("f" + std::to_string(i)), random_bytes(200000, 10 + i));
        ids.push_back(add(case_id, path("f" + std::to_string(i))));
    }
    ASSERT_EQ(cli("verify").code, kSuccess);

    const std::string victim = ids[1];
    const fs::path blob = blob_file(show(victim).at("attachment").at("blob_id"));
    std::string bytes = read_text(blob);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    write_text(blob, bytes);

    const auto verify = cli("verify --json");
    EXPECT_EQ(verify.code, kVerificationFailed);
    const json report = json::parse(verify.out);
    EXPECT_EQ(report.at("ok"), false);
    ASSERT_FALSE(report.at("problems").empty());
    for (const auto& problem : report.at("problems")) {
        EXPECT_EQ(problem.at("item_id"), victim) << problem.dump();
    }
    const auto human = cli("verify");
    EXPECT_EQ(human.code, kVerificationFailed);
    EXPECT_NE(human.out.find("item " + victim), std::string::npos) << human.out;
    EXPECT_NE(human.err.find("verification failed"), std::string::npos) << human.err;

    // The damaged item does not extract (and leaves no file); the others do.
    EXPECT_EQ(cli("extract " + victim + " -o " + quote(path("victim").string())).code,
              kVerificationFailed);
    EXPECT_FALSE(fs::exists(path("victim")));
    for (int i : {0, 2}) {
        const fs::path out = path("out" + std::to_string(i));
        ASSERT_EQ(cli("extract " + ids[i] + " -o " + quote(out.string())).code, kSuccess);
        EXPECT_TRUE(read_text(out) == read_text(path("f" + std::to_string(i))));
    }
}

// ---- passphrases -----------------------------------------------------------------------------

TEST_F(CliVault, WrongPassphraseExitsThreeAndChangesNothing) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("doc.pdf"), random_bytes(100000, 5));
    const std::string id = add(case_id, path("doc.pdf"));
    const auto before = snapshot(vault());

    const std::string wrong = "correct horse battery stapler";
    // Four attempts: from the sixth consecutive failure on, the vault makes
    // the next attempt wait (docs/FORMAT.md, "Failed unlocks").
    const std::vector<std::string> verbs = {
        "list",
        "case create Other",
        "add --case " + case_id + " " + quote(path("doc.pdf").string()),
        "extract " + id + " -o " + quote(path("out").string()),
    };
    for (const auto& verb : verbs) {
        const auto run = cli(verb, wrong);
        EXPECT_EQ(run.code, kWrongKey) << verb;
        EXPECT_EQ(run.err.rfind("custodia-cli: ", 0), 0u) << run.err;
        EXPECT_EQ(run.err.find(wrong), std::string::npos) << "the passphrase leaked into an error";
        EXPECT_EQ(run.out, "") << verb;
    }
    const auto after = snapshot(vault());
    EXPECT_EQ(without_unlock_counter(after), without_unlock_counter(before))
        << "a wrong passphrase changed the vault";
    EXPECT_EQ(after.count(std::string(custodia::core::kUnlockFailuresFileName)), 1u)
        << "failed attempts are counted on disk";
    EXPECT_FALSE(fs::exists(path("out")));

    // The right passphrase still opens it, and the evidence is intact.
    EXPECT_EQ(cli("verify").code, kSuccess);
}

TEST_F(CliVault, PasswdReplacesThePassphraseAndKeepsTheRecoveryKey) {
    const auto made = init();
    ASSERT_EQ(made.code, kSuccess);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(made.out, match, std::regex("\n    ([0-9A-Z-]{69})\n")));
    write_text(path("recovery"), match[1].str());
    const std::string case_id = create_case();
    write_text(path("a.png"), random_bytes(1234, 6));
    const std::string id = add(case_id, path("a.png"));

    const std::string fresh = "a brand new passphrase";
    write_text(path("new"), fresh + "\n");
    const auto wrong_old =
        cli("passwd --new-passphrase-file " + quote(path("new").string()), "not the passphrase");
    EXPECT_EQ(wrong_old.code, kWrongKey);

    const auto changed = cli("passwd --new-passphrase-file " + quote(path("new").string()));
    ASSERT_EQ(changed.code, kSuccess) << changed.err;
    const auto old_again = cli("list");
    EXPECT_EQ(old_again.code, kWrongKey) << "the old passphrase still opens the vault";
    const auto with_new = cli("list --json", fresh);
    ASSERT_EQ(with_new.code, kSuccess) << with_new.err;
    EXPECT_EQ(json::parse(with_new.out).at(0).at("id"), id);
    EXPECT_EQ(
        cli("--recovery-key-file " + quote(path("recovery").string()) + " verify", std::nullopt)
            .code,
        kSuccess);
    // The change is a custody event.
    const json log = json::parse(cli("log --json", fresh).out);
    EXPECT_EQ(log.back().at("event"), "passphrase_changed");

    // The passphrase can come from a file too (trailing newline not part of it).
    write_text(path("pass"), fresh + "\n");
    EXPECT_EQ(cli("--passphrase-file " + quote(path("pass").string()) + " list", std::nullopt).code,
              kSuccess);
}

TEST_F(CliVault, ForgottenPassphraseIsReplacedWithTheRecoveryKey) {
    const auto made = init();
    ASSERT_EQ(made.code, kSuccess);
    std::smatch match;
    ASSERT_TRUE(std::regex_search(made.out, match, std::regex("\n    ([0-9A-Z-]{69})\n")));
    write_text(path("recovery"), match[1].str() + "\n");
    const std::string case_id = create_case();
    write_text(path("a.png"), random_bytes(4321, 16));
    const std::string id = add(case_id, path("a.png"));
    const std::string duress = "the duress words";
    write_text(path("duress"), duress + "\n");
    ASSERT_EQ(cli("duress set --duress-passphrase-file " + quote(path("duress").string())).code,
              kSuccess);
    const auto header_before = read_text(vault() / "vault.header");

    // Another vault's recovery key opens nothing and changes nothing.
    custodia::crypto::DeterministicRandom other_random(11);
    const auto other = custodia::core::RecoveryKey::generate(other_random);
    write_text(path("other"), std::string(other.to_text().view()) + "\n");
    const std::string fresh = "remembered this time";
    write_text(path("new"), fresh + "\n");
    EXPECT_EQ(cli("--recovery-key-file " + quote(path("other").string()) +
                      " passwd --new-passphrase-file " + quote(path("new").string()),
                  std::nullopt)
                  .code,
              kWrongKey);
    EXPECT_EQ(read_text(vault() / "vault.header"), header_before);

    const auto reset = cli("--recovery-key-file " + quote(path("recovery").string()) +
                               " passwd --new-passphrase-file " + quote(path("new").string()),
                           std::nullopt);
    ASSERT_EQ(reset.code, kSuccess) << reset.err;
    EXPECT_EQ(cli("list").code, kWrongKey) << "the forgotten passphrase still opens the vault";
    const auto with_new = cli("list --json", fresh);
    ASSERT_EQ(with_new.code, kSuccess) << with_new.err;
    EXPECT_EQ(json::parse(with_new.out).at(0).at("id"), id);
    // The duress slot was rewritten as a decoy: the old duress passphrase no
    // longer wipes anything, it is simply wrong.
    EXPECT_EQ(cli("list", duress).code, kWrongKey);
    EXPECT_EQ(cli("verify", fresh).code, kSuccess);
    // The recovery key keeps working, and the reset is a custody event.
    EXPECT_EQ(
        cli("--recovery-key-file " + quote(path("recovery").string()) + " list", std::nullopt).code,
        kSuccess);
    const json log = json::parse(cli("log --json", fresh).out);
    EXPECT_EQ(log.back().at("event"), "passphrase_changed");
    EXPECT_NE(log.back().dump().find("recovery key"), std::string::npos) << log.back().dump();
}

TEST_F(CliVault, DuressPassphraseDestroysTheEvidenceAndShowsAnEmptyVault) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("v.mp4"), random_bytes(30000, 8));
    add(case_id, path("v.mp4"));
    const std::string duress = "please do not hurt me";
    write_text(path("duress"), duress);
    const auto set = cli("duress set --duress-passphrase-file " + quote(path("duress").string()));
    ASSERT_EQ(set.code, kSuccess) << set.err;
    // Setting it is not in the custody log: whoever reads the log must not
    // learn that a duress passphrase exists.
    EXPECT_EQ(cli("log").out.find("duress"), std::string::npos);

    const auto coerced = cli("list --json", duress);
    ASSERT_EQ(coerced.code, kSuccess) << coerced.err;
    EXPECT_TRUE(json::parse(coerced.out).empty());
    EXPECT_TRUE(json::parse(cli("case list --json", duress).out).empty());
    EXPECT_EQ(cli("list", kPassphrase).code, kWrongKey);
}

TEST_F(CliVault, PassphraseTypedOnTheTerminalIsNotEchoed) {
    const std::string typed = "typed on a terminal 42";
    int master = -1;
    const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::unsetenv("CUSTODIA_PASSPHRASE");
        ::setenv("CUSTODIA_INSECURE_TEST_KDF", "1", 1);
        const std::string vault_arg = vault().string();
        ::execl(CUSTODIA_CLI, CUSTODIA_CLI, "--vault", vault_arg.c_str(), "init",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    // Answers each prompt once it appears: the CLI flushes input typed ahead
    // of a prompt, as passphrase prompts do.
    std::string seen;
    const std::vector<std::string> prompts = {"Passphrase: ", "Repeat it: "};
    std::size_t answered = 0;
    std::size_t search_from = 0;
    char buffer[4096];
    for (;;) {
        // A prompt that never comes must fail the test, not hang it.
        pollfd waiting{master, POLLIN, 0};
        if (::poll(&waiting, 1, 60'000) == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            ::close(master);
            FAIL() << "no prompt or exit within 60 s; the terminal showed:\n" << seen;
        }
        const ssize_t n = ::read(master, buffer, sizeof buffer);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            break;  // EIO once the child has closed the terminal
        }
        seen.append(buffer, static_cast<std::size_t>(n));
        if (answered < prompts.size() &&
            seen.find(prompts[answered], search_from) != std::string::npos) {
            const std::string line = typed + "\n";
            ASSERT_EQ(::write(master, line.data(), line.size()), static_cast<ssize_t>(line.size()));
            ++answered;
            search_from = seen.size();
        }
    }
    ::close(master);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), kSuccess) << seen;
    EXPECT_EQ(answered, prompts.size()) << seen;
    EXPECT_EQ(seen.find(typed), std::string::npos) << "the passphrase was echoed:\n" << seen;
    // What was typed is the passphrase.
    EXPECT_EQ(cli("list", typed).code, kSuccess);
    EXPECT_EQ(cli("list", typed + "x").code, kWrongKey);
}

// ---- the signed checkpoint, checked with OpenSSL ---------------------------------------------

TEST_F(CliVault, CheckpointSignatureVerifiesWithOpensslUnderTheIdentityKey) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("a.jpg"), random_bytes(4000, 9));
    add(case_id, path("a.jpg"));

    const auto checkpoint = cli("checkpoint");
    ASSERT_EQ(checkpoint.code, kSuccess) << checkpoint.err;
    const auto identity = cli("identity");
    ASSERT_EQ(identity.code, kSuccess);

    // A C2SP signed note: body, blank line, "— <name> <base64(keyid4 || sig64)>".
    const auto blank = checkpoint.out.find("\n\n");
    ASSERT_NE(blank, std::string::npos) << checkpoint.out;
    const std::string body = checkpoint.out.substr(0, blank + 1);
    const auto body_lines = lines_of(body);
    ASSERT_EQ(body_lines.size(), 3u) << "origin, tree size, root hash";
    const json log = json::parse(cli("log --json").out);
    EXPECT_EQ(body_lines[1], std::to_string(log.size())) << "the checkpoint covers the whole log";
    std::smatch sig;
    const std::string signature_line = checkpoint.out.substr(blank + 2);
    ASSERT_TRUE(std::regex_match(signature_line, sig,
                                 std::regex("\xE2\x80\x94 (\\S+) ([A-Za-z0-9+/=]+)\n")))
        << signature_line;
    EXPECT_EQ(sig[1].str(), body_lines[0]) << "signed under the log's origin";

    write_text(path("body"), body);
    write_text(path("sig.b64"), sig[2].str());
    write_text(path("pub.b64"), lines_of(identity.out).at(1));
    const std::string d = quote(dir.path().string());
    // minisign public key: "Ed" || key id (8) || Ed25519 public key (32).
    const auto prepare = run_shell(
        "cd " + d +
        " && base64 -d pub.b64 | tail -c 32 > pk.raw"
        " && (printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cat pk.raw)"
        " > pk.der && openssl pkey -pubin -inform DER -in pk.der -out pk.pem 2>/dev/null"
        " && base64 -d sig.b64 | tail -c 64 > sig.raw && base64 -d sig.b64 | head -c 4 > "
        "keyid.raw");
    ASSERT_EQ(prepare.exit_code, 0);
    const auto verified = run_shell("cd " + d +
                                    " && openssl pkeyutl -verify -pubin -inkey pk.pem -rawin "
                                    "-in body -sigfile sig.raw");
    EXPECT_EQ(verified.exit_code, 0) << verified.out;
    EXPECT_NE(verified.out.find("Signature Verified Successfully"), std::string::npos);

    // The note's key id: SHA-256(name || 0x0A || 0x01 || public key)[:4].
    const auto key_id = run_shell("cd " + d + " && (printf '%s\\n\\001' " + quote(sig[1].str()) +
                                  "; cat pk.raw) | sha256sum | head -c 8; echo; "
                                  "od -An -tx1 keyid.raw | tr -d ' \\n'");
    const auto ids = lines_of(key_id.out);
    ASSERT_EQ(ids.size(), 2u);
    EXPECT_EQ(ids[0], ids[1]);

    // One byte changed in the body: OpenSSL rejects it.
    write_text(path("body"),
               body.substr(0, body.size() - 2) + (body[body.size() - 2] == 'A' ? "B" : "A") + "\n");
    EXPECT_NE(run_shell("cd " + d +
                        " && openssl pkeyutl -verify -pubin -inkey pk.pem -rawin -in body "
                        "-sigfile sig.raw >/dev/null 2>&1")
                  .exit_code,
              0);
}

// ---- usage errors and wipe -------------------------------------------------------------------

TEST_F(CliVault, UsageErrorsExitTwoAndAddNothing) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("ok.jpg"), "fine");
    const std::size_t log_size = json::parse(cli("log --json").out).size();
    const std::string file = quote(path("ok.jpg").string());
    const std::vector<std::string> bad = {
        "add --case " + case_id,                                // no file
        "add " + file,                                          // no case
        "add --case nothex " + file,                            // malformed case id
        "add --case " + std::string(32, '0') + " " + file,      // unknown case
        "add --case " + case_id + " --lat 10 " + file,          // lat without lon
        "add --case " + case_id + " --lat 91 --lon 0 " + file,  // out of range
        "add --case " + case_id + " --kind selfie " + file,     // unknown kind
        "add --case " + case_id + " --consent maybe " + file,   // unknown consent
        "add --case " + case_id + " --derived-from " + std::string(32, 'a') + " " + file,
        "add --case " + case_id + " " + quote(dir.path().string()),       // a directory
        "testimony --case " + case_id,                                    // no text
        "testimony --case " + case_id + " --text a --text-file " + file,  // both
        "show " + std::string(32, 'b'),                                   // unknown item
        "show XYZ",                                                       // malformed item id
        "extract " + std::string(32, 'c') + " -o " + quote(path("x").string()),
        "list --limit 0",
        "case create",  // no title
        "case create T --recipient age1notarecipient",
        "case",
        "duress",
        "wipe",                                   // no --yes
        "--recovery-key-file " + file + " list",  // not a recovery key
    };
    for (const auto& args : bad) {
        const auto run = cli(args);
        EXPECT_EQ(run.code, kUsage) << args << "\n" << run.err;
        EXPECT_EQ(run.err.rfind("custodia-cli: ", 0), 0u) << args << "\n" << run.err;
    }
    EXPECT_EQ(json::parse(cli("log --json").out).size(), log_size) << "something was recorded";
    EXPECT_TRUE(json::parse(cli("list --json").out).empty());
    EXPECT_TRUE(fs::exists(vault() / "vault.header")) << "wipe without --yes destroyed the vault";

    // A file that cannot be read is an I/O failure, found before anything is added.
    EXPECT_EQ(
        cli("add --case " + case_id + " " + file + " " + quote(path("missing").string())).code,
        kFailure);
    EXPECT_TRUE(json::parse(cli("list --json").out).empty());

    // No vault at all: exit 4, and the message says how to create one.
    const auto none = run_shell(quote(CUSTODIA_CLI) + " --vault " + quote(path("none").string()) +
                                " list 2>/dev/null");
    EXPECT_EQ(none.exit_code, kFailure);
}

TEST_F(CliVault, TestimonyTextNeverAppearsInErrors) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string secret_words = "the commander's name was Zq9";
    // An unknown case: the command fails after reading the text.
    const auto run =
        cli("testimony --case " + std::string(32, '1') + " --text " + quote(secret_words));
    EXPECT_EQ(run.code, kUsage);
    EXPECT_EQ(run.err.find("Zq9"), std::string::npos) << run.err;
    // Not UTF-8: refused without quoting it.
    write_text(path("bad.txt"), "Zq9 \xFF\xFE");
    const auto bad = cli("testimony --case " + create_case() + " --text-file " +
                         quote(path("bad.txt").string()));
    EXPECT_EQ(bad.code, kUsage);
    EXPECT_EQ(bad.err.find("Zq9"), std::string::npos) << bad.err;
}

TEST_F(CliVault, WipeRemovesTheVault) {
    ASSERT_EQ(init().code, kSuccess);
    const std::string case_id = create_case();
    write_text(path("a.jpg"), random_bytes(3000, 11));
    add(case_id, path("a.jpg"));
    ASSERT_EQ(cli("list").code, kSuccess);

    // No passphrase is needed: a panic wipe must work for someone who
    // cannot type it.
    const auto wiped = cli("wipe --yes", std::nullopt);
    ASSERT_EQ(wiped.code, kSuccess) << wiped.err;
    EXPECT_FALSE(fs::exists(vault())) << "the vault directory is still there";
    const auto status = json::parse(cli("status --json", std::nullopt).out);
    EXPECT_EQ(status.at("exists"), false);
    EXPECT_EQ(cli("list").code, kFailure);

    // A directory that holds other files keeps them.
    ASSERT_EQ(init().code, kSuccess);
    write_text(vault() / "notes.txt", "mine");
    ASSERT_EQ(cli("wipe --yes", std::nullopt).code, kSuccess);
    EXPECT_EQ(read_text(vault() / "notes.txt"), "mine");
    EXPECT_FALSE(fs::exists(vault() / "vault.header"));
    EXPECT_FALSE(fs::exists(vault() / "vault.db"));
    EXPECT_FALSE(fs::exists(vault() / "blobs"));
}

}  // namespace
