// Enrolment into the vault and the outbox push (see outbox.h).
#include "custodia/sync/outbox.h"

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

#include "custodia/sync/envelope.h"

namespace custodia::sync {
namespace {

Error malformed(std::string message) {
    return make_error(Errc::malformed, std::move(message));
}

Result<std::string> read_text_file(const std::filesystem::path& path, std::size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(Errc::io, "cannot read " + path.filename().string());
    std::string text;
    text.resize(limit + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got > limit) return make_error(Errc::limit, path.filename().string() + " is too large");
    text.resize(got);
    return text;
}

// What a person reads in `outbox` when an attempt failed.
std::string reason_for(const Error& error, const core::OutboxEntry& entry,
                       const TransportOptions& transport) {
    std::string why = error.message;
    if (error.code == Errc::io && !transport.proxy.empty())
        why += " (through proxy " + transport.proxy + ")";
    if (error.code == Errc::io) why += "; it will be retried by the next sync";
    if (why.empty()) why = "the upload of " + entry.bundle_id + " failed";
    return why;
}

}  // namespace

VaultDeviceSigner::VaultDeviceSigner(const core::Vault& vault)
    : vault_(vault), public_key_(vault.device_key().key()) {}

crypto::Ed25519Signature VaultDeviceSigner::sign_ed25519(
    std::span<const std::uint8_t> message) const {
    auto signature = vault_.sign_sync_request(message);
    if (!signature) return crypto::Ed25519Signature{};
    return *signature;
}

Result<TransportOptions> transport_for(core::Vault& vault, const TransportOverrides& overrides) {
    auto settings = vault.sync_settings();
    if (!settings) return std::move(settings).error();
    TransportOptions t;
    t.proxy = overrides.proxy.empty() ? settings->proxy : overrides.proxy;
    t.require_proxy = settings->require_proxy || overrides.require_proxy;
    t.ca_file = overrides.ca_file;
    return t;
}

Result<core::SyncServer> enrol_server(core::Vault& vault, std::string_view enrolment_code,
                                      const EnrolOptions& options,
                                      const TransportOptions& transport,
                                      crypto::RandomSource& random, core::Clock& clock) {
    auto parsed = EnrolmentCode::parse(enrolment_code);
    if (!parsed)
        return make_error(parsed.error().code,
                          "the enrolment code is not valid: " + parsed.error().message);
    std::optional<EnrolmentCode> code;
    if (options.url.empty()) {
        code.emplace(std::move(*parsed));
    } else {
        // Another address for the same server (an onion address, a reverse
        // proxy): the key stays the code's, so the pin still binds the server.
        auto pin = ServerPin::make(options.url, parsed->server().name(), parsed->server().key());
        if (!pin)
            return make_error(pin.error().code, "the URL is not allowed: " + pin.error().message);
        auto remade =
            EnrolmentCode::make(std::move(*pin), parsed->token().clone(), parsed->expires());
        if (!remade) return std::move(remade).error();
        code.emplace(std::move(*remade));
    }
    const std::string name = options.name.empty() ? code->server().name() : options.name;
    {
        auto servers = vault.list_servers();
        if (!servers) return std::move(servers).error();
        for (const auto& s : *servers)
            if (s.name == name)
                return malformed("a server named " + name +
                                 " is already enrolled (choose another --name)");
    }
    const VaultDeviceSigner signer(vault);
    auto pin = IntakeClient::enrol(*code, signer, options.device_name, transport, random, clock);
    if (!pin) return std::move(pin).error();
    if (auto s = vault.add_server(name, pin->to_json()); !s) return std::move(s).error();
    return vault.get_server(name);
}

Result<PushReport> push_outbox(core::Vault& vault, const PushOptions& options,
                               crypto::RandomSource& random, core::Clock& clock) {
    auto entries = vault.list_outbox();
    if (!entries) return std::move(entries).error();
    PushReport report;
    const VaultDeviceSigner signer(vault);
    std::atomic<bool> cancel{false};

    for (const auto& entry : *entries) {
        if (entry.state == core::OutboxState::received) continue;
        if (cancel.load()) break;
        PushedEntry pushed{entry.id, entry.bundle_id, entry.server, false, {}};
        auto record_failure = [&](const Error& error) -> Status {
            pushed.error = reason_for(error, entry, options.transport);
            pushed.code = error.code;
            report.entries.push_back(pushed);
            return vault.outbox_progress(entry.id, core::OutboxState::failed, entry.bytes_confirmed,
                                         pushed.error, false);
        };
        if (auto s = vault.outbox_progress(entry.id, core::OutboxState::sending,
                                           entry.bytes_confirmed, entry.last_error, true);
            !s)
            return std::move(s).error();

        auto server = vault.get_server(entry.server);
        if (!server) {
            if (auto s = record_failure(make_error(
                    Errc::malformed, "the server " + entry.server + " is no longer enrolled"));
                !s)
                return std::move(s).error();
            continue;
        }
        auto pin = ServerPin::from_json(server->pin_json);
        if (!pin) {
            if (auto s = record_failure(make_error(
                    Errc::malformed, "the stored key of server " + entry.server + " is damaged"));
                !s)
                return std::move(s).error();
            continue;
        }
        auto envelope = read_text_file(entry.envelope_path, 64 * 1024);
        auto checkpoint = vault.checkpoint();
        if (!envelope || !checkpoint) {
            const Error& e = !envelope ? envelope.error() : checkpoint.error();
            if (auto s = record_failure(make_error(
                    e.code, "the outbox copy of the bundle cannot be read: " + e.message));
                !s)
                return std::move(s).error();
            continue;
        }
        // Fail closed before any byte moves: IntakeClient::create refuses a
        // missing proxy when one is required, and libcurl never falls back
        // to a direct connection when the proxy is down.
        auto client =
            IntakeClient::create(*pin, signer, options.transport, options.retry, random, clock);
        if (!client) {
            if (auto s = record_failure(client.error()); !s) return std::move(s).error();
            continue;
        }

        std::uint64_t confirmed = entry.bytes_confirmed;
        auto last_saved = std::chrono::steady_clock::now();
        core::Progress progress;
        progress.cancel = &cancel;
        progress.report = [&](std::uint64_t done, std::uint64_t total) {
            if (options.progress &&
                !options.progress(PushProgress{entry.bundle_id, entry.server, done, total}))
                cancel.store(true);
            if (done <= confirmed) return;
            confirmed = done;
            const auto now = std::chrono::steady_clock::now();
            if (now - last_saved < std::chrono::milliseconds(500) && done != total) return;
            last_saved = now;
            // Best effort: a failed write only makes `outbox` show fewer bytes.
            (void)vault.outbox_progress(entry.id, core::OutboxState::sending, confirmed, "", false);
        };
        auto uploaded = (*client)->upload(
            UploadRequest{entry.bundle_path, std::move(*envelope), std::move(*checkpoint)},
            progress);
        if (!uploaded) {
            if (uploaded.error().code == Errc::cancelled) {
                (void)vault.outbox_progress(entry.id, core::OutboxState::failed, confirmed,
                                            "the upload was cancelled", false);
                return std::move(uploaded).error();
            }
            pushed.error = reason_for(uploaded.error(), entry, options.transport);
            pushed.code = uploaded.error().code;
            report.entries.push_back(pushed);
            if (auto s = vault.outbox_progress(entry.id, core::OutboxState::failed, confirmed,
                                               pushed.error, false);
                !s)
                return std::move(s).error();
            continue;
        }
        core::OutboxReceipt receipt{uploaded->receipt_note, uploaded->cosigned_checkpoint,
                                    pin->receipt_verifier().to_string(),
                                    pin->cosignature_verifier().to_string()};
        if (auto s = vault.outbox_record_receipt(entry.id, receipt); !s) {
            if (auto r = record_failure(make_error(
                    s.error().code, "the receipt could not be stored: " + s.error().message));
                !r)
                return std::move(r).error();
            continue;
        }
        pushed.received = true;
        report.entries.push_back(pushed);
    }

    auto after = vault.list_outbox();
    if (!after) return std::move(after).error();
    report.all_received = true;
    for (const auto& e : *after)
        if (e.state != core::OutboxState::received) report.all_received = false;
    return report;
}

}  // namespace custodia::sync
