// The intake server's state: its key, the SQLite index and the files
// (docs/PROTOCOL.md §6), and every protocol decision that does not depend on
// HTTP. The HTTP layer (intake_http.h) only translates.
//
// Thread safety: every public member may be called from any thread. The
// index is guarded by one mutex held only for short statements; an upload is
// guarded by its "busy" mark, so hashing a finished bundle never blocks
// other requests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/sign.h"
#include "sqlite_db.h"

namespace custodia::intake {

// A refusal as the protocol states it: HTTP status, short code, a sentence.
struct ApiError {
    int status = 500;
    std::string code;
    std::string message;
};

template <class T>
class [[nodiscard]] Outcome {
  public:
    Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT
    Outcome(ApiError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
    bool ok() const noexcept { return v_.index() == 0; }
    T& value() { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    const ApiError& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, ApiError> v_;
};

struct StoreLimits {
    std::uint64_t max_bundle_bytes = std::uint64_t{8} << 30;
    std::uint64_t max_chunk_bytes = std::uint64_t{64} << 20;
    std::uint64_t device_quota_bytes = std::uint64_t{64} << 30;
    std::uint32_t max_open_uploads_per_device = 8;
    std::int64_t upload_ttl_seconds = std::int64_t{7} * 86400;
    // A PATCH body slower than this on average (after the grace period) is
    // cut off and kept as an interrupted chunk.
    std::uint64_t min_body_bytes_per_second = 1024;
    std::int64_t body_grace_seconds = 30;
};

struct DeviceRecord {
    std::string id;  // key id hex
    crypto::Ed25519PublicKey key{};
};

struct DeviceInfo {
    std::string id;
    std::string label;  // the administrator's, from `enroll --name`
    std::string name;   // the device's own, sent when it enrolled
    std::int64_t enrolled = 0;
    std::optional<std::int64_t> revoked;
    std::uint64_t stored_bytes = 0;
};

struct BundleInfo {
    std::string bundle_id;
    std::string sha256;
    std::uint64_t size = 0;
    std::string device;
    std::int64_t received = 0;
};

struct UploadStatus {
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::int64_t expires = 0;
};

// The answer to POST /v1/uploads: 200 with a receipt body, or 201 with a
// location and offset.
struct CreateAnswer {
    int status = 201;
    std::string location;
    UploadStatus upload;
    std::string body;  // JSON, 200 only
};

// The answer to a PATCH: 204 with a new offset, or 200 with the receipt.
struct PatchAnswer {
    int status = 204;
    UploadStatus upload;
    std::string body;
    std::uint64_t received = 0;  // body bytes read, for the log
};

// Hands the PATCH body to the store piece by piece. The store's sink returns
// false to stop reading; the reader returns false when the body ended early
// (connection cut or stopped by the sink).
using BodySink = std::function<bool(const char* data, std::size_t size)>;
using BodyReader = std::function<bool(const BodySink& sink)>;

class IntakeStore {
  public:
    using Now = std::function<std::int64_t()>;

    // Creates <dir> with a new server key and an empty index. Refuses a
    // directory that already holds a server.
    [[nodiscard]] static Status init(const std::filesystem::path& dir, const std::string& name,
                                     const std::string& url, crypto::RandomSource& random);
    [[nodiscard]] static Result<std::unique_ptr<IntakeStore>> open(const std::filesystem::path& dir,
                                                                   StoreLimits limits,
                                                                   crypto::RandomSource& random,
                                                                   Now now);
    ~IntakeStore();

    const std::string& name() const noexcept { return name_; }
    const std::string& url() const noexcept { return url_; }
    const crypto::Ed25519PublicKey& public_key() const noexcept { return key_.public_key(); }
    const StoreLimits& limits() const noexcept { return limits_; }
    std::int64_t now() const { return now_(); }

    // Administration (the CLI).
    [[nodiscard]] Result<crypto::SecretBytes> issue_enrolment_code(const std::string& label,
                                                                   std::int64_t ttl_seconds,
                                                                   const std::string& url);
    [[nodiscard]] Status revoke(const std::string& device_id);
    [[nodiscard]] Result<std::vector<DeviceInfo>> devices();
    [[nodiscard]] Result<std::vector<BundleInfo>> bundles();
    // Copies every bundle with its envelope and receipt; returns how many.
    [[nodiscard]] Result<std::size_t> export_to(const std::filesystem::path& dir);

    // Protocol (the HTTP layer). `enrolling_key` is the key from a
    // POST /v1/devices body, which authenticates the request instead of a
    // registered key.
    Outcome<DeviceRecord> authenticate(
        const std::string& method, const std::string& path, const std::string& device,
        const std::string& time, const std::string& nonce, const std::string& signature,
        const crypto::Sha256Digest& body_sha256,
        const std::optional<crypto::Ed25519PublicKey>& enrolling_key);
    Outcome<std::string> enrol(const DeviceRecord& device, const std::string& token,
                               const std::string& device_name);
    Outcome<CreateAnswer> create_upload(const DeviceRecord& device, std::uint64_t length,
                                        const std::string& envelope, const std::string& checkpoint);
    Outcome<UploadStatus> upload_status(const DeviceRecord& device, const std::string& id);
    Outcome<PatchAnswer> append(const DeviceRecord& device, const std::string& id,
                                std::uint64_t offset, std::uint64_t content_length,
                                const crypto::Sha256Digest& checksum, const BodyReader& body);

    // Housekeeping: expired uploads and old nonces go; uploads whose last
    // byte was recorded before a crash are completed.
    void collect_expired();
    void recover();

  private:
    struct UploadRow;
    IntakeStore(std::filesystem::path dir, std::unique_ptr<Database> db,
                crypto::Ed25519SecretKey key, std::string name, std::string url, StoreLimits limits,
                crypto::RandomSource& random, Now now);

    std::filesystem::path upload_path(const std::string& id) const;
    std::filesystem::path object_path(const std::string& sha256_hex) const;
    // A PATCH that was cut is still being wound up (its bytes fsynced, its
    // offset recorded) when the client, on a new connection, asks for the
    // offset or sends the next chunk. Those requests wait up to `wait` for
    // it rather than answer with a stale offset or 423.
    bool mark_busy(const std::string& id, std::chrono::milliseconds wait = {});
    void wait_not_busy(const std::string& id, std::chrono::milliseconds wait);
    void clear_busy(const std::string& id);
    Result<std::optional<UploadRow>> load_upload(const std::string& id);
    Result<std::optional<crypto::Ed25519PublicKey>> device_key(const std::string& device_id);
    Outcome<std::string> receipt_answer(const DeviceRecord& device, const std::string& sha256_hex,
                                        const std::string& checkpoint, bool already_held);
    Outcome<PatchAnswer> finalize(const UploadRow& upload);
    void delete_upload(const std::string& id);

    std::filesystem::path dir_;
    std::unique_ptr<Database> db_;
    crypto::Ed25519SecretKey key_;
    std::string name_;
    std::string url_;
    StoreLimits limits_;
    crypto::RandomSource& random_;
    Now now_;
    std::mutex db_mutex_;
    std::mutex busy_mutex_;
    std::condition_variable busy_cleared_;
    std::set<std::string> busy_;
};

}  // namespace custodia::intake
