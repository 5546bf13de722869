// The capture record: what the device signs when an item enters the vault
// (DESIGN.md §4, docs/FORMAT.md "Capture record"). Its Ed25519 signature by
// the device key is "the signed hash": it binds the item id, the SHA-256 and
// size of the original bytes, the capture time with its offset and clock
// source, the location and the investigator.
#pragma once

#include <cstdint>
#include <vector>

#include "custodia/core/evidence.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/sign.h"

namespace custodia::core {

// Errc::malformed for an item without an attachment, an id that is not 32
// lower-case hex digits, or a location that is not finite, in range and
// without negative zero (which would give one place two encodings).
[[nodiscard]] Result<std::vector<std::uint8_t>> encode_capture_record(const Item& item);

// Whether `item.capture_signature` is `device_key`'s Ed25519 signature of
// the item's capture record.
[[nodiscard]] bool verify_capture_signature(const crypto::Ed25519PublicKey& device_key,
                                            const Item& item);

// The checks encode_capture_record applies to a location.
[[nodiscard]] Status check_location(const Location& location);

}  // namespace custodia::core
