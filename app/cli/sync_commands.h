// The sync verbs of custodia-cli (DESIGN.md §7, docs/PROTOCOL.md §6):
// enrolled servers, the outbox and pushing it. The vault keeps the state
// (core/vault.h); sync/outbox.h does the talking.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "custodia/core/vault.h"
#include "exit_codes.h"
#include "vault_commands.h"

namespace custodia::cli {

struct ServerAddOptions {
    std::string code;  // the enrolment code text; "-" reads it from stdin
    std::string url;   // replaces the code's address
    std::string name;  // local name; default: the server's own name
    std::string device_name;
    std::string proxy;
    bool require_proxy = false;
    std::string ca_file;
};

struct ServerRemoveOptions {
    std::string name;
};

struct SyncCliOptions {
    std::string proxy;
    bool require_proxy = false;
    bool save = false;  // store proxy and require-proxy in the vault as given
    std::string ca_file;
    int retry_attempts = 8;
    int retry_delay_ms = 500;
};

CommandOutcome run_server_add(const VaultGlobals& globals, const ServerAddOptions& options);
CommandOutcome run_server_list(const VaultGlobals& globals, const JsonOption& options);
CommandOutcome run_server_remove(const VaultGlobals& globals, const ServerRemoveOptions& options);
CommandOutcome run_sync(const VaultGlobals& globals, const SyncCliOptions& options);
CommandOutcome run_outbox(const VaultGlobals& globals, const JsonOption& options);

// For `export --send` (vault_commands.cpp): the server a bundle goes to (the
// one named, or the only one enrolled), checked before anything is sealed.
std::variant<std::string, Failure> choose_send_server(core::Vault& vault, const std::string& name);
// "Queued <id> for <server> (<size>); …" on stderr.
void print_queued(const core::ExportedBundle& bundle, const std::string& server);
// Queues an exported bundle; prints what happened on stderr.
std::optional<Failure> queue_for_sending(core::Vault& vault, const core::ExportedBundle& bundle,
                                         const std::string& server);

// Opens the vault as every vault verb does (vault_commands.cpp).
std::variant<std::unique_ptr<core::Vault>, Failure> open_vault_for_verb(
    const VaultGlobals& globals);

}  // namespace custodia::cli
