// Project Wycheproof vectors (github.com/C2SP/wycheproof, testvectors_v1,
// Apache-2.0), copied unchanged into tests/vectors/wycheproof/.
//
// Each JSON file is one parameter instance. Every vector in it runs; a `valid`
// vector our primitive does not accept with exactly the published output, or
// an `invalid` one it accepts, is a failure naming tcId and comment.
// `acceptable` vectors may go either way (libsodium, for example, refuses
// X25519 results that are all zeros), but producing a *different* output is
// never acceptable, and both outcomes are counted and reported.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "custodia/crypto/aead.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/sign.h"

namespace {

using custodia::crypto::from_hex;
using json = nlohmann::json;
using Bytes = std::vector<std::uint8_t>;

// What our implementation did with one vector.
enum class Outcome {
    accepted,      // verified / produced exactly the published output
    rejected,      // refused it (failed verification, returned an error, bad size)
    wrong_output,  // produced something other than the published output
    wrong_reason,  // refused it, but not for the one reason our API documents
};

const char* outcome_name(Outcome o) {
    switch (o) {
        case Outcome::accepted:
            return "accepted";
        case Outcome::rejected:
            return "rejected";
        case Outcome::wrong_output:
            return "wrong output";
        case Outcome::wrong_reason:
            return "rejected for an undocumented reason";
    }
    return "?";
}

// Hex fields in the files are always well formed; a decoding failure means
// the file or our decoder is broken, which the caller reports loudly.
Bytes hex_field(const json& obj, const char* key) {
    auto decoded = from_hex(obj.at(key).get<std::string>());
    if (!decoded) throw std::runtime_error(std::string("field '") + key + "' is not hex");
    return std::move(*decoded);
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> fixed(const Bytes& bytes) {
    if (bytes.size() != N) return std::nullopt;
    std::array<std::uint8_t, N> out{};
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
}

bool same_bytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return custodia::crypto::equal_constant_time(a, b);
}

// --- one runner per schema -----------------------------------------------

Outcome run_ed25519(const json& group, const json& test) {
    auto pk = fixed<32>(hex_field(group.at("publicKey"), "pk"));
    auto sig = fixed<64>(hex_field(test, "sig"));
    // Truncated or padded signatures cannot be passed to our API at all:
    // they are rejected by the type, which is what `invalid` asks for.
    if (!pk || !sig) return Outcome::rejected;
    Bytes msg = hex_field(test, "msg");
    return custodia::crypto::verify_ed25519(*pk, msg, *sig) ? Outcome::accepted : Outcome::rejected;
}

Outcome run_x25519(const json&, const json& test) {
    Bytes priv = hex_field(test, "private");
    auto pub = fixed<32>(hex_field(test, "public"));
    Bytes shared = hex_field(test, "shared");
    if (!pub) return Outcome::rejected;
    auto key = custodia::crypto::X25519SecretKey::from_bytes(priv);
    if (!key) return Outcome::rejected;
    auto agreed = key->agree_x25519(*pub);
    if (!agreed) {
        // agree_x25519 promises to fail only when the shared secret would be
        // all zeros (a small-order peer point); twist points and
        // non-canonical encodings must still agree.
        const bool all_zero =
            std::all_of(shared.begin(), shared.end(), [](std::uint8_t b) { return b == 0; });
        return all_zero && agreed.error().code == custodia::Errc::auth_failed
                   ? Outcome::rejected
                   : Outcome::wrong_reason;
    }
    return agreed->equals(shared) ? Outcome::accepted : Outcome::wrong_output;
}

struct AeadFunctions {
    std::size_t nonce_size;
    std::function<void(std::span<const std::uint8_t, 32>, std::span<const std::uint8_t>,
                       std::span<const std::uint8_t>, std::span<const std::uint8_t>,
                       std::span<std::uint8_t>)>
        seal;
    std::function<bool(std::span<const std::uint8_t, 32>, std::span<const std::uint8_t>,
                       std::span<const std::uint8_t>, std::span<const std::uint8_t>,
                       std::span<std::uint8_t>)>
        open;
};

AeadFunctions chacha20poly1305() {
    return {12,
            [](auto key, auto nonce, auto aad, auto pt, auto out) {
                custodia::crypto::seal_chacha20poly1305(key, nonce.template first<12>(), aad, pt,
                                                        out);
            },
            [](auto key, auto nonce, auto aad, auto ct, auto out) {
                return custodia::crypto::open_chacha20poly1305(key, nonce.template first<12>(), aad,
                                                               ct, out);
            }};
}

AeadFunctions xchacha20poly1305() {
    return {24,
            [](auto key, auto nonce, auto aad, auto pt, auto out) {
                custodia::crypto::seal_xchacha20poly1305(key, nonce.template first<24>(), aad, pt,
                                                         out);
            },
            [](auto key, auto nonce, auto aad, auto ct, auto out) {
                return custodia::crypto::open_xchacha20poly1305(key, nonce.template first<24>(),
                                                                aad, ct, out);
            }};
}

Outcome run_aead(const AeadFunctions& aead, const json& test) {
    auto key = fixed<32>(hex_field(test, "key"));
    Bytes nonce = hex_field(test, "iv");
    Bytes aad = hex_field(test, "aad");
    Bytes msg = hex_field(test, "msg");
    Bytes ct_and_tag = hex_field(test, "ct");
    Bytes tag = hex_field(test, "tag");
    // Our API takes exactly a 32-byte key and the construction's nonce size;
    // anything else cannot be expressed and so counts as rejected.
    if (!key || nonce.size() != aead.nonce_size) return Outcome::rejected;
    ct_and_tag.insert(ct_and_tag.end(), tag.begin(), tag.end());

    const bool expect_success = test.at("result") != "invalid";
    if (expect_success) {
        // Sealing is deterministic given key and nonce: it must reproduce
        // the published ciphertext and tag byte for byte.
        Bytes sealed(msg.size() + custodia::crypto::kPoly1305TagSize);
        aead.seal(*key, nonce, aad, msg, sealed);
        if (sealed != ct_and_tag) return Outcome::wrong_output;
    }
    if (ct_and_tag.size() < custodia::crypto::kPoly1305TagSize) return Outcome::rejected;
    Bytes opened(ct_and_tag.size() - custodia::crypto::kPoly1305TagSize);
    if (!aead.open(*key, nonce, aad, ct_and_tag, opened)) return Outcome::rejected;
    return opened == msg ? Outcome::accepted : Outcome::wrong_output;
}

Outcome run_hkdf(const json&, const json& test) {
    Bytes ikm = hex_field(test, "ikm");
    Bytes salt = hex_field(test, "salt");
    Bytes info = hex_field(test, "info");
    Bytes okm = hex_field(test, "okm");
    auto derived = custodia::crypto::hkdf_sha256(ikm, salt, std::span<const std::uint8_t>(info),
                                                 test.at("size").get<std::size_t>());
    if (!derived) return Outcome::rejected;
    return derived->equals(okm) ? Outcome::accepted : Outcome::wrong_output;
}

Outcome run_hmac(const json& group, const json& test) {
    Bytes key = hex_field(test, "key");
    Bytes msg = hex_field(test, "msg");
    Bytes tag = hex_field(test, "tag");
    const auto tag_bytes = group.at("tagSize").get<std::size_t>() / 8;
    auto mac = custodia::crypto::hmac_sha256(key, msg);
    if (tag_bytes > mac.size() || tag.size() != tag_bytes) return Outcome::rejected;
    // Like a verifier would: the truncated MAC must match the presented tag.
    return same_bytes(std::span(mac).first(tag_bytes), tag) ? Outcome::accepted : Outcome::rejected;
}

using Runner = std::function<Outcome(const json& group, const json& test)>;

struct VectorFile {
    const char* file;
    const char* algorithm;  // the file's "algorithm" field, checked so a swapped file fails
    Runner run;
};

const std::vector<VectorFile>& vector_files() {
    static const std::vector<VectorFile> files = {
        {"ed25519_test.json", "EDDSA", run_ed25519},
        {"x25519_test.json", "XDH", run_x25519},
        {"chacha20_poly1305_test.json", "CHACHA20-POLY1305",
         [](const json&, const json& t) { return run_aead(chacha20poly1305(), t); }},
        {"xchacha20_poly1305_test.json", "XCHACHA20-POLY1305",
         [](const json&, const json& t) { return run_aead(xchacha20poly1305(), t); }},
        {"hkdf_sha256_test.json", "HKDF-SHA-256", run_hkdf},
        {"hmac_sha256_test.json", "HMACSHA256", run_hmac},
    };
    return files;
}

struct Tally {
    int run = 0;
    int valid = 0, valid_passed = 0;
    int invalid = 0, invalid_rejected = 0;
    int acceptable_accepted = 0, acceptable_rejected = 0;
};

// Keeps GoogleTest from dumping the runner's bytes when it names a parameter.
void PrintTo(const VectorFile& vf, std::ostream* os) {
    *os << vf.file;
}

class WycheproofFile : public ::testing::TestWithParam<VectorFile> {};

TEST_P(WycheproofFile, EveryVector) {
    const VectorFile& vf = GetParam();
    const std::string path = std::string(CUSTODIA_VECTORS_DIR) + "/wycheproof/" + vf.file;
    std::ifstream in(path);
    ASSERT_TRUE(in) << "cannot open " << path;
    const json doc = json::parse(in);
    ASSERT_EQ(doc.at("algorithm").get<std::string>(), vf.algorithm) << path;

    Tally tally;
    for (const json& group : doc.at("testGroups")) {
        for (const json& test : group.at("tests")) {
            ++tally.run;
            const auto tc_id = test.at("tcId").get<int>();
            const auto expected = test.at("result").get<std::string>();
            const auto comment = test.at("comment").get<std::string>();
            Outcome got;
            try {
                got = vf.run(group, test);
            } catch (const std::exception& e) {
                ADD_FAILURE() << vf.file << " tcId " << tc_id << " (" << comment
                              << "): exception: " << e.what();
                continue;
            }
            if (expected == "valid") {
                ++tally.valid;
                if (got == Outcome::accepted)
                    ++tally.valid_passed;
                else
                    ADD_FAILURE() << vf.file << " tcId " << tc_id << " (" << comment
                                  << "): valid vector " << outcome_name(got);
            } else if (expected == "invalid") {
                ++tally.invalid;
                if (got == Outcome::rejected)
                    ++tally.invalid_rejected;
                else
                    ADD_FAILURE() << vf.file << " tcId " << tc_id << " (" << comment
                                  << "): invalid vector " << outcome_name(got);
            } else if (expected == "acceptable") {
                if (got == Outcome::accepted)
                    ++tally.acceptable_accepted;
                else if (got == Outcome::rejected)
                    ++tally.acceptable_rejected;
                else
                    ADD_FAILURE() << vf.file << " tcId " << tc_id << " (" << comment
                                  << "): acceptable vector " << outcome_name(got);
            } else {
                ADD_FAILURE() << vf.file << " tcId " << tc_id << ": unknown result '" << expected
                              << "'";
            }
        }
    }

    // Nothing may be skipped silently: the file states how many vectors it has.
    EXPECT_EQ(tally.run, doc.at("numberOfTests").get<int>()) << vf.file;

    std::cout << "[wycheproof] " << vf.file << ": " << tally.run << " vectors; valid passed "
              << tally.valid_passed << "/" << tally.valid << ", invalid rejected "
              << tally.invalid_rejected << "/" << tally.invalid << ", acceptable accepted "
              << tally.acceptable_accepted << ", acceptable rejected " << tally.acceptable_rejected
              << "\n";
    RecordProperty("vectors", tally.run);
    RecordProperty("valid_passed", tally.valid_passed);
    RecordProperty("invalid_rejected", tally.invalid_rejected);
    RecordProperty("acceptable_accepted", tally.acceptable_accepted);
    RecordProperty("acceptable_rejected", tally.acceptable_rejected);
}

std::string file_test_name(const ::testing::TestParamInfo<VectorFile>& info) {
    std::string name = info.param.file;
    name = name.substr(0, name.find('.'));  // "ed25519_test.json" -> "ed25519_test"
    return name;
}

INSTANTIATE_TEST_SUITE_P(Wycheproof, WycheproofFile, ::testing::ValuesIn(vector_files()),
                         file_test_name);

}  // namespace
