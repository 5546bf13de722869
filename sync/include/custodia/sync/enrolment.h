// Enrolment codes and the pinned server identity (docs/PROTOCOL.md §1).
//
// An enrolment code is what an NGO administrator hands a field investigator:
// the server's address, its public key and a one-time token. The server key
// in it becomes the device's trust anchor for that server (the "pin"); TLS
// is a second layer, never the only check.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/note.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/sign.h"

namespace custodia::sync {

// Whether `url` is an origin the protocol allows: "https://host[:port]", or
// "http://" to a loopback host or a v3 .onion address. No path, query,
// fragment or user info.
[[nodiscard]] bool is_valid_server_url(std::string_view url);
// Whether the host of a valid URL is 127.0.0.0/8, [::1] or localhost.
[[nodiscard]] bool is_loopback_url(std::string_view url);
// Whether the host is a v3 .onion address (reachable only through Tor).
[[nodiscard]] bool is_onion_url(std::string_view url);

// What a device keeps about a server it enrolled with. Not secret.
class ServerPin {
  public:
    [[nodiscard]] static Result<ServerPin> make(std::string url, std::string name,
                                                const crypto::Ed25519PublicKey& key);
    // {"url": ..., "server_name": ..., "server_key": base64}, for the vault.
    std::string to_json() const;
    [[nodiscard]] static Result<ServerPin> from_json(std::string_view json);

    const std::string& url() const noexcept { return url_; }
    const std::string& name() const noexcept { return name_; }
    const crypto::Ed25519PublicKey& key() const noexcept { return key_; }
    // The signed-note verifier keys for receipts (0x01) and cosignatures (0x04).
    const core::NoteVerifierKey& receipt_verifier() const noexcept { return receipt_verifier_; }
    const core::NoteVerifierKey& cosignature_verifier() const noexcept {
        return cosignature_verifier_;
    }

  private:
    ServerPin(std::string url, std::string name, const crypto::Ed25519PublicKey& key,
              core::NoteVerifierKey receipt, core::NoteVerifierKey cosignature)
        : url_(std::move(url)),
          name_(std::move(name)),
          key_(key),
          receipt_verifier_(std::move(receipt)),
          cosignature_verifier_(std::move(cosignature)) {}
    std::string url_;
    std::string name_;
    crypto::Ed25519PublicKey key_{};
    core::NoteVerifierKey receipt_verifier_;
    core::NoteVerifierKey cosignature_verifier_;
};

// "custodia-enroll:v1:" base64url(JSON). The token is a bearer secret until
// spent, so it lives in SecretBytes and the code string is the caller's to wipe.
class EnrolmentCode {
  public:
    [[nodiscard]] static Result<EnrolmentCode> make(ServerPin server, crypto::SecretBytes token,
                                                    std::int64_t expires);
    [[nodiscard]] static Result<EnrolmentCode> parse(std::string_view code);
    crypto::SecretBytes encode() const;

    const ServerPin& server() const noexcept { return server_; }
    const crypto::SecretBytes& token() const noexcept { return token_; }
    std::int64_t expires() const noexcept { return expires_; }

  private:
    EnrolmentCode(ServerPin server, crypto::SecretBytes token, std::int64_t expires)
        : server_(std::move(server)), token_(std::move(token)), expires_(expires) {}
    ServerPin server_;
    crypto::SecretBytes token_;
    std::int64_t expires_ = 0;
};

// base64url without padding (RFC 4648 §5), canonical: the tokens and nonces
// of the protocol.
std::string to_base64url(std::span<const std::uint8_t> bytes);
std::optional<std::vector<std::uint8_t>> from_base64url(std::string_view text);

}  // namespace custodia::sync
