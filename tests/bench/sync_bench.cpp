// Upload figures of tracker issue 5 (DESIGN.md §9): one bundle uploaded over
// loopback TLS to a real custodia-intake
//   - by our client, through a proxy that cuts every connection after
//     64 MiB sent (the client resumes from the server's offset each time);
//   - by curl(1) -T, one PATCH of the whole file through the same proxy
//     without cuts. The protocol makes every PATCH carry the SHA-256 of its
//     body (Upload-Checksum, and the signature is over it), so curl's clock
//     covers `openssl dgst -sha256` of the file (the fastest standard tool
//     for it) and then curl; the POST that creates the upload is done before
//     the clock starts. curl's time without the hash is reported too.
// Each upload goes to a freshly initialised server, so neither finds the
// bundle already held. Both end with the server's receipt: ours is verified
// by the client; curl's answer is checked for one. The bytes compared are
// those the proxy forwarded from client to server (TLS records included).
//
//   sync_bench <bundle file> <work dir> [rounds]
//
// Prints "name value" lines for tests/bench/sync_bench.sh. Needs openssl and
// curl on PATH.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/sign.h"
#include "custodia/sync/client.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/request_auth.h"
#include "integration/intake_harness.h"
#include "support/process.h"

namespace {

using namespace custodia;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::quote;

constexpr std::uint64_t kCutEvery = std::uint64_t{64} << 20;

// Thrown, not exit(): the destructors stop the servers this run started.
[[noreturn]] void die(const std::string& message) {
    throw std::runtime_error(message);
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(*r);
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string file_sha256(const fs::path& path) {
    auto r = testing::run_shell("sha256sum " + quote(path.string()));
    if (r.exit_code != 0 || r.out.size() < 64) die("sha256sum failed");
    return r.out.substr(0, 64);
}

struct Measurement {
    double seconds = 0;
    std::uint64_t bytes_up = 0;
    std::uint64_t cuts = 0;
    int failed_requests = 0;
};

// One freshly initialised server with this device enrolled.
class Server {
  public:
    Server(const fs::path& dir, const testing::TestCa& ca, const sync::DeviceSigner& device,
           core::Clock& clock)
        : dir_(dir) {
        testing::intake_admin(dir, "init --name bench.test --url https://127.0.0.1:1");
        // One PATCH may carry the whole file, so that curl needs no chunking.
        server_ = std::make_unique<testing::IntakeServer>(
            dir, ca,
            std::vector<std::string>{"--max-chunk-size", std::to_string(std::uint64_t{4} << 30),
                                     "--max-connection-time", "3600"});
        auto out = testing::intake_admin(dir, "enroll --url " + server_->url());
        while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
        const auto code =
            must(sync::EnrolmentCode::parse(out.substr(out.rfind('\n') + 1)), "enrolment code");
        pin_.emplace(must(sync::IntakeClient::enrol(code, device, "bench", transport(ca),
                                                    crypto::system_random(), clock),
                          "enrol"));
    }
    ~Server() { server_->stop(); }

    static sync::TransportOptions transport(const testing::TestCa& ca) {
        sync::TransportOptions t;
        t.ca_file = ca.ca_cert;
        return t;
    }
    int port() const { return server_->port(); }
    const sync::ServerPin& pin() const { return *pin_; }

  private:
    fs::path dir_;
    std::unique_ptr<testing::IntakeServer> server_;
    std::optional<sync::ServerPin> pin_;
};

std::string checkpoint_note(const crypto::Ed25519SecretKey& key, const std::string& device_id) {
    core::Checkpoint c;
    c.origin = "custodia.example/device/" + device_id;
    c.size = 1;
    c.root = crypto::sha256(std::string_view("bench"));
    auto note = must(core::SignedNote::from_text(must(c.to_text(), "checkpoint")), "note");
    if (!core::sign_note_ed25519(note, "device-" + device_id, key).ok()) die("sign checkpoint");
    return note.serialize();
}

}  // namespace

int run(int argc, char** argv) {
    if (argc < 3) die("usage: sync_bench <bundle file> <work dir> [rounds]");
    const fs::path bundle = argv[1];
    const fs::path work = argv[2];
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    const std::uint64_t size = fs::file_size(bundle);

    testing::WallClock clock;
    crypto::DeterministicRandom seed(20261124);
    const auto key = crypto::Ed25519SecretKey::generate(seed);
    const sync::Ed25519DeviceSigner device(key);
    const std::string device_id = sync::device_key_id_hex(key.public_key());
    const std::string envelope = must(
        sync::make_envelope(bundle, "bench-bundle", clock.now().unix_ms / 1000, key), "envelope");
    const std::string checkpoint = checkpoint_note(key, device_id);
    const std::string reference_sha = file_sha256(bundle);

    fs::create_directories(work / "ca");
    const auto ca = testing::TestCa::make(work / "ca");

    Measurement best_ours, best_uncut, best_curl;
    double best_curl_patch = 0;  // curl alone, its hash computed beforehand
    for (int round = 0; round < rounds; ++round) {
        for (const bool cut : {true, false}) {  // ours, cut every 64 MiB and uncut
            const fs::path dir = work / ("ours-" + std::to_string(round));
            {
                Server server(dir, ca, device, clock);
                testing::TcpProxy proxy(server.port());
                if (cut) proxy.set_cut_policy([] { return kCutEvery; });
                const auto pin = must(
                    sync::ServerPin::make(proxy.url(), server.pin().name(), server.pin().key()),
                    "pin");
                sync::RetryPolicy retry;  // the production policy
                auto client =
                    must(sync::IntakeClient::create(pin, device, Server::transport(ca), retry,
                                                    crypto::system_random(), clock),
                         "client");
                const auto start = Clock::now();
                const auto result = must(
                    client->upload(sync::UploadRequest{bundle, envelope, checkpoint}), "upload");
                const Measurement m{seconds_since(start), proxy.bytes_up(), proxy.cuts(),
                                    result.attempts};
                if (crypto::to_hex(result.receipt.sha256) != reference_sha)
                    die("the receipt's SHA-256 is not sha256sum's");
                Measurement& best = cut ? best_ours : best_uncut;
                if (round == 0 || m.seconds < best.seconds) best = m;
            }
            fs::remove_all(dir);
        }
        {  // curl -T, no cuts.
            const fs::path dir = work / ("curl-" + std::to_string(round));
            Server server(dir, ca, device, clock);
            testing::TcpProxy proxy(server.port());
            const std::string base = proxy.url();
            auto signed_headers = [&](const std::string& method, const std::string& path,
                                      const crypto::Sha256Digest& body_hash) {
                const auto auth =
                    sync::sign_request(device, server.pin().key(), method, path, body_hash,
                                       clock.now().unix_ms / 1000, crypto::system_random());
                return " -H " + quote("Custodia-Device: " + auth.device) + " -H " +
                       quote("Custodia-Time: " + auth.time) + " -H " +
                       quote("Custodia-Nonce: " + auth.nonce) + " -H " +
                       quote("Custodia-Signature: " + auth.signature) +
                       " -H 'Tus-Resumable: 1.0.0' -H 'Expect:'";
            };
            const std::string curl = "curl -sS --cacert " + quote(ca.ca_cert.string());
            const std::string create_body =
                nlohmann::json{{"envelope", envelope}, {"checkpoint", checkpoint}}.dump();
            testing::write_text(dir.parent_path() / "create.json", create_body);
            const auto created = testing::run_shell(
                curl + " -D - -o /dev/null -X POST -H 'Content-Type: application/json' -H " +
                quote("Upload-Length: " + std::to_string(size)) +
                signed_headers("POST", "/v1/uploads", crypto::sha256(create_body)) +
                " --data-binary @" + quote((dir.parent_path() / "create.json").string()) + " " +
                quote(base + "/v1/uploads"));
            std::string lower = created.out;
            for (auto& c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const auto at = lower.find("location: ");
            if (created.exit_code != 0 || at == std::string::npos)
                die("curl could not create the upload: " + created.out);
            const std::string path =
                created.out.substr(at + 10, created.out.find('\r', at) - at - 10);
            const auto hash_start = Clock::now();
            const auto dgst =
                testing::run_shell("openssl dgst -sha256 -r " + quote(bundle.string()));
            const double hash_seconds = seconds_since(hash_start);
            if (dgst.exit_code != 0 || dgst.out.substr(0, 64) != reference_sha)
                die("openssl dgst and sha256sum disagree: " + dgst.out);
            const auto digest = crypto::from_hex(dgst.out.substr(0, 64));
            if (!digest || digest->size() != 32) die("openssl printed no digest");
            crypto::Sha256Digest body_hash{};
            std::copy(digest->begin(), digest->end(), body_hash.begin());
            const std::string patch =
                curl + " -o " + quote((dir.parent_path() / "curl-answer").string()) +
                " -w '%{http_code}' -X PATCH -T " + quote(bundle.string()) +
                " -H 'Content-Type: application/offset+octet-stream' -H 'Upload-Offset: 0' -H " +
                quote("Upload-Checksum: sha256 " + crypto::to_base64(body_hash, true)) +
                signed_headers("PATCH", path, body_hash) + " " + quote(base + path);
            const auto before = proxy.bytes_up();
            const auto start = Clock::now();
            const auto r = testing::run_shell(patch);
            const double seconds = seconds_since(start);
            const auto answer = testing::read_text(dir.parent_path() / "curl-answer");
            if (r.exit_code != 0 || r.out != "200" || answer.find("receipt") == std::string::npos)
                die("curl's upload got no receipt: " + r.out + " " + answer);
            const Measurement m{hash_seconds + seconds, proxy.bytes_up() - before, 0};
            if (round == 0 || m.seconds < best_curl.seconds) best_curl = m;
            if (round == 0 || seconds < best_curl_patch) best_curl_patch = seconds;
        }
        fs::remove_all(work / ("curl-" + std::to_string(round)));
    }

    std::printf("bundle_bytes %llu\n", static_cast<unsigned long long>(size));
    std::printf("ours_seconds %.3f\n", best_ours.seconds);
    std::printf("ours_bytes_up %llu\n", static_cast<unsigned long long>(best_ours.bytes_up));
    std::printf("ours_cuts %llu\n", static_cast<unsigned long long>(best_ours.cuts));
    std::printf("ours_failed_requests %d\n", best_ours.failed_requests);
    std::printf("uncut_seconds %.3f\n", best_uncut.seconds);
    std::printf("uncut_bytes_up %llu\n", static_cast<unsigned long long>(best_uncut.bytes_up));
    std::printf("curl_seconds %.3f\n", best_curl.seconds);
    std::printf("curl_bytes_up %llu\n", static_cast<unsigned long long>(best_curl.bytes_up));
    std::printf("curl_patch_seconds %.3f\n", best_curl_patch);
    return 0;
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sync_bench: %s\n", e.what());
        return 1;
    }
}
