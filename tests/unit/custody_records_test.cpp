// Byte-exact encodings of the custody entry and the capture record, as
// docs/FORMAT.md specifies them. Expected bytes are assembled here by hand
// from that grammar (u32 length-prefixed strings, big-endian integers,
// presence bytes), not taken from the encoder's output; the IEEE 754 bit
// patterns come from Python's struct.pack(">d", x).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "custodia/core/capture_record.h"
#include "custodia/core/clock.h"
#include "custodia/core/custody_entry.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"

namespace {

using namespace custodia;
using namespace custodia::core;

std::vector<std::uint8_t> hex(std::string_view h) {
    std::string clean;
    for (char c : h)
        if (c != ' ') clean += c;
    auto b = crypto::from_hex(clean);
    EXPECT_TRUE(b) << h;
    return b.value_or(std::vector<std::uint8_t>{});
}

std::string ascii_hex(std::string_view s) {
    return crypto::to_hex(crypto::as_bytes(s));
}

CustodyEntry sample_entry() {
    CustodyEntry e;
    e.index = 5;
    e.event = CustodyEvent::extracted;
    e.time = Timestamp{1'700'000'000'123, -330};
    e.case_id = "000102030405060708090a0b0c0d0e0f";
    e.details = CustodyDetails().add("reason", "a\nb").text();
    return e;
}

// clang-format off
const std::string kSampleEntryHex =
    "00000019" + ascii_hex("custodia/v1/custody-entry") +  // domain
    "0000000000000005"                                     // index
    "00000009" + ascii_hex("extracted") +                  // event
    "0000018bcfe5687b"                                     // unix ms
    "fffffeb6"                                             // offset -330 minutes
    "01" "000102030405060708090a0b0c0d0e0f"                // case id present
    "00"                                                   // no item id
    "0000000d" + ascii_hex("reason=a%0Ab\n");             // details (13 bytes)
// clang-format on

TEST(CustodyEntry, EncodesByteForByteAsSpecified) {
    auto bytes = encode_custody_entry(sample_entry());
    ASSERT_TRUE(bytes) << bytes.error().message;
    EXPECT_EQ(crypto::to_hex(*bytes), kSampleEntryHex);
}

TEST(CustodyEntry, DecodeIsTheExactInverse) {
    const auto bytes = hex(kSampleEntryHex);
    auto e = decode_custody_entry(bytes);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->index, 5u);
    EXPECT_EQ(e->event, CustodyEvent::extracted);
    EXPECT_EQ(e->time, (Timestamp{1'700'000'000'123, -330}));
    EXPECT_EQ(e->case_id, "000102030405060708090a0b0c0d0e0f");
    EXPECT_FALSE(e->item_id);
    EXPECT_EQ(e->encoded, bytes);
    auto fields = CustodyDetails::parse(e->details);
    ASSERT_TRUE(fields);
    ASSERT_EQ(fields->size(), 1u);
    EXPECT_EQ((*fields)[0].first, "reason");
    EXPECT_EQ((*fields)[0].second, "a\nb");
    EXPECT_EQ(*encode_custody_entry(*e), bytes);
}

TEST(CustodyEntry, DecodeRejectsTrailingByte) {
    auto bytes = hex(kSampleEntryHex);
    bytes.push_back(0);
    EXPECT_EQ(decode_custody_entry(bytes).error().code, Errc::malformed);
}

TEST(CustodyEntry, DecodeRejectsEveryTruncation) {
    const auto bytes = hex(kSampleEntryHex);
    for (std::size_t n = 0; n < bytes.size(); ++n)
        EXPECT_FALSE(decode_custody_entry(std::span(bytes).first(n))) << n;
}

TEST(CustodyEntry, DecodeRejectsWrongDomain) {
    auto bytes = hex(kSampleEntryHex);
    bytes[4 + 9] = '2';  // custodia/v2/...
    EXPECT_EQ(decode_custody_entry(bytes).error().code, Errc::malformed);
}

TEST(CustodyEntry, DecodeRejectsUnknownEvent) {
    auto bytes = hex(kSampleEntryHex);
    bytes[4 + 25 + 8 + 4] = 'E';  // "Extracted"
    EXPECT_EQ(decode_custody_entry(bytes).error().code, Errc::malformed);
}

TEST(CustodyEntry, DecodeRejectsPresenceByteOtherThanZeroOrOne) {
    auto bytes = hex(kSampleEntryHex);
    bytes[4 + 25 + 8 + 4 + 9 + 8 + 4] = 2;
    EXPECT_EQ(decode_custody_entry(bytes).error().code, Errc::malformed);
}

TEST(CustodyEntry, DecodeRejectsNonCanonicalDetails) {
    // "%41" escapes 'A', which never needs escaping: a second spelling.
    for (std::string_view details : {"reason=%41\n", "reason=a%0ab\n", "Reason=x\n", "reason=x",
                                     "=x\n", "reason=a\tb\n", "reason=%0\n"}) {
        CustodyEntry e = sample_entry();
        e.details = std::string(details);
        EXPECT_FALSE(encode_custody_entry(e)) << details;
    }
}

TEST(CustodyEntry, DetailsEscapeOnlyControlBytesPercentAndDelete) {
    const std::string value = std::string("50% \x01\x7F") + "é\r";
    const auto text = CustodyDetails().add("k", value).add("n", "").text();
    EXPECT_EQ(text, "k=50%25 %01%7Fé%0D\nn=\n");
    auto back = CustodyDetails::parse(text);
    ASSERT_TRUE(back);
    EXPECT_EQ((*back)[0].second, value);
    EXPECT_EQ((*back)[1].second, "");
}

TEST(CustodyEntry, EventNamesAreTheDocumentedOnes) {
    const std::pair<CustodyEvent, std::string_view> names[] = {
        {CustodyEvent::created, "created"},
        {CustodyEvent::captured, "captured"},
        {CustodyEvent::imported, "imported"},
        {CustodyEvent::annotated, "annotated"},
        {CustodyEvent::extracted, "extracted"},
        {CustodyEvent::exported, "exported"},
        {CustodyEvent::bundled, "bundled"},
        {CustodyEvent::uploaded, "uploaded"},
        {CustodyEvent::receipt_received, "receipt_received"},
        {CustodyEvent::timestamped, "timestamped"},
        {CustodyEvent::consent_withdrawn, "consent_withdrawn"},
        {CustodyEvent::destroyed, "destroyed"},
        {CustodyEvent::passphrase_changed, "passphrase_changed"},
    };
    for (const auto& [event, name] : names) {
        EXPECT_EQ(to_string(event), name);
        EXPECT_EQ(parse_custody_event(name), event);
    }
    EXPECT_FALSE(parse_custody_event("Created"));
}

Item sample_item() {
    Item item;
    item.id = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
    Attachment a;
    a.size = 3;
    a.sha256 = crypto::sha256(std::string_view("abc"));
    item.attachment = a;
    item.capture.time = Timestamp{1'700'000'000'123, 120};
    item.capture.clock_source = "system";
    item.capture.location = Location{48.8584, 2.2945, 12.5, "gps"};
    item.capture.investigator = "Ana";
    return item;
}

TEST(CaptureRecord, EncodesByteForByteAsSpecified) {
    // clang-format off
    const std::string expected =
        "00000013" + ascii_hex("custodia/v1/capture") +  // domain
        "f0e1d2c3b4a5968778695a4b3c2d1e0f"              // item id
        // SHA-256("abc"), FIPS 180-2 appendix B.1
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        "0000000000000003"                               // size
        "0000018bcfe5687b"                               // unix ms
        "00000078"                                       // offset +120 minutes
        "00000006" + ascii_hex("system") +               // clock source
        "01"                                             // location present
        "40486de00d1b7176"                               // latitude 48.8584
        "40025b22d0e56042"                               // longitude 2.2945
        "01" "4029000000000000"                          // accuracy present, 12.5 m
        "00000003" + ascii_hex("gps") +                  // location source
        "00000003" + ascii_hex("Ana");                   // investigator
    // clang-format on
    auto bytes = encode_capture_record(sample_item());
    ASSERT_TRUE(bytes) << bytes.error().message;
    EXPECT_EQ(crypto::to_hex(*bytes), expected);
}

TEST(CaptureRecord, WithoutLocation) {
    Item item = sample_item();
    item.capture.location.reset();
    auto bytes = encode_capture_record(item);
    ASSERT_TRUE(bytes);
    const std::string tail =
        "00"
        "00000003" +
        ascii_hex("Ana");
    EXPECT_TRUE(crypto::to_hex(*bytes).ends_with(tail));
}

TEST(CaptureRecord, RefusesLocationsWithTwoEncodingsOrNone) {
    for (Location bad : {Location{-0.0, 1, {}, "gps"}, Location{1, -0.0, {}, "gps"},
                         Location{90.5, 1, {}, "gps"}, Location{1, 180.5, {}, "gps"},
                         Location{std::numeric_limits<double>::quiet_NaN(), 1, {}, "gps"},
                         Location{1, 1, -1.0, "gps"},
                         Location{1, 1, std::numeric_limits<double>::infinity(), "gps"}}) {
        Item item = sample_item();
        item.capture.location = bad;
        EXPECT_EQ(encode_capture_record(item).error().code, Errc::malformed);
    }
}

TEST(CaptureRecord, SignatureVerifiesUnderTheSigningKeyOnly) {
    auto key = crypto::Ed25519SecretKey::from_seed(hex(
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));  // RFC 8032 test 1
    ASSERT_TRUE(key);
    Item item = sample_item();
    item.capture_signature = key->sign_ed25519(*encode_capture_record(item));
    EXPECT_TRUE(verify_capture_signature(key->public_key(), item));
    crypto::Ed25519PublicKey other = key->public_key();
    other[0] ^= 1;
    EXPECT_FALSE(verify_capture_signature(other, item));
    item.attachment->size = 4;
    EXPECT_FALSE(verify_capture_signature(key->public_key(), item));
}

TEST(Clock, FormatsRfc3339InUtcWithMilliseconds) {
    EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_utc(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(format_utc(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(format_utc(951'782'400'000), "2000-02-29T00:00:00.000Z");
    EXPECT_EQ(format_utc(4'102'444'800'000), "2100-01-01T00:00:00.000Z");
}

TEST(Clock, FormatsLocalTimeWithItsOffset) {
    EXPECT_EQ(format_local({1'700'000'000'123, 120}), "2023-11-15T00:13:20.123+02:00");
    EXPECT_EQ(format_local({1'700'000'000'123, -330}), "2023-11-14T16:43:20.123-05:30");
    EXPECT_EQ(format_local({0, 0}), "1970-01-01T00:00:00.000+00:00");
}

TEST(Clock, FixedClockStepsAndSystemClockIsNear) {
    FixedClock c(1000, 250, 60);
    EXPECT_EQ(c.now(), (Timestamp{1000, 60}));
    EXPECT_EQ(c.now(), (Timestamp{1250, 60}));
    const auto t = system_clock().now();
    EXPECT_GT(t.unix_ms, 1'700'000'000'000);  // after this code was written
    EXPECT_EQ(system_clock().source(), "system");
    EXPECT_LE(std::abs(t.offset_minutes), 18 * 60);
}

}  // namespace
