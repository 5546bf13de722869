// C2SP signed notes, checkpoints and cosignatures: published notes and keys
// from the Go implementations and the C2SP specs, interop with the openssl
// binary's Ed25519, exact round trips, and one tamper case per test.
#include "custodia/core/note.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "custodia/core/merkle.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/sign.h"

namespace {

using custodia::Errc;
using custodia::core::Checkpoint;
using custodia::core::NoteSignatureType;
using custodia::core::NoteVerifierKey;
using custodia::core::SignedNote;
using custodia::crypto::Ed25519SecretKey;

std::vector<std::uint8_t> b64(std::string_view text) {
    return custodia::crypto::from_base64(text, true).value();
}

// A signer key's data, as golang.org/x/mod/sumdb/note writes it after
// "PRIVATE+KEY+<name>+<key ID>+": base64(0x01 || 32-byte seed).
Ed25519SecretKey key_from_go_skey_data(std::string_view data) {
    std::vector<std::uint8_t> raw = b64(data);
    EXPECT_EQ(raw.size(), 33u);
    EXPECT_EQ(raw[0], 0x01);
    return std::move(
        Ed25519SecretKey::from_seed(std::span<const std::uint8_t>(raw).subspan(1)).value());
}

Ed25519SecretKey test_key(std::uint8_t fill) {
    std::vector<std::uint8_t> seed(32, fill);
    return std::move(Ed25519SecretKey::from_seed(seed).value());
}

NoteVerifierKey vkey(std::string_view text) {
    return NoteVerifierKey::parse(text).value();
}

std::vector<std::string> verified_names(const SignedNote& note,
                                        const std::vector<NoteVerifierKey>& known) {
    auto result = custodia::core::verify_note(note, known);
    std::vector<std::string> names;
    if (!result) return names;
    for (const auto& v : *result) names.push_back(v.name);
    return names;
}

Errc verify_error(const SignedNote& note, const std::vector<NoteVerifierKey>& known) {
    auto result = custodia::core::verify_note(note, known);
    EXPECT_FALSE(result.ok());
    return result.ok() ? Errc::internal : result.error().code;
}

// ---------------------------------------------------------------------------
// Published: golang.org/x/mod sumdb/note/note_test.go (TestNewVerifier,
// TestSign, TestOpen). Ed25519 is deterministic, so signing the same text
// with the same seed must give the published note byte for byte.

constexpr std::string_view kPeterVkey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kPeterSkeyData = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr std::string_view kEnochVkey =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const std::string kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const std::string kPeterSig =
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const std::string kEnochSig =
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"
    "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

TEST(GoSumdbNote, SigningReproducesThePublishedNote) {
    Ed25519SecretKey peter = key_from_go_skey_data(kPeterSkeyData);
    EXPECT_EQ(NoteVerifierKey::make("PeterNeumann", NoteSignatureType::ed25519, peter.public_key())
                  .value()
                  .to_string(),
              kPeterVkey);
    SignedNote note = SignedNote::from_text(kGoText).value();
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, "PeterNeumann", peter).ok());
    EXPECT_EQ(note.serialize(), kGoText + "\n" + kPeterSig);
    // Re-signing replaces the line instead of adding a second one.
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, "PeterNeumann", peter).ok());
    EXPECT_EQ(note.serialize(), kGoText + "\n" + kPeterSig);
}

TEST(GoSumdbNote, PublishedNoteVerifiesWithEitherOrBothKeys) {
    const SignedNote note = SignedNote::parse(kGoText + "\n" + kPeterSig + kEnochSig).value();
    EXPECT_EQ(note.text(), kGoText);
    EXPECT_EQ(note.serialize(), kGoText + "\n" + kPeterSig + kEnochSig);
    EXPECT_EQ(verified_names(note, {vkey(kPeterVkey)}), std::vector<std::string>{"PeterNeumann"});
    EXPECT_EQ(verified_names(note, {vkey(kEnochVkey)}), std::vector<std::string>{"EnochRoot"});
    EXPECT_EQ(verified_names(note, {vkey(kEnochVkey), vkey(kPeterVkey)}),
              (std::vector<std::string>{"PeterNeumann", "EnochRoot"}));
}

TEST(GoSumdbNote, NoTrustedKeyMeansNotVerified) {
    const SignedNote note = SignedNote::parse(kGoText + "\n" + kPeterSig + kEnochSig).value();
    EXPECT_EQ(verify_error(note, {}), Errc::no_matching_key);
}

TEST(GoSumdbNote, DuplicateTrustedKeyIsAConfigurationError) {
    const SignedNote note = SignedNote::parse(kGoText + "\n" + kEnochSig).value();
    EXPECT_EQ(verify_error(note, {vkey(kEnochVkey), vkey(kPeterVkey), vkey(kEnochVkey)}),
              Errc::malformed);
}

TEST(GoSumdbNote, SignatureWithInsertedBytesFails) {
    std::string bad = kPeterSig;
    bad.insert(60, "ABCD");
    const SignedNote note = SignedNote::parse(kGoText + "\n" + bad).value();
    EXPECT_EQ(verify_error(note, {vkey(kPeterVkey)}), Errc::auth_failed);
}

TEST(GoSumdbNote, RepeatedAndUnknownLinesAreTolerated) {
    std::string enoch_abcd = kEnochSig;
    enoch_abcd.insert(60, "ABCD");
    const SignedNote note = SignedNote::parse(kGoText + "\n" + kPeterSig + kPeterSig + kEnochSig +
                                              kEnochSig + enoch_abcd)
                                .value();
    EXPECT_EQ(verified_names(note, {vkey(kPeterVkey)}), std::vector<std::string>{"PeterNeumann"});
}

TEST(GoSumdbNote, MalformedEncodingsAreRejected) {
    const std::vector<std::string> bad = {
        kGoText,
        kGoText + "\n",
        kGoText + "\n" + kPeterSig.substr(0, kPeterSig.size() - 1),
        "\x01" + kGoText + "\n" + kPeterSig,
        "\xff" + kGoText + "\n" + kPeterSig,
        kGoText + "\n" +
            "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
            "pRZb6KE6RyyBwJnAM=",
        kGoText + "\n" + kPeterSig + "Unexpected line.\n",
    };
    for (const std::string& msg : bad) {
        auto note = SignedNote::parse(msg);
        ASSERT_FALSE(note.ok()) << msg;
        EXPECT_EQ(note.error().code, Errc::malformed) << msg;
    }
}

TEST(GoSumdbNote, MoreThanAHundredSignaturesHitTheLimit) {
    std::string msg = kGoText + "\n";
    for (int i = 0; i < 101; ++i) msg += kPeterSig;
    auto note = SignedNote::parse(msg);
    ASSERT_FALSE(note.ok());
    EXPECT_EQ(note.error().code, Errc::limit);
    msg = kGoText + "\n";
    for (int i = 0; i < 100; ++i) msg += kPeterSig;
    EXPECT_TRUE(SignedNote::parse(msg).ok());
}

// TestNewVerifier: every proper substring and every single-byte change of a
// verifier key is refused.
TEST(GoSumdbNote, EveryManglingOfAVerifierKeyIsRefused) {
    ASSERT_TRUE(NoteVerifierKey::parse(kPeterVkey).ok());
    const std::string k(kPeterVkey);
    for (std::size_t i = 0; i <= k.size(); ++i)
        for (std::size_t j = i + 1; j <= k.size(); ++j) {
            if (i == 0 && j == k.size()) continue;
            EXPECT_FALSE(NoteVerifierKey::parse(k.substr(i, j - i)).ok()) << k.substr(i, j - i);
        }
    for (std::size_t i = 0; i < k.size(); ++i) {
        std::string m = k;
        ++m[i];
        EXPECT_FALSE(NoteVerifierKey::parse(m).ok()) << m;
    }
    // Wrong key length with an adjusted key ID, and an unknown algorithm
    // with an adjusted key ID (the same test's two last cases).
    EXPECT_EQ(NoteVerifierKey::parse(
                  "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
                  .error()
                  .code,
              Errc::malformed);
    EXPECT_EQ(
        NoteVerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .error()
            .code,
        Errc::unsupported);
    // Upper-case hex is refused so that a parsed key prints back identically.
    EXPECT_FALSE(
        NoteVerifierKey::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .ok());
}

// ---------------------------------------------------------------------------
// Published: transparency-dev/formats log/note_test.go. Four signer/verifier
// key pairs (key ID derivation from a seed) and a real sum.golang.org
// checkpoint with the Go checksum database's public key.

TEST(PublishedKeys, SeedsDeriveThePublishedVerifierKeys) {
    struct Pair {
        const char* name;
        const char* skey_data;
        const char* vkey;
    };
    const Pair pairs[] = {
        {"Log", "AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ",
         "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs"},
        {"Known", "AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci",
         "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH"},
        {"KnownAgain", "ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+",
         "KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj"},
        {"Unknown", "Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU",
         "Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots"},
    };
    for (const Pair& p : pairs) {
        Ed25519SecretKey key = key_from_go_skey_data(p.skey_data);
        EXPECT_EQ(NoteVerifierKey::make(p.name, NoteSignatureType::ed25519, key.public_key())
                      ->to_string(),
                  p.vkey);
        NoteVerifierKey parsed = vkey(p.vkey);
        EXPECT_EQ(parsed.to_string(), p.vkey);
        EXPECT_EQ(parsed.public_key(), key.public_key());
    }
}

constexpr std::string_view kSumdbVkey =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const std::string kSumdbCheckpoint =
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "— sum.golang.org "
    "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw="
    "\n";

TEST(PublishedCheckpoint, SumGolangOrgCheckpointVerifiesAndParses) {
    const SignedNote note = SignedNote::parse(kSumdbCheckpoint).value();
    EXPECT_EQ(note.serialize(), kSumdbCheckpoint);
    auto verified = custodia::core::verify_note(note, std::vector{vkey(kSumdbVkey)});
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    ASSERT_EQ(verified->size(), 1u);
    EXPECT_EQ((*verified)[0].name, "sum.golang.org");
    EXPECT_EQ((*verified)[0].key_id, 0x033de0aeu);
    EXPECT_FALSE((*verified)[0].timestamp.has_value());

    const Checkpoint cp = Checkpoint::parse(note.text()).value();
    EXPECT_EQ(cp.origin, "go.sum database tree");
    EXPECT_EQ(cp.size, 6476701u);
    EXPECT_EQ(custodia::crypto::to_base64(cp.root, true),
              "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=");
    EXPECT_TRUE(cp.extensions.empty());
    EXPECT_EQ(cp.to_text().value(), note.text());
}

TEST(PublishedCheckpoint, SumGolangOrgCheckpointWithChangedSizeFails) {
    std::string tampered = kSumdbCheckpoint;
    tampered.replace(tampered.find("6476701"), 7, "6476702");
    const SignedNote note = SignedNote::parse(tampered).value();
    EXPECT_EQ(verify_error(note, {vkey(kSumdbVkey)}), Errc::auth_failed);
}

// C2SP signed-note's own example: the text holds an empty line and non-ASCII
// UTF-8, and is split from the signatures at the last blank line.
TEST(PublishedNote, C2spExampleParsesAndRoundTrips) {
    const std::string encoded =
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
        "\n"
        "— quasimodo.example/salvatore "
        "NnugSzTjtVAewIS+Z/iJhUPeFDkO/"
        "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    const SignedNote note = SignedNote::parse(encoded).value();
    EXPECT_EQ(note.text(),
              "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito "
              "sera.\n");
    ASSERT_EQ(note.signatures().size(), 1u);
    EXPECT_EQ(note.signatures()[0].name, "quasimodo.example/salvatore");
    EXPECT_EQ(note.signatures()[0].signature.size(), 64u);
    EXPECT_EQ(note.serialize(), encoded);
}

// ---------------------------------------------------------------------------
// Published: C2SP tlog-checkpoint and tlog-cosignature examples (their keys
// are not published, so the signatures themselves cannot be checked), and
// verifier keys from transparency-dev/formats note/note_cosigv1_test.go.

const std::string kSpecCheckpointBody =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

TEST(PublishedCosignature, SpecExampleHasTheSpecTimestamp) {
    const std::string encoded =
        kSpecCheckpointBody + "\n" +
        "— example.com/behind-the-sofa "
        "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
        "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        "— witness.example.com/w1 "
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
        "mbIUBkBIfZ+qnA==\n";
    const SignedNote note = SignedNote::parse(encoded).value();
    EXPECT_EQ(note.serialize(), encoded);
    ASSERT_EQ(note.signatures().size(), 2u);
    const auto& cosig = note.signatures()[1];
    EXPECT_EQ(cosig.name, "witness.example.com/w1");
    ASSERT_EQ(cosig.signature.size(), 8u + 64u);
    std::uint64_t timestamp = 0;
    for (int i = 0; i < 8; ++i) timestamp = timestamp << 8 | cosig.signature[i];
    EXPECT_EQ(timestamp, 1679315147u);  // the spec's "time 1679315147"

    const Checkpoint cp = Checkpoint::parse(note.text()).value();
    EXPECT_EQ(cp.origin, "example.com/behind-the-sofa");
    EXPECT_EQ(cp.size, 20852163u);
}

TEST(PublishedCosignature, SignedMessageMatchesTheSpecExample) {
    EXPECT_EQ(custodia::core::cosignature_v1_message(kSpecCheckpointBody, 1679315147),
              "cosignature/v1\n"
              "time 1679315147\n"
              "example.com/behind-the-sofa\n"
              "20852163\n"
              "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
}

TEST(PublishedCosignature, CosignatureVerifierKeysParse) {
    const NoteVerifierKey remora =
        vkey("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2");
    EXPECT_EQ(remora.type(), NoteSignatureType::cosignature_v1);
    EXPECT_EQ(remora.key_id(), 0xda77ade7u);
    EXPECT_EQ(remora.to_string(),
              "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2");
    // The same Ed25519 key as a plain note key has another key ID.
    EXPECT_NE(NoteVerifierKey::make(remora.name(), NoteSignatureType::ed25519, remora.public_key())
                  ->key_id(),
              remora.key_id());
    const NoteVerifierKey test = vkey("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6");
    EXPECT_EQ(test.type(), NoteSignatureType::ed25519);
    // The ECDSA (type 0x02) key of the same file is a type we do not support.
    EXPECT_EQ(NoteVerifierKey::parse(
                  "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQX"
                  "BogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=")
                  .error()
                  .code,
              Errc::unsupported);
}

// ---------------------------------------------------------------------------
// Our own notes: sign, verify, round trip, tamper.

constexpr std::string_view kOrigin = "custodia.example/device/4f2a";

std::string checkpoint_text(std::uint64_t size, std::uint8_t root_fill) {
    Checkpoint cp;
    cp.origin = std::string(kOrigin);
    cp.size = size;
    cp.root.fill(root_fill);
    return cp.to_text().value();
}

SignedNote signed_checkpoint(const Ed25519SecretKey& device) {
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    EXPECT_TRUE(custodia::core::sign_note_ed25519(note, kOrigin, device).ok());
    return note;
}

NoteVerifierKey device_vkey(const Ed25519SecretKey& device) {
    return NoteVerifierKey::make(kOrigin, NoteSignatureType::ed25519, device.public_key()).value();
}

TEST(OwnNotes, SignedCheckpointVerifiesAndRoundTrips) {
    Ed25519SecretKey device = test_key(1);
    const SignedNote note = signed_checkpoint(device);
    const std::string encoded = note.serialize();
    const SignedNote back = SignedNote::parse(encoded).value();
    EXPECT_EQ(back.serialize(), encoded);
    EXPECT_EQ(back.text(), note.text());
    EXPECT_EQ(verified_names(back, {device_vkey(device)}),
              std::vector<std::string>{std::string(kOrigin)});
    // The verifier key survives its own text form.
    EXPECT_EQ(vkey(device_vkey(device).to_string()).to_string(), device_vkey(device).to_string());
}

TEST(OwnNotes, ChangedBodyFails) {
    Ed25519SecretKey device = test_key(1);
    std::string encoded = signed_checkpoint(device).serialize();
    encoded.replace(encoded.find("\n42\n"), 4, "\n43\n");
    EXPECT_EQ(verify_error(SignedNote::parse(encoded).value(), {device_vkey(device)}),
              Errc::auth_failed);
}

TEST(OwnNotes, FlippedSignatureBitFails) {
    Ed25519SecretKey device = test_key(1);
    SignedNote note = signed_checkpoint(device);
    custodia::core::NoteSignature sig = note.signatures()[0];
    for (std::size_t bit = 0; bit < sig.signature.size() * 8; ++bit) {
        custodia::core::NoteSignature bad = sig;
        bad.signature[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        SignedNote tampered = SignedNote::from_text(note.text()).value();
        ASSERT_TRUE(tampered.add_signature(bad).ok());
        EXPECT_EQ(verify_error(tampered, {device_vkey(device)}), Errc::auth_failed)
            << "bit " << bit;
    }
}

TEST(OwnNotes, WrongKeyIsNotTrusted) {
    Ed25519SecretKey device = test_key(1);
    Ed25519SecretKey other = test_key(2);
    EXPECT_EQ(verify_error(signed_checkpoint(device), {device_vkey(other)}), Errc::no_matching_key);
}

// A key with the right name and key ID but another public key: the ID is a
// short identifier, not a commitment, so the signature must still fail.
TEST(OwnNotes, KeyIdCollisionStillFailsTheSignature) {
    Ed25519SecretKey device = test_key(1);
    SignedNote note = signed_checkpoint(device);
    Ed25519SecretKey attacker = test_key(3);
    custodia::core::NoteSignature forged;
    forged.name = std::string(kOrigin);
    forged.key_id = device_vkey(device).key_id();
    const auto sig = attacker.sign_ed25519(custodia::crypto::as_bytes(note.text()));
    forged.signature.assign(sig.begin(), sig.end());
    SignedNote tampered = SignedNote::from_text(note.text()).value();
    ASSERT_TRUE(tampered.add_signature(forged).ok());
    EXPECT_EQ(verify_error(tampered, {device_vkey(device)}), Errc::auth_failed);
}

TEST(OwnNotes, UnknownKeyOnlyFails) {
    Ed25519SecretKey device = test_key(1);
    Ed25519SecretKey stranger = test_key(4);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, "stranger.example", stranger).ok());
    EXPECT_EQ(verify_error(note, {device_vkey(device)}), Errc::no_matching_key);
}

TEST(OwnNotes, UnknownKeyBesideAKnownOneIsIgnored) {
    Ed25519SecretKey device = test_key(1);
    Ed25519SecretKey stranger = test_key(4);
    SignedNote note = signed_checkpoint(device);
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, "stranger.example", stranger).ok());
    EXPECT_EQ(verified_names(note, {device_vkey(device)}),
              std::vector<std::string>{std::string(kOrigin)});
}

TEST(OwnNotes, FailingKnownSignatureRejectsTheWholeNote) {
    Ed25519SecretKey device = test_key(1);
    Ed25519SecretKey witness = test_key(5);
    SignedNote note = signed_checkpoint(device);
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, "witness.example", witness).ok());
    // Corrupt only the witness's line.
    custodia::core::NoteSignature bad = note.signatures()[1];
    bad.signature[0] ^= 1;
    ASSERT_TRUE(note.add_signature(bad).ok());
    const NoteVerifierKey witness_key =
        NoteVerifierKey::make("witness.example", NoteSignatureType::ed25519, witness.public_key())
            .value();
    EXPECT_EQ(verify_error(note, {device_vkey(device), witness_key}), Errc::auth_failed);
}

TEST(OwnNotes, StrictParsingRefusesNearMisses) {
    Ed25519SecretKey device = test_key(1);
    const std::string good = signed_checkpoint(device).serialize();
    const std::string text = checkpoint_text(42, 0xAB);
    const std::string sig_b64 = good.substr(good.rfind(' ') + 1, good.size() - good.rfind(' ') - 2);
    auto refuses = [](const std::string& s) { return !SignedNote::parse(s).ok(); };
    EXPECT_TRUE(refuses(text + "\n— " + std::string(kOrigin) + "  " + sig_b64 + "\n"))
        << "double space";
    EXPECT_TRUE(refuses(text + "\n- " + std::string(kOrigin) + " " + sig_b64 + "\n"))
        << "hyphen instead of em dash";
    EXPECT_TRUE(refuses(text + "\n—" + std::string(kOrigin) + " " + sig_b64 + "\n"))
        << "no space after dash";
    EXPECT_TRUE(refuses(text + "\n— a+b " + sig_b64 + "\n")) << "plus in name";
    EXPECT_TRUE(refuses(text +
                        "\n— a\xC2\xA0"
                        "b " +
                        sig_b64 + "\n"))
        << "NBSP in name";
    EXPECT_TRUE(refuses(text +
                        "\n— a\xE3\x80\x80"
                        "b " +
                        sig_b64 + "\n"))
        << "ideographic space";
    EXPECT_TRUE(refuses(text + "\n—  " + sig_b64 + "\n")) << "empty name";
    EXPECT_TRUE(refuses(text + "\n— n " + sig_b64.substr(0, sig_b64.size() - 1) + "\n"))
        << "padding cut";
    EXPECT_TRUE(refuses(text + "\n— n AAAAAA==\n")) << "signature shorter than 5 bytes";
    EXPECT_TRUE(refuses(text + "\n— n AAAAAB==\n")) << "non-canonical base64";
    EXPECT_TRUE(refuses(text + "\n— n " + sig_b64 + "\r\n")) << "carriage return";
    EXPECT_TRUE(refuses(text + "\n— n " + sig_b64 + "\n\n")) << "trailing blank line";
    EXPECT_TRUE(refuses("origin\xC0\xAF\n1\n" + text.substr(text.find('\n') + 1) + "\n— n " +
                        sig_b64 + "\n"))
        << "overlong UTF-8";
    EXPECT_TRUE(refuses("a\xED\xA0\x80\n\n— n " + sig_b64 + "\n")) << "UTF-16 surrogate";
    EXPECT_TRUE(refuses("a\tb\n\n— n " + sig_b64 + "\n")) << "tab in text";
    EXPECT_FALSE(refuses(good));
}

TEST(OwnNotes, FromTextRefusesWhatCouldNotBeSigned) {
    EXPECT_FALSE(SignedNote::from_text("").ok());
    EXPECT_FALSE(SignedNote::from_text("no newline").ok());
    EXPECT_FALSE(SignedNote::from_text("bell\a\n").ok());
    EXPECT_TRUE(SignedNote::from_text("\n").ok());
    SignedNote note = SignedNote::from_text("x\n").value();
    Ed25519SecretKey device = test_key(1);
    EXPECT_FALSE(custodia::core::sign_note_ed25519(note, "bad name", device).ok());
    EXPECT_FALSE(custodia::core::sign_note_ed25519(note, "", device).ok());
    EXPECT_FALSE(custodia::core::sign_note_ed25519(note, "a+b", device).ok());
}

// ---------------------------------------------------------------------------
// Checkpoints

TEST(Checkpoints, CanonicalFieldsOnly) {
    const std::string root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    auto parses = [](const std::string& s) { return Checkpoint::parse(s).ok(); };
    EXPECT_TRUE(parses("o\n0\n" + root + "\n"));
    EXPECT_TRUE(parses("o\n18446744073709551615\n" + root + "\n"));
    EXPECT_TRUE(parses("o\n5\n" + root + "\next one\next two\n"));
    EXPECT_FALSE(parses("o\n18446744073709551616\n" + root + "\n")) << "size overflow";
    EXPECT_FALSE(parses("o\n007\n" + root + "\n")) << "leading zeros";
    EXPECT_FALSE(parses("o\n+7\n" + root + "\n")) << "sign";
    EXPECT_FALSE(parses("o\n 7\n" + root + "\n")) << "space";
    EXPECT_FALSE(parses("o\n\n" + root + "\n")) << "empty size";
    EXPECT_FALSE(parses("\n7\n" + root + "\n")) << "empty origin";
    EXPECT_FALSE(parses("o\n7\n")) << "no root";
    EXPECT_FALSE(parses("o\n7\n" + root)) << "no final newline";
    EXPECT_FALSE(parses("o\n7\n" + root + "\n\n")) << "empty extension line";
    EXPECT_FALSE(parses("o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n")) << "31-byte root";
    EXPECT_FALSE(parses("o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n")) << "unpadded";
    EXPECT_FALSE(parses("o\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n"))
        << "non-canonical base64";
}

TEST(Checkpoints, ToTextRefusesFieldsThatBreakLines) {
    Checkpoint cp;
    cp.origin = "a\n5";
    EXPECT_FALSE(cp.to_text().ok());
    cp.origin = "";
    EXPECT_FALSE(cp.to_text().ok());
    cp.origin = "o";
    cp.extensions = {""};
    EXPECT_FALSE(cp.to_text().ok());
    cp.extensions = {"x\ny"};
    EXPECT_FALSE(cp.to_text().ok());
    cp.extensions = {"x y"};
    EXPECT_TRUE(cp.to_text().ok());
}

// The log's real tree head end to end: the CT reference tree's published
// root of size 8 (google/certificate-transparency merkle_tree_test.cc) in a
// signed checkpoint.
TEST(Checkpoints, MerkleRootInASignedCheckpoint) {
    custodia::core::MemoryLeafHashes tree;
    for (const char* input : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                              "606162636465666768696a6b6c6d6e6f"})
        tree.append_entry(custodia::crypto::from_hex(input).value());
    Checkpoint cp;
    cp.origin = std::string(kOrigin);
    cp.size = tree.size();
    cp.root = custodia::core::merkle_root(tree, cp.size).value();
    Ed25519SecretKey device = test_key(1);
    SignedNote note = SignedNote::from_text(cp.to_text().value()).value();
    ASSERT_TRUE(custodia::core::sign_note_ed25519(note, kOrigin, device).ok());
    const SignedNote back = SignedNote::parse(note.serialize()).value();
    ASSERT_TRUE(custodia::core::verify_note(back, std::vector{device_vkey(device)}).ok());
    const Checkpoint parsed = Checkpoint::parse(back.text()).value();
    EXPECT_EQ(custodia::crypto::to_hex(parsed.root),
              "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

// ---------------------------------------------------------------------------
// Cosignatures

constexpr std::string_view kWitness = "intake.ngo.example/witness";
constexpr std::uint64_t kWhen = 1717171717;

NoteVerifierKey witness_vkey(const Ed25519SecretKey& witness) {
    return NoteVerifierKey::make(kWitness, NoteSignatureType::cosignature_v1, witness.public_key())
        .value();
}

TEST(Cosignatures, CosignedCheckpointVerifiesWithItsTimestamp) {
    Ed25519SecretKey device = test_key(1);
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = signed_checkpoint(device);
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    const SignedNote back = SignedNote::parse(note.serialize()).value();
    EXPECT_EQ(back.serialize(), note.serialize());
    auto verified =
        custodia::core::verify_note(back, std::vector{device_vkey(device), witness_vkey(witness)});
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    ASSERT_EQ(verified->size(), 2u);
    EXPECT_EQ((*verified)[1].name, kWitness);
    EXPECT_EQ((*verified)[1].type, NoteSignatureType::cosignature_v1);
    EXPECT_EQ((*verified)[1].timestamp, kWhen);
}

// The line's bytes are key ID, big-endian timestamp, then an Ed25519
// signature over the message as the spec spells it out, typed here by hand.
TEST(Cosignatures, LineLayoutAndMessageFollowTheSpec) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(7, 0x11)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    const auto& sig = note.signatures().at(0);

    // Key ID: SHA-256(name || 0x0A || 0x04 || public key)[:4].
    std::string id_input(kWitness);
    id_input += '\n';
    id_input += '\x04';
    id_input.append(reinterpret_cast<const char*>(witness.public_key().data()), 32);
    const auto digest = custodia::crypto::sha256(id_input);
    EXPECT_EQ(sig.key_id, std::uint32_t{digest[0]} << 24 | std::uint32_t{digest[1]} << 16 |
                              std::uint32_t{digest[2]} << 8 | digest[3]);

    ASSERT_EQ(sig.signature.size(), 72u);
    const std::vector<std::uint8_t> want_ts = {0, 0, 0, 0, 0x66, 0x59, 0xf6, 0x05};  // 1717171717
    EXPECT_EQ(std::vector<std::uint8_t>(sig.signature.begin(), sig.signature.begin() + 8), want_ts);
    const std::string message = "cosignature/v1\ntime 1717171717\n" + note.text();
    custodia::crypto::Ed25519Signature ed{};
    std::copy(sig.signature.begin() + 8, sig.signature.end(), ed.begin());
    EXPECT_TRUE(custodia::crypto::verify_ed25519(witness.public_key(),
                                                 custodia::crypto::as_bytes(message), ed));
}

// Interop: Debian's openssl signs the spec-form message with the same
// Ed25519 key; our verifier accepts that line, and our cosigner writes the
// identical line (Ed25519 signatures are deterministic).
TEST(Cosignatures, OpensslSignedCosignatureMatchesOurs) {
    ASSERT_EQ(std::system("openssl version > /dev/null 2>&1"), 0)
        << "openssl is a declared test dependency (packaging/install-deps.sh)";
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/custodia-note-test-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    const std::filesystem::path dir(templ);

    std::vector<std::uint8_t> seed(32);
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(0xA0 + i);
    Ed25519SecretKey witness = std::move(Ed25519SecretKey::from_seed(seed).value());
    // PKCS#8 for an Ed25519 seed (RFC 8410 §7): a fixed 16-byte prefix.
    std::vector<std::uint8_t> der =
        custodia::crypto::from_hex("302e020100300506032b657004220420").value();
    der.insert(der.end(), seed.begin(), seed.end());
    const std::string text = checkpoint_text(99, 0x5C);
    const std::string message = "cosignature/v1\ntime 1717171717\n" + text;
    {
        std::ofstream k(dir / "witness.der", std::ios::binary);
        k.write(reinterpret_cast<const char*>(der.data()),
                static_cast<std::streamsize>(der.size()));
        std::ofstream m(dir / "message", std::ios::binary);
        m << message;
    }
    const std::string cmd = "openssl pkeyutl -sign -rawin -keyform DER -inkey '" +
                            (dir / "witness.der").string() + "' -in '" +
                            (dir / "message").string() + "' -out '" + (dir / "signature").string() +
                            "' 2>/dev/null";
    const int rc = std::system(cmd.c_str());
    std::vector<std::uint8_t> openssl_sig;
    {
        std::ifstream s(dir / "signature", std::ios::binary);
        openssl_sig.assign(std::istreambuf_iterator<char>(s), {});
    }
    std::filesystem::remove_all(dir);
    ASSERT_EQ(rc, 0) << cmd;
    ASSERT_EQ(openssl_sig.size(), 64u);

    custodia::core::NoteSignature line;
    line.name = std::string(kWitness);
    line.key_id = witness_vkey(witness).key_id();
    line.signature = {0, 0, 0, 0, 0x66, 0x59, 0xf6, 0x05};
    line.signature.insert(line.signature.end(), openssl_sig.begin(), openssl_sig.end());
    SignedNote theirs = SignedNote::from_text(text).value();
    ASSERT_TRUE(theirs.add_signature(line).ok());
    auto verified = custodia::core::verify_note(theirs, std::vector{witness_vkey(witness)});
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ((*verified)[0].timestamp, kWhen);

    SignedNote ours = SignedNote::from_text(text).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(ours, kWitness, witness, kWhen).ok());
    EXPECT_EQ(ours.serialize(), theirs.serialize());
}

TEST(Cosignatures, ChangedCheckpointFails) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    std::string encoded = note.serialize();
    encoded.replace(encoded.find("\n42\n"), 4, "\n41\n");
    EXPECT_EQ(verify_error(SignedNote::parse(encoded).value(), {witness_vkey(witness)}),
              Errc::auth_failed);
}

TEST(Cosignatures, ChangedTimestampFails) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    custodia::core::NoteSignature sig = note.signatures()[0];
    sig.signature[7] ^= 1;  // one second later
    ASSERT_TRUE(note.add_signature(sig).ok());
    EXPECT_EQ(verify_error(note, {witness_vkey(witness)}), Errc::auth_failed);
}

TEST(Cosignatures, FlippedSignatureBitFails) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    const custodia::core::NoteSignature sig = note.signatures()[0];
    for (std::size_t bit = 64; bit < sig.signature.size() * 8; ++bit) {
        custodia::core::NoteSignature bad = sig;
        bad.signature[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        SignedNote tampered = SignedNote::from_text(note.text()).value();
        ASSERT_TRUE(tampered.add_signature(bad).ok());
        EXPECT_EQ(verify_error(tampered, {witness_vkey(witness)}), Errc::auth_failed)
            << "bit " << bit;
    }
}

TEST(Cosignatures, TimestampAbove2To63IsRefused) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    EXPECT_FALSE(
        custodia::core::cosign_checkpoint_v1(note, kWitness, witness, std::uint64_t{1} << 63).ok());
    // A correctly signed message with such a timestamp is still refused.
    const std::uint64_t ts = std::uint64_t{1} << 63;
    const auto ed = witness.sign_ed25519(
        custodia::crypto::as_bytes(custodia::core::cosignature_v1_message(note.text(), ts)));
    custodia::core::NoteSignature line;
    line.name = std::string(kWitness);
    line.key_id = witness_vkey(witness).key_id();
    line.signature = {0x80, 0, 0, 0, 0, 0, 0, 0};
    line.signature.insert(line.signature.end(), ed.begin(), ed.end());
    ASSERT_TRUE(note.add_signature(line).ok());
    EXPECT_EQ(verify_error(note, {witness_vkey(witness)}), Errc::auth_failed);
}

TEST(Cosignatures, PlainKeyOfTheSameWitnessDoesNotMatch) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    const NoteVerifierKey plain =
        NoteVerifierKey::make(kWitness, NoteSignatureType::ed25519, witness.public_key()).value();
    EXPECT_EQ(verify_error(note, {plain}), Errc::no_matching_key);
}

TEST(Cosignatures, WrongWitnessKeyIsNotTrusted) {
    Ed25519SecretKey witness = test_key(6);
    Ed25519SecretKey other = test_key(7);
    SignedNote note = SignedNote::from_text(checkpoint_text(42, 0xAB)).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    EXPECT_EQ(verify_error(note, {witness_vkey(other)}), Errc::no_matching_key);
}

TEST(Cosignatures, OnlyCheckpointsAreCosigned) {
    Ed25519SecretKey witness = test_key(6);
    SignedNote note = SignedNote::from_text("not\na checkpoint\n").value();
    EXPECT_FALSE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    // And a cosignature line over a non-checkpoint text never verifies.
    const auto ed = witness.sign_ed25519(
        custodia::crypto::as_bytes(custodia::core::cosignature_v1_message(note.text(), kWhen)));
    custodia::core::NoteSignature line;
    line.name = std::string(kWitness);
    line.key_id = witness_vkey(witness).key_id();
    line.signature = {0, 0, 0, 0, 0x66, 0x59, 0xf6, 0x05};
    line.signature.insert(line.signature.end(), ed.begin(), ed.end());
    ASSERT_TRUE(note.add_signature(line).ok());
    EXPECT_EQ(verify_error(note, {witness_vkey(witness)}), Errc::auth_failed);
}

TEST(Cosignatures, ExtensionLinesAreCovered) {
    Ed25519SecretKey witness = test_key(6);
    Checkpoint cp = Checkpoint::parse(checkpoint_text(42, 0xAB)).value();
    cp.extensions = {"extension 1", "extension 2"};
    SignedNote note = SignedNote::from_text(cp.to_text().value()).value();
    ASSERT_TRUE(custodia::core::cosign_checkpoint_v1(note, kWitness, witness, kWhen).ok());
    ASSERT_TRUE(custodia::core::verify_note(note, std::vector{witness_vkey(witness)}).ok());
    std::string encoded = note.serialize();
    encoded.replace(encoded.find("extension 2"), 11, "extension X");
    EXPECT_EQ(verify_error(SignedNote::parse(encoded).value(), {witness_vkey(witness)}),
              Errc::auth_failed);
}

}  // namespace
