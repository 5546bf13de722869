#include "sync_commands.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "cli_files.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/random.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/outbox.h"
#include "progress_bar.h"
#include "vault_output.h"

namespace custodia::cli {
namespace {

using nlohmann::json;

Status print_out(std::string_view text) {
    return write_all(STDOUT_FILENO, crypto::as_bytes(text), "standard output");
}

void print_err(std::string_view text) {
    (void)write_all(STDERR_FILENO, crypto::as_bytes(text), "standard error");
}

CommandOutcome printed(Status status, std::string_view verb) {
    if (!status) return failure_from(status.error(), verb);
    return std::nullopt;
}

std::optional<std::filesystem::path> ca_path(const std::string& ca_file) {
    if (ca_file.empty()) return std::nullopt;
    return std::filesystem::path(ca_file);
}

json server_json(const core::SyncServer& server) {
    json j = {{"name", server.name}, {"added", core::format_utc(server.added.unix_ms)}};
    if (auto pin = sync::ServerPin::from_json(server.pin_json)) {
        j["url"] = pin->url();
        j["server_name"] = pin->name();
        j["server_key"] = crypto::to_base64(pin->key(), true);
    } else {
        j["error"] = "the stored pin is damaged";
    }
    return j;
}

json outbox_json(const core::OutboxEntry& e) {
    json j = {{"id", e.id},
              {"bundle_id", e.bundle_id},
              {"server", e.server},
              {"case_id", e.case_id},
              {"items", e.item_ids},
              {"state", std::string(core::to_string(e.state))},
              {"size", e.size},
              {"bytes_confirmed", e.bytes_confirmed},
              {"attempts", e.attempts},
              {"last_error", e.last_error},
              {"queued", core::format_utc(e.queued_at.unix_ms)}};
    j["last_attempt"] =
        e.last_attempt_at ? json(core::format_utc(e.last_attempt_at->unix_ms)) : json(nullptr);
    j["received"] = e.received_at ? json(core::format_utc(e.received_at->unix_ms)) : json(nullptr);
    j["receipt"] = e.receipt_note.empty() ? json(nullptr) : json(e.receipt_note);
    j["cosigned_checkpoint"] =
        e.cosigned_checkpoint.empty() ? json(nullptr) : json(e.cosigned_checkpoint);
    return j;
}

// An enrolment or upload failure: refusals by the server or a wrong key are
// verification failures (1), the network is 4, a bad code is a usage error.
Failure sync_failure(Errc code, std::string message) {
    return Failure{exit_code_for(code), std::move(message)};
}

}  // namespace

std::variant<std::string, Failure> choose_send_server(core::Vault& vault, const std::string& name) {
    auto servers = vault.list_servers();
    if (!servers) return failure_from(servers.error(), "export");
    if (!name.empty()) {
        for (const auto& s : *servers)
            if (s.name == name) return s.name;
        return usage_failure("no server named " + name + " is enrolled (see `server list`)");
    }
    if (servers->size() == 1) return servers->front().name;
    if (servers->empty())
        return usage_failure("--send needs an enrolled server: run `server add CODE` first");
    return usage_failure("several servers are enrolled: name one with --server");
}

std::optional<Failure> queue_for_sending(core::Vault& vault, const core::ExportedBundle& bundle,
                                         const std::string& server) {
    auto entry = vault.queue_bundle(bundle, server);
    if (!entry) return failure_from(entry.error(), "queue the bundle");
    print_queued(bundle, server);
    return std::nullopt;
}

void print_queued(const core::ExportedBundle& bundle, const std::string& server) {
    print_err("Queued " + bundle.bundle_id + " for " + server + " (" + human_size(bundle.size) +
              "); `custodia-cli sync` sends it\n");
}

CommandOutcome run_server_add(const VaultGlobals& globals, const ServerAddOptions& options) {
    std::string code_text = options.code;
    if (options.code == "-") {
        auto code = read_secret_file("-", 8192);
        if (!code) return failure_from(code.error(), "enrolment code");
        code_text.assign(code->view());
        while (!code_text.empty() &&
               (code_text.back() == '\n' || code_text.back() == '\r' || code_text.back() == ' '))
            code_text.pop_back();
    }
    if (auto parsed = sync::EnrolmentCode::parse(code_text); !parsed)
        return usage_failure("not an enrolment code: " + parsed.error().message);
    if (!options.url.empty() && !sync::is_valid_server_url(options.url))
        return usage_failure("--url must be https://host[:port] (http only to loopback or .onion)");
    auto opened = open_vault_for_verb(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
    auto& vault = *std::get<std::unique_ptr<core::Vault>>(opened);
    auto transport = sync::transport_for(
        vault,
        sync::TransportOverrides{options.proxy, options.require_proxy, ca_path(options.ca_file)});
    if (!transport) return failure_from(transport.error(), "server add");
    sync::EnrolOptions enrol{options.name, options.url, options.device_name};
    auto server = sync::enrol_server(vault, code_text, enrol, *transport, crypto::system_random(),
                                     core::system_clock());
    crypto::wipe({reinterpret_cast<std::uint8_t*>(code_text.data()), code_text.size()});
    if (!server) return sync_failure(server.error().code, "server add: " + server.error().message);
    const json j = server_json(*server);
    return printed(
        print_out("Enrolled with " + j.value("server_name", std::string()) + " at " +
                  j.value("url", std::string()) + "; its key " +
                  j.value("server_key", std::string()) + " is pinned\n" + server->name + "\n"),
        "server add");
}

CommandOutcome run_server_list(const VaultGlobals& globals, const JsonOption& options) {
    auto opened = open_vault_for_verb(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
    auto servers = std::get<std::unique_ptr<core::Vault>>(opened)->list_servers();
    if (!servers) return failure_from(servers.error(), "server list");
    if (options.json) {
        json out = json::array();
        for (const auto& s : *servers) out.push_back(server_json(s));
        return printed(print_out(dump_json(out)), "server list");
    }
    std::string text;
    for (const auto& s : *servers) {
        const json j = server_json(s);
        text += s.name + "  " + j.value("url", std::string("?")) + "  key " +
                j.value("server_key", std::string("?")) + "  added " + j.value("added", "") + "\n";
    }
    if (servers->empty()) print_err("No server is enrolled.\n");
    return printed(print_out(text), "server list");
}

CommandOutcome run_server_remove(const VaultGlobals& globals, const ServerRemoveOptions& options) {
    auto opened = open_vault_for_verb(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
    auto& vault = *std::get<std::unique_ptr<core::Vault>>(opened);
    if (auto s = vault.remove_server(options.name); !s) {
        if (s.error().code == Errc::malformed) return usage_failure(s.error().message);
        return failure_from(s.error(), "server remove");
    }
    return printed(print_out("Removed server " + options.name + "\n"), "server remove");
}

CommandOutcome run_outbox(const VaultGlobals& globals, const JsonOption& options) {
    auto opened = open_vault_for_verb(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
    auto entries = std::get<std::unique_ptr<core::Vault>>(opened)->list_outbox();
    if (!entries) return failure_from(entries.error(), "outbox");
    if (options.json) {
        json out = json::array();
        for (const auto& e : *entries) out.push_back(outbox_json(e));
        return printed(print_out(dump_json(out)), "outbox");
    }
    std::string text;
    for (const auto& e : *entries) {
        text += e.bundle_id + "  " + e.server + "  " + std::string(core::to_string(e.state)) +
                "  " + human_size(e.bytes_confirmed) + " of " + human_size(e.size) + "  " +
                std::to_string(e.attempts) + " attempt(s)";
        if (e.received_at) text += "  receipt " + core::format_utc(e.received_at->unix_ms);
        if (!e.last_error.empty()) text += "\n    " + e.last_error;
        text += "\n";
    }
    if (entries->empty()) print_err("The outbox is empty.\n");
    return printed(print_out(text), "outbox");
}

CommandOutcome run_sync(const VaultGlobals& globals, const SyncCliOptions& options) {
    if (options.retry_attempts < 1 || options.retry_attempts > 1000 || options.retry_delay_ms < 0 ||
        options.retry_delay_ms > 600'000)
        return usage_failure("--retry-attempts is 1 to 1000, --retry-delay-ms 0 to 600000");
    auto opened = open_vault_for_verb(globals);
    if (auto* failure = std::get_if<Failure>(&opened)) return *failure;
    auto& vault = *std::get<std::unique_ptr<core::Vault>>(opened);
    if (options.save) {
        if (auto s =
                vault.set_sync_settings(core::SyncSettings{options.proxy, options.require_proxy});
            !s)
            return failure_from(s.error(), "sync --save");
        print_err(std::string("Saved: proxy ") + (options.proxy.empty() ? "none" : options.proxy) +
                  (options.require_proxy ? ", required" : ", not required") + "\n");
    }
    auto transport = sync::transport_for(
        vault,
        sync::TransportOverrides{options.proxy, options.require_proxy, ca_path(options.ca_file)});
    if (!transport) return failure_from(transport.error(), "sync");

    sync::PushOptions push;
    push.transport = *transport;
    push.retry.max_attempts_without_progress = options.retry_attempts;
    push.retry.base_delay = std::chrono::milliseconds(options.retry_delay_ms);
    std::unique_ptr<ProgressBar> bar;
    std::string current;
    push.progress = [&](const sync::PushProgress& p) {
        if (p.bundle_id != current) {
            if (bar) bar->finish();
            current = p.bundle_id;
            bar = std::make_unique<ProgressBar>("send " + p.bundle_id, p.total);
        }
        bar->update(p.done);
        return true;
    };
    auto report = sync::push_outbox(vault, push, crypto::system_random(), core::system_clock());
    if (bar) bar->finish();
    if (!report) return failure_from(report.error(), "sync");

    std::string text;
    std::optional<Errc> worst;
    for (const auto& e : report->entries) {
        if (e.received) {
            text += "received " + e.bundle_id + " by " + e.server + "\n";
        } else {
            print_err("failed " + e.bundle_id + " to " + e.server + ": " + e.error + "\n");
            // A refusal or a bad answer outranks a network failure.
            if (!worst || exit_code_for(e.code) == ExitCode::verification_failed) worst = e.code;
        }
    }
    if (report->entries.empty()) print_err("Nothing to send: the outbox is empty or all sent.\n");
    if (auto s = print_out(text); !s) return failure_from(s.error(), "sync");
    if (report->all_received) return std::nullopt;
    std::size_t waiting = 0;
    if (auto entries = vault.list_outbox())
        for (const auto& e : *entries)
            if (e.state != core::OutboxState::received) ++waiting;
    return sync_failure(worst.value_or(Errc::io),
                        "sync: " + std::to_string(waiting) +
                            " bundle(s) have no receipt yet (see `custodia-cli outbox`)");
}

}  // namespace custodia::cli
