// What an unlocked Vault holds, and the one way to change it: a VaultChange
// runs in a single database transaction that appends custody entries and
// ends with a new signed checkpoint, then refreshes vault.checkpoint.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "blob_store.h"
#include "custodia/core/database.h"
#include "custodia/core/vault.h"
#include "custodia/core/vault_format.h"
#include "custodia/crypto/sign.h"
#include "custody_log.h"
#include "durable_file.h"

namespace custodia::core {

// The vault's RandomSource, shared between the caller's thread and ingest
// threads; the tests' DeterministicRandom is not thread-safe by itself.
class LockedRandom final : public crypto::RandomSource {
  public:
    explicit LockedRandom(crypto::RandomSource& inner) : inner_(inner) {}
    void fill(std::span<std::uint8_t> out) override {
        std::lock_guard lock(mutex_);
        inner_.fill(out);
    }

  private:
    crypto::RandomSource& inner_;
    std::mutex mutex_;
};

struct Vault::State {
    State(std::filesystem::path d, crypto::RandomSource& r, Clock& c, UniqueFd lock,
          crypto::SecretBytes key, Database database, crypto::Ed25519SecretKey device)
        : dir(std::move(d)),
          random(r),
          clock(c),
          dir_lock(std::move(lock)),
          master_key(std::move(key)),
          db(std::move(database)),
          device_key(std::move(device)),
          blobs(dir / vault_format::kBlobDirectoryName) {}

    std::filesystem::path dir;
    LockedRandom random;
    Clock& clock;
    UniqueFd dir_lock;  // flock(LOCK_EX) on the vault directory while it is open
    crypto::SecretBytes master_key;
    Database db;
    crypto::Ed25519SecretKey device_key;
    std::int64_t device_key_row = 0;
    std::string investigator;
    std::string origin;  // checkpoint origin and note key name
    BlobStore blobs;
    CustodyLog log;
    // Set when the stored log could not be loaded at open: reads still work
    // and verify() reports it, but nothing is appended to a log in doubt.
    std::optional<Error> log_damage;

    // Serialises database, log and clock use; held for short steps only (an
    // ingest seals its blob without it).
    std::mutex mutex;

    std::filesystem::path checkpoint_path() const {
        return dir / vault_format::kCheckpointFileName;
    }
    CheckpointSigner signer() const { return CheckpointSigner{origin, &device_key}; }
};

// The checkpoint kept outside the database, if present, verified under the
// device key. Errc::malformed / auth_failed when it is there but not valid.
[[nodiscard]] Result<std::optional<VerifiedCheckpoint>> read_outside_checkpoint(
    const Vault::State& state);

class VaultChange {
  public:
    // Caller holds state.mutex for the VaultChange's whole life.
    [[nodiscard]] static Result<VaultChange> begin(Vault::State& state);
    VaultChange(VaultChange&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)),
          tx_(std::move(other.tx_)),
          saved_log_(std::move(other.saved_log_)),
          committed_(other.committed_) {}
    VaultChange& operator=(VaultChange&&) = delete;
    ~VaultChange();

    Database& db() { return state_->db; }
    [[nodiscard]] Result<CustodyEntry> log(CustodyEvent event, const std::optional<CaseId>& case_id,
                                           const std::optional<ItemId>& item_id,
                                           std::string details);
    // Signs the new checkpoint, commits, then replaces vault.checkpoint.
    [[nodiscard]] Status commit();

  private:
    VaultChange(Vault::State& state, Transaction tx)
        : state_(&state), tx_(std::move(tx)), saved_log_(state.log) {}
    Vault::State* state_;
    Transaction tx_;
    CustodyLog saved_log_;  // restored unless the change commits
    bool committed_ = false;
};

// Wipes and re-creation share these with the operations in vault.cpp.
[[nodiscard]] Result<UniqueFd> lock_vault_directory(const std::filesystem::path& dir);

}  // namespace custodia::core
