// VaultHeader::parse (core/vault_header.h) on arbitrary bytes: vault.header
// is read before anything is authenticated, from a disk that may have been
// tampered with. Strict and canonical: what parses serialises to exactly the
// input. A parsed header is also tried with a fixed recovery key (HKDF only,
// so cheap): every slot's fields are attacker-chosen, and unlocking must fail
// cleanly, never crash. Passphrase unlock is left out on purpose: it runs
// Argon2id with the slot's own (attacker-chosen) cost.
#include <cstdint>
#include <span>

#include "custodia/core/vault_header.h"
#include "fuzz_check.h"

namespace core = custodia::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> bytes(data, size);
    auto header = core::VaultHeader::parse(bytes);
    if (!header) return 0;
    FUZZ_CHECK(size == core::VaultHeader::kSize);
    const auto again = header->serialize();
    FUZZ_CHECK(std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()));
    auto reparsed = core::VaultHeader::parse(again);
    FUZZ_CHECK(reparsed.ok() && reparsed->vault_id() == header->vault_id());

    static const core::RecoveryKey key = [] {
        std::array<std::uint8_t, core::RecoveryKey::kSize> fixed{};
        fixed.fill(0x5a);
        return core::RecoveryKey::from_bytes(fixed);
    }();
    auto unlock = core::unlock_with_recovery_key(*header, key);
    if (unlock) {
        FUZZ_CHECK(unlock->by == core::UnlockedBy::recovery_key);
        FUZZ_CHECK(unlock->slot < core::kVaultSlotCount);
        FUZZ_CHECK(header->slots()[unlock->slot].kind == core::KeySlotKind::recovery);
        FUZZ_CHECK(unlock->master_key.size() == core::kMasterKeySize);
    }
    return 0;
}
