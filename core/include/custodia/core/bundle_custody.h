// The custody layer's checks of a sealed bundle (docs/FORMAT.md "Exporting a
// case"), run by the bundle reader once custody/* and the manifest are read:
//
//   custody_checkpoint  custody/checkpoint is a checkpoint note signed by the
//                       device key, and custody/device.pub is that key
//   custody_inclusion   every custody/entries/<i> is leaf i of that
//                       checkpoint's tree (custody/proofs/<i>), and every
//                       item has at least one entry naming it
//   capture_signatures  every item's capture_record is signed by the device
//                       key and binds the item id, SHA-256 and size of its
//                       attachment as the manifest states them
//   custody_receipts    (only when custody/receipts/ is present) every
//                       intake-server receipt is signed by the server key in
//                       its .vkeys and names this bundle id and device, and
//                       every cosigned checkpoint is signed by the device key
//                       and cosigned by that server key
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "custodia/core/bundle_reader.h"
#include "custodia/crypto/minisign.h"

namespace custodia::core {

namespace bundle_check {
inline constexpr std::string_view kCustodyCheckpoint = "custody_checkpoint";
inline constexpr std::string_view kCustodyInclusion = "custody_inclusion";
inline constexpr std::string_view kCaptureSignatures = "capture_signatures";
inline constexpr std::string_view kCustodyReceipts = "custody_receipts";
}  // namespace bundle_check

class BundleCustodyVerifier final : public CustodyVerifier {
  public:
    // Without a trusted key, the manifest's key is used (self-asserted: the
    // checks then prove integrity, not origin).
    explicit BundleCustodyVerifier(std::optional<crypto::minisign::PublicKey> trusted = {})
        : trusted_(std::move(trusted)) {}
    std::vector<BundleCheck> verify(const BundleReport& report) override;

  private:
    std::optional<crypto::minisign::PublicKey> trusted_;
};

}  // namespace custodia::core
