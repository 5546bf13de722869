#include "custodia/core/capture_record.h"

#include <cmath>

#include "canonical_bytes.h"
#include "custodia/core/vault_format.h"
#include "ids.h"

namespace custodia::core {

namespace {

bool finite_not_negative_zero(double v) {
    return std::isfinite(v) && !(v == 0 && std::signbit(v));
}

}  // namespace

Status check_location(const Location& location) {
    if (!finite_not_negative_zero(location.lat) || !finite_not_negative_zero(location.lon) ||
        location.lat < -90 || location.lat > 90 || location.lon < -180 || location.lon > 180)
        return make_error(Errc::malformed, "location: latitude or longitude out of range");
    if (location.accuracy_m &&
        (!finite_not_negative_zero(*location.accuracy_m) || *location.accuracy_m < 0))
        return make_error(Errc::malformed, "location: accuracy must be a finite, positive number");
    return {};
}

Result<std::vector<std::uint8_t>> encode_capture_record(const Item& item) {
    if (!item.attachment) return make_error(Errc::malformed, "capture record: item has no content");
    auto id = id_bytes(item.id);
    if (!id) return make_error(Errc::malformed, "capture record: malformed item id");
    canonical::Writer w;
    w.str(vault_format::kCaptureRecordDomain);
    w.fixed(*id);
    w.fixed(item.attachment->sha256);
    w.u64(item.attachment->size);
    w.i64(item.capture.time.unix_ms);
    w.i32(item.capture.time.offset_minutes);
    w.str(item.capture.clock_source);
    if (const auto& loc = item.capture.location) {
        if (auto s = check_location(*loc); !s) return std::move(s).error();
        w.u8(1);
        w.f64(loc->lat);
        w.f64(loc->lon);
        if (loc->accuracy_m) {
            w.u8(1);
            w.f64(*loc->accuracy_m);
        } else {
            w.u8(0);
        }
        w.str(loc->source);
    } else {
        w.u8(0);
    }
    w.str(item.capture.investigator);
    return w.take();
}

bool verify_capture_signature(const crypto::Ed25519PublicKey& device_key, const Item& item) {
    auto record = encode_capture_record(item);
    if (!record) return false;
    return crypto::verify_ed25519(device_key, *record, item.capture_signature);
}

}  // namespace custodia::core
