// Request authentication (docs/PROTOCOL.md §2): every request is signed by the
// device key over its method, path, time, a nonce and the body's SHA-256,
// bound to one server by that server's public key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"

namespace custodia::sync {

// The device key as the sync code needs it: a public key and the power to
// sign. The vault can implement this without handing out its secret key.
class DeviceSigner {
  public:
    virtual ~DeviceSigner() = default;
    virtual const crypto::Ed25519PublicKey& public_key() const = 0;
    virtual crypto::Ed25519Signature sign_ed25519(std::span<const std::uint8_t> message) const = 0;
};

// Borrows a key the caller keeps alive.
class Ed25519DeviceSigner final : public DeviceSigner {
  public:
    explicit Ed25519DeviceSigner(const crypto::Ed25519SecretKey& key) : key_(key) {}
    const crypto::Ed25519PublicKey& public_key() const override { return key_.public_key(); }
    crypto::Ed25519Signature sign_ed25519(std::span<const std::uint8_t> message) const override {
        return key_.sign_ed25519(message);
    }

  private:
    const crypto::Ed25519SecretKey& key_;
};

// The four header values.
struct RequestAuth {
    std::string device;     // Custodia-Device: key id, 16 upper-case hex digits
    std::string time;       // Custodia-Time: decimal POSIX seconds
    std::string nonce;      // Custodia-Nonce: base64url
    std::string signature;  // Custodia-Signature: base64 Ed25519 signature
};

// The exact bytes that are signed.
std::string request_signing_message(const crypto::Ed25519PublicKey& server_key,
                                    std::string_view method, std::string_view path,
                                    std::int64_t time, std::string_view nonce,
                                    const crypto::Sha256Digest& body_sha256);

RequestAuth sign_request(const DeviceSigner& device, const crypto::Ed25519PublicKey& server_key,
                         std::string_view method, std::string_view path,
                         const crypto::Sha256Digest& body_sha256, std::int64_t now,
                         crypto::RandomSource& random);

// The header values after syntax checks; nothing about them is trusted yet.
struct ParsedRequestAuth {
    crypto::minisign::KeyId device{};
    std::string device_hex;
    std::int64_t time = 0;
    std::string nonce;
    crypto::Ed25519Signature signature{};
};

// Errc::malformed when a value does not follow §2's syntax.
[[nodiscard]] Result<ParsedRequestAuth> parse_request_auth(std::string_view device,
                                                           std::string_view time,
                                                           std::string_view nonce,
                                                           std::string_view signature);

[[nodiscard]] bool is_fresh(std::int64_t request_time, std::int64_t now) noexcept;

[[nodiscard]] bool verify_request_signature(const ParsedRequestAuth& auth,
                                            const crypto::Ed25519PublicKey& device_key,
                                            const crypto::Ed25519PublicKey& server_key,
                                            std::string_view method, std::string_view path,
                                            const crypto::Sha256Digest& body_sha256) noexcept;

// The key id of a device key, as requests and envelopes name it.
crypto::minisign::KeyId device_key_id(const crypto::Ed25519PublicKey& key);
std::string device_key_id_hex(const crypto::Ed25519PublicKey& key);

}  // namespace custodia::sync
