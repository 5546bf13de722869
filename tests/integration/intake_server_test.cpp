// The sync protocol end to end, with real parts only: the custodia-intake
// binary on 127.0.0.1 with TLS from a CA made by openssl, the libcurl client,
// a TCP proxy that cuts connections, kill -9, Debian's microsocks as the
// SOCKS5 proxy, and curl(1) for requests our client would never send.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/sync/client.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/receipt.h"
#include "integration/intake_harness.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace custodia {
namespace {

using nlohmann::json;
using testing::IntakeServer;

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
using testing::quote;
using testing::read_text;
using testing::run_shell;
using testing::TcpProxy;
using testing::TempDir;
using testing::TestCa;

struct Device {
    explicit Device(std::uint64_t seed)
        : random(seed), key(crypto::Ed25519SecretKey::generate(random)) {}
    crypto::DeterministicRandom random;
    crypto::Ed25519SecretKey key;
    sync::Ed25519DeviceSigner signer{key};
    std::string id() const { return sync::device_key_id_hex(key.public_key()); }

    // A checkpoint of the device's custody log, signed as the vault would.
    std::string checkpoint(std::uint64_t size) const {
        core::Checkpoint c;
        c.origin = "custodia.example/device/" + id();
        c.size = size;
        c.root = crypto::sha256(std::to_string(size));
        auto text = c.to_text();
        auto note = core::SignedNote::from_text(*text);
        EXPECT_TRUE(core::sign_note_ed25519(*note, "device-" + id(), key).ok());
        return note->serialize();
    }
};

// `size` reproducible pseudo-random bytes, written in 1 MiB pieces.
void write_bundle(const std::filesystem::path& path, std::uint64_t size, std::uint64_t seed) {
    crypto::DeterministicRandom random(seed);
    std::ofstream out(path, std::ios::binary);
    std::vector<std::uint8_t> buf(1 << 20);
    for (std::uint64_t done = 0; done < size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done));
        random.fill(std::span(buf.data(), n));
        out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
        done += n;
    }
}

std::string sha256_file(const std::filesystem::path& path) {
    // sha256sum is the reference: an independent implementation.
    const auto r = run_shell("sha256sum " + quote(path.string()));
    return r.out.substr(0, 64);
}

crypto::Sha256Digest digest_of(const std::string& hex) {
    crypto::Sha256Digest d{};
    const auto bytes = crypto::from_hex(hex);
    std::copy(bytes->begin(), bytes->end(), d.begin());
    return d;
}

struct RawAnswer {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;
};

class IntakeTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        ca_dir_ = new TempDir();
        ca_ = new TestCa(TestCa::make(ca_dir_->path()));
    }
    static void TearDownTestSuite() {
        delete ca_;
        delete ca_dir_;
    }

    void SetUp() override { init_server(); }

    // Under the asan preset the server is instrumented too: a report in its
    // log fails the test that provoked it.
    void TearDown() override {
        if (!server_) return;
        server_->stop();
        const auto log = server_->log();
        EXPECT_EQ(log.find("Sanitizer"), std::string::npos) << log;
        EXPECT_EQ(log.find("runtime error:"), std::string::npos) << log;
    }

    void init_server(const std::string& dirname = "srv") {
        intake_admin_dir_ = tmp_ / dirname;
        testing::intake_admin(intake_admin_dir_,
                              "init --name intake.test --url https://127.0.0.1:1");
    }

    IntakeServer& start(std::vector<std::string> extra = {}) {
        server_ = std::make_unique<IntakeServer>(intake_admin_dir_, *ca_, std::move(extra));
        return *server_;
    }

    std::string enrolment_code(const std::string& url, const std::string& args = "") {
        auto out = testing::intake_admin(intake_admin_dir_, "enroll --url " + url + " " + args);
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
        return out;
    }

    sync::TransportOptions transport() const {
        sync::TransportOptions t;
        t.ca_file = ca_->ca_cert;
        t.connect_timeout = std::chrono::seconds(5);
        t.low_speed_time = std::chrono::seconds(10);
        return t;
    }

    static sync::RetryPolicy fast_retry(int attempts = 8) {
        return sync::RetryPolicy{attempts, std::chrono::milliseconds(20),
                                 std::chrono::milliseconds(200)};
    }

    // Enrols `device` with the running server; returns its pin for `url`.
    sync::ServerPin enrol(Device& device, const std::string& name = "field laptop") {
        auto code = sync::EnrolmentCode::parse(enrolment_code(server_->url()));
        EXPECT_TRUE(code.ok());
        auto pin = sync::IntakeClient::enrol(*code, device.signer, name, transport(),
                                             crypto::system_random(), clock_);
        EXPECT_TRUE(pin.ok()) << pin.error().message;
        return std::move(*pin);
    }

    sync::ServerPin pin_for(const std::string& url) const {
        const auto pub = read_text(intake_admin_dir_ / "server.pub");
        auto key = core::NoteVerifierKey::parse(pub.substr(0, pub.find('\n')));
        return *sync::ServerPin::make(url, "intake.test", key->public_key());
    }

    std::unique_ptr<sync::IntakeClient> client(Device& device, const sync::ServerPin& pin,
                                               sync::TransportOptions t,
                                               sync::RetryPolicy retry = fast_retry()) {
        auto c = sync::IntakeClient::create(pin, device.signer, std::move(t), retry,
                                            crypto::system_random(), clock_);
        EXPECT_TRUE(c.ok()) << c.error().message;
        return std::move(*c);
    }

    struct Bundle {
        std::filesystem::path file;
        std::string envelope;
        std::string sha256;
        std::uint64_t size = 0;
        std::string id;
    };

    Bundle make_bundle(Device& device, const std::string& id, std::uint64_t size,
                       std::uint64_t seed) {
        Bundle b{tmp_ / (id + ".custodia"), {}, {}, size, id};
        write_bundle(b.file, size, seed);
        auto envelope = sync::make_envelope(b.file, id, 1740821400, device.key);
        EXPECT_TRUE(envelope.ok());
        b.envelope = *envelope;
        b.sha256 = sha256_file(b.file);
        return b;
    }

    sync::UploadRequest request(const Bundle& b, const Device& device, std::uint64_t log_size = 7) {
        return sync::UploadRequest{b.file, b.envelope, device.checkpoint(log_size)};
    }

    json list_bundles() {
        return json::parse(testing::intake_admin(intake_admin_dir_, "list --json"));
    }

    std::size_t stored_objects() {
        std::size_t n = 0;
        for (const auto& e :
             std::filesystem::recursive_directory_iterator(intake_admin_dir_ / "objects"))
            if (e.is_regular_file()) ++n;
        return n;
    }

    // A request our client would never make, signed by hand and sent with
    // curl(1): replays, bad checksums, oversized bodies.
    RawAnswer raw(const Device& device, const sync::ServerPin& pin, const std::string& method,
                  const std::string& path, std::vector<std::string> headers,
                  const std::string& body, std::optional<crypto::Sha256Digest> signed_hash = {},
                  std::optional<sync::RequestAuth> reuse = {}) {
        const auto hash = signed_hash ? *signed_hash : crypto::sha256(body);
        const sync::RequestAuth auth =
            reuse ? *reuse
                  : sync::sign_request(device.signer, pin.key(), method, path, hash,
                                       clock_.now().unix_ms / 1000, crypto::system_random());
        last_auth_ = auth;
        const auto body_file = tmp_ / "raw-body";
        const auto head_file = tmp_ / "raw-head";
        const auto out_file = tmp_ / "raw-out";
        testing::write_text(body_file, body);
        headers.push_back("Custodia-Device: " + auth.device);
        headers.push_back("Custodia-Time: " + auth.time);
        headers.push_back("Custodia-Nonce: " + auth.nonce);
        headers.push_back("Custodia-Signature: " + auth.signature);
        headers.push_back("Tus-Resumable: 1.0.0");
        headers.push_back("Expect:");
        std::string cmd = "curl -s --cacert " + quote(ca_->ca_cert.string()) + " -D " +
                          quote(head_file.string()) + " -o " + quote(out_file.string()) +
                          " -w '%{http_code}'";
        if (method == "HEAD")
            cmd += " -I";
        else
            cmd += " -X " + method;
        for (const auto& h : headers) cmd += " -H " + quote(h);
        if (!body.empty()) cmd += " --data-binary @" + quote(body_file.string());
        cmd += " " + quote(server_->url() + path);
        const auto r = run_shell(cmd);
        RawAnswer a;
        a.status = std::atoi(r.out.c_str());
        a.body = read_text(out_file);
        std::istringstream lines(read_text(head_file));
        std::string line;
        while (std::getline(lines, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            for (auto& c : name) c = static_cast<char>(std::tolower(c));
            a.headers[name] = line.substr(colon + 2);
        }
        return a;
    }

    // POST /v1/uploads by hand; returns the upload path.
    std::string raw_create(const Device& device, const sync::ServerPin& pin, const Bundle& b) {
        const std::string body =
            json{{"envelope", b.envelope}, {"checkpoint", device.checkpoint(3)}}.dump();
        auto a = raw(device, pin, "POST", "/v1/uploads",
                     {"Content-Type: application/json", "Upload-Length: " + std::to_string(b.size)},
                     body);
        EXPECT_EQ(a.status, 201) << a.body;
        return a.headers["location"];
    }

    static std::string chunk_checksum(const std::string& bytes) {
        return "Upload-Checksum: sha256 " + crypto::to_base64(crypto::sha256(bytes), true);
    }

    static TempDir* ca_dir_;
    static TestCa* ca_;
    TempDir tmp_;
    std::filesystem::path intake_admin_dir_;
    testing::WallClock clock_;
    std::unique_ptr<IntakeServer> server_;
    std::optional<sync::RequestAuth> last_auth_;
};

TempDir* IntakeTest::ca_dir_ = nullptr;
TestCa* IntakeTest::ca_ = nullptr;

TEST_F(IntakeTest, enrol_then_upload_small_bundle_returns_verified_receipt) {
    start();
    Device device(1);
    const auto pin = enrol(device);
    auto c = client(device, pin, transport());
    const auto bundle = make_bundle(device, "case-7.bundle-1", 100 * kKiB + 3, 11);
    auto result = c->upload(request(bundle, device));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_FALSE(result->already_held);
    EXPECT_EQ(result->receipt.bundle_id, bundle.id);
    EXPECT_EQ(crypto::to_hex(result->receipt.sha256), bundle.sha256);
    EXPECT_EQ(result->receipt.size, bundle.size);
    EXPECT_EQ(result->receipt.device, device.id());
    EXPECT_EQ(result->receipt.server, "intake.test");
    EXPECT_GE(result->bytes_sent, bundle.size);

    // The server holds exactly the bytes, under their SHA-256.
    const auto stored = intake_admin_dir_ / "objects" / bundle.sha256.substr(0, 2) / bundle.sha256;
    EXPECT_EQ(sha256_file(stored), bundle.sha256);
    const auto listed = list_bundles();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["bundle"], bundle.id);
    EXPECT_EQ(listed[0]["device"], device.id());
}

TEST_F(IntakeTest, export_writes_files_that_minisign_and_sha256sum_accept) {
    start();
    Device device(2);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "export-me", 300000, 12);
    ASSERT_TRUE(client(device, pin, transport())->upload(request(bundle, device)).ok());
    const auto out = tmp_.path() / "exported";
    testing::intake_admin(intake_admin_dir_, "export --to " + quote(out.string()));
    const auto file = out / "export-me.custodia";
    EXPECT_EQ(sha256_file(file), bundle.sha256);
    const auto pub = crypto::minisign::PublicKey::derive_from(device.key.public_key()).to_base64();
    const auto v = run_shell("minisign -V -m " + quote(file.string()) + " -x " +
                             quote((out / "export-me.custodia.envelope").string()) + " -P " +
                             quote(pub) + " 2>&1");
    EXPECT_EQ(v.exit_code, 0) << v.out;
    auto receipt =
        sync::verify_receipt(read_text(out / "export-me.custodia.receipt"), pin,
                             {bundle.id, device.id(), digest_of(bundle.sha256), bundle.size});
    EXPECT_TRUE(receipt.ok());
    // Never overwrites: a second export into the same folder refuses.
    const auto again =
        run_shell(std::string(CUSTODIA_INTAKE) + " --dir " + quote(intake_admin_dir_.string()) +
                  " export --to " + quote(out.string()) + " 2>&1");
    EXPECT_NE(again.exit_code, 0);
}

TEST_F(IntakeTest, reupload_of_held_bundle_returns_the_same_receipt_and_stores_once) {
    start();
    Device device(3);
    const auto pin = enrol(device);
    auto c = client(device, pin, transport());
    const auto bundle = make_bundle(device, "twice", 2 * kMiB, 13);
    auto first = c->upload(request(bundle, device, 5));
    ASSERT_TRUE(first.ok()) << first.error().message;
    auto second = c->upload(request(bundle, device, 9));
    ASSERT_TRUE(second.ok()) << second.error().message;
    EXPECT_TRUE(second->already_held);
    EXPECT_EQ(second->bytes_sent, 0u);
    EXPECT_EQ(second->receipt_note, first->receipt_note);
    // The newer checkpoint is cosigned.
    EXPECT_NE(second->cosigned_checkpoint, first->cosigned_checkpoint);
    EXPECT_NE(second->cosigned_checkpoint.find("\n9\n"), std::string::npos);
    EXPECT_EQ(list_bundles().size(), 1u);
    EXPECT_EQ(stored_objects(), 1u);
}

TEST_F(IntakeTest, same_bytes_from_another_device_get_their_own_receipt_without_a_copy) {
    start();
    Device a(4), b(5);
    const auto pin_a = enrol(a);
    const auto pin_b = enrol(b, "second laptop");
    const auto bundle = make_bundle(a, "shared", 500000, 14);
    ASSERT_TRUE(client(a, pin_a, transport())->upload(request(bundle, a)).ok());
    auto envelope_b = sync::make_envelope(bundle.file, "shared", 1740821401, b.key);
    auto result = client(b, pin_b, transport())
                      ->upload(sync::UploadRequest{bundle.file, *envelope_b, b.checkpoint(2)});
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->receipt.device, b.id());
    EXPECT_EQ(result->bytes_sent, 0u);
    EXPECT_EQ(stored_objects(), 1u);
    EXPECT_EQ(list_bundles().size(), 2u);
}

TEST_F(IntakeTest, cut_connections_at_random_offsets_resume_and_the_receipt_verifies) {
    start();
    Device device(6);
    TcpProxy proxy(server_->port());
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::uint64_t> cut(64 * kKiB, 3 * kMiB);
    proxy.set_cut_policy([&] { return cut(rng); });
    const auto pin_direct = enrol(device);
    (void)pin_direct;
    const auto bundle = make_bundle(device, "cut-many-times", 12 * kMiB + 12345, 15);
    auto c = client(device, pin_for(proxy.url()), transport(), fast_retry(12));
    auto result = c->upload(request(bundle, device));
    ASSERT_TRUE(result.ok()) << result.error().message << "\n" << server_->log();
    EXPECT_GE(proxy.cuts(), 3u);
    EXPECT_GT(result->attempts, 0);
    EXPECT_EQ(crypto::to_hex(result->receipt.sha256), bundle.sha256);
    const auto stored = intake_admin_dir_ / "objects" / bundle.sha256.substr(0, 2) / bundle.sha256;
    EXPECT_EQ(sha256_file(stored), bundle.sha256);
    // Interrupted chunks are kept, so a cut costs little resending.
    EXPECT_LT(result->bytes_sent, bundle.size * 2);
    // A cut request is never sent again as it was: its signature would only
    // be refused as a replay, after megabytes of body. The client asks the
    // server for its offset instead.
    EXPECT_EQ(server_->log().find("\"replay\""), std::string::npos) << server_->log();
}

TEST_F(IntakeTest, server_killed_with_sigkill_mid_upload_resumes_after_restart) {
    start();
    Device device(7);
    TcpProxy proxy(server_->port());
    proxy.set_rate(6 * kMiB);  // slow enough to be caught mid-way
    enrol(device);
    const auto bundle = make_bundle(device, "survives-kill", 16 * kMiB, 16);
    auto c = client(
        device, pin_for(proxy.url()), transport(),
        sync::RetryPolicy{30, std::chrono::milliseconds(50), std::chrono::milliseconds(500)});
    Result<sync::UploadResult> result = make_error(Errc::internal, "not run");
    std::thread uploader([&] { result = c->upload(request(bundle, device)); });

    // Wait until part of the bundle is on the server's disk, then kill -9.
    const auto uploads = intake_admin_dir_ / "uploads";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::uintmax_t partial = 0;
    while (std::chrono::steady_clock::now() < until && partial < 4 * kMiB) {
        for (const auto& e : std::filesystem::directory_iterator(uploads))
            partial = std::max(partial, e.file_size());
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server_->kill9();
    EXPECT_GT(partial, 0u);
    EXPECT_EQ(stored_objects(), 0u);  // nothing incomplete is ever in objects/
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server_->restart(*ca_);
    uploader.join();
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(crypto::to_hex(result->receipt.sha256), bundle.sha256);
    const auto stored = intake_admin_dir_ / "objects" / bundle.sha256.substr(0, 2) / bundle.sha256;
    EXPECT_EQ(sha256_file(stored), bundle.sha256);
    EXPECT_EQ(stored_objects(), 1u);
    EXPECT_TRUE(std::filesystem::is_empty(uploads));
}

TEST_F(IntakeTest, cancelled_upload_resumes_from_the_server_offset_in_a_new_client) {
    start();
    Device device(31);
    TcpProxy proxy(server_->port());
    proxy.set_rate(8 * kMiB);
    enrol(device);
    const auto bundle = make_bundle(device, "cancel-then-resume", 8 * kMiB, 35);
    std::atomic<bool> cancel{false};
    core::Progress progress;
    progress.cancel = &cancel;
    progress.report = [&](std::uint64_t done, std::uint64_t) {
        if (done >= 3 * kMiB) cancel = true;
    };
    auto first = client(device, pin_for(proxy.url()), transport())
                     ->upload(request(bundle, device), progress);
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.error().code, Errc::cancelled);

    // A new client (the app restarted) finds the upload by its digest and
    // sends only what the server does not have, once the server has kept
    // what arrived of the cancelled chunk.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server_->log().find("chunk_interrupted") == std::string::npos &&
           std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto second =
        client(device, pin_for(proxy.url()), transport())->upload(request(bundle, device));
    ASSERT_TRUE(second.ok()) << second.error().message;
    // The first chunk, acknowledged before the cancel, and whatever arrived of
    // the second are not sent again.
    EXPECT_LT(second->bytes_sent, bundle.size - kMiB);
    EXPECT_EQ(crypto::to_hex(second->receipt.sha256), bundle.sha256);
}

TEST_F(IntakeTest, upload_recorded_complete_before_a_crash_is_completed_at_restart) {
    start();
    Device device(32);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "crash-before-finish", 5000, 36);
    const auto path = raw_create(device, pin, bundle);
    const std::string id = path.substr(path.rfind('/') + 1);
    server_->stop();
    // The state a crash leaves between recording the last offset and
    // answering: every byte on disk and recorded, no receipt yet.
    std::filesystem::copy_file(bundle.file, intake_admin_dir_ / "uploads" / id,
                               std::filesystem::copy_options::overwrite_existing);
    const auto sql = "UPDATE uploads SET offset_bytes = length WHERE id = '" + id + "';";
    ASSERT_EQ(run_shell("sqlcipher " + quote((intake_admin_dir_ / "intake.db").string()) + " " +
                        quote(sql))
                  .exit_code,
              0);
    server_->restart(*ca_);
    ASSERT_EQ(list_bundles().size(), 1u);
    auto result = client(device, pin, transport())->upload(request(bundle, device));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_TRUE(result->already_held);
    EXPECT_EQ(result->bytes_sent, 0u);
}

TEST_F(IntakeTest, recorded_offset_beyond_the_bytes_on_disk_is_lowered_at_restart) {
    start();
    Device device(33);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "lost-tail", 4096, 37);
    const auto path = raw_create(device, pin, bundle);
    const std::string chunk = read_text(bundle.file).substr(0, 2048);
    ASSERT_EQ(raw(device, pin, "PATCH", path,
                  {"Content-Type: application/offset+octet-stream", "Upload-Offset: 0",
                   chunk_checksum(chunk)},
                  chunk)
                  .status,
              204);
    server_->stop();
    std::filesystem::resize_file(intake_admin_dir_ / "uploads" / path.substr(path.rfind('/') + 1),
                                 1000);
    server_->restart(*ca_);
    auto head = raw(device, pin, "HEAD", path, {}, "");
    EXPECT_EQ(head.headers["upload-offset"], "1000");
    auto result = client(device, pin, transport())->upload(request(bundle, device));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(crypto::to_hex(result->receipt.sha256), bundle.sha256);
}

TEST_F(IntakeTest, server_refuses_to_start_when_its_key_is_readable_by_others) {
    std::filesystem::permissions(intake_admin_dir_ / "server.key",
                                 std::filesystem::perms::others_read,
                                 std::filesystem::perm_options::add);
    const auto r =
        run_shell(std::string(CUSTODIA_INTAKE) + " --dir " + quote(intake_admin_dir_.string()) +
                  " serve --listen 127.0.0.1:0 2>&1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.out.find("server.key"), std::string::npos) << r.out;
}

TEST_F(IntakeTest, init_never_overwrites_a_server) {
    const auto key_before = read_text(intake_admin_dir_ / "server.key");
    const auto r =
        run_shell(std::string(CUSTODIA_INTAKE) + " --dir " + quote(intake_admin_dir_.string()) +
                  " init --name other --url https://127.0.0.1:2 2>&1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(read_text(intake_admin_dir_ / "server.key"), key_before);
}

TEST_F(IntakeTest, replayed_request_is_rejected) {
    start();
    Device device(8);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "replay", 1000, 17);
    const std::string body =
        json{{"envelope", bundle.envelope}, {"checkpoint", device.checkpoint(1)}}.dump();
    const std::vector<std::string> headers = {"Content-Type: application/json",
                                              "Upload-Length: 1000"};
    auto first = raw(device, pin, "POST", "/v1/uploads", headers, body);
    EXPECT_EQ(first.status, 201) << first.body;
    auto again = raw(device, pin, "POST", "/v1/uploads", headers, body, {}, last_auth_);
    EXPECT_EQ(again.status, 401);
    EXPECT_EQ(json::parse(again.body)["error"], "replay");
    // Still refused after a restart: nonces are recorded durably.
    server_->stop();
    server_->restart(*ca_);
    auto after_restart = raw(device, pin, "POST", "/v1/uploads", headers, body, {}, last_auth_);
    EXPECT_EQ(after_restart.status, 401);
}

TEST_F(IntakeTest, request_signed_for_another_path_or_body_is_rejected) {
    start();
    Device device(9);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "tamper", 1000, 18);
    const std::string body =
        json{{"envelope", bundle.envelope}, {"checkpoint", device.checkpoint(1)}}.dump();
    auto other_body = raw(device, pin, "POST", "/v1/uploads",
                          {"Content-Type: application/json", "Upload-Length: 1000"}, body,
                          crypto::sha256(body + " "));
    EXPECT_EQ(other_body.status, 401);
}

TEST_F(IntakeTest, unknown_device_is_rejected) {
    start();
    Device enrolled(10), stranger(11);
    const auto pin = enrol(enrolled);
    const auto bundle = make_bundle(stranger, "stranger", 5000, 19);
    auto result = client(stranger, pin, transport())->upload(request(bundle, stranger));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::auth_failed);
    EXPECT_EQ(list_bundles().size(), 0u);
}

TEST_F(IntakeTest, revoked_device_is_rejected_and_its_partial_uploads_dropped) {
    start();
    Device device(12);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "revoked", 5000, 20);
    const auto path = raw_create(device, pin, bundle);
    ASSERT_FALSE(path.empty());
    testing::intake_admin(intake_admin_dir_, "revoke " + device.id());
    auto result = client(device, pin, transport())->upload(request(bundle, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::auth_failed);
    EXPECT_NE(result.error().message.find("revoked"), std::string::npos);
    EXPECT_TRUE(std::filesystem::is_empty(intake_admin_dir_ / "uploads"));
    const auto devices = json::parse(testing::intake_admin(intake_admin_dir_, "devices --json"));
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_FALSE(devices[0]["revoked"].is_null());
}

TEST_F(IntakeTest, bundle_that_does_not_match_its_envelope_gets_no_receipt) {
    start();
    Device device(13);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "mismatch", 200000, 21);
    // Same size, other bytes: every chunk passes its checksum, the whole
    // file fails the envelope.
    write_bundle(bundle.file, bundle.size, 999);
    auto result = client(device, pin, transport())->upload(request(bundle, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::malformed);
    EXPECT_EQ(list_bundles().size(), 0u);
    EXPECT_EQ(stored_objects(), 0u);
    EXPECT_TRUE(std::filesystem::is_empty(intake_admin_dir_ / "uploads"));
}

TEST_F(IntakeTest, envelope_signed_by_another_key_is_refused_at_creation) {
    start();
    Device device(14), other(15);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(other, "foreign-envelope", 1000, 22);
    const std::string body =
        json{{"envelope", bundle.envelope}, {"checkpoint", device.checkpoint(1)}}.dump();
    auto a = raw(device, pin, "POST", "/v1/uploads",
                 {"Content-Type: application/json", "Upload-Length: 1000"}, body);
    EXPECT_EQ(a.status, 400);
    EXPECT_EQ(json::parse(a.body)["error"], "bad_envelope");
}

TEST_F(IntakeTest, oversized_chunk_and_bundle_are_refused_with_413) {
    start({"--max-chunk-size", "1048576", "--max-bundle-size", "4194304"});
    Device device(16);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "big-chunk", 3 * kMiB, 23);
    const auto path = raw_create(device, pin, bundle);
    const std::string chunk(2 * kMiB, 'x');
    auto a = raw(device, pin, "PATCH", path,
                 {"Content-Type: application/offset+octet-stream", "Upload-Offset: 0",
                  chunk_checksum(chunk)},
                 chunk, crypto::sha256(chunk));
    EXPECT_EQ(a.status, 413);
    const auto too_big = make_bundle(device, "too-big", 5 * kMiB, 24);
    auto result = client(device, pin, transport())->upload(request(too_big, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::limit);
}

TEST_F(IntakeTest, chunk_with_wrong_checksum_gets_460_and_offset_stays) {
    start();
    Device device(17);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "checksum", 4096, 25);
    const auto path = raw_create(device, pin, bundle);
    const std::string chunk(1024, 'a');
    const auto wrong = crypto::sha256(std::string(1024, 'b'));
    auto a = raw(device, pin, "PATCH", path,
                 {"Content-Type: application/offset+octet-stream", "Upload-Offset: 0",
                  "Upload-Checksum: sha256 " + crypto::to_base64(wrong, true)},
                 chunk, wrong);
    EXPECT_EQ(a.status, 460) << a.body;
    auto head = raw(device, pin, "HEAD", path, {}, "");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.headers["upload-offset"], "0");
    EXPECT_EQ(head.headers["cache-control"], "no-store");
}

TEST_F(IntakeTest, chunk_at_wrong_offset_gets_409) {
    start();
    Device device(18);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "offset", 4096, 26);
    const auto path = raw_create(device, pin, bundle);
    const std::string chunk(1024, 'a');
    auto a = raw(device, pin, "PATCH", path,
                 {"Content-Type: application/offset+octet-stream", "Upload-Offset: 1024",
                  chunk_checksum(chunk)},
                 chunk);
    EXPECT_EQ(a.status, 409);
    EXPECT_EQ(a.headers["upload-offset"], "0");
}

TEST_F(IntakeTest, abandoned_partial_upload_is_collected_after_its_ttl) {
    start({"--upload-ttl", "2", "--gc-interval", "1"});
    Device device(19);
    const auto pin = enrol(device);
    const auto bundle = make_bundle(device, "abandoned", 4096, 27);
    const auto path = raw_create(device, pin, bundle);
    const std::string chunk = read_text(bundle.file).substr(0, 1024);
    auto a = raw(device, pin, "PATCH", path,
                 {"Content-Type: application/offset+octet-stream", "Upload-Offset: 0",
                  chunk_checksum(chunk)},
                 chunk);
    EXPECT_EQ(a.status, 204);
    EXPECT_FALSE(std::filesystem::is_empty(intake_admin_dir_ / "uploads"));
    std::this_thread::sleep_for(std::chrono::seconds(5));
    EXPECT_TRUE(std::filesystem::is_empty(intake_admin_dir_ / "uploads"));
    EXPECT_EQ(raw(device, pin, "HEAD", path, {}, "").status, 404);
}

TEST_F(IntakeTest, receipt_not_signed_by_the_pinned_key_is_refused) {
    start();
    Device device(20);
    const auto pin = enrol(device);
    auto c = client(device, pin, transport());
    const auto bundle = make_bundle(device, "forged-receipt", 10000, 28);
    auto first = c->upload(request(bundle, device));
    ASSERT_TRUE(first.ok());
    // Replace the stored receipt with one signed by another key, through the
    // sqlcipher shell (the index is plain SQLite). The server now answers a
    // re-upload with it.
    crypto::DeterministicRandom r(77);
    const auto impostor = crypto::Ed25519SecretKey::generate(r);
    auto forged = sync::sign_receipt(first->receipt, "intake.test", impostor);
    ASSERT_TRUE(forged.ok());
    const auto sql = "UPDATE receipts SET receipt = '" + *forged + "';";
    const auto s = run_shell("sqlcipher " + quote((intake_admin_dir_ / "intake.db").string()) +
                             " " + quote(sql) + " 2>&1");
    ASSERT_EQ(s.exit_code, 0) << s.out;
    auto second = c->upload(request(bundle, device));
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, Errc::auth_failed);
}

TEST_F(IntakeTest, client_with_wrong_pinned_server_key_sends_nothing_that_is_accepted) {
    start();
    Device device(21);
    enrol(device);
    crypto::DeterministicRandom r(78);
    const auto impostor = crypto::Ed25519SecretKey::generate(r);
    auto wrong_pin = sync::ServerPin::make(server_->url(), "intake.test", impostor.public_key());
    const auto bundle = make_bundle(device, "wrong-pin", 10000, 29);
    // Requests are bound to the pinned key, so the real server refuses them
    // before any receipt could be issued.
    auto result = client(device, *wrong_pin, transport())->upload(request(bundle, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::auth_failed);
    EXPECT_EQ(list_bundles().size(), 0u);
}

TEST_F(IntakeTest, untrusted_tls_certificate_fails_closed) {
    start();
    Device device(22);
    const auto pin = enrol(device);
    auto t = transport();
    t.ca_file = ca_->other_ca_cert;
    const auto bundle = make_bundle(device, "bad-ca", 1000, 30);
    auto result = client(device, pin, t, fast_retry(2))->upload(request(bundle, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::io);
    EXPECT_NE(result.error().message.find("certificate"), std::string::npos);
    EXPECT_EQ(list_bundles().size(), 0u);
}

TEST_F(IntakeTest, stale_request_time_is_rejected) {
    start();
    Device device(23);
    const auto pin = enrol(device);
    core::FixedClock an_hour_ago(clock_.now().unix_ms - std::int64_t{3600} * 1000);
    auto c = sync::IntakeClient::create(pin, device.signer, transport(), fast_retry(2),
                                        crypto::system_random(), an_hour_ago);
    const auto bundle = make_bundle(device, "stale", 1000, 31);
    auto result = (*c)->upload(request(bundle, device));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::auth_failed);
}

TEST_F(IntakeTest, device_name_with_a_terminal_escape_is_refused) {
    start();
    Device device(35);
    auto code = sync::EnrolmentCode::parse(enrolment_code(server_->url()));
    ASSERT_TRUE(code.ok());
    // U+009B is the 8-bit CSI: it would drive the administrator's terminal.
    auto pin = sync::IntakeClient::enrol(*code, device.signer,
                                         "laptop\xC2\x9B"
                                         "2J",
                                         transport(), crypto::system_random(), clock_);
    ASSERT_FALSE(pin.ok());
    auto ok = sync::IntakeClient::enrol(*code, device.signer, "Łódź laptop", transport(),
                                        crypto::system_random(), clock_);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    const auto devices = json::parse(testing::intake_admin(intake_admin_dir_, "devices --json"));
    ASSERT_EQ(devices.size(), 1u);
    EXPECT_EQ(devices[0]["name"], "Łódź laptop");
}

TEST_F(IntakeTest, enrolment_code_works_once) {
    start();
    Device a(24), b(25);
    auto code = sync::EnrolmentCode::parse(enrolment_code(server_->url()));
    ASSERT_TRUE(code.ok());
    auto first = sync::IntakeClient::enrol(*code, a.signer, "a", transport(),
                                           crypto::system_random(), clock_);
    ASSERT_TRUE(first.ok()) << first.error().message;
    auto second = sync::IntakeClient::enrol(*code, b.signer, "b", transport(),
                                            crypto::system_random(), clock_);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, Errc::auth_failed);
}

TEST_F(IntakeTest, expired_enrolment_code_is_refused) {
    start();
    Device device(26);
    auto code = sync::EnrolmentCode::parse(enrolment_code(server_->url(), "--ttl 1"));
    ASSERT_TRUE(code.ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto pin = sync::IntakeClient::enrol(*code, device.signer, "late", transport(),
                                         crypto::system_random(), clock_);
    ASSERT_FALSE(pin.ok());
    EXPECT_EQ(pin.error().code, Errc::auth_failed);
}

TEST_F(IntakeTest, require_proxy_with_closed_proxy_port_sends_zero_bytes) {
    start();
    Device device(27);
    enrol(device);
    // Everything that reaches the server goes through this counter.
    TcpProxy counter(server_->port());
    // The environment must not be able to route around the proxy. (Only
    // this thread reads the environment while these are set.)
    ::setenv("NO_PROXY", "127.0.0.1,localhost", 1);  // NOLINT(concurrency-mt-unsafe)
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);  // NOLINT(concurrency-mt-unsafe)
    auto t = transport();
    t.require_proxy = true;
    t.proxy = "socks5h://127.0.0.1:" + std::to_string(testing::closed_port());
    const auto bundle = make_bundle(device, "no-tor", 10000, 32);
    auto result =
        client(device, pin_for(counter.url()), t, fast_retry(3))->upload(request(bundle, device));
    ::unsetenv("NO_PROXY");  // NOLINT(concurrency-mt-unsafe)
    ::unsetenv("no_proxy");  // NOLINT(concurrency-mt-unsafe)
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, Errc::io);
    EXPECT_EQ(counter.connections(), 0u);
    EXPECT_EQ(counter.bytes_up(), 0u);
    EXPECT_NE(result.error().message.find("proxy"), std::string::npos);
}

TEST_F(IntakeTest, require_proxy_without_a_socks5h_proxy_is_refused_up_front) {
    Device device(28);
    auto t = transport();
    t.require_proxy = true;
    auto none = sync::IntakeClient::create(pin_for("https://127.0.0.1:1"), device.signer, t,
                                           fast_retry(), crypto::system_random(), clock_);
    EXPECT_FALSE(none.ok());
    t.proxy = "socks5://127.0.0.1:9050";  // would resolve names locally
    auto local_dns = sync::IntakeClient::create(pin_for("https://127.0.0.1:1"), device.signer, t,
                                                fast_retry(), crypto::system_random(), clock_);
    EXPECT_FALSE(local_dns.ok());
}

TEST_F(IntakeTest, onion_server_without_a_socks5h_proxy_is_refused_up_front) {
    Device device(34);
    const auto onion = "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion";
    auto direct = sync::IntakeClient::create(pin_for(onion), device.signer, transport(),
                                             fast_retry(), crypto::system_random(), clock_);
    EXPECT_FALSE(direct.ok());
    auto t = transport();
    t.proxy = "socks5h://127.0.0.1:9050";
    auto via_tor = sync::IntakeClient::create(pin_for(onion), device.signer, t, fast_retry(),
                                              crypto::system_random(), clock_);
    EXPECT_TRUE(via_tor.ok());
}

TEST_F(IntakeTest, upload_through_microsocks_with_socks5h) {
    start();
    Device device(29);
    enrol(device);
    TcpProxy counter(server_->port());
    // microsocks connects out from 127.0.0.2, so the counter can tell a
    // proxied connection from a direct one (127.0.0.1).
    const int socks_port = testing::closed_port();
    testing::ChildProcess microsocks({"/usr/bin/microsocks", "-i", "127.0.0.1", "-p",
                                      std::to_string(socks_port), "-b", "127.0.0.2"},
                                     tmp_ / "microsocks.log", tmp_ / "microsocks.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(microsocks.running());
    auto t = transport();
    t.require_proxy = true;
    t.proxy = "socks5h://127.0.0.1:" + std::to_string(socks_port);
    // "localhost" is resolved by the proxy (socks5h), as a .onion name would be.
    const auto pin = pin_for("https://localhost:" + std::to_string(counter.port()));
    const auto bundle = make_bundle(device, "via-socks", 3 * kMiB + 1, 33);
    auto result = client(device, pin, t)->upload(request(bundle, device));
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(crypto::to_hex(result->receipt.sha256), bundle.sha256);
    EXPECT_GE(counter.connections(), 1u);
    EXPECT_EQ(counter.peers(), std::set<std::string>{"127.0.0.2"});
    microsocks.stop();
}

TEST_F(IntakeTest, logs_are_json_lines_without_secrets) {
    start();
    Device device(30);
    const std::string code_text = enrolment_code(server_->url());
    auto code = sync::EnrolmentCode::parse(code_text);
    ASSERT_TRUE(code.ok());
    const std::string secret_name = "Amira's phone";
    auto pin = sync::IntakeClient::enrol(*code, device.signer, secret_name, transport(),
                                         crypto::system_random(), clock_);
    ASSERT_TRUE(pin.ok());
    const auto bundle = make_bundle(device, "logged", 70000, 34);
    ASSERT_TRUE(client(device, *pin, transport())->upload(request(bundle, device)).ok());
    auto replay = raw(device, *pin, "HEAD", "/v1/uploads/0123456789abcdef0123456789abcdef", {}, "");
    EXPECT_EQ(replay.status, 404);
    server_->stop();
    const std::string log = server_->log();
    const std::string token = sync::to_base64url(code->token().span());
    EXPECT_EQ(log.find(token), std::string::npos);
    EXPECT_EQ(log.find(secret_name), std::string::npos);
    EXPECT_EQ(log.find(last_auth_->nonce), std::string::npos);
    EXPECT_EQ(log.find(last_auth_->signature), std::string::npos);
    std::istringstream lines(log);
    std::string line;
    int requests = 0;
    while (std::getline(lines, line)) {
        const auto j = json::parse(line, nullptr, false);
        ASSERT_TRUE(j.is_object()) << line;
        if (j["event"] == "request") {
            ++requests;
            // No client address: where an investigator connects from is
            // nobody's business.
            EXPECT_EQ(line.find("127.0.0.1"), std::string::npos) << line;
            // Only parsed requests are logged one by one; noise is counted.
            const std::set<std::string> methods = {"HEAD", "POST", "PATCH", "OPTIONS", "GET"};
            EXPECT_TRUE(methods.count(j["method"].get<std::string>())) << line;
        }
    }
    EXPECT_GE(requests, 4);
}

TEST_F(IntakeTest, plain_http_is_refused_on_a_non_loopback_address) {
    const auto r = run_shell(std::string(CUSTODIA_INTAKE) + " --dir " +
                             quote(intake_admin_dir_.string()) + " serve --listen 0.0.0.0:0 2>&1");
    EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST_F(IntakeTest, tls_connection_that_trickles_its_headers_is_cut) {
    start({"--header-timeout", "2", "--read-timeout", "5"});
    // openssl s_client completes the handshake, then we feed it one byte a
    // second: each read is well inside the read timeout, so only the
    // watchdog can end it.
    (void)::signal(SIGPIPE, SIG_IGN);  // the feeder may write after s_client is gone
    const auto fifo = tmp_ / "trickle";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto started = std::chrono::steady_clock::now();
    testing::ChildProcess s_client(
        {"/bin/sh", "-c",
         "exec openssl s_client -quiet -connect 127.0.0.1:" + std::to_string(server_->port()) +
             " -CAfile " + quote(ca_->ca_cert.string()) + " < " + quote(fifo.string())},
        tmp_ / "s_client.log", tmp_ / "s_client.log");
    std::atomic<bool> done{false};
    std::thread feeder([&] {
        std::ofstream out(fifo);
        for (int i = 0; i < 20 && !done; ++i) {
            out << "G" << std::flush;
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
    });
    const auto exit = s_client.wait_exit(std::chrono::seconds(15));
    const auto elapsed = std::chrono::steady_clock::now() - started;
    done = true;
    s_client.stop();
    feeder.join();
    ASSERT_TRUE(exit.has_value());
    EXPECT_LT(elapsed, std::chrono::seconds(10));
    EXPECT_NE(server_->log().find("\"connection_cut\""), std::string::npos);
}

}  // namespace
}  // namespace custodia
