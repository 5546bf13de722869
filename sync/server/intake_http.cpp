#include "intake_http.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/protocol.h"
#include "intake_request.h"
#include "json_log.h"

namespace custodia::intake {

namespace {

using nlohmann::json;
namespace protocol = sync::protocol;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kUploadPattern = R"(/v1/uploads/([0-9a-f]{32}))";

// ---- per-request context for the access log (a request runs on one thread)

struct RequestContext {
    SteadyClock::time_point started;
    std::string device;
    std::uint64_t received = 0;
    std::string error;    // the protocol's short code, never a message
    bool routed = false;  // false: the bytes did not parse as a request
};
thread_local RequestContext t_request;

// ---- TLS connection watchdog -------------------------------------------------
//
// httplib bounds each read and write, but a client that trickles one header
// byte just inside the read timeout, forever, would hold a worker thread.
// TLS connections are registered when their handshake starts (an OpenSSL
// info callback) and unregistered when OpenSSL frees them (an ex_data free
// callback, which runs before httplib closes the socket). A watchdog thread
// shuts down the socket of a connection that has not sent its first request
// headers in time, or that has lived too long; the worker's blocked read then
// returns and the thread is free.

class ConnectionWatchdog {
  public:
    static ConnectionWatchdog& instance() {
        static ConnectionWatchdog w;
        return w;
    }

    void configure(int header_timeout, int max_lifetime) {
        header_timeout_ = std::chrono::seconds(header_timeout);
        max_lifetime_ = std::chrono::seconds(max_lifetime);
    }

    void on_handshake_start(const SSL* ssl) {
        std::lock_guard lock(mutex_);
        if (live_.count(ssl)) return;
        live_[ssl] = Connection{SSL_get_fd(ssl), SteadyClock::now(), false, false};
        SSL_set_ex_data(const_cast<SSL*>(ssl), index(), const_cast<SSL*>(ssl));
    }

    void on_request(const SSL* ssl) {
        std::lock_guard lock(mutex_);
        const auto it = live_.find(ssl);
        if (it != live_.end()) it->second.routed = true;
    }

    void on_free(const SSL* ssl) {
        std::lock_guard lock(mutex_);
        live_.erase(ssl);
    }

    void sweep() {
        const auto now = SteadyClock::now();
        std::lock_guard lock(mutex_);
        for (auto& [ssl, c] : live_) {
            if (c.shut) continue;
            const auto age = now - c.started;
            if ((!c.routed && age > header_timeout_) || age > max_lifetime_) {
                // Under the lock, so OpenSSL cannot have freed the connection
                // and httplib cannot have closed (and reused) the descriptor.
                ::shutdown(c.fd, SHUT_RDWR);
                c.shut = true;
                log().write("connection_cut", {{"reason", c.routed ? "lifetime" : "headers"}});
            }
        }
    }

    static int index() {
        static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &free_callback);
        return idx;
    }

  private:
    struct Connection {
        int fd;
        SteadyClock::time_point started;
        bool routed;
        bool shut;
    };

    static void free_callback(void* parent, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        if (ptr != nullptr) instance().on_free(static_cast<const SSL*>(parent));
    }

    std::mutex mutex_;
    std::map<const SSL*, Connection> live_;
    std::chrono::seconds header_timeout_{30};
    std::chrono::seconds max_lifetime_{3600};
};

void on_ssl_info(const SSL* ssl, int where, int) {
    if ((where & SSL_CB_HANDSHAKE_START) != 0)
        ConnectionWatchdog::instance().on_handshake_start(ssl);
}

// ---- helpers -----------------------------------------------------------------

std::string http_date(std::int64_t unix_seconds) {
    const time_t t = static_cast<time_t>(unix_seconds);
    struct tm tm {};
    (void)gmtime_r(&t, &tm);
    char buf[64];
    // The C locale (never changed here) spells the English names HTTP wants.
    (void)std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

void send_error(httplib::Response& res, const ApiError& e, bool close = false) {
    t_request.error = e.code;
    res.status = e.status;
    res.set_content(json{{"error", e.code}, {"message", e.message}}.dump(), "application/json");
    // The body of this request may be unread: the connection must not be
    // reused, or its remains would be parsed as the next request.
    if (close) res.set_header("Connection", "close");
}

void set_tus_headers(httplib::Response& res) {
    res.set_header("Tus-Resumable", std::string(protocol::kTusVersion));
    res.set_header("Cache-Control", "no-store");
}

void set_upload_headers(httplib::Response& res, const UploadStatus& upload) {
    res.set_header("Upload-Offset", std::to_string(upload.offset));
    res.set_header("Upload-Length", std::to_string(upload.length));
    if (upload.expires > 0) res.set_header("Upload-Expires", http_date(upload.expires));
}

// Authenticates from the four headers; the body hash is the caller's.
Outcome<DeviceRecord> authenticate(IntakeStore& store, const httplib::Request& req,
                                   const crypto::Sha256Digest& body_sha256,
                                   const std::optional<crypto::Ed25519PublicKey>& enrolling = {}) {
    auto device = store.authenticate(
        req.method, req.path, req.get_header_value(std::string(protocol::kDeviceHeader)),
        req.get_header_value(std::string(protocol::kTimeHeader)),
        req.get_header_value(std::string(protocol::kNonceHeader)),
        req.get_header_value(std::string(protocol::kSignatureHeader)), body_sha256, enrolling);
    if (device.ok()) t_request.device = device->id;
    return device;
}

bool is_loopback_host(const std::string& host) {
    const bool v6 = host.find(':') != std::string::npos;
    return sync::is_loopback_url("http://" + (v6 ? "[" + host + "]" : host));
}

// Blocks SIGINT/SIGTERM in every thread (call before any thread starts) and
// waits for one on a thread of its own.
sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

int serve(IntakeStore& store, const HttpOptions& options) {
    const bool tls = options.tls_cert.has_value();
    if (tls != options.tls_key.has_value()) {
        log().write("config_error", {{"message", "--tls-cert and --tls-key go together"}});
        return 2;
    }
    if (!tls && !is_loopback_host(options.host)) {
        log().write("config_error", {{"message",
                                      "plain HTTP is only allowed on a loopback address; give "
                                      "--tls-cert and --tls-key"}});
        return 2;
    }
    const sigset_t signals = shutdown_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // A client that goes away mid-answer must not kill the server.
    (void)::signal(SIGPIPE, SIG_IGN);

    std::unique_ptr<httplib::Server> server;
    if (tls) {
        ConnectionWatchdog::instance().configure(options.header_timeout_seconds,
                                                 options.max_connection_seconds);
        (void)ConnectionWatchdog::index();
        const std::string cert = *options.tls_cert;
        const std::string key = *options.tls_key;
        server = std::make_unique<httplib::SSLServer>([cert, key](SSL_CTX& ctx) {
            SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
            SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                          SSL_OP_CIPHER_SERVER_PREFERENCE);
            if (SSL_CTX_use_certificate_chain_file(&ctx, cert.c_str()) != 1 ||
                SSL_CTX_use_PrivateKey_file(&ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
                SSL_CTX_check_private_key(&ctx) != 1)
                return false;
            SSL_CTX_set_info_callback(&ctx, on_ssl_info);
            return true;
        });
        if (!server->is_valid()) {
            log().write("config_error", {{"message", "the TLS certificate or key cannot be used"}});
            return 2;
        }
    } else {
        server = std::make_unique<httplib::Server>();
    }
    httplib::Server& http = *server;

    const unsigned threads = std::max(2u, options.threads);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_read_timeout(options.read_timeout_seconds, 0);
    http.set_write_timeout(options.write_timeout_seconds, 0);
    http.set_keep_alive_timeout(options.keep_alive_timeout_seconds);
    http.set_keep_alive_max_count(1000);
    http.set_payload_max_length(static_cast<std::size_t>(store.limits().max_chunk_bytes));
    http.set_tcp_nodelay(true);

    std::atomic<unsigned> active_uploads{0};
    const std::string max_chunk = std::to_string(store.limits().max_chunk_bytes);

    http.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
        t_request = RequestContext{SteadyClock::now(), {}, 0, {}, true};
        if (req.ssl != nullptr) ConnectionWatchdog::instance().on_request(req.ssl);
        // The signed path is the target exactly as sent; no query strings,
        // no escapes that would make two spellings of one path.
        if (req.target != req.path || !req.params.empty()) {
            send_error(res, {400, "bad_target", "the request target must be a plain path"}, true);
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method != "OPTIONS" && req.path != protocol::kDevicesPath &&
            req.get_header_value("Tus-Resumable") != protocol::kTusVersion) {
            res.set_header("Tus-Version", std::string(protocol::kTusVersion));
            send_error(res, {412, "tus_version", "Tus-Resumable must be 1.0.0"}, true);
            return httplib::Server::HandlerResponse::Handled;
        }
        const auto length = parse_canonical_u64(req.get_header_value("Content-Length"));
        if (req.method == "POST" && length && *length > kMaxJsonBody) {
            send_error(res, {413, "too_large", "the request body is too large"}, true);
            return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method == "PATCH" && length && *length > store.limits().max_chunk_bytes) {
            send_error(res, {413, "too_large", "the chunk is larger than Custodia-Max-Chunk-Size"},
                       true);
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });

    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
        // Reset for the next request on this thread, whatever happens here.
        const RequestContext context = std::exchange(t_request, RequestContext{});
        if (!context.routed) {
            // Bytes that are not a request (a body left unread after a
            // refusal, or noise): counted, and logged at most once a second,
            // so that they cannot flood the log.
            static std::atomic<std::uint64_t> unparsed{0};
            static std::atomic<std::int64_t> last_logged{0};
            const auto count = unparsed.fetch_add(1) + 1;
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 SteadyClock::now().time_since_epoch())
                                 .count();
            if (last_logged.exchange(now) != now)
                log().write("unparsed_requests", {{"total", count}});
            return;
        }
        const auto ms =
            std::chrono::duration<double, std::milli>(SteadyClock::now() - t_request.started)
                .count();
        json fields = {{"method", req.method},
                       {"path", req.path.size() <= 64 ? req.path : req.path.substr(0, 64)},
                       {"status", res.status},
                       {"ms", static_cast<std::int64_t>(ms)}};
        if (!context.device.empty()) fields["device"] = context.device;
        if (context.received > 0) fields["bytes"] = context.received;
        if (!context.error.empty()) fields["error"] = context.error;
        log().write("request", std::move(fields));
    });

    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
            std::string what = "unknown";
            try {
                if (ep) std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            log().write("exception", {{"message", what}});
            send_error(res, {500, "internal", "the server could not complete the request"}, true);
        });

    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const bool not_found = res.status == 404;
        res.set_content(json{{"error", not_found ? "not_found" : "error"},
                             {"message", not_found ? "no such resource" : "the request failed"}}
                            .dump(),
                        "application/json");
    });

    http.Options(
        std::string(protocol::kUploadsPath), [&](const httplib::Request&, httplib::Response& res) {
            res.status = 204;
            res.set_header("Tus-Resumable", std::string(protocol::kTusVersion));
            res.set_header("Tus-Version", std::string(protocol::kTusVersion));
            res.set_header("Tus-Extension", std::string(protocol::kTusExtensions));
            res.set_header("Tus-Checksum-Algorithm", "sha256");
            res.set_header("Tus-Max-Size", std::to_string(store.limits().max_bundle_bytes));
            res.set_header(std::string(protocol::kMaxChunkHeader), max_chunk);
        });

    http.Post(std::string(protocol::kDevicesPath), [&](const httplib::Request& req,
                                                       httplib::Response& res) {
        auto request = parse_enrolment_request(req.body);
        if (!request.ok()) return send_error(res, request.error());
        auto device = authenticate(store, req, crypto::sha256(req.body), request->public_key);
        if (!device.ok()) return send_error(res, device.error());
        auto answer = store.enrol(device.value(), request->token, request->name);
        if (!answer.ok()) return send_error(res, answer.error());
        log().write("device_enrolled", {{"device", device->id}});
        res.status = 201;
        res.set_content(answer.value(), "application/json");
    });

    http.Post(std::string(protocol::kUploadsPath), [&](const httplib::Request& req,
                                                       httplib::Response& res) {
        set_tus_headers(res);
        auto device = authenticate(store, req, crypto::sha256(req.body));
        if (!device.ok()) return send_error(res, device.error());
        auto request = parse_upload_request(req.get_header_value("Upload-Length"), req.body);
        if (!request.ok()) return send_error(res, request.error());
        auto answer = store.create_upload(device.value(), request->length, request->envelope,
                                          request->checkpoint);
        if (!answer.ok()) return send_error(res, answer.error());
        res.status = answer->status;
        if (answer->status == 201) {
            res.set_header("Location", answer->location);
            set_upload_headers(res, answer->upload);
            res.set_header(std::string(protocol::kMaxChunkHeader), max_chunk);
        } else {
            res.set_content(answer->body, "application/json");
        }
    });

    http.Get(kUploadPattern, [&](const httplib::Request& req, httplib::Response& res) {
        set_tus_headers(res);
        if (req.method != "HEAD")
            return send_error(res, {405, "method", "uploads answer HEAD and PATCH"});
        auto device = authenticate(store, req, crypto::sha256(std::string_view{}));
        if (!device.ok()) return send_error(res, device.error());
        auto status = store.upload_status(device.value(), req.matches[1]);
        if (!status.ok()) return send_error(res, status.error());
        res.status = 200;
        set_upload_headers(res, status.value());
    });

    http.Patch(kUploadPattern, [&](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) {
        set_tus_headers(res);
        // A refusal answers at once and marks the connection for closing:
        // the client stops sending and drops the connection, instead of
        // pushing a chunk the server would only discard, and nothing left of
        // this body is read as a next request. (httplib itself keeps reading;
        // what it reads then is not a request, and the logger only counts it.)
        auto refuse = [&](const ApiError& e) { send_error(res, e, true); };
        auto headers = parse_chunk_headers(
            req.get_header_value("Content-Type"), req.get_header_value("Upload-Offset"),
            req.get_header_value("Content-Length"), req.get_header_value("Upload-Checksum"));
        if (!headers.ok()) return refuse(headers.error());
        const crypto::Sha256Digest declared = headers->checksum;
        // Authenticated from the headers, before any body byte is stored.
        auto device = authenticate(store, req, declared);
        if (!device.ok()) return refuse(device.error());

        if (active_uploads.fetch_add(1) >= options.max_active_uploads) {
            active_uploads.fetch_sub(1);
            res.set_header("Retry-After", "5");
            return refuse({503, "busy", "the server is receiving too many uploads"});
        }
        struct Release {
            std::atomic<unsigned>& n;
            ~Release() { n.fetch_sub(1); }
        } release{active_uploads};

        auto answer = store.append(device.value(), req.matches[1], headers->offset, headers->length,
                                   declared, [&](const BodySink& sink) {
                                       return reader([&](const char* data, std::size_t size) {
                                           t_request.received += size;
                                           return sink(data, size);
                                       });
                                   });
        if (!answer.ok()) {
            // Another PATCH of this upload is still being received (often the
            // remains of a connection that broke): worth a pause, not a storm.
            if (answer.error().status == 423) res.set_header("Retry-After", "1");
            if (answer.error().status == 409) {
                if (auto status = store.upload_status(device.value(), req.matches[1]); status.ok())
                    set_upload_headers(res, status.value());
            }
            return refuse(answer.error());
        }
        res.status = answer->status;
        set_upload_headers(res, answer->upload);
        if (answer->status == 200) res.set_content(answer->body, "application/json");
    });

    // Housekeeping, and the TLS watchdog's sweep, on one thread.
    std::mutex stop_mutex;
    std::condition_variable stop_cv;
    bool stopping = false;
    store.recover();
    store.collect_expired();
    std::thread housekeeping([&] {
        auto next_gc = SteadyClock::now() + std::chrono::seconds(options.gc_interval_seconds);
        std::unique_lock lock(stop_mutex);
        while (!stopping) {
            stop_cv.wait_for(lock, std::chrono::seconds(1));
            if (stopping) break;
            lock.unlock();
            if (tls) ConnectionWatchdog::instance().sweep();
            if (SteadyClock::now() >= next_gc) {
                store.collect_expired();
                next_gc = SteadyClock::now() + std::chrono::seconds(options.gc_interval_seconds);
            }
            lock.lock();
        }
    });

    std::thread signal_waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGINT || sig == SIGTERM) {
            log().write("stopping", {{"signal", sig}});
            http.stop();
        }
    });

    int port = options.port;
    bool bound = false;
    if (port == 0) {
        port = http.bind_to_any_port(options.host);
        bound = port > 0;
    } else {
        bound = http.bind_to_port(options.host, port);
    }
    int exit_code = 0;
    if (!bound) {
        log().write("bind_failed", {{"host", options.host}, {"port", options.port}});
        exit_code = 1;
    } else {
        log().write(
            "listening",
            {{"host", options.host}, {"port", port}, {"tls", tls}, {"server", store.name()}});
        http.listen_after_bind();
    }

    {
        std::lock_guard lock(stop_mutex);
        stopping = true;
    }
    stop_cv.notify_all();
    housekeeping.join();
    // The signal thread waits in sigwait() for a signal that may never come
    // now; this one is blocked everywhere, so sigwait() consumes it and the
    // thread returns. Nothing is terminated.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread)
    pthread_kill(signal_waiter.native_handle(), SIGTERM);
    signal_waiter.join();
    log().write("stopped");
    return exit_code;
}

}  // namespace custodia::intake
