// The device side of sync over a vault (DESIGN.md §7, docs/PROTOCOL.md §9):
// enrolment that stores the pin in the vault, and pushing the vault's outbox.
//
// API for the CLI and the desktop app:
//   VaultDeviceSigner   sync::DeviceSigner over a Vault (signs requests only)
//   enrol_server()      IntakeClient::enrol + Vault::add_server
//   push_outbox()       uploads every queued/failed entry, records receipts
//   transport_for()     the vault's stored proxy settings, with overrides
//
// Only a verified receipt marks an entry received; everything else leaves it
// failed with a reason a person can read, to be retried by the next push.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "custodia/core/vault.h"
#include "custodia/sync/client.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/request_auth.h"

namespace custodia::sync {

// Signs through Vault::sign_sync_request, so the device key can only sign
// request messages (the only thing the protocol has the device sign online;
// enrolment is a signed request too). A refused message, which the sync code
// never produces, gets an all-zero signature that no server accepts.
class VaultDeviceSigner final : public DeviceSigner {
  public:
    explicit VaultDeviceSigner(const core::Vault& vault);
    const crypto::Ed25519PublicKey& public_key() const override { return public_key_; }
    crypto::Ed25519Signature sign_ed25519(std::span<const std::uint8_t> message) const override;

  private:
    const core::Vault& vault_;
    crypto::Ed25519PublicKey public_key_{};
};

// The vault's stored settings, then the caller's overrides (a non-empty
// proxy replaces the stored one; require_proxy is or-ed: a command line can
// make sync stricter, never looser than the vault says).
struct TransportOverrides {
    std::string proxy;
    bool require_proxy = false;
    std::optional<std::filesystem::path> ca_file;
};
[[nodiscard]] Result<TransportOptions> transport_for(core::Vault& vault,
                                                     const TransportOverrides& overrides);

struct EnrolOptions {
    std::string name;         // local name for the server; empty: the code's server name
    std::string url;          // replaces the code's address (e.g. an onion address)
    std::string device_name;  // sent to the server; may be empty
};

// Parses the code, enrols the device with IntakeClient::enrol and stores the
// returned pin under the name. Returns the stored server.
[[nodiscard]] Result<core::SyncServer> enrol_server(
    core::Vault& vault, std::string_view enrolment_code, const EnrolOptions& options,
    const TransportOptions& transport, crypto::RandomSource& random, core::Clock& clock);

struct PushProgress {
    std::string bundle_id;
    std::string server;
    std::uint64_t done = 0;
    std::uint64_t total = 0;
};

struct PushOptions {
    TransportOptions transport;
    RetryPolicy retry;
    // Called as bytes go out; return false to cancel.
    std::function<bool(const PushProgress&)> progress;
};

struct PushedEntry {
    std::int64_t id = 0;
    std::string bundle_id;
    std::string server;
    bool received = false;
    std::string error;     // why not, when !received
    Errc code = Errc::io;  // the kind of failure, when !received
};

struct PushReport {
    std::vector<PushedEntry> entries;  // every entry this push tried
    // True when every outbox entry (tried or not) now holds a verified receipt.
    bool all_received = false;
};

// Pushes every queued, sending (left by a crash) or failed entry, oldest
// first, one at a time. The Result fails only when the vault itself fails
// (Errc::io, ...) or the caller cancelled; upload failures are in the report
// and in the outbox rows.
[[nodiscard]] Result<PushReport> push_outbox(core::Vault& vault, const PushOptions& options,
                                             crypto::RandomSource& random, core::Clock& clock);

}  // namespace custodia::sync
