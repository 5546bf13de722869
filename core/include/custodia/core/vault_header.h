// The vault's key slots: `<vault>/vault.header` (docs/FORMAT.md, "Vault header").
//
// A random 256-bit master key opens everything in the vault. The header holds
// it wrapped, LUKS-style, in key slots: each slot seals it with
// XChaCha20-Poly1305 under a key derived from one secret (a passphrase through
// Argon2id, or the recovery key through HKDF-SHA-256). Changing the passphrase
// rewrites one slot and never touches the data.
//
// Every vault has exactly two passphrase slots. One holds the master key; the
// other is either a decoy (random bytes) or the duress slot, whose sealed
// payload says "duress" and holds no key at all. On disk the two cases are the
// same bytes under the same parameters, and unlocking always derives a key for
// both slots, so neither the file nor the unlock time tells whether a duress
// passphrase exists.
//
// Nothing here ever rewrites or removes a header it could not decode: a
// header that fails to parse is reported as Errc::malformed and left alone.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"

namespace custodia::core {

inline constexpr std::size_t kMasterKeySize = 32;
inline constexpr std::size_t kVaultSlotCount = 8;
inline constexpr std::string_view kVaultHeaderFileName = "vault.header";
inline constexpr std::string_view kUnlockFailuresFileName = "vault.unlock-failures";

enum class KeySlotKind : std::uint8_t {
    empty = 0,
    passphrase = 1,  // Argon2id(passphrase) wraps the payload
    recovery = 2,    // HKDF-SHA-256(recovery key) wraps the payload
};

// One slot as stored: everything is public except what `sealed` hides.
struct KeySlot {
    static constexpr std::size_t kSealedSize = 1 + kMasterKeySize + 16;  // type, key, tag

    KeySlotKind kind = KeySlotKind::empty;
    std::uint32_t opslimit = 0;      // Argon2id passes; 0 unless kind == passphrase
    std::uint32_t memlimit_kib = 0;  // Argon2id memory in KiB; 0 unless kind == passphrase
    std::array<std::uint8_t, 16> salt{};
    std::array<std::uint8_t, 24> nonce{};
    std::array<std::uint8_t, kSealedSize> sealed{};
};

// The parsed file. Only parse() and this module's operations make one, so a
// VaultHeader that exists is well-formed.
class VaultHeader {
  public:
    static constexpr std::uint16_t kFormatVersion = 1;
    static constexpr std::size_t kPrefixSize = 27;  // magic, version, slot count, vault id
    static constexpr std::size_t kSlotSize = 98;
    static constexpr std::size_t kChecksumSize = 32;
    static constexpr std::size_t kSize = kPrefixSize + kVaultSlotCount * kSlotSize + kChecksumSize;

    using VaultId = std::array<std::uint8_t, 16>;

    // Strict: exactly kSize bytes, known magic and version, a matching
    // checksum, and every field canonical. Errc::unsupported for a newer
    // format version, Errc::malformed for anything else that is wrong.
    [[nodiscard]] static Result<VaultHeader> parse(std::span<const std::uint8_t> bytes);
    // parse(serialize()) gives back this header, and serialize(parse(b)) == b.
    std::vector<std::uint8_t> serialize() const;

    const VaultId& vault_id() const noexcept { return vault_id_; }
    const std::array<KeySlot, kVaultSlotCount>& slots() const noexcept { return slots_; }

  private:
    friend struct VaultHeaderAccess;  // the operations in vault_header.cpp
    VaultHeader() = default;

    VaultId vault_id_{};
    std::array<KeySlot, kVaultSlotCount> slots_{};
};

// 32 random bytes shown once at setup as 14 groups of 4 Crockford base32
// characters (the key plus a 24-bit checksum), e.g. "7K3Q-...-M2XD".
class RecoveryKey {
  public:
    static constexpr std::size_t kSize = 32;

    static RecoveryKey generate(crypto::RandomSource& rng);
    // Accepts upper or lower case, '-' and spaces anywhere, and Crockford's
    // aliases (O for 0, I and L for 1). Errc::malformed on a wrong length or
    // a checksum mismatch (a typo), before any slot is tried.
    [[nodiscard]] static Result<RecoveryKey> parse(std::string_view text);
    static RecoveryKey from_bytes(std::span<const std::uint8_t, kSize> bytes);

    crypto::SecretBytes to_text() const;  // "XXXX-XXXX-..." (69 characters)
    const crypto::SecretBytes& bytes() const noexcept { return key_; }

  private:
    explicit RecoveryKey(crypto::SecretBytes key) : key_(std::move(key)) {}
    crypto::SecretBytes key_;
};

enum class UnlockedBy { passphrase, recovery_key, duress };

struct VaultUnlock {
    UnlockedBy by = UnlockedBy::passphrase;
    std::size_t slot = 0;  // index of the slot that opened
    VaultHeader::VaultId vault_id{};
    // Empty when by == duress: a duress slot never holds the master key, so a
    // coerced duress passphrase reveals nothing.
    crypto::SecretBytes master_key;
};

// Argon2id cost of one passphrase slot. memlimit is in bytes.
struct Argon2idCost {
    std::uint32_t opslimit = 0;
    std::uint64_t memlimit = 0;
};

// Cheap Argon2id for unit tests ONLY. Production code never constructs one;
// the overloads that take it exist so that tests do not spend a second and
// 256 MiB on every slot. Every other path calibrates (see create_vault_header).
struct InsecureTestingKdf {
    std::uint32_t opslimit = 1;
    std::uint64_t memlimit = 8192;  // 8 KiB, libsodium's minimum
};

// ---- In-memory operations (no files) -------------------------------------

// Derives a key for every passphrase slot, always all of them, so the time
// taken does not say which slot opened. Errc::wrong_passphrase when none does.
[[nodiscard]] Result<VaultUnlock> unlock_with_passphrase(const VaultHeader& header,
                                                         std::span<const std::uint8_t> passphrase);
[[nodiscard]] Result<VaultUnlock> unlock_with_recovery_key(const VaultHeader& header,
                                                           const RecoveryKey& key);

// ---- The vault directory --------------------------------------------------

struct NewVault {
    crypto::SecretBytes master_key;
    RecoveryKey recovery_key;  // show it to the user once; it is stored nowhere
    Argon2idCost passphrase_cost;
    std::chrono::milliseconds passphrase_derivation_time{0};
};

// Creates <vault_dir>/vault.header (and vault_dir itself, mode 0700, if it
// does not exist) with a fresh master key, the passphrase slot, its decoy
// twin and a recovery slot. Refuses to replace an existing header.
//
// The Argon2id cost is calibrated on this machine so that one derivation
// takes about one second, and never falls below libsodium's MODERATE
// (3 passes, 256 MiB): calibration raises the pass count only.
[[nodiscard]] Result<NewVault> create_vault_header(const std::filesystem::path& vault_dir,
                                                   std::span<const std::uint8_t> passphrase,
                                                   crypto::RandomSource& rng);
[[nodiscard]] Result<NewVault> create_vault_header(const std::filesystem::path& vault_dir,
                                                   std::span<const std::uint8_t> passphrase,
                                                   crypto::RandomSource& rng,
                                                   const InsecureTestingKdf& testing);

// Reads and parses <vault_dir>/vault.header; never modifies anything.
[[nodiscard]] Result<VaultHeader> load_vault_header(const std::filesystem::path& vault_dir);

// The unlock a person performs, rate-limited (docs/FORMAT.md, "Failed
// unlocks"): Errc::limit while the caller must still wait after repeated
// failures. Each attempt is counted durably before the key is derived, and
// the count is cleared when a slot opens.
[[nodiscard]] Result<VaultUnlock> unlock_vault(const std::filesystem::path& vault_dir,
                                               std::span<const std::uint8_t> passphrase,
                                               std::chrono::system_clock::time_point now);
[[nodiscard]] Result<VaultUnlock> unlock_vault_with_recovery_key(
    const std::filesystem::path& vault_dir, const RecoveryKey& key);
// How long the next passphrase attempt must wait; zero when it may go ahead.
[[nodiscard]] Result<std::chrono::seconds> unlock_wait_remaining(
    const std::filesystem::path& vault_dir, std::chrono::system_clock::time_point now);

// Rewrites the master-key passphrase slot under a new passphrase (freshly
// calibrated) and nothing else: the master key, the recovery slot and the
// data are unchanged. `current` must come from unlocking this vault with its
// passphrase or its recovery key. After a recovery-key unlock the slot that
// held the old passphrase cannot be told from the duress slot, so both
// passphrase slots are rewritten: the new passphrase and a fresh decoy (any
// duress passphrase is then gone and must be set again).
[[nodiscard]] Status change_passphrase(const std::filesystem::path& vault_dir,
                                       const VaultUnlock& current,
                                       std::span<const std::uint8_t> new_passphrase,
                                       crypto::RandomSource& rng);
[[nodiscard]] Status change_passphrase(const std::filesystem::path& vault_dir,
                                       const VaultUnlock& current,
                                       std::span<const std::uint8_t> new_passphrase,
                                       crypto::RandomSource& rng,
                                       const InsecureTestingKdf& testing);

// Turns the decoy slot into a duress slot (or replaces the duress slot), with
// the passphrase slot's Argon2id cost so that the two still look alike.
// `current` must come from a passphrase unlock. Refuses a duress passphrase
// that opens the master-key slot.
[[nodiscard]] Status set_duress_passphrase(const std::filesystem::path& vault_dir,
                                           const VaultUnlock& current,
                                           std::span<const std::uint8_t> duress_passphrase,
                                           crypto::RandomSource& rng);
// Turns the duress slot back into a decoy.
[[nodiscard]] Status remove_duress_passphrase(const std::filesystem::path& vault_dir,
                                              const VaultUnlock& current,
                                              crypto::RandomSource& rng);

// Panic wipe: overwrites every byte of vault.header (and of a leftover
// vault.header.tmp) in place with random data, fsyncs, then unlinks the files
// and fsyncs the directory. Works on a header that no longer parses. Once it
// returns, the master key cannot be recovered from this directory on a
// filesystem that overwrites in place (docs/FORMAT.md says where that fails).
[[nodiscard]] Status crypto_erase_vault_header(const std::filesystem::path& vault_dir,
                                               crypto::RandomSource& rng);

}  // namespace custodia::core
