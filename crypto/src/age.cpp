#include "custodia/crypto/age.h"

#include <algorithm>

#include "custodia/crypto/aead.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"

namespace custodia::crypto::age {

namespace {

// Labels of the age v1 specification, written once.
constexpr std::string_view kRecipientHrp = "age";
constexpr std::string_view kIdentityHrp = "age-secret-key-";
constexpr std::string_view kX25519StanzaType = "X25519";
constexpr std::string_view kScryptStanzaType = "scrypt";
constexpr std::string_view kX25519Info = "age-encryption.org/v1/X25519";
constexpr std::string_view kHeaderInfo = "header";
constexpr std::string_view kPayloadInfo = "payload";
constexpr std::string_view kVersionPrefix = "age-encryption.org/";
constexpr std::size_t kFileKeySize = 16;
constexpr std::size_t kNonceSize = 16;
constexpr std::size_t kBodyColumns = 64;

Error header_error(std::string what) {
    return make_error(Errc::malformed, "age header: " + what);
}

bool is_vchar(char c) {
    return c >= 0x21 && c <= 0x7e;
}

// Splits one '\n'-terminated line off the front of `rest`.
std::optional<std::string_view> next_line(std::string_view& rest) {
    std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    return line;
}

std::vector<std::string> split_args(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        std::size_t sp = text.find(' ', start);
        out.emplace_back(text.substr(start, sp == std::string_view::npos ? sp : sp - start));
        if (sp == std::string_view::npos) return out;
        start = sp + 1;
    }
}

void append_stanza(std::string& out, const Stanza& s) {
    out += "-> ";
    out += s.type;
    for (const auto& a : s.args) {
        out += ' ';
        out += a;
    }
    out += '\n';
    std::string body = to_base64(s.body, false);
    // Full 64-column lines, then a final shorter line, empty if need be.
    std::size_t pos = 0;
    for (; body.size() - pos >= kBodyColumns; pos += kBodyColumns) {
        out.append(body, pos, kBodyColumns);
        out += '\n';
    }
    out.append(body, pos, std::string::npos);
    out += '\n';
}

SecretBytes derive(std::span<const std::uint8_t> ikm, std::span<const std::uint8_t> salt,
                   std::string_view info) {
    return std::move(hkdf_sha256(ikm, salt, info, 32).value());  // fixed sizes: cannot fail
}

std::array<std::uint8_t, 32> header_mac(const SecretBytes& file_key, const Header& header) {
    SecretBytes mac_key = derive(file_key.span(), {}, kHeaderInfo);
    return hmac_sha256(mac_key.span(), as_bytes(header.mac_input()));
}

Result<Stanza> wrap_x25519(const SecretBytes& file_key, const Recipient& recipient,
                           RandomSource& random) {
    X25519SecretKey ephemeral = X25519SecretKey::generate(random);
    auto shared = ephemeral.agree_x25519(recipient.key());
    if (!shared) return make_error(Errc::malformed, "age recipient is a low-order point");
    std::array<std::uint8_t, 64> salt{};
    std::copy(ephemeral.public_key().begin(), ephemeral.public_key().end(), salt.begin());
    std::copy(recipient.key().begin(), recipient.key().end(), salt.begin() + 32);
    SecretBytes wrap_key = derive(shared->span(), salt, kX25519Info);
    Stanza s;
    s.type = kX25519StanzaType;
    s.args.push_back(to_base64(ephemeral.public_key(), false));
    s.body.resize(kFileKeySize + kPoly1305TagSize);
    // The nonce is fixed at zero because each wrap key encrypts exactly one message.
    const std::array<std::uint8_t, 12> zero_nonce{};
    seal_chacha20poly1305(std::span<const std::uint8_t, 32>(wrap_key.data(), 32), zero_nonce, {},
                          file_key.span(), s.body);
    return s;
}

// Checks the shape of an X25519 stanza; any deviation makes the header invalid,
// whether or not the stanza is meant for us.
Result<X25519PublicKey> x25519_share(const Stanza& s) {
    if (s.args.size() != 1) return header_error("X25519 stanza needs exactly one argument");
    auto share = from_base64(s.args[0], false);
    if (!share || share->size() != 32) return header_error("X25519 share is not 32 bytes");
    if (s.body.size() != kFileKeySize + kPoly1305TagSize)
        return header_error("X25519 stanza body is not 32 bytes");
    X25519PublicKey out{};
    std::copy(share->begin(), share->end(), out.begin());
    return out;
}

// Returns the file key, an empty SecretBytes when the stanza is not for this
// identity, or an error that invalidates the whole header.
Result<SecretBytes> unwrap_x25519(const Stanza& s, const X25519PublicKey& share,
                                  const Identity& identity) {
    auto shared = identity.key().agree_x25519(share);
    if (!shared) return header_error("X25519 share is a low-order point");
    const X25519PublicKey& ours = identity.key().public_key();
    std::array<std::uint8_t, 64> salt{};
    std::copy(share.begin(), share.end(), salt.begin());
    std::copy(ours.begin(), ours.end(), salt.begin() + 32);
    SecretBytes wrap_key = derive(shared->span(), salt, kX25519Info);
    SecretBytes file_key(kFileKeySize);
    const std::array<std::uint8_t, 12> zero_nonce{};
    if (!open_chacha20poly1305(std::span<const std::uint8_t, 32>(wrap_key.data(), 32), zero_nonce,
                               {}, s.body, file_key.span()))
        return SecretBytes{};
    return file_key;
}

}  // namespace

Result<Recipient> Recipient::parse(std::string_view text) {
    auto decoded = from_bech32(text);
    if (!decoded || decoded->hrp != kRecipientHrp || decoded->data.size() != 32)
        return make_error(Errc::malformed, "not an age X25519 recipient (age1…)");
    // Recipients are lower case by convention; an upper-case one is the same key.
    X25519PublicKey key{};
    std::copy(decoded->data.begin(), decoded->data.end(), key.begin());
    return Recipient(key);
}

std::string Recipient::to_string() const {
    return to_bech32(kRecipientHrp, key_);
}

Result<Identity> Identity::parse(std::string_view text) {
    auto decoded = from_bech32(text);
    bool upper =
        std::none_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
    if (!decoded || !upper || decoded->hrp != kIdentityHrp || decoded->data.size() != 32) {
        if (decoded) wipe(decoded->data);
        return make_error(Errc::malformed, "not an age X25519 identity (AGE-SECRET-KEY-1…)");
    }
    auto key = X25519SecretKey::from_bytes(decoded->data);
    wipe(decoded->data);
    if (!key) return std::move(key).error();
    return Identity(std::move(*key));
}

Identity Identity::generate(RandomSource& random) {
    return Identity(X25519SecretKey::generate(random));
}

SecretBytes Identity::to_string() const {
    std::string s = to_bech32(kIdentityHrp, key_.bytes());
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
    SecretBytes out = SecretBytes::copy_of(s);
    wipe({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
    return out;
}

Result<std::vector<Identity>> parse_identity_file(std::string_view text) {
    std::vector<Identity> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        auto id = Identity::parse(line);
        if (!id)
            return make_error(Errc::malformed, "identity file line " + std::to_string(line_no) +
                                                   " is not an age identity");
        out.push_back(std::move(*id));
    }
    if (out.empty()) return make_error(Errc::malformed, "identity file holds no identity");
    return out;
}

SecretBytes format_identity_file(const Identity& identity, std::string_view created_rfc3339) {
    SecretBytes key = identity.to_string();
    std::string head = "# created: " + std::string(created_rfc3339) +
                       "\n# public key: " + identity.recipient().to_string() + "\n";
    SecretBytes out(head.size() + key.size() + 1);
    std::copy(head.begin(), head.end(), out.data());
    std::copy(key.data(), key.data() + key.size(), out.data() + head.size());
    out.data()[out.size() - 1] = '\n';
    return out;
}

Result<Header> Header::parse(std::span<const std::uint8_t> bytes, std::size_t& consumed) {
    std::string_view all(reinterpret_cast<const char*>(bytes.data()),
                         std::min(bytes.size(), kMaxHeaderSize));
    std::string_view rest = all;
    auto version = next_line(rest);
    if (!version) return header_error("missing version line");
    if (*version != kVersionLine) {
        if (version->starts_with(kVersionPrefix))
            return make_error(Errc::unsupported, "age header: unsupported version");
        return header_error("not an age file");
    }
    std::vector<Stanza> stanzas;
    for (;;) {
        auto line = next_line(rest);
        if (!line) return header_error("header ends without a MAC line");
        if (line->starts_with("--- ")) {
            std::string_view mac_text = line->substr(4);
            auto mac = from_base64(mac_text, false);
            if (!mac || mac->size() != 32) return header_error("MAC is not 32 bytes of base64");
            std::array<std::uint8_t, 32> mac_bytes{};
            std::copy(mac->begin(), mac->end(), mac_bytes.begin());
            consumed = all.size() - rest.size();
            return Header(std::move(stanzas), mac_bytes);
        }
        if (!line->starts_with("-> ")) return header_error("expected a stanza or the MAC line");
        std::vector<std::string> args = split_args(line->substr(3));
        for (const auto& a : args) {
            if (a.empty()) return header_error("empty stanza argument");
            if (!std::all_of(a.begin(), a.end(), is_vchar))
                return header_error("invalid character in stanza argument");
        }
        Stanza s;
        s.type = std::move(args.front());
        s.args.assign(std::make_move_iterator(args.begin() + 1),
                      std::make_move_iterator(args.end()));
        std::string body;
        for (;;) {
            auto body_line = next_line(rest);
            if (!body_line) return header_error("stanza body is not terminated");
            if (body_line->size() > kBodyColumns) return header_error("stanza body line too long");
            body += *body_line;
            if (body_line->size() < kBodyColumns) break;
        }
        auto decoded = from_base64(body, false);
        if (!decoded) return header_error("stanza body is not canonical base64");
        s.body = std::move(*decoded);
        stanzas.push_back(std::move(s));
    }
}

std::string Header::mac_input() const {
    std::string out(kVersionLine);
    out += '\n';
    for (const auto& s : stanzas_) append_stanza(out, s);
    out += "---";
    return out;
}

std::string Header::serialize() const {
    std::string out = mac_input();
    out += ' ';
    out += to_base64(mac_, false);
    out += '\n';
    return out;
}

Result<std::unique_ptr<Encryptor>> Encryptor::create(ByteSink& out,
                                                     std::span<const Recipient> recipients,
                                                     RandomSource& random) {
    if (recipients.empty()) return make_error(Errc::malformed, "age: no recipients");
    SecretBytes file_key(kFileKeySize);
    random.fill(file_key.span());
    std::vector<Stanza> stanzas;
    for (const auto& r : recipients) {
        auto s = wrap_x25519(file_key, r, random);
        if (!s) return std::move(s).error();
        stanzas.push_back(std::move(*s));
    }
    Header header = Header::make(std::move(stanzas));
    header.set_mac(header_mac(file_key, header));
    std::array<std::uint8_t, kNonceSize> nonce{};
    random.fill(nonce);
    std::string head = header.serialize();
    if (auto st = out.write(as_bytes(head)); !st) return std::move(st).error();
    if (auto st = out.write(nonce); !st) return std::move(st).error();
    return std::unique_ptr<Encryptor>(
        new Encryptor(out, derive(file_key.span(), nonce, kPayloadInfo)));
}

Status Encryptor::write(std::span<const std::uint8_t> data) {
    return sealer_.write(data);
}
Status Encryptor::finish() {
    return sealer_.finish();
}

Result<std::unique_ptr<Decryptor>> Decryptor::open(ByteSource& in,
                                                   std::span<const Identity> identities) {
    // Read until the MAC line is complete, then hand what follows to STREAM.
    std::vector<std::uint8_t> buf;
    std::size_t consumed = 0;
    std::optional<Header> header;
    bool eof = false;
    for (;;) {
        auto parsed = Header::parse(buf, consumed);
        if (parsed) {
            header.emplace(std::move(*parsed));
            break;
        }
        // A header that is incomplete only because more bytes are due cannot
        // be told from a broken one without them: read on until EOF or a
        // complete MAC line is buffered.
        bool has_mac_line = false;
        std::string_view text(reinterpret_cast<const char*>(buf.data()), buf.size());
        for (std::size_t pos = text.find("\n---"); pos != std::string_view::npos;
             pos = text.find("\n---", pos + 1))
            if (text.find('\n', pos + 1) != std::string_view::npos) has_mac_line = true;
        if (eof || has_mac_line || buf.size() >= kMaxHeaderSize) {
            if (buf.size() >= kMaxHeaderSize && !has_mac_line)
                return make_error(Errc::limit, "age header: larger than 1 MiB");
            return std::move(parsed).error();
        }
        std::size_t have = buf.size();
        // Grow geometrically so a large header is parsed O(log n) times, not once per block.
        buf.resize(have + std::max<std::size_t>(4096, have));
        auto n = in.read(std::span(buf).subspan(have));
        if (!n) return std::move(n).error();
        buf.resize(have + *n);
        eof = *n == 0;
    }

    bool has_scrypt = std::any_of(header->stanzas().begin(), header->stanzas().end(),
                                  [](const Stanza& s) { return s.type == kScryptStanzaType; });
    if (has_scrypt && header->stanzas().size() != 1)
        return header_error("an scrypt stanza must be the only stanza");

    SecretBytes file_key;
    for (const auto& s : header->stanzas()) {
        if (s.type != kX25519StanzaType) continue;
        auto share = x25519_share(s);
        if (!share) return std::move(share).error();
        for (const auto& id : identities) {
            if (!file_key.empty()) break;
            auto key = unwrap_x25519(s, *share, id);
            if (!key) return std::move(key).error();
            if (!key->empty()) file_key = std::move(*key);
        }
    }
    if (file_key.empty())
        return make_error(Errc::no_matching_key, "age: no identity matches any recipient");

    auto expected = header_mac(file_key, *header);
    if (!equal_constant_time(expected, header->mac()))
        return make_error(Errc::auth_failed, "age header MAC does not verify");

    // The nonce follows the header; whatever else was read is payload.
    std::array<std::uint8_t, kNonceSize> nonce{};
    std::size_t from_buf = std::min(kNonceSize, buf.size() - consumed);
    std::copy_n(buf.begin() + static_cast<std::ptrdiff_t>(consumed), from_buf, nonce.begin());
    if (from_buf < kNonceSize) {
        auto n = read_full(in, std::span(nonce).subspan(from_buf));
        if (!n) return std::move(n).error();
        if (from_buf + *n < kNonceSize) return header_error("file ends before the payload nonce");
    }
    auto dec = std::unique_ptr<Decryptor>(
        new Decryptor(std::move(*header), derive(file_key.span(), nonce, kPayloadInfo), in));
    std::size_t payload_start = std::min(buf.size(), consumed + kNonceSize);
    dec->opener_.prepend(std::span(buf).subspan(payload_start));
    return dec;
}

Result<std::size_t> Decryptor::read(std::span<std::uint8_t> out) {
    return opener_.read(out);
}

}  // namespace custodia::crypto::age
