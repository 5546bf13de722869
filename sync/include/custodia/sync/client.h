// The device side of the sync protocol (docs/PROTOCOL.md): enrolment with an
// intake server and resumable upload of a sealed bundle, over libcurl.
//
// Errors tell the outbox what to do next:
//   Errc::io            the network or the server failed; try again later
//   Errc::cancelled     the caller asked us to stop
//   Errc::auth_failed   the server refused us (unknown/revoked device, bad
//                       token), or its answer is not signed by the pinned key
//   Errc::limit         the server refused the size (too large, over quota)
//   Errc::malformed     the bundle does not match its envelope, or the server
//                       sent something that is not the protocol
// Every message is a sentence a person can read, and never holds a secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "custodia/core/clock.h"
#include "custodia/core/progress.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/receipt.h"
#include "custodia/sync/request_auth.h"

namespace custodia::sync {

struct TransportOptions {
    // "socks5h://127.0.0.1:9050" for Tor. Proxy settings in the environment
    // are never used.
    std::string proxy;
    // Fail closed: refuse to run without a socks5h:// proxy, and when it is
    // unreachable send nothing (libcurl never falls back to a direct link).
    bool require_proxy = false;
    // A CA bundle to trust instead of the system store (an NGO's own CA).
    std::optional<std::filesystem::path> ca_file;
    std::chrono::seconds connect_timeout{30};
    // A transfer slower than low_speed_bytes per second for low_speed_time
    // is abandoned (and resumed by the retry loop).
    std::chrono::seconds low_speed_time{60};
    long low_speed_bytes = 512;
};

struct RetryPolicy {
    int max_attempts_without_progress = 8;
    std::chrono::milliseconds base_delay{500};
    std::chrono::milliseconds max_delay{60'000};
};

struct UploadRequest {
    std::filesystem::path bundle_file;  // <id>.custodia
    std::string envelope;               // <id>.custodia.envelope text
    std::string checkpoint;             // the device's latest signed checkpoint note
};

struct UploadResult {
    Receipt receipt;                  // verified against the pin and the envelope
    std::string receipt_note;         // keep this: it is the proof
    std::string cosigned_checkpoint;  // the checkpoint with the server's cosignature
    std::uint64_t cosignature_time = 0;
    bool already_held = false;     // the server had the bundle before this call
    std::uint64_t bytes_sent = 0;  // bundle bytes put on the wire by this call
    int attempts = 0;              // HTTP requests that failed and were retried
};

class IntakeClient {
  public:
    // Checks the options (a proxy when one is required, an allowed URL);
    // Errc::malformed otherwise.
    [[nodiscard]] static Result<std::unique_ptr<IntakeClient>> create(
        ServerPin server, const DeviceSigner& device, TransportOptions transport, RetryPolicy retry,
        crypto::RandomSource& random, core::Clock& clock);
    ~IntakeClient();
    IntakeClient(const IntakeClient&) = delete;
    IntakeClient& operator=(const IntakeClient&) = delete;

    // Registers the device key with the code's token; on success the returned
    // pin is the one to keep. One attempt, no retries: a token is single-use.
    [[nodiscard]] static Result<ServerPin> enrol(const EnrolmentCode& code,
                                                 const DeviceSigner& device,
                                                 std::string_view device_name,
                                                 const TransportOptions& transport,
                                                 crypto::RandomSource& random, core::Clock& clock);

    // Uploads one bundle, resuming from the server's offset after every
    // failure, until the receipt verifies or the retry policy gives up.
    // Not thread-safe: one upload at a time per client.
    [[nodiscard]] Result<UploadResult> upload(const UploadRequest& request,
                                              const core::Progress& progress = {});

    const ServerPin& server() const noexcept;

  private:
    struct State;
    explicit IntakeClient(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

}  // namespace custodia::sync
