// The sync protocol's formats (docs/PROTOCOL.md): enrolment codes, envelopes,
// request signatures, receipts and cosignatures. Known answers come from the
// RFCs and from independent tools (basenc, date, minisign, openssl), never
// from our own output.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/minisign.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/stream_io.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/receipt.h"
#include "custodia/sync/request_auth.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace custodia {
namespace {

using nlohmann::json;
using testing::quote;
using testing::run_shell;
using testing::TempDir;

std::string bytes_to_string(const std::vector<std::uint8_t>& v) {
    return {v.begin(), v.end()};
}

void write_file(const std::filesystem::path& p, std::string_view bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

// An Ed25519 public key as PEM (SubjectPublicKeyInfo, RFC 8410), for openssl.
std::string ed25519_public_pem(const crypto::Ed25519PublicKey& key) {
    std::vector<std::uint8_t> der = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    der.insert(der.end(), key.begin(), key.end());
    return "-----BEGIN PUBLIC KEY-----\n" + crypto::to_base64(der, true) +
           "\n-----END PUBLIC KEY-----\n";
}

// `openssl pkeyutl -verify -rawin`: an Ed25519 implementation that is not ours.
bool openssl_verifies(const TempDir& dir, const crypto::Ed25519PublicKey& key,
                      std::string_view message, std::span<const std::uint8_t> signature) {
    write_file(dir / "pub.pem", ed25519_public_pem(key));
    write_file(dir / "msg", message);
    write_file(dir / "sig",
               std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size()));
    const auto r =
        run_shell("openssl pkeyutl -verify -pubin -inkey " + quote((dir / "pub.pem").string()) +
                  " -rawin -in " + quote((dir / "msg").string()) + " -sigfile " +
                  quote((dir / "sig").string()) + " 2>&1");
    return r.exit_code == 0 && r.out.find("Signature Verified Successfully") != std::string::npos;
}

crypto::Ed25519SecretKey key_from(std::uint64_t seed) {
    crypto::DeterministicRandom r(seed);
    return crypto::Ed25519SecretKey::generate(r);
}

sync::ServerPin pin_of(const crypto::Ed25519SecretKey& key,
                       std::string url = "https://intake.example.org") {
    return *sync::ServerPin::make(std::move(url), "intake.example.org", key.public_key());
}

// ---- base64url: RFC 4648 §10 test vectors (the same for base64url as base64
// here, no '+' or '/' occurs), without padding.

TEST(SyncBase64Url, rfc4648_section10_vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(sync::to_base64url(crypto::as_bytes(plain)), encoded);
        const auto decoded = sync::from_base64url(encoded);
        ASSERT_TRUE(decoded);
        EXPECT_EQ(bytes_to_string(*decoded), plain);
    }
}

TEST(SyncBase64Url, uses_the_url_alphabet) {
    const std::vector<std::uint8_t> bytes = {0xfb, 0xff, 0xbf};
    EXPECT_EQ(sync::to_base64url(bytes), "-_-_");
}

TEST(SyncBase64Url, rejects_padding_standard_alphabet_and_noncanonical_bits) {
    EXPECT_FALSE(sync::from_base64url("Zg=="));
    EXPECT_FALSE(sync::from_base64url("+/+/"));
    EXPECT_FALSE(sync::from_base64url("Zh"));  // low bits set: not what "f" encodes to
    EXPECT_FALSE(sync::from_base64url("Z"));   // 1 mod 4
}

// ---- server URLs

TEST(SyncServerUrl, accepts_https_origins_and_loopback_http) {
    for (const char* url :
         {"https://intake.example.org", "https://intake.example.org:8443", "https://10.0.0.5",
          "https://[2001:db8::1]:443", "http://127.0.0.1:8080", "http://localhost",
          "http://[::1]:1", "http://127.200.0.1",
          "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion",
          "https://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:8443"})
        EXPECT_TRUE(sync::is_valid_server_url(url)) << url;
}

TEST(SyncServerUrl, refuses_plain_http_elsewhere_paths_and_user_info) {
    for (const char* url :
         {"http://intake.example.org", "http://10.0.0.5", "https://intake.example.org/",
          "https://intake.example.org/v1", "https://user@intake.example.org",
          "https://intake.example.org?x", "https://intake.example.org:0",
          "https://intake.example.org:65536", "https://intake.example.org:08443", "ftp://x",
          "https://", "http://128.0.0.1", "http://127.0.0.1.evil.org", "http://127.0.0.01",
          "http://short.onion",
          "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw1.onion",
          "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion.evil.org"})
        EXPECT_FALSE(sync::is_valid_server_url(url)) << url;
}

// ---- enrolment codes

TEST(SyncEnrolmentCode, round_trips_and_decodes_with_basenc) {
    const auto server = key_from(1);
    crypto::SecretBytes token(32);
    for (std::size_t i = 0; i < 32; ++i) token.data()[i] = static_cast<std::uint8_t>(i * 7);
    auto code = sync::EnrolmentCode::make(pin_of(server, "https://intake.example.org:8443"),
                                          token.clone(), 1767225600);
    ASSERT_TRUE(code.ok());
    const std::string text(code->encode().view());
    ASSERT_EQ(text.rfind("custodia-enroll:v1:", 0), 0u);

    // coreutils' basenc reads the payload as plain base64url JSON.
    std::string payload = text.substr(19);
    while (payload.size() % 4) payload += '=';
    const auto r = run_shell("printf %s " + quote(payload) + " | basenc --base64url -d");
    ASSERT_EQ(r.exit_code, 0);
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["url"], "https://intake.example.org:8443");
    EXPECT_EQ(j["server_name"], "intake.example.org");
    EXPECT_EQ(j["server_key"], crypto::to_base64(server.public_key(), true));
    EXPECT_EQ(j["token"], sync::to_base64url(token.span()));
    EXPECT_EQ(j["expires"], 1767225600);

    auto parsed = sync::EnrolmentCode::parse(text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->server().url(), "https://intake.example.org:8443");
    EXPECT_EQ(parsed->server().key(), server.public_key());
    EXPECT_TRUE(parsed->token().equals(token.span()));
    EXPECT_EQ(parsed->expires(), 1767225600);
}

std::string code_with(const json& payload) {
    const std::string text = payload.dump();
    return "custodia-enroll:v1:" + sync::to_base64url(crypto::as_bytes(text));
}

json good_payload() {
    const auto server = key_from(2);
    return json{{"url", "https://intake.example.org"},
                {"server_name", "intake.example.org"},
                {"server_key", crypto::to_base64(server.public_key(), true)},
                {"token", sync::to_base64url(std::vector<std::uint8_t>(32, 9))},
                {"expires", 1767225600}};
}

TEST(SyncEnrolmentCode, accepts_the_good_payload_and_ignores_unknown_members) {
    EXPECT_TRUE(sync::EnrolmentCode::parse(code_with(good_payload())).ok());
    auto extra = good_payload();
    extra["comment"] = "for the Lviv team";
    EXPECT_TRUE(sync::EnrolmentCode::parse(code_with(extra)).ok());
}

TEST(SyncEnrolmentCode, tampered_codes_are_refused) {
    auto check = [](const std::string& what, const json& payload) {
        EXPECT_FALSE(sync::EnrolmentCode::parse(code_with(payload)).ok()) << what;
    };
    auto p = good_payload();
    p["token"] = sync::to_base64url(std::vector<std::uint8_t>(31, 9));
    check("token_31_bytes", p);
    p = good_payload();
    p["server_key"] = crypto::to_base64(std::vector<std::uint8_t>(31, 1), true);
    check("server_key_31_bytes", p);
    p = good_payload();
    p.erase("server_name");
    check("server_name_missing", p);
    p = good_payload();
    p["expires"] = "tomorrow";
    check("expires_not_a_number", p);
    p = good_payload();
    p["url"] = "http://intake.example.org";
    check("plain_http_to_a_remote_host", p);
    p = good_payload();
    p["server_name"] = "intake example";
    check("server_name_with_space", p);
    EXPECT_FALSE(
        sync::EnrolmentCode::parse("custodia-enroll:v2:" + code_with(good_payload()).substr(19))
            .ok());
    EXPECT_FALSE(sync::EnrolmentCode::parse(code_with(good_payload()) + "=").ok());
    EXPECT_FALSE(sync::EnrolmentCode::parse("custodia-enroll:v1:" +
                                            sync::to_base64url(crypto::as_bytes("[1,2]")))
                     .ok());
}

TEST(SyncServerPin, json_round_trip) {
    const auto pin = pin_of(key_from(3));
    auto back = sync::ServerPin::from_json(pin.to_json());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->url(), pin.url());
    EXPECT_EQ(back->name(), pin.name());
    EXPECT_EQ(back->key(), pin.key());
}

// ---- RFC 3339 times, checked against coreutils `date`

TEST(SyncRfc3339, matches_gnu_date_including_leap_days) {
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{951782400}, std::int64_t{951868799},
                           std::int64_t{1709164800}, std::int64_t{1740821400},
                           std::int64_t{4107542399}, std::int64_t{253402300799}}) {
        const auto r = run_shell("date -u -d @" + std::to_string(t) + " +%Y-%m-%dT%H:%M:%SZ");
        const std::string expected = r.out.substr(0, r.out.find('\n'));
        auto ours = sync::format_rfc3339_utc(t);
        ASSERT_TRUE(ours.ok());
        EXPECT_EQ(*ours, expected);
        EXPECT_EQ(sync::parse_rfc3339_utc(expected), t);
    }
}

TEST(SyncRfc3339, refuses_other_spellings_and_impossible_dates) {
    for (const char* t :
         {"2025-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
          "2024-01-01T00:00:60Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00z",
          "2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00.0Z", "1969-12-31T23:59:59Z"})
        EXPECT_FALSE(sync::parse_rfc3339_utc(t)) << t;
}

// ---- envelope

TEST(SyncEnvelope, statement_round_trips_exactly) {
    const std::string comment =
        "custodia.envelope/v1 bundle=case-7.b1 sha256="
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 size=4 "
        "device=0123456789ABCDEF created=2025-03-01T09:30:00Z";
    auto s = sync::EnvelopeStatement::parse(comment);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(s->bundle_id, "case-7.b1");
    EXPECT_EQ(s->size, 4u);
    EXPECT_EQ(s->created, 1740821400);
    EXPECT_EQ(crypto::minisign::key_id_hex(s->device), "0123456789ABCDEF");
    EXPECT_EQ(*s->to_trusted_comment(), comment);
}

TEST(SyncEnvelope, statement_variants_are_refused) {
    const std::string sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const std::string tail = " device=0123456789ABCDEF created=2025-03-01T09:30:00Z";
    for (const std::string& bad : {
             "custodia.envelope/v2 bundle=b sha256=" + sha + " size=4" + tail,
             "custodia.envelope/v1 bundle=b sha256=" + sha + " size=04" + tail,
             "custodia.envelope/v1 bundle=b sha256=" + sha + "  size=4" + tail,
             "custodia.envelope/v1 size=4 bundle=b sha256=" + sha + tail,
             "custodia.envelope/v1 bundle=.hidden sha256=" + sha + " size=4" + tail,
             "custodia.envelope/v1 bundle=a/b sha256=" + sha + " size=4" + tail,
             "custodia.envelope/v1 bundle=b sha256=9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822"
             "CD15D6C15B0F00A08 size=4" +
                 tail,
             "custodia.envelope/v1 bundle=b sha256=" + sha + " size=4" + tail + " extra=1",
             "custodia.envelope/v1 bundle=b sha256=" + sha +
                 " size=4 device=0123456789abcdef created=2025-03-01T09:30:00Z",
             "custodia.envelope/v1 bundle=b sha256=" + sha +
                 " size=4 device=0123456789ABCDEF created=1740821400",
         })
        EXPECT_FALSE(sync::EnvelopeStatement::parse(bad).ok()) << bad;
}

class SyncEnvelopeFile : public ::testing::Test {
  protected:
    void SetUp() override {
        write_file(file_, std::string(70000, 'e') + "the end");
        auto env = sync::make_envelope(file_, "case-1.bundle-2", 1740821400, key_);
        ASSERT_TRUE(env.ok()) << env.error().message;
        envelope_text_ = *env;
        write_file(tmp_ / "b.custodia.envelope", envelope_text_);
    }
    TempDir tmp_;
    std::filesystem::path file_ = tmp_ / "b.custodia";
    crypto::Ed25519SecretKey key_ = key_from(10);
    std::string envelope_text_;
};

TEST_F(SyncEnvelopeFile, debian_minisign_verifies_it_and_shows_the_statement) {
    const auto pub = crypto::minisign::PublicKey::derive_from(key_.public_key()).to_base64();
    const auto r =
        run_shell("minisign -V -m " + quote(file_.string()) + " -x " +
                  quote((tmp_ / "b.custodia.envelope").string()) + " -P " + quote(pub) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto sha = run_shell("sha256sum " + quote(file_.string())).out.substr(0, 64);
    EXPECT_NE(r.out.find("Trusted comment: custodia.envelope/v1 bundle=case-1.bundle-2 sha256=" +
                         sha + " size=70007 device=" + sync::device_key_id_hex(key_.public_key()) +
                         " created=2025-03-01T09:30:00Z"),
              std::string::npos)
        << r.out;
}

TEST_F(SyncEnvelopeFile, verifies_over_the_file) {
    auto env = sync::Envelope::parse(envelope_text_);
    ASSERT_TRUE(env.ok());
    EXPECT_TRUE(sync::verify_envelope_file(*env, key_.public_key(), file_).ok());
}

TEST_F(SyncEnvelopeFile, flip_one_byte_of_the_file) {
    std::string bytes = std::string(70000, 'e') + "the end";
    bytes[12345] ^= 1;
    write_file(file_, bytes);
    auto env = sync::Envelope::parse(envelope_text_);
    const auto st = sync::verify_envelope_file(*env, key_.public_key(), file_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
}

TEST_F(SyncEnvelopeFile, append_one_byte_to_the_file) {
    write_file(file_, std::string(70000, 'e') + "the end!");
    auto env = sync::Envelope::parse(envelope_text_);
    EXPECT_FALSE(sync::verify_envelope_file(*env, key_.public_key(), file_).ok());
}

TEST_F(SyncEnvelopeFile, verified_with_another_device_key) {
    auto env = sync::Envelope::parse(envelope_text_);
    const auto st = sync::verify_envelope_file(*env, key_from(11).public_key(), file_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::no_matching_key);
}

TEST_F(SyncEnvelopeFile, trusted_comment_edited_after_signing) {
    std::string edited = envelope_text_;
    const auto at = edited.find("bundle=case-1.bundle-2");
    ASSERT_NE(at, std::string::npos);
    edited.replace(at, 22, "bundle=case-1.bundle-3");
    auto env = sync::Envelope::parse(edited);
    ASSERT_TRUE(env.ok());  // well-formed; only the global signature covers the comment
    auto fd = ::open(file_.c_str(), O_RDONLY);
    crypto::FdSource source(fd);
    const auto st = env->verify_signature(key_.public_key(), source);
    ::close(fd);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::auth_failed);
}

// ---- request signatures

TEST(SyncRequestAuth, signing_message_is_exactly_the_documented_lines) {
    const auto server = key_from(20);
    const auto body = crypto::sha256(std::string_view("{}"));
    const auto message = sync::request_signing_message(server.public_key(), "POST", "/v1/uploads",
                                                       1740821400, "AAAAAAAAAAAAAAAAAAAAAA", body);
    // Written out by hand from PROTOCOL.md §2; the digest is sha256("{}").
    const std::string expected =
        "custodia/v1/request\n" + crypto::to_base64(server.public_key(), true) +
        "\nPOST\n/v1/uploads\n1740821400\nAAAAAAAAAAAAAAAAAAAAAA\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n";
    EXPECT_EQ(message, expected);
}

TEST(SyncRequestAuth, openssl_verifies_the_signature_over_the_message) {
    TempDir tmp;
    const auto device_key = key_from(21);
    const auto server = key_from(22);
    sync::Ed25519DeviceSigner device(device_key);
    crypto::DeterministicRandom nonces(5);
    const auto body = crypto::sha256(std::string_view("chunk"));
    const auto auth = sync::sign_request(device, server.public_key(), "PATCH",
                                         "/v1/uploads/00112233445566778899aabbccddeeff", body,
                                         1740821400, nonces);
    EXPECT_EQ(auth.device, sync::device_key_id_hex(device_key.public_key()));
    EXPECT_EQ(auth.time, "1740821400");
    EXPECT_EQ(auth.nonce.size(), 22u);
    const auto message = sync::request_signing_message(
        server.public_key(), "PATCH", "/v1/uploads/00112233445566778899aabbccddeeff", 1740821400,
        auth.nonce, body);
    const auto sig = crypto::from_base64(auth.signature, true);
    ASSERT_TRUE(sig && sig->size() == 64);
    EXPECT_TRUE(openssl_verifies(tmp, device_key.public_key(), message, *sig));
}

TEST(SyncRequestAuth, any_changed_field_fails_verification) {
    const auto device_key = key_from(23);
    const auto server = key_from(24);
    sync::Ed25519DeviceSigner device(device_key);
    crypto::DeterministicRandom nonces(6);
    const auto body = crypto::sha256(std::string_view("body"));
    const auto auth = sync::sign_request(device, server.public_key(), "POST", "/v1/uploads", body,
                                         1740821400, nonces);
    auto parsed = sync::parse_request_auth(auth.device, auth.time, auth.nonce, auth.signature);
    ASSERT_TRUE(parsed.ok());
    const auto pk = device_key.public_key();
    EXPECT_TRUE(sync::verify_request_signature(*parsed, pk, server.public_key(), "POST",
                                               "/v1/uploads", body));
    EXPECT_FALSE(sync::verify_request_signature(*parsed, pk, server.public_key(), "PATCH",
                                                "/v1/uploads", body));
    EXPECT_FALSE(sync::verify_request_signature(*parsed, pk, server.public_key(), "POST",
                                                "/v1/devices", body));
    EXPECT_FALSE(sync::verify_request_signature(*parsed, pk, server.public_key(), "POST",
                                                "/v1/uploads",
                                                crypto::sha256(std::string_view("Body"))));
    EXPECT_FALSE(sync::verify_request_signature(*parsed, pk, key_from(25).public_key(), "POST",
                                                "/v1/uploads", body));
    EXPECT_FALSE(sync::verify_request_signature(*parsed, key_from(26).public_key(),
                                                server.public_key(), "POST", "/v1/uploads", body));
    auto later = *parsed;
    later.time += 1;
    EXPECT_FALSE(sync::verify_request_signature(later, pk, server.public_key(), "POST",
                                                "/v1/uploads", body));
    auto other_nonce = *parsed;
    other_nonce.nonce[0] = other_nonce.nonce[0] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(sync::verify_request_signature(other_nonce, pk, server.public_key(), "POST",
                                                "/v1/uploads", body));
}

TEST(SyncRequestAuth, malformed_headers_are_refused) {
    const std::string sig = crypto::to_base64(std::vector<std::uint8_t>(64, 1), true);
    const std::string nonce = "AAAAAAAAAAAAAAAAAAAAAA";
    EXPECT_TRUE(sync::parse_request_auth("0123456789ABCDEF", "1740821400", nonce, sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789abcdef", "1740821400", nonce, sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDE", "1740821400", nonce, sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDEF", "+1740821400", nonce, sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDEF", "01740821400", nonce, sig).ok());
    EXPECT_FALSE(
        sync::parse_request_auth("0123456789ABCDEF", "99999999999999999999", nonce, sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDEF", "1740821400", "short", sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDEF", "1740821400", nonce + "+", sig).ok());
    EXPECT_FALSE(sync::parse_request_auth("0123456789ABCDEF", "1740821400", nonce,
                                          crypto::to_base64(std::vector<std::uint8_t>(63, 1), true))
                     .ok());
}

TEST(SyncRequestAuth, freshness_window_is_300_seconds_either_way) {
    EXPECT_TRUE(sync::is_fresh(1000, 1300));
    EXPECT_TRUE(sync::is_fresh(1300, 1000));
    EXPECT_FALSE(sync::is_fresh(1000, 1301));
    EXPECT_FALSE(sync::is_fresh(1301, 1000));
}

// ---- receipts, enrolment answers, cosignatures

sync::Receipt sample_receipt(const crypto::Ed25519SecretKey& device) {
    sync::Receipt r;
    r.bundle_id = "case-7.bundle-1";
    r.device = sync::device_key_id_hex(device.public_key());
    r.received = 1740821460;
    r.server = "intake.example.org";
    r.sha256 = crypto::sha256(std::string_view("bundle bytes"));
    r.size = 12;
    return r;
}

sync::ExpectedReceipt expected_of(const sync::Receipt& r) {
    return {r.bundle_id, r.device, r.sha256, r.size};
}

TEST(SyncReceipt, text_is_the_documented_two_lines) {
    const auto device = key_from(30);
    const auto r = sample_receipt(device);
    const std::string expected =
        "custodia.receipt/v1\n{\"bundle\":\"case-7.bundle-1\",\"device\":\"" + r.device +
        "\",\"received\":1740821460,\"server\":\"intake.example.org\",\"sha256\":\"" +
        crypto::to_hex(r.sha256) + "\",\"size\":12}\n";
    EXPECT_EQ(*r.to_note_text(), expected);
    auto back = sync::Receipt::from_note_text(expected);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back->to_note_text(), expected);
}

TEST(SyncReceipt, noncanonical_json_is_refused) {
    const auto device = key_from(31);
    std::string text = *sample_receipt(device).to_note_text();
    std::string spaced = text;
    spaced.replace(spaced.find("\"size\":"), 7, "\"size\": ");
    EXPECT_FALSE(sync::Receipt::from_note_text(spaced).ok());
    std::string reordered = "custodia.receipt/v1\n{\"size\":12," + text.substr(text.find('{') + 1);
    reordered.replace(reordered.rfind(",\"size\":12"), 10, "");
    EXPECT_FALSE(sync::Receipt::from_note_text(reordered).ok());
    EXPECT_FALSE(sync::Receipt::from_note_text(text + "\n").ok());
}

TEST(SyncReceipt, verifies_under_the_pinned_key_and_openssl_agrees) {
    TempDir tmp;
    const auto server = key_from(32);
    const auto device = key_from(33);
    const auto r = sample_receipt(device);
    auto note = sync::sign_receipt(r, "intake.example.org", server);
    ASSERT_TRUE(note.ok());
    auto verified = sync::verify_receipt(*note, pin_of(server), expected_of(r));
    ASSERT_TRUE(verified.ok()) << verified.error().message;

    // The signature line is base64(key id[4] || Ed25519 signature[64]) over
    // the text: an independent Ed25519 verifier agrees.
    auto parsed = core::SignedNote::parse(*note);
    ASSERT_TRUE(parsed.ok());
    ASSERT_EQ(parsed->signatures().size(), 1u);
    EXPECT_EQ(parsed->signatures()[0].name, "intake.example.org");
    EXPECT_TRUE(openssl_verifies(tmp, server.public_key(), parsed->text(),
                                 parsed->signatures()[0].signature));
}

TEST(SyncReceipt, receipt_signed_by_another_server_key) {
    const auto device = key_from(34);
    const auto r = sample_receipt(device);
    auto note = sync::sign_receipt(r, "intake.example.org", key_from(35));
    auto verified = sync::verify_receipt(*note, pin_of(key_from(36)), expected_of(r));
    ASSERT_FALSE(verified.ok());
    EXPECT_EQ(verified.error().code, Errc::auth_failed);
}

TEST(SyncReceipt, receipt_for_another_bundle_size_digest_device_or_server) {
    const auto server = key_from(37);
    const auto device = key_from(38);
    const auto r = sample_receipt(device);
    auto note = *sync::sign_receipt(r, "intake.example.org", server);
    auto e = expected_of(r);
    e.size += 1;
    EXPECT_FALSE(sync::verify_receipt(note, pin_of(server), e).ok());
    e = expected_of(r);
    e.bundle_id = "case-7.bundle-2";
    EXPECT_FALSE(sync::verify_receipt(note, pin_of(server), e).ok());
    e = expected_of(r);
    e.sha256[0] ^= 1;
    EXPECT_FALSE(sync::verify_receipt(note, pin_of(server), e).ok());
    e = expected_of(r);
    e.device = sync::device_key_id_hex(key_from(39).public_key());
    EXPECT_FALSE(sync::verify_receipt(note, pin_of(server), e).ok());
    auto other_name = r;
    other_name.server = "other.example.org";
    auto renamed = *sync::sign_receipt(other_name, "intake.example.org", server);
    EXPECT_FALSE(sync::verify_receipt(renamed, pin_of(server), expected_of(r)).ok());
}

TEST(SyncReceipt, receipt_with_its_text_edited_after_signing) {
    const auto server = key_from(40);
    const auto device = key_from(41);
    const auto r = sample_receipt(device);
    std::string note = *sync::sign_receipt(r, "intake.example.org", server);
    note.replace(note.find("1740821460"), 10, "1740821461");
    auto e = expected_of(r);
    EXPECT_FALSE(sync::verify_receipt(note, pin_of(server), e).ok());
}

TEST(SyncEnrolmentAnswer, verifies_for_this_device_only) {
    const auto server = key_from(42);
    const auto device = key_from(43);
    const sync::EnrolmentAnswer a{sync::device_key_id_hex(device.public_key()), 1740821400,
                                  device.public_key(), "intake.example.org"};
    auto note = sync::sign_enrolment_answer(a, "intake.example.org", server);
    ASSERT_TRUE(note.ok());
    EXPECT_TRUE(sync::verify_enrolment_answer(*note, pin_of(server), device.public_key()).ok());
    EXPECT_FALSE(
        sync::verify_enrolment_answer(*note, pin_of(server), key_from(44).public_key()).ok());
    EXPECT_FALSE(
        sync::verify_enrolment_answer(*note, pin_of(key_from(45)), device.public_key()).ok());
}

std::string device_checkpoint(const crypto::Ed25519SecretKey& device, std::uint64_t size) {
    core::Checkpoint c;
    c.origin = "custodia.example/device";
    c.size = size;
    c.root = crypto::sha256(std::string_view("root"));
    auto note = core::SignedNote::from_text(*c.to_text());
    EXPECT_TRUE(core::sign_note_ed25519(*note, "field-laptop-3", device).ok());
    return note->serialize();
}

TEST(SyncCosignature, cosigned_checkpoint_verifies_with_its_timestamp) {
    const auto server = key_from(46);
    const auto device = key_from(47);
    const auto sent = device_checkpoint(device, 41);
    auto note = core::SignedNote::parse(sent);
    ASSERT_TRUE(core::cosign_checkpoint_v1(*note, "intake.example.org", server, 1740821499).ok());
    auto t = sync::verify_cosigned_checkpoint(note->serialize(), sent, pin_of(server));
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(*t, 1740821499u);
}

TEST(SyncCosignature, cosignature_by_another_key_or_of_another_checkpoint) {
    const auto server = key_from(48);
    const auto device = key_from(49);
    const auto sent = device_checkpoint(device, 41);
    auto by_other = core::SignedNote::parse(sent);
    ASSERT_TRUE(core::cosign_checkpoint_v1(*by_other, "intake.example.org", key_from(50), 1).ok());
    EXPECT_FALSE(
        sync::verify_cosigned_checkpoint(by_other->serialize(), sent, pin_of(server)).ok());
    auto other_checkpoint = core::SignedNote::parse(device_checkpoint(device, 42));
    ASSERT_TRUE(
        core::cosign_checkpoint_v1(*other_checkpoint, "intake.example.org", server, 1).ok());
    EXPECT_FALSE(
        sync::verify_cosigned_checkpoint(other_checkpoint->serialize(), sent, pin_of(server)).ok());
    // A plain Ed25519 signature by the server is not a cosignature.
    auto plain = core::SignedNote::parse(sent);
    ASSERT_TRUE(core::sign_note_ed25519(*plain, "intake.example.org", server).ok());
    EXPECT_FALSE(sync::verify_cosigned_checkpoint(plain->serialize(), sent, pin_of(server)).ok());
}

TEST(SyncCheckpointSigner, device_line_is_found_under_any_name) {
    const auto device = key_from(51);
    auto note = core::SignedNote::parse(device_checkpoint(device, 3));
    ASSERT_TRUE(note.ok());
    EXPECT_TRUE(sync::note_signed_by(*note, device.public_key()));
    EXPECT_FALSE(sync::note_signed_by(*note, key_from(52).public_key()));
}

}  // namespace
}  // namespace custodia
