#include "custodia/sync/client.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "unique_fd.h"

namespace custodia::sync {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

void ensure_curl_initialised() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// A request body read from the bundle file while it is sent, so that a chunk
// of any size costs no memory.
struct FileRange {
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct HttpRequest {
    std::string method;
    std::string path;
    std::vector<std::string> headers;
    std::span<const std::uint8_t> body;
    // For PATCH the signed body hash is the chunk's, computed by the caller.
    crypto::Sha256Digest body_sha256{};
    // Set by perform(), also when the transfer fails: body bytes curl sent.
    std::uint64_t bytes_sent = 0;
    std::optional<FileRange> file_body{};  // instead of `body`
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// An answer body longer than this is not the protocol.
constexpr std::size_t kMaxAnswerBytes = std::size_t{1} << 20;

struct TransferContext {
    HttpResponse* response = nullptr;
    const core::Progress* progress = nullptr;
    std::uint64_t progress_base = 0;
    std::uint64_t progress_total = 0;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* ctx = static_cast<TransferContext*>(user);
    const std::size_t n = size * count;
    if (ctx->response->body.size() + n > kMaxAnswerBytes) return 0;  // aborts the transfer
    ctx->response->body.append(data, n);
    return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* ctx = static_cast<TransferContext*>(user);
    const std::size_t n = size * count;
    std::string_view line(data, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    // A new status line (after "100 Continue", say) starts a new header set.
    if (line.substr(0, 5) == "HTTP/") {
        ctx->response->headers.clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return n;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    ctx->response->headers[name] = std::string(value);
    return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
    auto* ctx = static_cast<TransferContext*>(user);
    if (ctx->progress == nullptr) return 0;
    if (ctx->progress->cancelled()) return 1;
    if (ctx->progress_total > 0 && ulnow > 0)
        (*ctx->progress)(ctx->progress_base + static_cast<std::uint64_t>(ulnow),
                         ctx->progress_total);
    return 0;
}

struct FileBodyReader {
    FileRange range;
    std::uint64_t position = 0;  // within the range
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* r = static_cast<FileBodyReader*>(user);
    const std::uint64_t left = r->range.length - r->position;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size * count, left));
    if (want == 0) return 0;
    for (;;) {
        const ssize_t k =
            ::pread(r->range.fd, buffer, want, static_cast<off_t>(r->range.offset + r->position));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return CURL_READFUNC_ABORT;
        r->position += static_cast<std::uint64_t>(k);
        return static_cast<std::size_t>(k);
    }
}

// SHA-256 of a range of the file, read in pieces.
Result<crypto::Sha256Digest> hash_file_range(int fd, std::uint64_t offset, std::uint64_t length) {
    crypto::Sha256 hash;
    std::vector<std::uint8_t> buf(std::size_t{1} << 20);
    for (std::uint64_t done = 0; done < length;) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - done));
        const ssize_t k = ::pread(fd, buf.data(), want, static_cast<off_t>(offset + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return make_error(Errc::io, "the bundle file could not be read");
        hash.update(std::span(buf.data(), static_cast<std::size_t>(k)));
        done += static_cast<std::uint64_t>(k);
    }
    return hash.finish();
}

struct HashAhead {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::future<Result<crypto::Sha256Digest>> digest;
};

// Starts hashing a range on its own thread; nullopt if no thread can be
// started (the range is then hashed when it is needed).
std::optional<HashAhead> hash_ahead(int fd, std::uint64_t offset, std::uint64_t length) {
    try {
        return HashAhead{offset, length, std::async(std::launch::async, [fd, offset, length] {
                             return hash_file_range(fd, offset, length);
                         })};
    } catch (const std::system_error&) {
        return std::nullopt;
    }
}

std::string describe_curl_error(CURLcode code, const TransportOptions& transport) {
    const bool proxied = !transport.proxy.empty();
    switch (code) {
        case CURLE_COULDNT_RESOLVE_PROXY:
            return "the proxy's address could not be resolved; nothing was sent";
        case CURLE_COULDNT_RESOLVE_HOST:
            return "the server's name could not be resolved";
        case CURLE_COULDNT_CONNECT:
            return proxied ? "could not connect through the proxy (is Tor running?); nothing "
                             "was sent directly"
                           : "could not connect to the server";
        case CURLE_PROXY:
            return "the proxy refused or could not reach the server";
        case CURLE_OPERATION_TIMEDOUT:
            return "the connection timed out or was too slow";
        case CURLE_PEER_FAILED_VERIFICATION:
            return "the server's TLS certificate is not trusted (wrong server or wrong CA)";
        case CURLE_SSL_CONNECT_ERROR:
            return "the TLS handshake with the server failed";
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SEND_FAIL_REWIND:  // a cut that libcurl would have resent
            return "the connection was cut";
        case CURLE_UNSUPPORTED_PROTOCOL:
            return "the server URL's scheme is not allowed";
        default:
            return std::string("network error: ") + curl_easy_strerror(code);
    }
}

std::optional<std::uint64_t> parse_u64(const std::map<std::string, std::string>& headers,
                                       const std::string& name) {
    const auto it = headers.find(name);
    if (it == headers.end() || it->second.empty() || it->second.size() > 20) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : it->second) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

// The protocol's short error code from an answer body, or "".
std::string server_error_code(const HttpResponse& r) {
    const json body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) return {};
    const auto code = body.find("error");
    return code != body.end() && code->is_string() ? code->get<std::string>() : std::string();
}

// The server's error code and message, for a person to read.
std::string server_reason(const HttpResponse& r) {
    const json body = json::parse(r.body, nullptr, false);
    std::string text = "the server answered " + std::to_string(r.status);
    if (body.is_object()) {
        const auto message = body.find("message");
        if (message != body.end() && message->is_string()) {
            // Only printable ASCII from the server reaches a person's screen.
            std::string clean;
            for (char c : message->get<std::string>().substr(0, 200))
                clean.push_back(c >= 0x20 && c < 0x7f ? c : '?');
            text += ": " + clean;
        }
    }
    return text;
}

bool is_upload_path(std::string_view path) {
    const std::string prefix = std::string(protocol::kUploadsPath) + "/";
    if (path.size() != prefix.size() + 32 || path.substr(0, prefix.size()) != prefix) return false;
    return std::all_of(path.begin() + static_cast<std::ptrdiff_t>(prefix.size()), path.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status check_transport(const TransportOptions& t, std::string_view url) {
    const std::string_view proxy = t.proxy;
    const bool socks5h = proxy.substr(0, 10) == "socks5h://";
    if (t.require_proxy && !socks5h)
        return malformed(
            "a proxy is required but none is set (it must be socks5h://host:port, so that names "
            "are resolved by the proxy)");
    if (!proxy.empty() && !socks5h && proxy.substr(0, 9) != "socks5://" &&
        proxy.substr(0, 7) != "http://" && proxy.substr(0, 8) != "https://")
        return malformed("the proxy must be a socks5h://, socks5:// or http(s):// URL");
    if (!is_valid_server_url(url))
        return malformed(
            "the server URL must be https:// (http only to a loopback or .onion address)");
    if (is_onion_url(url) && !socks5h)
        return malformed("an .onion server is reachable only through Tor: set a socks5h:// proxy");
    return {};
}

std::int64_t unix_now(core::Clock& clock) {
    return clock.now().unix_ms / 1000;
}

// One HTTP exchange on a (re-used) curl handle. Transport failures are
// Errc::io (or cancelled); any HTTP status is a success here.
Result<HttpResponse> perform(CURL* curl, const ServerPin& server, const DeviceSigner& device,
                             const TransportOptions& transport, crypto::RandomSource& random,
                             core::Clock& clock, HttpRequest& request,
                             const core::Progress* progress = nullptr,
                             std::uint64_t progress_base = 0, std::uint64_t progress_total = 0) {
    curl_easy_reset(curl);
    HttpResponse response;
    TransferContext ctx{&response, progress, progress_base, progress_total};
    FileBodyReader reader;
    const std::string url = server.url() + request.path;

    const auto auth = sign_request(device, server.key(), request.method, request.path,
                                   request.body_sha256, unix_now(clock), random);
    curl_slist* raw = nullptr;
    auto add = [&raw](const std::string& h) {
        if (auto* next = curl_slist_append(raw, h.c_str())) raw = next;
    };
    add(std::string(protocol::kDeviceHeader) + ": " + auth.device);
    add(std::string(protocol::kTimeHeader) + ": " + auth.time);
    add(std::string(protocol::kNonceHeader) + ": " + auth.nonce);
    add(std::string(protocol::kSignatureHeader) + ": " + auth.signature);
    add("Tus-Resumable: " + std::string(protocol::kTusVersion));
    // A round trip per chunk for "100 Continue" buys nothing: the server
    // authenticates from the headers and answers early if it must.
    add("Expect:");
    for (const auto& h : request.headers) add(h);
    HeaderList headers(raw);

    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(
        curl, CURLOPT_PROTOCOLS_STR,
        is_loopback_url(server.url()) || is_onion_url(server.url()) ? "http,https" : "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    // TLS is verified, always. Nothing in this file can turn it off.
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (transport.ca_file) {
        // The pinned CA and nothing else: without clearing CAPATH, libcurl
        // would also trust the system's directory of CAs.
        curl_easy_setopt(curl, CURLOPT_CAINFO, transport.ca_file->c_str());
        curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
    }
    // An explicit proxy (or an explicit "none"), and an empty no-proxy list:
    // the environment's http_proxy / NO_PROXY can neither add a proxy nor
    // route a "require proxy" request around it.
    curl_easy_setopt(curl, CURLOPT_PROXY, transport.proxy.c_str());
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(transport.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, transport.low_speed_bytes);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(transport.low_speed_time.count()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ctx);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        if (request.file_body) {
            reader.range = *request.file_body;
            curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
            // No seek function, on purpose: libcurl resends a request whose
            // reused connection broke before an answer came, and a resent
            // PATCH carries the same signature, so the server can only refuse
            // it as a replay after megabytes of body. Unable to rewind, libcurl
            // fails the request at once (CURLE_SEND_FAIL_REWIND) and the
            // client asks the server for its offset.
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.file_body->length));
        } else {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
        }
        if (request.method != "POST")
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    const CURLcode rc = curl_easy_perform(curl);
    curl_off_t sent = 0;
    if (curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &sent) == CURLE_OK && sent > 0)
        request.bytes_sent = static_cast<std::uint64_t>(sent);
    if (rc == CURLE_ABORTED_BY_CALLBACK && progress != nullptr && progress->cancelled())
        return make_error(Errc::cancelled, "the upload was cancelled");
    if (rc != CURLE_OK) {
        Error e = make_error(Errc::io, describe_curl_error(rc, transport));
        return e;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace

struct IntakeClient::State {
    ServerPin server;
    const DeviceSigner& device;
    TransportOptions transport;
    RetryPolicy retry;
    crypto::RandomSource& random;
    core::Clock& clock;
    CurlHandle curl;
};

IntakeClient::IntakeClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
IntakeClient::~IntakeClient() = default;

const ServerPin& IntakeClient::server() const noexcept {
    return state_->server;
}

Result<std::unique_ptr<IntakeClient>> IntakeClient::create(
    ServerPin server, const DeviceSigner& device, TransportOptions transport, RetryPolicy retry,
    crypto::RandomSource& random, core::Clock& clock) {
    auto checked = check_transport(transport, server.url());
    if (!checked) return std::move(checked).error();
    if (retry.max_attempts_without_progress < 1) return malformed("at least one attempt is needed");
    ensure_curl_initialised();
    CurlHandle curl(curl_easy_init());
    if (!curl) return make_error(Errc::internal, "libcurl could not start");
    auto state = std::unique_ptr<State>(new State{std::move(server), device, std::move(transport),
                                                  retry, random, clock, std::move(curl)});
    return std::unique_ptr<IntakeClient>(new IntakeClient(std::move(state)));
}

Result<ServerPin> IntakeClient::enrol(const EnrolmentCode& code, const DeviceSigner& device,
                                      std::string_view device_name,
                                      const TransportOptions& transport,
                                      crypto::RandomSource& random, core::Clock& clock) {
    auto checked = check_transport(transport, code.server().url());
    if (!checked) return std::move(checked).error();
    if (device_name.size() > protocol::kMaxDeviceNameBytes)
        return malformed("the device name is longer than 64 bytes");
    ensure_curl_initialised();
    CurlHandle curl(curl_easy_init());
    if (!curl) return make_error(Errc::internal, "libcurl could not start");

    // The body carries the token: built in a reserved buffer, wiped after.
    std::string token = to_base64url(code.token().span());
    std::string body;
    body.reserve(512);
    body += "{\"token\":\"";
    body += token;
    body += "\",\"public_key\":\"" + crypto::to_base64(device.public_key(), true) + "\"";
    if (!device_name.empty()) body += ",\"name\":" + json(std::string(device_name)).dump();
    body += "}";
    HttpRequest request{"POST",
                        std::string(protocol::kDevicesPath),
                        {"Content-Type: application/json"},
                        crypto::as_bytes(body),
                        crypto::sha256(body)};
    auto response = perform(curl.get(), code.server(), device, transport, random, clock, request);
    // A "replay" means libcurl resent our request after its first copy got
    // through (see upload()); the server answers a repeat by the device that
    // spent the token, so one freshly signed try recovers the answer.
    if (response && response->status == 401 && server_error_code(*response) == "replay")
        response = perform(curl.get(), code.server(), device, transport, random, clock, request);
    crypto::wipe({reinterpret_cast<std::uint8_t*>(token.data()), token.size()});
    crypto::wipe({reinterpret_cast<std::uint8_t*>(body.data()), body.size()});
    if (!response) return std::move(response).error();

    switch (response->status) {
        case 201:
            break;
        case 401:
            return make_error(Errc::auth_failed,
                              "the enrolment code is unknown, already used or expired");
        case 403:
            return make_error(Errc::auth_failed, "this device key was revoked by the server");
        case 409:
            return make_error(Errc::auth_failed, "this device is already enrolled with the server");
        default:
            return make_error(response->status >= 500 ? Errc::io : Errc::malformed,
                              server_reason(*response));
    }
    const json answer = json::parse(response->body, nullptr, false);
    if (!answer.is_object() || !answer.contains("enrolment") || !answer["enrolment"].is_string())
        return malformed("the server's enrolment answer is not the protocol");
    auto verified = verify_enrolment_answer(answer["enrolment"].get<std::string>(), code.server(),
                                            device.public_key());
    if (!verified) return std::move(verified).error();
    return code.server();
}

Result<UploadResult> IntakeClient::upload(const UploadRequest& request,
                                          const core::Progress& progress) {
    State& s = *state_;
    auto envelope = Envelope::parse(request.envelope);
    if (!envelope) return std::move(envelope).error();
    const EnvelopeStatement& statement = envelope->statement();
    const std::string device_id = device_key_id_hex(s.device.public_key());
    if (statement.device != device_key_id(s.device.public_key()))
        return malformed("the envelope is signed by another device");
    auto checkpoint = core::SignedNote::parse(request.checkpoint);
    if (!checkpoint) return malformed("the checkpoint is not a signed note");

    auto fd = detail::open_for_reading(request.bundle_file);
    if (!fd) return std::move(fd).error();
    struct stat info {};
    if (::fstat(fd->get(), &info) != 0 ||
        static_cast<std::uint64_t>(info.st_size) != statement.size)
        return malformed("the bundle file's size differs from its envelope");
    const std::uint64_t length = statement.size;
    const ExpectedReceipt expected{statement.bundle_id, device_id, statement.sha256, length};

    std::string create_body =
        json{{"envelope", request.envelope}, {"checkpoint", request.checkpoint}}.dump();

    UploadResult result;
    // The next chunk's hash, computed while the current chunk is sent.
    // Declared after `fd`, so that it is finished before the file closes.
    std::optional<HashAhead> ahead;
    std::string upload_path;
    std::optional<std::uint64_t> offset;
    std::uint64_t best_offset = 0;
    std::uint64_t chunk_size = protocol::kInitialChunkBytes;
    std::uint64_t max_chunk = protocol::kMaxChunkBytes;
    // After every (re)start the first chunk is hashed before it can be
    // sent, with nothing else to do meanwhile; chunks then grow fourfold up
    // to chunk_size, so that each one is hashed (about three times faster
    // than it is sent) while the one before it is on the wire.
    std::uint64_t ramp = protocol::kInitialChunkBytes;
    auto next_length = [&](std::uint64_t at) {
        return std::min({chunk_size, ramp, max_chunk, length - at});
    };
    int failures = 0;
    int completions_without_receipt = 0;
    Error last_error = make_error(Errc::io, "no attempt was made");

    // Verifies a 200 answer (from POST or the final PATCH) and finishes.
    auto finish = [&](const HttpResponse& r) -> Result<UploadResult> {
        const json body = json::parse(r.body, nullptr, false);
        if (!body.is_object() || !body.contains("receipt") || !body["receipt"].is_string() ||
            !body.contains("cosigned_checkpoint") || !body["cosigned_checkpoint"].is_string())
            return malformed("the server's receipt answer is not the protocol");
        const std::string receipt_note = body["receipt"].get<std::string>();
        auto receipt = verify_receipt(receipt_note, s.server, expected);
        if (!receipt) return std::move(receipt).error();
        const std::string cosigned = body["cosigned_checkpoint"].get<std::string>();
        auto cosigned_time = verify_cosigned_checkpoint(cosigned, request.checkpoint, s.server);
        if (!cosigned_time) return std::move(cosigned_time).error();
        result.receipt = std::move(*receipt);
        result.receipt_note = receipt_note;
        result.cosigned_checkpoint = cosigned;
        result.cosignature_time = *cosigned_time;
        result.already_held = body.value("already_held", false);
        progress(length, length);
        return std::move(result);
    };

    // Counts a failed attempt, gives up when the policy says so, and waits
    // (exponential backoff, full jitter) before the next one.
    auto fail = [&](Error e, std::chrono::milliseconds at_least = {}) -> Status {
        last_error = std::move(e);
        ++result.attempts;
        if (++failures >= s.retry.max_attempts_without_progress) return last_error;
        // The first failure after progress (a cut link, a restarted server)
        // is retried at once: waiting only costs throughput when links are
        // cut often. Failures in a row back off.
        if (failures == 1 && at_least.count() == 0) return {};
        const auto cap = std::min<std::int64_t>(
            s.retry.max_delay.count(),
            s.retry.base_delay.count() * (std::int64_t{1} << std::min(failures - 1, 20)));
        std::uint32_t r = 0;
        const auto bytes = s.random.bytes<4>();
        for (auto b : bytes) r = (r << 8) | b;
        const auto delay =
            std::max(std::min(at_least, s.retry.max_delay),
                     std::chrono::milliseconds(static_cast<std::int64_t>(
                         static_cast<double>(r) / 4294967296.0 * static_cast<double>(cap))));
        const auto until = Clock::now() + delay;
        while (Clock::now() < until) {
            if (progress.cancelled())
                return make_error(Errc::cancelled, "the upload was cancelled");
            std::this_thread::sleep_for(
                std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
        }
        return {};
    };

    auto final_error = [](const HttpResponse& r) -> std::optional<Error> {
        // libcurl resends a request held in memory (POST, HEAD) whose reused
        // connection broke before an answer came, with the same headers; if
        // the first copy reached the server, the second is a "replay".
        // Signing afresh is the cure. (PATCH bodies are never resent: see
        // perform.)
        if (r.status == 401 && server_error_code(r) == "replay") return std::nullopt;
        switch (r.status) {
            case 401:
                return make_error(Errc::auth_failed,
                                  "the server does not accept this device (not enrolled, or "
                                  "its clock is far off)");
            case 403:
                return make_error(Errc::auth_failed, "this device was revoked by the server");
            case 413:
                return make_error(Errc::limit, "the bundle is larger than the server accepts");
            case 507:
                return make_error(Errc::limit,
                                  "the server's storage quota for this device is full");
            case 422:
                return make_error(Errc::malformed,
                                  "the server says the bundle does not match its envelope");
            default:
                if (r.status >= 400 && r.status < 500 && r.status != 404 && r.status != 409 &&
                    r.status != 423 && r.status != protocol::kStatusChecksumMismatch)
                    return make_error(Errc::malformed, server_reason(r));
                return std::nullopt;
        }
    };

    while (true) {
        if (progress.cancelled()) return make_error(Errc::cancelled, "the upload was cancelled");

        if (upload_path.empty()) {
            HttpRequest create{
                "POST",
                std::string(protocol::kUploadsPath),
                {"Content-Type: application/json", "Upload-Length: " + std::to_string(length)},
                crypto::as_bytes(create_body),
                crypto::sha256(create_body)};
            auto r =
                perform(s.curl.get(), s.server, s.device, s.transport, s.random, s.clock, create);
            if (!r) {
                if (r.error().code == Errc::cancelled) return std::move(r).error();
                if (auto st = fail(std::move(r).error()); !st) return std::move(st).error();
                continue;
            }
            if (r->status == 200) return finish(*r);
            if (auto e = final_error(*r)) return *e;
            if (r->status != 201) {
                if (auto st = fail(make_error(Errc::io, server_reason(*r))); !st)
                    return std::move(st).error();
                continue;
            }
            const auto location = r->headers.find("location");
            const auto start = parse_u64(r->headers, "upload-offset");
            if (location == r->headers.end() || !is_upload_path(location->second) || !start ||
                *start > length)
                return malformed("the server's answer to creating an upload is not the protocol");
            if (const auto m = parse_u64(r->headers, "custodia-max-chunk-size"))
                max_chunk = std::clamp<std::uint64_t>(*m, protocol::kMinChunkBytes,
                                                      protocol::kMaxChunkBytes);
            upload_path = location->second;
            offset = *start;
        }

        if (!offset) {
            HttpRequest head{"HEAD", upload_path, {}, {}, crypto::sha256(std::string_view{})};
            auto r =
                perform(s.curl.get(), s.server, s.device, s.transport, s.random, s.clock, head);
            if (!r) {
                if (r.error().code == Errc::cancelled) return std::move(r).error();
                if (auto st = fail(std::move(r).error()); !st) return std::move(st).error();
                continue;
            }
            if (r->status == 404) {
                // Expired, or completed and moved: creating again finds out which.
                upload_path.clear();
                if (auto st = fail(make_error(Errc::io, "the server no longer has the upload"));
                    !st)
                    return std::move(st).error();
                continue;
            }
            if (auto e = final_error(*r)) return *e;
            const auto current = parse_u64(r->headers, "upload-offset");
            if (r->status != 200 || !current || *current > length) {
                if (auto st = fail(make_error(Errc::io, server_reason(*r))); !st)
                    return std::move(st).error();
                continue;
            }
            offset = *current;
        }

        if (*offset > best_offset) {
            best_offset = *offset;
            failures = 0;
        }
        progress(*offset, length);

        if (*offset == length) {
            // The server has every byte but we have no receipt (the answer
            // was lost, or the server stopped before answering): creating
            // the upload again returns the receipt.
            upload_path.clear();
            offset.reset();
            if (completions_without_receipt++ > 0) {
                if (auto st = fail(make_error(
                        Errc::io, "the server holds the whole bundle but sends no receipt"));
                    !st)
                    return std::move(st).error();
            }
            continue;
        }

        // The chunk's SHA-256 (signed, and sent as Upload-Checksum) was
        // usually computed on another thread while the previous chunk was
        // on the wire; after a failure the offset differs and it is
        // computed here.
        std::uint64_t n = 0;
        crypto::Sha256Digest digest{};
        if (ahead && ahead->offset == *offset) {
            n = ahead->length;
            auto d = ahead->digest.get();
            if (!d) return std::move(d).error();
            digest = *d;
        } else {
            ramp = protocol::kInitialChunkBytes;
            n = next_length(*offset);
            auto d = hash_file_range(fd->get(), *offset, n);
            if (!d) return std::move(d).error();
            digest = *d;
        }
        ahead.reset();
        ramp = std::min(ramp * 4, max_chunk);
        if (const std::uint64_t next = *offset + n; next < length)
            ahead = hash_ahead(fd->get(), next, next_length(next));
        HttpRequest patch{"PATCH",
                          upload_path,
                          {"Content-Type: " + std::string(protocol::kOffsetContentType),
                           "Upload-Offset: " + std::to_string(*offset),
                           "Upload-Checksum: sha256 " + crypto::to_base64(digest, true)},
                          {},
                          digest};
        patch.file_body = FileRange{fd->get(), *offset, n};
        const auto started = Clock::now();
        auto r = perform(s.curl.get(), s.server, s.device, s.transport, s.random, s.clock, patch,
                         &progress, *offset, length);
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        result.bytes_sent += patch.bytes_sent;
        if (!r) {
            if (r.error().code == Errc::cancelled) return std::move(r).error();
            offset.reset();
            chunk_size = std::max(protocol::kMinChunkBytes, chunk_size / 2);
            if (auto st = fail(std::move(r).error()); !st) return std::move(st).error();
            continue;
        }
        if (r->status == 200) return finish(*r);
        if (r->status == 204) {
            const auto next = parse_u64(r->headers, "upload-offset");
            if (!next || *next != *offset + n)
                return malformed("the server's Upload-Offset after a chunk is not the protocol");
            offset = *next;
            completions_without_receipt = 0;
            // Aim for a chunk that takes about four seconds at the rate just
            // measured, in 64 KiB steps.
            const double rate = static_cast<double>(n) / std::max(seconds, 1e-3);
            const auto target = static_cast<std::uint64_t>(rate * 4.0);
            chunk_size = std::clamp<std::uint64_t>(target & ~std::uint64_t{0xffff},
                                                   protocol::kMinChunkBytes, max_chunk);
            continue;
        }
        if (r->status == 404) {
            upload_path.clear();
            offset.reset();
            if (auto st = fail(make_error(Errc::io, "the server no longer has the upload")); !st)
                return std::move(st).error();
            continue;
        }
        if (auto e = final_error(*r)) return *e;
        // 409, 423, 460, 5xx: ask the server where it is and try again, not
        // sooner than the server's Retry-After.
        offset.reset();
        const auto retry_after = parse_u64(r->headers, "retry-after").value_or(0);
        if (auto st = fail(make_error(Errc::io, server_reason(*r)),
                           std::chrono::seconds(std::min<std::uint64_t>(retry_after, 60)));
            !st)
            return std::move(st).error();
    }
}

}  // namespace custodia::sync
