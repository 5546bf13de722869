// The sealed-bundle reader (core/bundle_reader.h) on hostile input. The first
// byte picks what the rest is:
//   0  a plain tar, compressed here, so mutations reach the tar parser and
//      the bundle checks instead of dying in zstd's checksum;
//   1  the zstd-compressed tar, as after `age -d`;
//   2  a whole .custodia, opened with the CCTV test identity.
// Seeds (corpus/fuzz_bundle_reader) are small valid bundles in each form.
#include <cstdint>
#include <span>
#include <vector>

#include "custodia/core/bundle_format.h"
#include "custodia/core/bundle_reader.h"
#include "custodia/core/zstd_stream.h"
#include "custodia/crypto/age.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/stream_io.h"
#include "fuzz_check.h"

namespace core = custodia::core;
namespace crypto = custodia::crypto;
namespace age = custodia::crypto::age;

namespace {

// A published test key (C2SP CCTV age/testdata), not a secret.
constexpr const char* kTestIdentity =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

const std::vector<age::Identity>& identities() {
    static const std::vector<age::Identity> ids = [] {
        std::vector<age::Identity> out;
        auto id = age::Identity::parse(kTestIdentity);
        FUZZ_CHECK(id.ok());
        out.push_back(std::move(id).value());
        return out;
    }();
    return ids;
}

core::BundleReadOptions options() {
    core::BundleReadOptions o;
    // Small limits keep each run fast; the logic they guard is the same.
    o.limits.max_entries = 256;
    o.limits.max_manifest_bytes = 1 << 20;
    o.limits.max_sums_bytes = 1 << 20;
    o.limits.max_file_bytes = 8 << 20;
    o.limits.max_total_bytes = 16 << 20;
    o.limits.max_custody_file_bytes = 1 << 20;
    o.limits.max_custody_total_bytes = 4 << 20;
    return o;
}

void check_report(const core::BundleReport& report) {
    bool any_failed = false;
    bool required_missing = false;
    for (const auto& c : report.checks) {
        any_failed |= c.outcome == core::CheckOutcome::failed;
        required_missing |= c.outcome == core::CheckOutcome::not_run && c.required;
    }
    FUZZ_CHECK(report.ok() == (!any_failed && !required_missing));
    if (!report.ok()) return;
    // Accepted: a manifest that re-serialises to itself, and nothing but
    // verified files.
    FUZZ_CHECK(report.manifest.has_value());
    auto again = core::bundle::BundleManifest::parse(crypto::as_bytes(report.manifest->bytes()));
    FUZZ_CHECK(again.ok() && again->bytes() == report.manifest->bytes());
    FUZZ_CHECK(report.files.size() == report.manifest->files().size());
    for (const auto& f : report.files) {
        FUZZ_CHECK(f.outcome == core::FileOutcome::verified);
        FUZZ_CHECK(core::bundle::is_safe_path(f.path));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::span<const std::uint8_t> rest(data + 1, size - 1);
    switch (data[0]) {
        case 0: {
            crypto::VectorSink compressed;
            auto z = core::ZstdCompressSink::create(compressed, 1);
            FUZZ_CHECK(z.ok());
            FUZZ_CHECK((*z)->write(rest).ok() && (*z)->finish().ok());
            crypto::MemorySource in(compressed.bytes());
            auto report = core::verify_bundle_payload(in, options());
            FUZZ_CHECK(report.ok());
            check_report(*report);
            break;
        }
        case 1: {
            crypto::MemorySource in(rest);
            auto report = core::verify_bundle_payload(in, options());
            FUZZ_CHECK(report.ok());
            check_report(*report);
            break;
        }
        case 2: {
            crypto::MemorySource in(rest);
            auto report = core::verify_bundle(in, identities(), options());
            FUZZ_CHECK(report.ok());
            check_report(*report);
            break;
        }
        default:
            break;
    }
    return 0;
}
