// A vault with a case of three items, driven through custodia-cli, and the
// forger's toolbox for its bundles: Debian's age, tar and zstd to unpack and
// re-seal, sha256sum to re-list, and a manifest re-written in canonical form
// (what a forger holding the NGO's key but not the device key can do).
//
// Vaults are created with CUSTODIA_INSECURE_TEST_KDF=1 (libsodium's minimum
// Argon2id cost), the test-only switch the CLI documents.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace custodia::testing {

namespace bundle_cli {

namespace fs = std::filesystem;
using nlohmann::json;

inline std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

inline std::string last_line(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const auto nl = t.rfind('\n');
    return nl == std::string::npos ? t : t.substr(nl + 1);
}

inline bool is_id(const std::string& text) {
    return std::regex_match(text, std::regex("[0-9a-f]{32}"));
}

// The first field of `sha256sum`'s output: computed by coreutils, not by us.
inline std::string sha256sum_of(const fs::path& file) {
    return run_shell("sha256sum " + quote(file.string())).out.substr(0, 64);
}

struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
};

class BundleCliTest : public ::testing::Test {
  protected:
    static constexpr const char* kPassphrase = "correct horse battery staple";
    static constexpr const char* kHostileTitle = "<script>alert(1)</script>";

    void SetUp() override {
        ASSERT_TRUE(fs::exists(CUSTODIA_CLI)) << CUSTODIA_CLI;
        ASSERT_EQ(run_shell("command -v age age-keygen minisign tar sha256sum zstd >/dev/null 2>&1")
                      .exit_code,
                  0)
            << "age, age-keygen, minisign, tar and zstd are declared test dependencies "
               "(packaging/install-deps.sh)";
        ASSERT_EQ(cli("init --investigator 'Investigator A'").code, 0);
        case_id = last_line(cli("case create 'Case <img src=x onerror=alert(2)>'").out);
        ASSERT_TRUE(is_id(case_id));

        write_text(path("photo.jpg"), std::string(40'000, 'p'));
        write_text(path("report.pdf"), std::string(30'000, 'r'));
        const auto photo =
            cli("add --case " + case_id + " --consent written --consent-scope courts --title " +
                quote(kHostileTitle) +
                " --witness 'W-7 \"><b>x' --lat 48.85 --lon 2.35 --accuracy 12 "
                "--language fr --tag night --tag '<i>' " +
                quote(path("photo.jpg").string()));
        ASSERT_EQ(photo.code, 0) << photo.err;
        photo_id = last_line(photo.out);
        const auto doc = cli("add --case " + case_id + " --consent written --title 'Report' " +
                             quote(path("report.pdf").string()));
        ASSERT_EQ(doc.code, 0) << doc.err;
        const auto testimony = cli("testimony --case " + case_id +
                                   " --consent oral-recorded --text 'They came at night.'");
        ASSERT_EQ(testimony.code, 0) << testimony.err;

        ASSERT_EQ(run_shell("age-keygen -o " + quote(path("key.txt").string()) + " 2>/dev/null")
                      .exit_code,
                  0);
        recipient = last_line(run_shell("age-keygen -y " + quote(path("key.txt").string())).out);
        const auto identity = cli("identity");
        ASSERT_EQ(identity.code, 0);
        write_text(path("device.pub"), identity.out);
        device_key_line = last_line(identity.out);
    }

    fs::path path(const std::string& name) const { return dir.path() / name; }

    CliRun cli(const std::string& args, bool with_vault = true) const {
        std::string command =
            "env -u XDG_DATA_HOME CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=" +
            quote(kPassphrase) + " " + quote(CUSTODIA_CLI) + " ";
        if (with_vault) command += "--vault " + quote(path("vault").string()) + " ";
        command += args + " </dev/null 2>" + quote(path("stderr").string());
        const auto result = run_shell(command);
        return CliRun{result.exit_code, result.out, read_text(path("stderr"))};
    }

    fs::path export_bundle(const std::string& name, const std::string& extra = "") const {
        const auto run = cli("export --case " + case_id + " --to " + recipient + " " + extra +
                             " -o " + quote(path(name).string()));
        EXPECT_EQ(run.code, 0) << run.err;
        EXPECT_TRUE(is_id(last_line(run.out))) << run.out;
        return path(name);
    }

    // age -d | tar --zstd -x, as docs/VERIFY.md tells an expert to.
    fs::path unpack(const fs::path& bundle, const std::string& name) const {
        const fs::path out = path(name);
        fs::create_directory(out);
        const auto r =
            run_shell("age -d -i " + quote(path("key.txt").string()) + " " +
                      quote(bundle.string()) + " | tar --zstd -xf - -C " + quote(out.string()));
        EXPECT_EQ(r.exit_code, 0);
        return out;
    }

    // The decrypted, decompressed tar: every byte the recipient can read.
    std::string plaintext_tar(const fs::path& bundle) const {
        return run_shell("age -d -i " + quote(path("key.txt").string()) + " " +
                         quote(bundle.string()) + " | zstd -dc")
            .out;
    }

    // Re-packs an unpacked folder in bundle order with GNU tar, zstd and age
    // to the same recipient. No envelope: the forger cannot sign one.
    fs::path reseal(const fs::path& unpacked, const std::string& name) const {
        std::vector<std::string> paths = {"manifest.json", "manifest.json.minisig", "SHA256SUMS"};
        std::vector<std::string> rest;
        for (const auto& e : fs::recursive_directory_iterator(unpacked)) {
            if (!e.is_regular_file()) continue;
            const auto rel = fs::relative(e.path(), unpacked).generic_string();
            if (std::find(paths.begin(), paths.end(), rel) == paths.end()) rest.push_back(rel);
        }
        std::sort(rest.begin(), rest.end());
        paths.insert(paths.end(), rest.begin(), rest.end());
        std::string list;
        for (const auto& p : paths) list += p + '\n';
        write_text(path(name + ".list"), list);
        const fs::path out = path(name);
        const auto r =
            run_shell("tar --format=pax --no-recursion -C " + quote(unpacked.string()) +
                      " -cf - -T " + quote(path(name + ".list").string()) +
                      " | zstd -1 -q | age -r " + recipient + " > " + quote(out.string()));
        EXPECT_EQ(r.exit_code, 0);
        return out;
    }

    // What a forger does after editing files: SHA256SUMS listed again by
    // sha256sum, and the manifest's custody list, attachment hashes and
    // "sha256sums" made to match, in canonical JSON (nlohmann sorts keys and
    // writes no whitespace). The signature cannot be redone without the
    // device key, so manifest.json.minisig stays as it was.
    static void relist(const fs::path& unpacked) {
        ASSERT_EQ(run_shell("cd " + quote(unpacked.string()) +
                            " && find custody files -type f | LC_ALL=C sort | xargs sha256sum "
                            "> SHA256SUMS")
                      .exit_code,
                  0);
        std::map<std::string, std::string> sums;
        std::istringstream lines(read_text(unpacked / "SHA256SUMS"));
        for (std::string line; std::getline(lines, line);)
            sums[line.substr(66)] = line.substr(0, 64);
        json m = json::parse(read_text(unpacked / "manifest.json"));
        json custody = json::array();
        for (const auto& [p, h] : sums)
            if (p.starts_with("custody/"))
                custody.push_back(
                    {{"path", p}, {"sha256", h}, {"size", fs::file_size(unpacked / p)}});
        m["custody"]["files"] = custody;
        for (auto& item : m["items"])
            if (item.contains("attachment")) {
                const std::string p = item["attachment"]["path"];
                if (sums.contains(p)) item["attachment"]["sha256"] = sums[p];
            }
        m["sha256sums"] = sha256sum_of(unpacked / "SHA256SUMS");
        write_text(unpacked / "manifest.json", m.dump() + "\n");
    }

    // `verify PATH --json` with the trusted device key; exit code and report.
    std::pair<int, json> verify_json(const fs::path& target, bool with_key = true) const {
        std::string args = "verify " + quote(target.string()) + " --json";
        if (!fs::is_directory(target)) args += " -i " + quote(path("key.txt").string());
        if (with_key) args += " --device-key " + quote(path("device.pub").string());
        const auto run = cli(args, false);
        const json j = json::parse(run.out, nullptr, false);
        EXPECT_FALSE(j.is_discarded()) << run.out << run.err;
        return {run.code, j};
    }

    static std::vector<std::string> failed(const json& report) {
        std::vector<std::string> out;
        if (report.contains("failed_checks"))
            for (const auto& n : report["failed_checks"]) out.push_back(n.get<std::string>());
        return out;
    }

    static std::string outcome(const json& report, const std::string& check) {
        for (const auto& c : report["checks"])
            if (c["name"] == check) return c["outcome"].get<std::string>();
        return "absent";
    }

    static std::string detail(const json& report, const std::string& check) {
        for (const auto& c : report["checks"])
            if (c["name"] == check) return c["detail"].get<std::string>();
        return "";
    }

    TempDir dir;
    std::string case_id;
    std::string photo_id;
    std::string recipient;
    std::string device_key_line;
};

}  // namespace bundle_cli
}  // namespace custodia::testing
