// The device side of sync as a person runs it: custodia-cli against the real
// custodia-intake on 127.0.0.1 (TLS from an openssl test CA), through a TCP
// proxy that cuts connections, with kill -9, a dead SOCKS proxy and a
// revoked device. Vaults use CUSTODIA_INSECURE_TEST_KDF=1 (test-only switch).
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "custodia/core/note.h"
#include "custodia/crypto/random.h"
#include "custodia/sync/enrolment.h"
#include "integration/intake_harness.h"
#include "support/kill_harness.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace custodia {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::IntakeServer;
using testing::quote;
using testing::read_text;
using testing::run_shell;
using testing::TcpProxy;
using testing::TempDir;
using testing::TestCa;
using testing::write_text;

const std::string kPassphrase = "correct horse battery staple";

std::string last_line(std::string text) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    const auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

struct CliRun {
    int code = -1;
    std::string out;
    std::string err;
};

class SyncCli : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        ca_dir_ = new TempDir();
        ca_ = new TestCa(TestCa::make(ca_dir_->path()));
    }
    static void TearDownTestSuite() {
        delete ca_;
        delete ca_dir_;
    }

    void SetUp() override {
        ASSERT_TRUE(fs::exists(CUSTODIA_CLI));
        testing::intake_admin(path("srv"), "init --name intake.test --url https://127.0.0.1:1");
        server_ = std::make_unique<IntakeServer>(path("srv"), *ca_);
        ASSERT_EQ(cli("init --investigator 'Investigator A'").code, 0);
        case_id_ = last_line(cli("case create 'Case one'").out);
        ASSERT_EQ(case_id_.size(), 32u);
        // A random (incompressible) file makes a bundle big enough to cut.
        std::string photo(400'000, '\0');
        crypto::DeterministicRandom random(11);
        random.fill(std::span(reinterpret_cast<std::uint8_t*>(photo.data()), photo.size()));
        write_text(path("photo.jpg"), photo);
        ASSERT_EQ(cli("add --case " + case_id_ + " --consent written " +
                      quote(path("photo.jpg").string()))
                      .code,
                  0);
        ASSERT_EQ(
            cli("testimony --case " + case_id_ + " --consent written --text 'Seen at dawn.'").code,
            0);
        ASSERT_EQ(run_shell("age-keygen -o " + quote(path("ngo.key").string()) + " 2>/dev/null")
                      .exit_code,
                  0);
        recipient_ = last_line(run_shell("age-keygen -y " + quote(path("ngo.key").string())).out);
        write_text(path("device.pub"), cli("identity").out);
    }

    void TearDown() override {
        if (!server_) return;
        server_->stop();
        const auto log = server_->log();
        EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
    }

    fs::path path(const std::string& name) const { return dir_.path() / name; }

    CliRun cli(const std::string& args) const {
        const std::string command =
            "env -u XDG_DATA_HOME CUSTODIA_INSECURE_TEST_KDF=1 CUSTODIA_PASSPHRASE=" +
            quote(kPassphrase) + " " + quote(CUSTODIA_CLI) + " --vault " +
            quote(path("vault").string()) + " " + args + " </dev/null 2>" +
            quote(path("stderr").string());
        const auto r = run_shell(command);
        return CliRun{r.exit_code, r.out, read_text(path("stderr"))};
    }

    std::string enrolment_code(const std::string& url) {
        return last_line(testing::intake_admin(path("srv"), "enroll --url " + url));
    }

    std::string ca_option() const { return " --ca-file " + quote(ca_->ca_cert.string()); }

    // Enrols the vault with the running server, reached at `url`.
    void add_server(const std::string& url) {
        const auto added = cli("server add " + quote(enrolment_code(url)) + ca_option());
        ASSERT_EQ(added.code, 0) << added.err;
        ASSERT_EQ(last_line(added.out), "intake.test");
    }

    std::string export_send() {
        const auto run = cli("export --case " + case_id_ + " --to " + recipient_ + " --send");
        EXPECT_EQ(run.code, 0) << run.err;
        return last_line(run.out);
    }

    CliRun sync(const std::string& extra = "") {
        return cli("sync --retry-delay-ms 20" + ca_option() + " " + extra);
    }

    json outbox() { return json::parse(cli("outbox --json").out); }

    json server_bundles() { return json::parse(testing::intake_admin(path("srv"), "list --json")); }

    static std::string check_outcome(const json& report, const std::string& name) {
        for (const auto& c : report["checks"])
            if (c["name"] == name) return c["outcome"].get<std::string>();
        return "absent";
    }

    TempDir dir_;
    std::unique_ptr<IntakeServer> server_;
    std::string case_id_;
    std::string recipient_;
    static inline TempDir* ca_dir_ = nullptr;
    static inline TestCa* ca_ = nullptr;
};

TEST_F(SyncCli, SendsThroughCutsThenTheReceiptTravelsInTheNextBundle) {
    TcpProxy proxy(server_->port());
    add_server(proxy.url());
    const std::string bundle_id = export_send();
    ASSERT_EQ(outbox()[0]["state"], "queued");

    // The first two connections are cut 150 KB in: the upload resumes.
    std::atomic<int> seen{0};
    proxy.set_cut_policy([&seen]() -> std::uint64_t { return ++seen <= 2 ? 150'000 : 0; });
    const auto sent = sync();
    ASSERT_EQ(sent.code, 0) << sent.err;
    EXPECT_NE(sent.out.find("received " + bundle_id), std::string::npos) << sent.out;
    EXPECT_GE(proxy.cuts(), 1u);

    const auto entry = outbox()[0];
    EXPECT_EQ(entry["bundle_id"], bundle_id);
    EXPECT_EQ(entry["state"], "received");
    EXPECT_EQ(entry["bytes_confirmed"], entry["size"]);
    EXPECT_EQ(entry["last_error"], "");
    ASSERT_TRUE(entry["receipt"].is_string());
    EXPECT_NE(entry["receipt"].get<std::string>().find(bundle_id), std::string::npos);
    // The server holds exactly that bundle.
    EXPECT_NE(server_bundles().dump().find(bundle_id), std::string::npos);

    // One receipt_received entry per item of the bundle.
    const auto log = json::parse(cli("log --json").out);
    int receipts = 0;
    for (const auto& e : log)
        if (e["event"] == "receipt_received") {
            ++receipts;
            EXPECT_NE(e.dump().find(bundle_id), std::string::npos) << e.dump();
        }
    EXPECT_EQ(receipts, 2);

    // A second sync has nothing left to do and still succeeds.
    EXPECT_EQ(sync().code, 0);

    // The next bundle of the case carries the receipt; verify-bundle checks it.
    const auto later = cli("export --case " + case_id_ + " --to " + recipient_ + " -o " +
                           quote(path("later.custodia").string()));
    ASSERT_EQ(later.code, 0) << later.err;
    const auto verified = cli("verify-bundle " + quote(path("later.custodia").string()) + " -i " +
                              quote(path("ngo.key").string()) + " --device-key " +
                              quote(path("device.pub").string()) + " --json");
    ASSERT_EQ(verified.code, 0) << verified.out << verified.err;
    EXPECT_EQ(check_outcome(json::parse(verified.out), "custody_receipts"), "passed");

    const auto opened =
        cli("open " + quote(path("later.custodia").string()) + " -i " +
            quote(path("ngo.key").string()) + " -o " + quote(path("opened").string()) +
            " --device-key " + quote(path("device.pub").string()));
    ASSERT_EQ(opened.code, 0) << opened.out << opened.err;
    EXPECT_NE(opened.out.find("custody_receipts"), std::string::npos) << opened.out;
    // The server key the bundle names is the one the server itself publishes
    // (server.pub, written by custodia-intake init).
    bool found = false;
    for (const auto& f : fs::directory_iterator(path("opened") / "custody" / "receipts")) {
        if (f.path().extension() != ".vkeys") continue;
        found = true;
        const std::string vkeys = read_text(f.path());
        const std::string pub = read_text(path("srv") / "server.pub");
        EXPECT_EQ(vkeys.substr(0, vkeys.find('\n')), pub.substr(0, pub.find('\n')));
    }
    EXPECT_TRUE(found);
}

TEST_F(SyncCli, RequireProxyWithTheProxyDownSendsNothing) {
    TcpProxy counter(server_->port());
    add_server(counter.url());
    export_send();
    const auto before = counter.bytes_up();
    const std::string dead_proxy = "socks5h://127.0.0.1:" + std::to_string(testing::closed_port());

    // No proxy configured at all, but one required: refused before any connection.
    const auto none = sync("--require-proxy");
    EXPECT_NE(none.code, 0);
    EXPECT_NE(none.err.find("proxy is required"), std::string::npos) << none.err;

    // Stored in the vault, so a plain `sync` later fails closed too.
    const auto saved = sync("--proxy " + dead_proxy + " --require-proxy --save --retry-attempts 2");
    EXPECT_EQ(saved.code, 4) << saved.err;
    const auto later = sync("--retry-attempts 2");
    EXPECT_EQ(later.code, 4) << later.err;

    EXPECT_EQ(counter.bytes_up(), before);
    EXPECT_TRUE(server_bundles().empty()) << server_bundles().dump();
    const auto entry = outbox()[0];
    EXPECT_EQ(entry["state"], "failed");
    EXPECT_EQ(entry["bytes_confirmed"], 0);
    EXPECT_NE(entry["last_error"].get<std::string>().find("proxy"), std::string::npos)
        << entry["last_error"];
    const auto shown = cli("outbox");
    EXPECT_NE(shown.out.find("failed"), std::string::npos) << shown.out;
}

TEST_F(SyncCli, RevokedDeviceIsToldWhy) {
    add_server(server_->url());
    export_send();
    const auto devices = json::parse(testing::intake_admin(path("srv"), "devices --json"));
    ASSERT_EQ(devices.size(), 1u);
    testing::intake_admin(path("srv"), "revoke " + devices[0]["device"].get<std::string>());

    const auto sent = sync();
    EXPECT_EQ(sent.code, 1) << sent.err;
    EXPECT_NE(sent.err.find("revoked"), std::string::npos) << sent.err;
    const auto entry = outbox()[0];
    EXPECT_EQ(entry["state"], "failed");
    EXPECT_NE(entry["last_error"].get<std::string>().find("revoked"), std::string::npos);
    EXPECT_TRUE(server_bundles().empty());
}

TEST_F(SyncCli, ServerKilledMidSyncThenTheNextSyncCompletes) {
    TcpProxy proxy(server_->port());
    add_server(proxy.url());
    const std::string bundle_id = export_send();
    proxy.set_rate(100'000);  // ~4 s for the bundle: time to kill the server mid-way

    testing::ChildProcess running(
        {"/usr/bin/env", "-u", "XDG_DATA_HOME", "CUSTODIA_INSECURE_TEST_KDF=1",
         "CUSTODIA_PASSPHRASE=" + kPassphrase, CUSTODIA_CLI, "--vault", path("vault").string(),
         "sync", "--retry-attempts", "2", "--retry-delay-ms", "20", "--ca-file",
         ca_->ca_cert.string()},
        path("sync1.out"), path("sync1.err"));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (proxy.bytes_up() < 150'000 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(proxy.bytes_up(), 150'000u);
    server_->kill9();
    const auto first = running.wait_exit(std::chrono::seconds(30));
    ASSERT_TRUE(first.has_value());
    EXPECT_NE(*first, 0) << read_text(path("sync1.err"));
    EXPECT_EQ(outbox()[0]["state"], "failed");
    EXPECT_FALSE(outbox()[0]["last_error"].get<std::string>().empty());

    server_->restart(*ca_);
    proxy.set_target(server_->port());
    proxy.set_rate(0);
    const auto second = sync();
    ASSERT_EQ(second.code, 0) << second.err;
    const auto entry = outbox()[0];
    EXPECT_EQ(entry["state"], "received");
    EXPECT_EQ(entry["bundle_id"], bundle_id);
    EXPECT_EQ(entry["attempts"], 2);
}

// kill -9 of `custodia-cli sync` itself, at seeded points over its whole
// life (unlock, creating uploads, chunks on the wire, receipt verification,
// storing the receipt and logging it). After every kill the vault verifies
// and the outbox reads; in the end one more sync completes, every bundle is
// received exactly once by the server and its receipt logged exactly once
// per item: a kill never loses a receipt nor records one twice.
TEST_F(SyncCli, SyncKilledAtSeededPointsLosesAndDuplicatesNothing) {
    TcpProxy proxy(server_->port());
    add_server(proxy.url());
    constexpr int kBundles = 3;
    std::set<std::string> bundle_ids;
    for (int i = 0; i < kBundles; ++i) bundle_ids.insert(export_send());
    ASSERT_EQ(bundle_ids.size(), static_cast<std::size_t>(kBundles));
    // About 3 s per bundle on the wire: the kills land in every phase and
    // most of them while there is still something to send.
    proxy.set_rate(150'000);

    const std::vector<std::string> argv = {
        CUSTODIA_CLI, "--vault",   path("vault").string(), "sync", "--retry-delay-ms",
        "20",         "--ca-file", ca_->ca_cert.string()};
    const auto env = testing::clean_environment(
        {"CUSTODIA_INSECURE_TEST_KDF=1", "CUSTODIA_PASSPHRASE=" + kPassphrase});
    const std::uint32_t seed = testing::crash_seed(20261124);
    const int points = testing::crash_points(8);
    constexpr double kSpanMs = 1500;
    int killed = 0;
    int failed = 0;
    for (int point = 0; point < points; ++point) {
        // Long runs outlast three bundles: queue another whenever all are in,
        // so that every kill point has something to interrupt.
        bool all_received = true;
        for (const auto& entry : outbox())
            all_received = all_received && entry["state"] == "received";
        if (all_received) bundle_ids.insert(export_send());
        const auto delay = testing::kill_delay(seed, point, points, kSpanMs, 1.0);
        const auto outcome =
            testing::run_and_kill(argv, env, delay, path("sync-kill.err").string());
        if (outcome.killed) ++killed;
        SCOPED_TRACE("kill point " + std::to_string(point));
        const auto verified = cli("verify");
        EXPECT_EQ(verified.code, 0) << verified.out << verified.err;
        if (verified.code != 0) ++failed;
        const auto listed = cli("outbox --json");
        ASSERT_EQ(listed.code, 0) << listed.err;
        for (const auto& entry : json::parse(listed.out)) {
            const std::string state = entry["state"];
            EXPECT_TRUE(state == "queued" || state == "sending" || state == "failed" ||
                        state == "received")
                << state;
        }
    }
    // The line tests/crash/long-run.sh adds up.
    std::cout << "crash-summary op=sync seed=" << seed << " points=" << points
              << " killed=" << killed << " finished=" << points - killed << " failed=" << failed
              << "\n";
    EXPECT_GE(killed, points / 2) << "most kills came after sync had finished";

    proxy.set_rate(0);
    const auto last = sync();
    ASSERT_EQ(last.code, 0) << last.err;
    for (const auto& entry : outbox()) EXPECT_EQ(entry["state"], "received") << entry.dump();

    // The server holds each bundle once.
    const auto held = server_bundles();
    ASSERT_EQ(held.size(), bundle_ids.size()) << held.dump();
    // Each bundle's receipt is logged once per item (2 items per bundle).
    std::map<std::string, int> logged;
    for (const auto& e : json::parse(cli("log --json").out)) {
        if (e["event"] != "receipt_received") continue;
        for (const auto& id : bundle_ids)
            if (e.dump().find(id) != std::string::npos) ++logged[id];
    }
    for (const auto& id : bundle_ids) EXPECT_EQ(logged[id], 2) << "bundle " << id;
    EXPECT_EQ(cli("verify").code, 0);
}

TEST_F(SyncCli, CodeWithAnotherServersKeyIsRefused) {
    // A code whose token is this server's but whose key is another server's:
    // the server's signed answer does not verify under the key to be pinned.
    testing::intake_admin(path("other"), "init --name intake.test --url https://127.0.0.1:1");
    const std::string pub = read_text(path("other") / "server.pub");
    auto other_key = core::NoteVerifierKey::parse(pub.substr(0, pub.find('\n')));
    ASSERT_TRUE(other_key.ok());
    auto genuine = sync::EnrolmentCode::parse(enrolment_code(server_->url()));
    ASSERT_TRUE(genuine.ok());
    auto pin = sync::ServerPin::make(server_->url(), "intake.test", other_key->public_key());
    ASSERT_TRUE(pin.ok());
    auto forged =
        sync::EnrolmentCode::make(std::move(*pin), genuine->token().clone(), genuine->expires());
    ASSERT_TRUE(forged.ok());
    const std::string code(forged->encode().view());

    const auto added = cli("server add " + quote(code) + ca_option());
    EXPECT_EQ(added.code, 1) << added.out << added.err;
    EXPECT_EQ(json::parse(cli("server list --json").out).size(), 0u);
    // And --send has nowhere to go.
    const auto run = cli("export --case " + case_id_ + " --to " + recipient_ + " --send");
    EXPECT_EQ(run.code, 2) << run.err;
}

TEST_F(SyncCli, ServersAreListedAndRemovedOnlyWhenNothingWaits) {
    add_server(server_->url());
    const auto listed = json::parse(cli("server list --json").out);
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["name"], "intake.test");
    EXPECT_EQ(listed[0]["url"], server_->url());
    export_send();
    const auto refused = cli("server remove intake.test");
    EXPECT_EQ(refused.code, 2) << refused.err;
    EXPECT_NE(refused.err.find("outbox"), std::string::npos) << refused.err;
    ASSERT_EQ(sync().code, 0);
    EXPECT_EQ(cli("server remove intake.test").code, 0);
    EXPECT_EQ(json::parse(cli("server list --json").out).size(), 0u);
    EXPECT_EQ(outbox()[0]["state"], "received");  // the receipt stays
}

}  // namespace
}  // namespace custodia
