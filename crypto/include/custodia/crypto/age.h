// age v1 (C2SP age specification): X25519 recipients, header with HMAC, and
// the 64 KiB ChaCha20-Poly1305 STREAM payload. Files we write decrypt with
// Debian's `age`; files `age` writes decrypt here. scrypt and ASCII armor are
// not implemented: a scrypt stanza is recognised only to enforce that it
// stands alone, and is otherwise a stanza no identity of ours opens.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/sign.h"
#include "custodia/crypto/stream.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::crypto::age {

inline constexpr std::string_view kVersionLine = "age-encryption.org/v1";
inline constexpr std::size_t kMaxHeaderSize = 1 << 20;  // beyond this a header is refused

// An X25519 recipient, "age1…".
class Recipient {
  public:
    static Result<Recipient> parse(std::string_view text);
    static Recipient from_key(const X25519PublicKey& key) { return Recipient(key); }
    std::string to_string() const;
    const X25519PublicKey& key() const noexcept { return key_; }
    friend bool operator==(const Recipient&, const Recipient&) = default;

  private:
    explicit Recipient(const X25519PublicKey& key) : key_(key) {}
    X25519PublicKey key_{};
};

// An X25519 identity, "AGE-SECRET-KEY-1…".
class Identity {
  public:
    static Result<Identity> parse(std::string_view text);
    static Identity generate(RandomSource& random);
    SecretBytes to_string() const;  // the secret key string itself: keep it secret
    Recipient recipient() const { return Recipient::from_key(key_.public_key()); }
    const X25519SecretKey& key() const noexcept { return key_; }

  private:
    explicit Identity(X25519SecretKey key) : key_(std::move(key)) {}
    X25519SecretKey key_;
};

// Identity files as age-keygen writes them: '#' comment lines, blank lines and
// one identity per line. Errc::malformed names the bad line by number only.
Result<std::vector<Identity>> parse_identity_file(std::string_view text);
// "# created: …\n# public key: age1…\nAGE-SECRET-KEY-1…\n"
SecretBytes format_identity_file(const Identity& identity, std::string_view created_rfc3339);

struct Stanza {
    std::string type;
    std::vector<std::string> args;  // after the type
    std::vector<std::uint8_t> body;
    friend bool operator==(const Stanza&, const Stanza&) = default;
};

class Header {
  public:
    // Parses a complete header at the start of `bytes`; `consumed` receives
    // its length (through the newline after the MAC). Errc::malformed for any
    // deviation from the canonical form, Errc::unsupported for another version.
    static Result<Header> parse(std::span<const std::uint8_t> bytes, std::size_t& consumed);
    static Header make(std::vector<Stanza> stanzas) { return Header(std::move(stanzas), {}); }

    const std::vector<Stanza>& stanzas() const noexcept { return stanzas_; }
    const std::array<std::uint8_t, 32>& mac() const noexcept { return mac_; }
    void set_mac(const std::array<std::uint8_t, 32>& mac) { mac_ = mac; }

    // The bytes the HMAC covers: everything up to and including "---".
    std::string mac_input() const;
    // The full header, ending with "--- <mac>\n". Canonical: parse() of it
    // consumes every byte and serialize() gives them back unchanged.
    std::string serialize() const;

  private:
    Header(std::vector<Stanza> stanzas, const std::array<std::uint8_t, 32>& mac)
        : stanzas_(std::move(stanzas)), mac_(mac) {}
    std::vector<Stanza> stanzas_;
    std::array<std::uint8_t, 32> mac_{};
};

// Encrypts to one or more recipients. Bytes written to the Encryptor come out
// of `out` as an age file; finish() seals the final chunk.
class Encryptor final : public ByteSink {
  public:
    static Result<std::unique_ptr<Encryptor>> create(ByteSink& out,
                                                     std::span<const Recipient> recipients,
                                                     RandomSource& random);
    Status write(std::span<const std::uint8_t> data) override;
    [[nodiscard]] Status finish();

  private:
    Encryptor(ByteSink& out, SecretBytes payload_key) : sealer_(std::move(payload_key), out) {}
    StreamSealer sealer_;
};

// Decrypts with any of the given identities. open() reads and checks the
// header: Errc::malformed / unsupported ("header failure"),
// Errc::no_matching_key ("no match"), Errc::auth_failed ("HMAC failure").
// read() then releases verified plaintext only; a payload error is sticky.
class Decryptor final : public ByteSource {
  public:
    static Result<std::unique_ptr<Decryptor>> open(ByteSource& in,
                                                   std::span<const Identity> identities);
    Result<std::size_t> read(std::span<std::uint8_t> out) override;
    const Header& header() const noexcept { return header_; }

  private:
    Decryptor(Header header, SecretBytes payload_key, ByteSource& in)
        : header_(std::move(header)), opener_(std::move(payload_key), in) {}
    Header header_;
    StreamOpener opener_;
};

}  // namespace custodia::crypto::age
