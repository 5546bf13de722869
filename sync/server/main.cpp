// custodia-intake: the NGO's intake server and its administration commands.
//
//   custodia-intake --dir D init --name N --url U
//   custodia-intake --dir D enroll [--name LABEL] [--ttl SECONDS] [--url U] [--qr]
//   custodia-intake --dir D revoke DEVICE
//   custodia-intake --dir D devices [--json]
//   custodia-intake --dir D list [--json]
//   custodia-intake --dir D export --to DIR
//   custodia-intake --dir D serve --listen HOST:PORT [--tls-cert C --tls-key K] [limits]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "custodia/crypto/random.h"
#include "custodia/sync/envelope.h"
#include "intake_http.h"
#include "intake_store.h"
#include "json_log.h"
#include "terminal_qr.h"

namespace {

using namespace custodia;
using nlohmann::json;

std::int64_t wall_clock_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int fail(const Error& e) {
    std::cerr << "custodia-intake: " << e.message << "\n";
    return e.code == Errc::malformed ? 2 : 1;
}

// "HOST:PORT" or "[V6]:PORT".
bool split_listen(const std::string& text, std::string& host, int& port) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) return false;
    host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    try {
        std::size_t used = 0;
        port = std::stoi(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1) return false;
    } catch (...) {
        return false;
    }
    return !host.empty() && port >= 0 && port <= 65535;
}

std::string format_time(std::int64_t t) {
    auto text = sync::format_rfc3339_utc(t);
    return text ? *text : std::to_string(t);
}

int run(int argc, char** argv) {
    CLI::App app{"custodia-intake: receives sealed Custodia bundles and signs receipts"};
    app.require_subcommand(1);
    std::string dir;
    app.add_option("--dir", dir, "server state directory")->required();

    intake::StoreLimits limits;
    intake::HttpOptions http;

    auto* init = app.add_subcommand("init", "create a server: key, index, directories");
    std::string name, url;
    init->add_option("--name", name, "server name in signed notes, e.g. intake.example.org")
        ->required();
    init->add_option("--url", url, "public URL devices use, https://host[:port]")->required();

    auto* enroll = app.add_subcommand("enroll", "issue a one-time enrolment code for a device");
    std::string label, enroll_url;
    std::int64_t ttl = std::int64_t{7} * 86400;
    enroll->add_option("--name", label, "a label for the device, shown by `devices`");
    enroll->add_option("--ttl", ttl, "seconds the code stays valid")->check(CLI::PositiveNumber);
    enroll->add_option("--url", enroll_url, "URL to put in the code instead of init's");
    bool qr = false;
    enroll->add_flag("--qr", qr, "also print the code as a QR code for a phone to scan");

    auto* revoke = app.add_subcommand("revoke", "revoke a device; its requests are refused");
    std::string device;
    revoke->add_option("device", device, "device key id (16 hex digits)")->required();

    auto* devices = app.add_subcommand("devices", "list enrolled devices");
    bool devices_json = false;
    devices->add_flag("--json", devices_json, "one JSON array");

    auto* list = app.add_subcommand("list", "list received bundles");
    bool list_json = false;
    list->add_flag("--json", list_json, "one JSON array");

    auto* exporter = app.add_subcommand("export", "copy bundles, envelopes and receipts out");
    std::string export_dir;
    exporter->add_option("--to", export_dir, "target directory (files are never overwritten)")
        ->required();

    auto* serve = app.add_subcommand("serve", "serve the sync protocol");
    std::string listen;
    std::string cert, key;
    serve->add_option("--listen", listen, "HOST:PORT (port 0: any free port)")->required();
    serve->add_option("--tls-cert", cert, "PEM certificate chain");
    serve->add_option("--tls-key", key, "PEM private key");
    serve->add_option("--threads", http.threads, "worker threads");
    serve->add_option("--max-active-uploads", http.max_active_uploads,
                      "PATCH bodies received at once");
    serve->add_option("--read-timeout", http.read_timeout_seconds, "seconds one read may wait");
    serve->add_option("--write-timeout", http.write_timeout_seconds, "seconds one write may wait");
    serve->add_option("--idle-timeout", http.keep_alive_timeout_seconds,
                      "seconds an idle connection is kept");
    serve->add_option("--header-timeout", http.header_timeout_seconds,
                      "TLS: seconds to complete the handshake and first request headers");
    serve->add_option("--max-connection-time", http.max_connection_seconds,
                      "TLS: seconds any connection may live");
    serve->add_option("--gc-interval", http.gc_interval_seconds,
                      "seconds between sweeps for expired uploads");
    serve->add_option("--max-bundle-size", limits.max_bundle_bytes, "bytes");
    serve->add_option("--max-chunk-size", limits.max_chunk_bytes, "bytes per PATCH");
    serve->add_option("--device-quota", limits.device_quota_bytes, "bytes stored per device");
    serve->add_option("--max-open-uploads", limits.max_open_uploads_per_device,
                      "unfinished uploads per device");
    serve->add_option("--upload-ttl", limits.upload_ttl_seconds,
                      "seconds an idle unfinished upload is kept");
    serve->add_option("--min-rate", limits.min_body_bytes_per_second,
                      "bytes/s below which a chunk is cut off");
    serve->add_option("--rate-grace", limits.body_grace_seconds,
                      "seconds before the minimum rate applies");

    CLI11_PARSE(app, argc, argv);

    auto& random = crypto::system_random();
    if (*init) {
        auto st = intake::IntakeStore::init(dir, name, url, random);
        if (!st) return fail(st.error());
        std::cout << "created the intake server in " << dir << "\n";
        return 0;
    }

    auto store = intake::IntakeStore::open(dir, limits, random, wall_clock_seconds);
    if (!store) return fail(store.error());
    intake::IntakeStore& s = **store;

    if (*enroll) {
        auto code = s.issue_enrolment_code(label, ttl, enroll_url);
        if (!code) return fail(code.error());
        // The code is a secret until used: stdout only, never the log.
        if (qr) {
            const auto picture = intake::render_terminal_qr(code->view());
            if (picture.empty()) {
                std::cerr << "custodia-intake: the code does not fit in a QR code\n";
                return 1;
            }
            (void)std::fwrite(picture.data(), 1, picture.size(), stdout);
        }
        (void)std::fwrite(code->data(), 1, code->size(), stdout);
        (void)std::fputc('\n', stdout);
        return 0;
    }
    if (*revoke) {
        auto st = s.revoke(device);
        if (!st) return fail(st.error());
        std::cout << "revoked " << device << "\n";
        return 0;
    }
    if (*devices) {
        auto rows = s.devices();
        if (!rows) return fail(rows.error());
        json out = json::array();
        for (const auto& d : *rows) {
            json row = {{"device", d.id},
                        {"label", d.label},
                        {"name", d.name},
                        {"enrolled", d.enrolled},
                        {"stored_bytes", d.stored_bytes}};
            row["revoked"] = d.revoked ? json(*d.revoked) : json(nullptr);
            out.push_back(row);
            if (!devices_json)
                std::cout << d.id << "  " << format_time(d.enrolled) << "  "
                          << (d.revoked ? "revoked " + format_time(*d.revoked) : "active") << "  "
                          << d.stored_bytes << " bytes  " << d.label
                          << (d.name.empty() ? "" : " (" + d.name + ")") << "\n";
        }
        if (devices_json) std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (*list) {
        auto rows = s.bundles();
        if (!rows) return fail(rows.error());
        json out = json::array();
        for (const auto& b : *rows) {
            out.push_back({{"bundle", b.bundle_id},
                           {"sha256", b.sha256},
                           {"size", b.size},
                           {"device", b.device},
                           {"received", b.received}});
            if (!list_json)
                std::cout << format_time(b.received) << "  " << b.bundle_id << "  " << b.size
                          << " bytes  " << b.sha256 << "  from " << b.device << "\n";
        }
        if (list_json) std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (*exporter) {
        auto n = s.export_to(export_dir);
        if (!n) return fail(n.error());
        std::cout << "exported " << *n << " bundle(s) to " << export_dir << "\n";
        return 0;
    }
    if (*serve) {
        if (!split_listen(listen, http.host, http.port)) {
            std::cerr << "custodia-intake: --listen must be HOST:PORT\n";
            return 2;
        }
        if (!cert.empty()) http.tls_cert = cert;
        if (!key.empty()) http.tls_key = key;
        return intake::serve(s, http);
    }
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "custodia-intake: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "custodia-intake: unexpected error\n";
    }
    return 1;
}
