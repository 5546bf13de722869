// The intake server's HTTP face: cpp-httplib routes that translate requests
// into IntakeStore calls (docs/PROTOCOL.md §3), with the limits that keep
// one slow or hostile client from holding the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "intake_store.h"

namespace custodia::intake {

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 0;                         // 0: any free port, reported in the "listening" log line
    std::optional<std::string> tls_cert;  // PEM chain
    std::optional<std::string> tls_key;   // PEM private key
    unsigned threads = 16;
    unsigned max_active_uploads = 32;  // PATCH bodies being received at once
    int read_timeout_seconds = 30;     // one read may wait this long
    int write_timeout_seconds = 30;
    int keep_alive_timeout_seconds = 15;  // idle time between requests
    int header_timeout_seconds = 30;      // TLS: handshake + first request headers
    int max_connection_seconds = 3600;    // TLS: any connection, however busy
    int gc_interval_seconds = 60;
};

// Serves until SIGINT or SIGTERM. Plain HTTP is refused unless the host is a
// loopback address. Returns a process exit code.
int serve(IntakeStore& store, const HttpOptions& options);

}  // namespace custodia::intake
