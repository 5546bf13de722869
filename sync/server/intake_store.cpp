#include "intake_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>
#include <system_error>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/sync/enrolment.h"
#include "custodia/sync/envelope.h"
#include "custodia/sync/protocol.h"
#include "custodia/sync/receipt.h"
#include "custodia/sync/request_auth.h"
#include "json_log.h"

namespace custodia::intake {

namespace fs = std::filesystem;
using nlohmann::json;
namespace protocol = sync::protocol;

namespace {

constexpr const char* kKeyFile = "server.key";
constexpr const char* kPublicKeyFile = "server.pub";
constexpr const char* kIndexFile = "intake.db";
constexpr const char* kUploadsDir = "uploads";
constexpr const char* kObjectsDir = "objects";
constexpr std::size_t kWriteBuffer = std::size_t{1} << 20;
constexpr std::uint64_t kWriteBehindWindow = std::uint64_t{8} << 20;
// How long a HEAD or PATCH waits for a cut PATCH of the same upload to be
// wound up (see mark_busy).
constexpr std::chrono::milliseconds kWindUpWait{5000};

constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tokens(
  hash BLOB PRIMARY KEY, label TEXT NOT NULL, created INTEGER NOT NULL,
  expires INTEGER NOT NULL, used INTEGER, used_by TEXT);
CREATE TABLE devices(
  id TEXT PRIMARY KEY, public_key BLOB NOT NULL, label TEXT NOT NULL, name TEXT NOT NULL,
  enrolled INTEGER NOT NULL, revoked INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE uploads(
  id TEXT PRIMARY KEY, device TEXT NOT NULL REFERENCES devices(id), bundle_id TEXT NOT NULL,
  sha256 TEXT NOT NULL, length INTEGER NOT NULL, offset_bytes INTEGER NOT NULL,
  envelope TEXT NOT NULL, checkpoint TEXT NOT NULL, created INTEGER NOT NULL,
  updated INTEGER NOT NULL);
CREATE INDEX uploads_by_device ON uploads(device, sha256);
CREATE TABLE objects(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored INTEGER NOT NULL);
CREATE TABLE receipts(
  sha256 TEXT NOT NULL REFERENCES objects(sha256), device TEXT NOT NULL REFERENCES devices(id),
  bundle_id TEXT NOT NULL, size INTEGER NOT NULL, received INTEGER NOT NULL,
  envelope TEXT NOT NULL, receipt TEXT NOT NULL, PRIMARY KEY(sha256, device));
CREATE TABLE nonces(
  device TEXT NOT NULL, nonce TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(device, nonce));
CREATE INDEX nonces_by_time ON nonces(time);
INSERT INTO meta(key, value) VALUES('schema', '1');
)sql";

ApiError api(int status, std::string code, std::string message) {
    return ApiError{status, std::move(code), std::move(message)};
}

ApiError internal_error(const Error& e) {
    log().write("internal_error", {{"message", e.message}});
    return api(500, "internal", "the server could not complete the request");
}

std::string errno_text(int saved) {
    return std::error_code(saved, std::generic_category()).message();
}

Status fsync_path(const fs::path& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0)
        return make_error(Errc::io, "cannot open " + path.string() + ": " + errno_text(errno));
    const int rc = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    if (rc != 0) return make_error(Errc::io, "fsync " + path.string() + ": " + errno_text(saved));
    return {};
}

Status fsync_dir(const fs::path& dir) {
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

Status write_all(int fd, const std::uint8_t* data, std::size_t size, std::uint64_t position) {
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(position));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return make_error(Errc::io, "write failed: " + errno_text(errno));
        data += n;
        size -= static_cast<std::size_t>(n);
        position += static_cast<std::uint64_t>(n);
    }
    return {};
}

Status make_private_dir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(Errc::io, "cannot create " + dir.string() + ": " + errno_text(errno));
    return {};
}

Status write_new_file(const fs::path& path, std::span<const std::uint8_t> bytes, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return make_error(Errc::io, "cannot create " + path.string() + ": " + errno_text(errno));
    auto st = write_all(fd, bytes.data(), bytes.size(), 0);
    if (st && ::fsync(fd) != 0) st = make_error(Errc::io, "fsync " + path.string());
    ::close(fd);
    return st;
}

std::string random_hex(crypto::RandomSource& random, std::size_t bytes) {
    std::vector<std::uint8_t> buf(bytes);
    random.fill(buf);
    return crypto::to_hex(buf);
}

bool is_hex_id(std::string_view id, std::size_t length) {
    return id.size() == length && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string cosign(const std::string& checkpoint, const std::string& name,
                   const crypto::Ed25519SecretKey& key, std::int64_t now, Status& status) {
    auto note = core::SignedNote::parse(checkpoint);
    if (!note) {
        status = std::move(note).error();
        return {};
    }
    auto signed_ok = core::cosign_checkpoint_v1(*note, name, key, static_cast<std::uint64_t>(now));
    if (!signed_ok) {
        status = std::move(signed_ok);
        return {};
    }
    return note->serialize();
}

}  // namespace

struct IntakeStore::UploadRow {
    std::string id;
    std::string device;
    std::string bundle_id;
    std::string sha256;
    std::uint64_t length = 0;
    std::uint64_t offset = 0;
    std::string envelope;
    std::string checkpoint;
    std::int64_t updated = 0;
};

IntakeStore::IntakeStore(fs::path dir, std::unique_ptr<Database> db, crypto::Ed25519SecretKey key,
                         std::string name, std::string url, StoreLimits limits,
                         crypto::RandomSource& random, Now now)
    : dir_(std::move(dir)),
      db_(std::move(db)),
      key_(std::move(key)),
      name_(std::move(name)),
      url_(std::move(url)),
      limits_(limits),
      random_(random),
      now_(std::move(now)) {}

IntakeStore::~IntakeStore() = default;

Status IntakeStore::init(const fs::path& dir, const std::string& name, const std::string& url,
                         crypto::RandomSource& random) {
    if (!core::is_valid_note_key_name(name))
        return make_error(Errc::malformed,
                          "the server name must be a signed-note key name (no spaces, no '+')");
    if (!sync::is_valid_server_url(url))
        return make_error(Errc::malformed,
                          "the URL must be https://host[:port] (http only for a loopback host)");
    if (fs::exists(dir / kKeyFile) || fs::exists(dir / kIndexFile))
        return make_error(Errc::malformed, "refusing to overwrite the server in " + dir.string());
    for (const fs::path& d : {dir, dir / kUploadsDir, dir / kObjectsDir}) {
        auto st = make_private_dir(d);
        if (!st) return st;
    }
    const auto key = crypto::Ed25519SecretKey::generate(random);
    auto st = write_new_file(dir / kKeyFile, key.seed(), 0600);
    if (!st) return st;
    auto verifier =
        core::NoteVerifierKey::make(name, core::NoteSignatureType::ed25519, key.public_key());
    if (!verifier) return std::move(verifier).error();
    const std::string pub = verifier->to_string() + "\n";
    st = write_new_file(dir / kPublicKeyFile, crypto::as_bytes(pub), 0644);
    if (!st) return st;
    auto db = Database::open(dir / kIndexFile, true);
    if (!db) return std::move(db).error();
    st = (*db)->exec(kSchema);
    if (!st) return st;
    for (const auto& [k, v] : {std::pair<std::string, std::string>{"name", name}, {"url", url}}) {
        auto stmt = (*db)->prepare("INSERT INTO meta(key, value) VALUES(?, ?)");
        if (!stmt) return std::move(stmt).error();
        st = stmt->bind(1, k).bind(2, v).run();
        if (!st) return st;
    }
    return fsync_dir(dir);
}

Result<std::unique_ptr<IntakeStore>> IntakeStore::open(const fs::path& dir, StoreLimits limits,
                                                       crypto::RandomSource& random, Now now) {
    const fs::path key_path = dir / kKeyFile;
    struct stat info {};
    if (::stat(key_path.c_str(), &info) != 0)
        return make_error(Errc::io, "no server in " + dir.string() + " (run init first)");
    if ((info.st_mode & 077) != 0)
        return make_error(Errc::io, "server.key is readable by others; chmod 600 it");
    const int fd = ::open(key_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(Errc::io, "cannot read server.key: " + errno_text(errno));
    crypto::SecretBytes seed(32);
    const ssize_t n = ::read(fd, seed.data(), seed.size());
    std::uint8_t extra = 0;
    const ssize_t more = ::read(fd, &extra, 1);
    ::close(fd);
    if (n != 32 || more != 0)
        return make_error(Errc::malformed, "server.key is not a 32-byte seed");
    auto key = crypto::Ed25519SecretKey::from_seed(seed.span());
    if (!key) return std::move(key).error();

    auto db = Database::open(dir / kIndexFile, false);
    if (!db) return std::move(db).error();
    std::string name, url, schema;
    {
        auto stmt = (*db)->prepare("SELECT key, value FROM meta");
        if (!stmt) return std::move(stmt).error();
        while (true) {
            auto row = stmt->step();
            if (!row) return std::move(row).error();
            if (!*row) break;
            const auto k = stmt->column_text(0);
            if (k == "name") name = stmt->column_text(1);
            if (k == "url") url = stmt->column_text(1);
            if (k == "schema") schema = stmt->column_text(1);
        }
    }
    if (schema != "1") return make_error(Errc::unsupported, "unknown index schema version");
    return std::unique_ptr<IntakeStore>(new IntakeStore(dir, std::move(*db), std::move(*key),
                                                        std::move(name), std::move(url), limits,
                                                        random, std::move(now)));
}

fs::path IntakeStore::upload_path(const std::string& id) const {
    return dir_ / kUploadsDir / id;
}

fs::path IntakeStore::object_path(const std::string& sha256_hex) const {
    return dir_ / kObjectsDir / sha256_hex.substr(0, 2) / sha256_hex;
}

bool IntakeStore::mark_busy(const std::string& id, std::chrono::milliseconds wait) {
    std::unique_lock lock(busy_mutex_);
    busy_cleared_.wait_for(lock, wait, [&] { return !busy_.contains(id); });
    return busy_.insert(id).second;
}

void IntakeStore::wait_not_busy(const std::string& id, std::chrono::milliseconds wait) {
    std::unique_lock lock(busy_mutex_);
    busy_cleared_.wait_for(lock, wait, [&] { return !busy_.contains(id); });
}

void IntakeStore::clear_busy(const std::string& id) {
    {
        std::lock_guard lock(busy_mutex_);
        busy_.erase(id);
    }
    busy_cleared_.notify_all();
}

// ---- administration ---------------------------------------------------------

Result<crypto::SecretBytes> IntakeStore::issue_enrolment_code(const std::string& label,
                                                              std::int64_t ttl_seconds,
                                                              const std::string& url) {
    auto pin = sync::ServerPin::make(url.empty() ? url_ : url, name_, key_.public_key());
    if (!pin) return std::move(pin).error();
    crypto::SecretBytes token(protocol::kTokenBytes);
    random_.fill(token.span());
    const auto hash = crypto::sha256(token.span());
    const std::int64_t expires = now_() + ttl_seconds;
    {
        std::lock_guard lock(db_mutex_);
        auto stmt = db_->prepare(
            "INSERT INTO tokens(hash, label, created, expires, used) VALUES(?, ?, ?, ?, NULL)");
        if (!stmt) return std::move(stmt).error();
        auto st = stmt->bind_blob(1, hash).bind(2, label).bind(3, now_()).bind(4, expires).run();
        if (!st) return std::move(st).error();
    }
    auto code = sync::EnrolmentCode::make(std::move(*pin), std::move(token), expires);
    if (!code) return std::move(code).error();
    return code->encode();
}

Status IntakeStore::revoke(const std::string& device_id) {
    std::vector<std::string> uploads;
    {
        std::lock_guard lock(db_mutex_);
        auto find = db_->prepare("SELECT revoked FROM devices WHERE id = ?");
        if (!find) return std::move(find).error();
        find->bind(1, device_id);
        auto row = find->step();
        if (!row) return std::move(row).error();
        if (!*row) return make_error(Errc::malformed, "no device " + device_id);
        Transaction tx(*db_);
        auto st = tx.begin();
        if (!st) return st;
        auto stmt = db_->prepare("UPDATE devices SET revoked = ? WHERE id = ? AND revoked IS NULL");
        if (!stmt) return std::move(stmt).error();
        st = stmt->bind(1, now_()).bind(2, device_id).run();
        if (!st) return st;
        auto list = db_->prepare("SELECT id FROM uploads WHERE device = ?");
        if (!list) return std::move(list).error();
        list->bind(1, device_id);
        while (true) {
            auto r = list->step();
            if (!r) return std::move(r).error();
            if (!*r) break;
            uploads.push_back(list->column_text(0));
        }
        auto del = db_->prepare("DELETE FROM uploads WHERE device = ?");
        if (!del) return std::move(del).error();
        st = del->bind(1, device_id).run();
        if (!st) return st;
        st = tx.commit();
        if (!st) return st;
    }
    // Unfinished data of a revoked device is dropped; what it completed is
    // evidence already received and stays.
    for (const auto& id : uploads) ::unlink(upload_path(id).c_str());
    return {};
}

Result<std::vector<DeviceInfo>> IntakeStore::devices() {
    std::lock_guard lock(db_mutex_);
    auto stmt = db_->prepare(
        "SELECT id, label, name, enrolled, revoked, stored_bytes FROM devices "
        "ORDER BY enrolled, id");
    if (!stmt) return std::move(stmt).error();
    std::vector<DeviceInfo> out;
    while (true) {
        auto row = stmt->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        DeviceInfo d;
        d.id = stmt->column_text(0);
        d.label = stmt->column_text(1);
        d.name = stmt->column_text(2);
        d.enrolled = stmt->column_int(3);
        if (!stmt->column_is_null(4)) d.revoked = stmt->column_int(4);
        d.stored_bytes = static_cast<std::uint64_t>(stmt->column_int(5));
        out.push_back(std::move(d));
    }
    return out;
}

Result<std::vector<BundleInfo>> IntakeStore::bundles() {
    std::lock_guard lock(db_mutex_);
    auto stmt = db_->prepare(
        "SELECT bundle_id, sha256, size, device, received FROM receipts ORDER BY received, sha256");
    if (!stmt) return std::move(stmt).error();
    std::vector<BundleInfo> out;
    while (true) {
        auto row = stmt->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        out.push_back(BundleInfo{stmt->column_text(0), stmt->column_text(1),
                                 static_cast<std::uint64_t>(stmt->column_int(2)),
                                 stmt->column_text(3), stmt->column_int(4)});
    }
    return out;
}

Result<std::size_t> IntakeStore::export_to(const fs::path& out_dir) {
    struct Item {
        std::string bundle_id, sha256, envelope, receipt;
    };
    std::vector<Item> items;
    {
        std::lock_guard lock(db_mutex_);
        // One copy per stored file, with the earliest receipt for it.
        auto stmt = db_->prepare(
            "SELECT bundle_id, sha256, envelope, receipt FROM receipts r WHERE received = "
            "(SELECT MIN(received) FROM receipts WHERE sha256 = r.sha256) GROUP BY sha256 "
            "ORDER BY received, sha256");
        if (!stmt) return std::move(stmt).error();
        while (true) {
            auto row = stmt->step();
            if (!row) return std::move(row).error();
            if (!*row) break;
            items.push_back({stmt->column_text(0), stmt->column_text(1), stmt->column_text(2),
                             stmt->column_text(3)});
        }
    }
    auto st = make_private_dir(out_dir);
    if (!st) return std::move(st).error();
    std::size_t copied = 0;
    for (const auto& item : items) {
        const fs::path target = out_dir / (item.bundle_id + ".custodia");
        if (fs::exists(target))
            return make_error(Errc::io, target.filename().string() +
                                            " already exists; refusing "
                                            "to overwrite it");
        // Copy while hashing: what leaves the server is checked against the
        // digest it was received under.
        const int in = ::open(object_path(item.sha256).c_str(), O_RDONLY | O_CLOEXEC);
        if (in < 0) return make_error(Errc::io, "bundle " + item.bundle_id + " is missing");
        const int out = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0) {
            ::close(in);
            return make_error(Errc::io, "cannot create " + target.string());
        }
        crypto::Sha256 hash;
        std::vector<std::uint8_t> buf(kWriteBuffer);
        std::uint64_t position = 0;
        Status copy_status;
        while (true) {
            const ssize_t n = ::read(in, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                copy_status = make_error(Errc::io, "read failed");
                break;
            }
            if (n == 0) break;
            hash.update(std::span(buf.data(), static_cast<std::size_t>(n)));
            copy_status = write_all(out, buf.data(), static_cast<std::size_t>(n), position);
            if (!copy_status) break;
            position += static_cast<std::uint64_t>(n);
        }
        if (copy_status && ::fsync(out) != 0) copy_status = make_error(Errc::io, "fsync failed");
        ::close(in);
        ::close(out);
        if (!copy_status) return std::move(copy_status).error();
        if (crypto::to_hex(hash.finish()) != item.sha256) {
            ::unlink(target.c_str());
            return make_error(Errc::auth_failed,
                              "stored bundle " + item.bundle_id + " no longer matches its digest");
        }
        st = write_new_file(out_dir / (item.bundle_id + ".custodia.envelope"),
                            crypto::as_bytes(item.envelope), 0600);
        if (!st) return std::move(st).error();
        st = write_new_file(out_dir / (item.bundle_id + ".custodia.receipt"),
                            crypto::as_bytes(item.receipt), 0600);
        if (!st) return std::move(st).error();
        ++copied;
    }
    st = fsync_dir(out_dir);
    if (!st) return std::move(st).error();
    return copied;
}

// ---- protocol ---------------------------------------------------------------

Result<std::optional<crypto::Ed25519PublicKey>> IntakeStore::device_key(const std::string& id) {
    auto stmt = db_->prepare("SELECT public_key FROM devices WHERE id = ?");
    if (!stmt) return std::move(stmt).error();
    stmt->bind(1, id);
    auto row = stmt->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<crypto::Ed25519PublicKey>{};
    const auto bytes = stmt->column_blob(0);
    if (bytes.size() != 32) return make_error(Errc::malformed, "stored device key is damaged");
    crypto::Ed25519PublicKey key{};
    std::copy(bytes.begin(), bytes.end(), key.begin());
    return std::optional(key);
}

Outcome<DeviceRecord> IntakeStore::authenticate(
    const std::string& method, const std::string& path, const std::string& device,
    const std::string& time, const std::string& nonce, const std::string& signature,
    const crypto::Sha256Digest& body_sha256,
    const std::optional<crypto::Ed25519PublicKey>& enrolling_key) {
    const auto unauthenticated = api(401, "unauthenticated",
                                     "the request is not signed by an "
                                     "enrolled device");
    auto auth = sync::parse_request_auth(device, time, nonce, signature);
    if (!auth) return unauthenticated;
    const std::int64_t now = now_();
    if (!sync::is_fresh(auth->time, now))
        return api(401, "stale", "the request's time is more than 300 s from the server's clock");

    std::lock_guard lock(db_mutex_);
    crypto::Ed25519PublicKey key{};
    if (enrolling_key) {
        key = *enrolling_key;
    } else {
        auto stored = device_key(auth->device_hex);
        if (!stored) return internal_error(stored.error());
        if (!*stored) return unauthenticated;
        key = **stored;
    }
    if (!sync::verify_request_signature(*auth, key, key_.public_key(), method, path, body_sha256))
        return unauthenticated;

    auto revoked = db_->prepare("SELECT revoked FROM devices WHERE id = ?");
    if (!revoked) return internal_error(revoked.error());
    revoked->bind(1, auth->device_hex);
    auto row = revoked->step();
    if (!row) return internal_error(row.error());
    if (*row && !revoked->column_is_null(0))
        return api(403, "revoked", "this device was revoked by the server's administrator");

    // Recorded before the request takes effect, and durable: a replay is
    // refused even after a restart.
    auto insert = db_->prepare("INSERT OR IGNORE INTO nonces(device, nonce, time) VALUES(?, ?, ?)");
    if (!insert) return internal_error(insert.error());
    auto st = insert->bind(1, auth->device_hex).bind(2, auth->nonce).bind(3, auth->time).run();
    if (!st) return internal_error(st.error());
    if (db_->changes() == 0) return api(401, "replay", "this request was already received");
    return DeviceRecord{auth->device_hex, key};
}

Outcome<std::string> IntakeStore::enrol(const DeviceRecord& device, const std::string& token,
                                        const std::string& device_name) {
    // The name reaches the administrator's terminal: no C0 or C1 control
    // (U+0080..U+009F is 0xC2 0x80..0x9F in UTF-8), so it cannot carry an
    // escape sequence. The JSON parser already refused invalid UTF-8.
    bool has_control = false;
    for (std::size_t i = 0; i < device_name.size(); ++i) {
        const auto c = static_cast<unsigned char>(device_name[i]);
        const auto next =
            i + 1 < device_name.size() ? static_cast<unsigned char>(device_name[i + 1]) : 0;
        if (c < 0x20 || c == 0x7f || (c == 0xc2 && next >= 0x80 && next <= 0x9f))
            has_control = true;
    }
    if (device_name.size() > protocol::kMaxDeviceNameBytes || has_control)
        return api(400, "bad_name", "the device name must be at most 64 bytes, one line");
    auto token_bytes = sync::from_base64url(token);
    const auto bad_token = api(401, "bad_token", "the enrolment code is unknown, used or expired");
    if (!token_bytes || token_bytes->size() != protocol::kTokenBytes) return bad_token;
    const auto hash = crypto::sha256(*token_bytes);
    crypto::wipe(*token_bytes);
    const std::int64_t now = now_();
    std::int64_t enrolled = now;

    {
        std::lock_guard lock(db_mutex_);
        Transaction tx(*db_);
        auto st = tx.begin();
        if (!st) return internal_error(st.error());
        auto find = db_->prepare("SELECT label, expires, used, used_by FROM tokens WHERE hash = ?");
        if (!find) return internal_error(find.error());
        find->bind_blob(1, hash);
        auto row = find->step();
        if (!row) return internal_error(row.error());
        if (!*row) return bad_token;
        const std::string label = find->column_text(0);
        const bool spent = !find->column_is_null(2);
        const std::string spent_by = find->column_text(3);

        auto existing = db_->prepare("SELECT revoked, enrolled FROM devices WHERE id = ?");
        if (!existing) return internal_error(existing.error());
        existing->bind(1, device.id);
        auto known = existing->step();
        if (!known) return internal_error(known.error());
        if (*known && !existing->column_is_null(0))
            return api(403, "revoked", "this device key was revoked; make a new key");
        if (spent && *known && spent_by == device.id) {
            // The same device with the token it spent: its answer was lost
            // on the way, so it gets the same enrolment again.
            enrolled = existing->column_int(1);
        } else {
            if (spent || find->column_int(1) < now) return bad_token;
            if (*known) return api(409, "already_enrolled", "this device key is already enrolled");
            auto insert = db_->prepare(
                "INSERT INTO devices(id, public_key, label, name, enrolled, revoked) "
                "VALUES(?, ?, ?, ?, ?, NULL)");
            if (!insert) return internal_error(insert.error());
            st = insert->bind(1, device.id)
                     .bind_blob(2, device.key)
                     .bind(3, label)
                     .bind(4, device_name)
                     .bind(5, now)
                     .run();
            if (!st) return internal_error(st.error());
            auto spend = db_->prepare("UPDATE tokens SET used = ?, used_by = ? WHERE hash = ?");
            if (!spend) return internal_error(spend.error());
            st = spend->bind(1, now).bind(2, device.id).bind_blob(3, hash).run();
            if (!st) return internal_error(st.error());
        }
        st = tx.commit();
        if (!st) return internal_error(st.error());
    }
    sync::EnrolmentAnswer answer{device.id, enrolled, device.key, name_};
    auto note = sync::sign_enrolment_answer(answer, name_, key_);
    if (!note) return internal_error(note.error());
    return json{{"enrolment", *note}}.dump();
}

Outcome<std::string> IntakeStore::receipt_answer(const DeviceRecord& device,
                                                 const std::string& sha256_hex,
                                                 const std::string& checkpoint, bool already_held) {
    std::string receipt;
    {
        std::lock_guard lock(db_mutex_);
        auto stmt = db_->prepare("SELECT receipt FROM receipts WHERE sha256 = ? AND device = ?");
        if (!stmt) return internal_error(stmt.error());
        stmt->bind(1, sha256_hex).bind(2, device.id);
        auto row = stmt->step();
        if (!row) return internal_error(row.error());
        if (!*row) return internal_error(make_error(Errc::internal, "receipt vanished"));
        receipt = stmt->column_text(0);
    }
    Status st;
    const std::string cosigned = cosign(checkpoint, name_, key_, now_(), st);
    if (!st) return internal_error(st.error());
    return json{
        {"receipt", receipt}, {"cosigned_checkpoint", cosigned}, {"already_held", already_held}}
        .dump();
}

Result<std::optional<IntakeStore::UploadRow>> IntakeStore::load_upload(const std::string& id) {
    auto stmt = db_->prepare(
        "SELECT device, bundle_id, sha256, length, offset_bytes, envelope, checkpoint, updated "
        "FROM uploads WHERE id = ?");
    if (!stmt) return std::move(stmt).error();
    stmt->bind(1, id);
    auto row = stmt->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<UploadRow>{};
    UploadRow u;
    u.id = id;
    u.device = stmt->column_text(0);
    u.bundle_id = stmt->column_text(1);
    u.sha256 = stmt->column_text(2);
    u.length = static_cast<std::uint64_t>(stmt->column_int(3));
    u.offset = static_cast<std::uint64_t>(stmt->column_int(4));
    u.envelope = stmt->column_text(5);
    u.checkpoint = stmt->column_text(6);
    u.updated = stmt->column_int(7);
    return std::optional(std::move(u));
}

void IntakeStore::delete_upload(const std::string& id) {
    {
        std::lock_guard lock(db_mutex_);
        auto stmt = db_->prepare("DELETE FROM uploads WHERE id = ?");
        if (stmt) (void)stmt->bind(1, id).run();
    }
    ::unlink(upload_path(id).c_str());
}

Outcome<CreateAnswer> IntakeStore::create_upload(const DeviceRecord& device, std::uint64_t length,
                                                 const std::string& envelope_text,
                                                 const std::string& checkpoint) {
    auto envelope = sync::Envelope::parse(envelope_text);
    if (!envelope)
        return api(400, "bad_envelope", "the envelope is not valid: " + envelope.error().message);
    const auto& statement = envelope->statement();
    if (statement.device != sync::device_key_id(device.key))
        return api(400, "bad_envelope", "the envelope is signed by another device");
    if (statement.size == 0)
        return api(400, "bad_envelope", "the envelope describes an empty file");
    if (length != statement.size)
        return api(400, "length_mismatch", "Upload-Length differs from the envelope's size");
    if (length > limits_.max_bundle_bytes)
        return api(413, "too_large", "the bundle is larger than this server accepts");
    auto note = core::SignedNote::parse(checkpoint);
    if (!note || !core::Checkpoint::parse(note->text()) || !sync::note_signed_by(*note, device.key))
        return api(400, "bad_checkpoint",
                   "the checkpoint is not a checkpoint note signed by this device");
    const std::string sha = crypto::to_hex(statement.sha256);
    const std::int64_t now = now_();

    enum class Held { by_this_device, by_another_device, no };
    Held held = Held::no;
    std::optional<UploadRow> existing;
    {
        std::lock_guard lock(db_mutex_);
        auto mine = db_->prepare("SELECT 1 FROM receipts WHERE sha256 = ? AND device = ?");
        if (!mine) return internal_error(mine.error());
        mine->bind(1, sha).bind(2, device.id);
        auto row = mine->step();
        if (!row) return internal_error(row.error());
        if (*row) {
            held = Held::by_this_device;
        } else {
            auto object = db_->prepare("SELECT 1 FROM objects WHERE sha256 = ?");
            if (!object) return internal_error(object.error());
            object->bind(1, sha);
            auto o = object->step();
            if (!o) return internal_error(o.error());
            if (*o) held = Held::by_another_device;
        }
        if (held == Held::no) {
            auto find = db_->prepare("SELECT id FROM uploads WHERE device = ? AND sha256 = ?");
            if (!find) return internal_error(find.error());
            find->bind(1, device.id).bind(2, sha);
            auto f = find->step();
            if (!f) return internal_error(f.error());
            if (*f) {
                const std::string id = find->column_text(0);
                // The latest POST's envelope and checkpoint are the ones the
                // receipt and the cosignature will answer.
                auto update = db_->prepare(
                    "UPDATE uploads SET bundle_id = ?, envelope = ?, checkpoint = ?, updated = ? "
                    "WHERE id = ?");
                if (!update) return internal_error(update.error());
                auto st = update->bind(1, statement.bundle_id)
                              .bind(2, envelope_text)
                              .bind(3, checkpoint)
                              .bind(4, now)
                              .bind(5, id)
                              .run();
                if (!st) return internal_error(st.error());
                auto loaded = load_upload(id);
                if (!loaded) return internal_error(loaded.error());
                existing = std::move(*loaded);
            }
        }
        if (held == Held::no && !existing) {
            auto usage = db_->prepare(
                "SELECT d.stored_bytes, (SELECT COUNT(*) FROM uploads WHERE device = d.id), "
                "(SELECT COALESCE(SUM(length), 0) FROM uploads WHERE device = d.id) "
                "FROM devices d WHERE d.id = ?");
            if (!usage) return internal_error(usage.error());
            usage->bind(1, device.id);
            auto u = usage->step();
            if (!u) return internal_error(u.error());
            if (!*u) return api(401, "unauthenticated", "unknown device");
            const auto stored = static_cast<std::uint64_t>(usage->column_int(0));
            const auto open_count = static_cast<std::uint64_t>(usage->column_int(1));
            const auto open_bytes = static_cast<std::uint64_t>(usage->column_int(2));
            if (open_count >= limits_.max_open_uploads_per_device)
                return api(503, "busy", "this device has too many unfinished uploads");
            if (stored + open_bytes + length > limits_.device_quota_bytes)
                return api(507, "quota", "this device's storage quota is full");

            // The file first, then the row: a crash in between leaves only a
            // file that recover() removes, never a row without its file.
            const std::string id = random_hex(random_, 16);
            const fs::path part = upload_path(id);
            auto st = write_new_file(part, {}, 0600);
            if (!st) return internal_error(st.error());
            st = fsync_dir(part.parent_path());
            if (!st) return internal_error(st.error());
            auto insert = db_->prepare(
                "INSERT INTO uploads(id, device, bundle_id, sha256, length, offset_bytes, "
                "envelope, checkpoint, created, updated) VALUES(?, ?, ?, ?, ?, 0, ?, ?, ?, ?)");
            if (!insert) return internal_error(insert.error());
            st = insert->bind(1, id)
                     .bind(2, device.id)
                     .bind(3, statement.bundle_id)
                     .bind(4, sha)
                     .bind(5, static_cast<std::int64_t>(length))
                     .bind(6, envelope_text)
                     .bind(7, checkpoint)
                     .bind(8, now)
                     .bind(9, now)
                     .run();
            if (!st) {
                ::unlink(part.c_str());
                return internal_error(st.error());
            }
            CreateAnswer answer;
            answer.location = std::string(protocol::kUploadsPath) + "/" + id;
            answer.upload = {0, length, now + limits_.upload_ttl_seconds};
            return answer;
        }
    }

    if (held == Held::by_another_device) {
        // Another device sent these exact bytes. This device's envelope must
        // verify over the stored file before it gets a receipt of its own.
        auto verified = sync::verify_envelope_file(*envelope, device.key, object_path(sha));
        if (!verified)
            return api(422, "envelope_mismatch", "the bundle does not match its envelope");
        const sync::Receipt receipt{statement.bundle_id, device.id,     now, name_,
                                    statement.sha256,    statement.size};
        auto note_text = sync::sign_receipt(receipt, name_, key_);
        if (!note_text) return internal_error(note_text.error());
        std::lock_guard lock(db_mutex_);
        auto insert = db_->prepare(
            "INSERT OR IGNORE INTO receipts(sha256, device, bundle_id, size, received, envelope, "
            "receipt) VALUES(?, ?, ?, ?, ?, ?, ?)");
        if (!insert) return internal_error(insert.error());
        auto st = insert->bind(1, sha)
                      .bind(2, device.id)
                      .bind(3, statement.bundle_id)
                      .bind(4, static_cast<std::int64_t>(statement.size))
                      .bind(5, now)
                      .bind(6, envelope_text)
                      .bind(7, *note_text)
                      .run();
        if (!st) return internal_error(st.error());
    }
    if (held != Held::no) {
        // Already held: the receipt it was received under, and a fresh
        // cosignature of the checkpoint the device sends now.
        auto body = receipt_answer(device, sha, checkpoint, true);
        if (!body.ok()) return body.error();
        CreateAnswer answer;
        answer.status = 200;
        answer.upload = {length, length, 0};
        answer.body = std::move(body.value());
        return answer;
    }

    if (existing->offset == existing->length) {
        // Every byte was recorded but the upload was never completed (the
        // server stopped in between): complete it now.
        if (!mark_busy(existing->id)) return api(423, "busy", "the upload is being completed");
        auto done = finalize(*existing);
        clear_busy(existing->id);
        if (!done.ok()) return done.error();
        CreateAnswer answer;
        answer.status = 200;
        answer.upload = done->upload;
        answer.body = std::move(done->body);
        return answer;
    }
    CreateAnswer answer;
    answer.location = std::string(protocol::kUploadsPath) + "/" + existing->id;
    answer.upload = {existing->offset, existing->length, now + limits_.upload_ttl_seconds};
    return answer;
}

Outcome<UploadStatus> IntakeStore::upload_status(const DeviceRecord& device,
                                                 const std::string& id) {
    const auto not_found = api(404, "not_found", "no such upload");
    if (!is_hex_id(id, 32)) return not_found;
    wait_not_busy(id, kWindUpWait);
    std::lock_guard lock(db_mutex_);
    auto row = load_upload(id);
    if (!row) return internal_error(row.error());
    // Someone else's upload and no upload look the same from outside.
    if (!*row || (*row)->device != device.id) return not_found;
    const std::int64_t expires = (*row)->updated + limits_.upload_ttl_seconds;
    if (expires < now_()) return not_found;
    return UploadStatus{(*row)->offset, (*row)->length, expires};
}

Outcome<PatchAnswer> IntakeStore::append(const DeviceRecord& device, const std::string& id,
                                         std::uint64_t offset, std::uint64_t content_length,
                                         const crypto::Sha256Digest& checksum,
                                         const BodyReader& body) {
    const auto not_found = api(404, "not_found", "no such upload");
    if (!is_hex_id(id, 32)) return not_found;
    std::optional<UploadRow> row;
    {
        std::lock_guard lock(db_mutex_);
        auto loaded = load_upload(id);
        if (!loaded) return internal_error(loaded.error());
        row = std::move(*loaded);
    }
    if (!row || row->device != device.id) return not_found;
    if (content_length > limits_.max_chunk_bytes)
        return api(413, "too_large", "the chunk is larger than Custodia-Max-Chunk-Size");
    if (content_length == 0) return api(400, "empty_chunk", "a PATCH must carry data");
    if (!mark_busy(id, kWindUpWait))
        return api(423, "busy", "another PATCH of this upload is in progress");
    struct BusyGuard {
        IntakeStore& store;
        const std::string& id;
        ~BusyGuard() { store.clear_busy(id); }
    } guard{*this, id};
    // Re-read under the busy mark: the offset cannot move while we hold it.
    {
        std::lock_guard lock(db_mutex_);
        auto loaded = load_upload(id);
        if (!loaded) return internal_error(loaded.error());
        row = std::move(*loaded);
    }
    if (!row) return not_found;
    if (offset != row->offset) {
        ApiError e = api(409, "offset_mismatch", "Upload-Offset is not the upload's offset");
        return e;
    }
    if (offset + content_length > row->length)
        return api(413, "too_large", "the chunk goes past Upload-Length");

    const fs::path part = upload_path(id);
    const int fd = ::open(part.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        delete_upload(id);
        return not_found;
    }
    struct FdGuard {
        int fd;
        ~FdGuard() { ::close(fd); }
    } fd_guard{fd};
    // Bytes past the recorded offset were never acknowledged (a crash or a
    // cut after writing, before recording): they go.
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0)
        return internal_error(make_error(Errc::io, "truncate failed: " + errno_text(errno)));

    crypto::Sha256 chunk_hash;
    std::vector<std::uint8_t> buffer;
    buffer.reserve(kWriteBuffer);
    std::uint64_t received = 0;
    std::uint64_t written = 0;
    Status write_status;
    bool too_slow = false;
    const auto started = std::chrono::steady_clock::now();
    // Write-back starts while the chunk is still arriving, so that the fsync
    // before the answer (the device waits for it) finds little left to do;
    // waiting for ranges two windows back keeps dirty pages bounded.
    std::uint64_t write_back_started = 0;
    auto flush = [&]() -> bool {
        if (buffer.empty()) return true;
        write_status = write_all(fd, buffer.data(), buffer.size(), offset + written);
        if (!write_status) return false;
        written += buffer.size();
        buffer.clear();
        if (written - write_back_started >= kWriteBehindWindow) {
            const auto from = static_cast<off64_t>(offset + write_back_started);
            (void)::sync_file_range(fd, from, static_cast<off64_t>(written - write_back_started),
                                    SYNC_FILE_RANGE_WRITE);
            if (write_back_started >= kWriteBehindWindow)
                (void)::sync_file_range(fd, static_cast<off64_t>(offset),
                                        static_cast<off64_t>(write_back_started),
                                        SYNC_FILE_RANGE_WAIT_BEFORE);
            write_back_started = written;
        }
        return true;
    };
    const bool complete = body([&](const char* data, std::size_t size) {
        if (received + size > content_length) return false;
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
        chunk_hash.update(std::span(bytes, size));
        buffer.insert(buffer.end(), bytes, bytes + size);
        received += size;
        if (buffer.size() >= kWriteBuffer && !flush()) return false;
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (elapsed > static_cast<double>(limits_.body_grace_seconds) &&
            static_cast<double>(received) <
                static_cast<double>(limits_.min_body_bytes_per_second) * elapsed) {
            too_slow = true;
            return false;
        }
        return true;
    });
    if (write_status) (void)flush();
    if (!write_status) {
        (void)::ftruncate(fd, static_cast<off_t>(offset));
        log().write("write_failed", {{"upload", id}, {"message", write_status.error().message}});
        return api(507, "storage", "the server could not store the data");
    }

    PatchAnswer answer;
    answer.received = received;
    const bool whole = complete && received == content_length;
    std::uint64_t new_offset = offset + received;
    if (whole) {
        const auto digest = chunk_hash.finish();
        if (!crypto::equal_constant_time(digest, checksum)) {
            (void)::ftruncate(fd, static_cast<off_t>(offset));
            return api(protocol::kStatusChecksumMismatch, "checksum_mismatch",
                       "the chunk does not match Upload-Checksum; it was discarded");
        }
    }
    if (received > 0) {
        // Durable first, recorded second: the recorded offset never runs
        // ahead of the bytes on disk.
        if (::fsync(fd) != 0)
            return internal_error(make_error(Errc::io, "fsync failed: " + errno_text(errno)));
        std::lock_guard lock(db_mutex_);
        auto update = db_->prepare(
            "UPDATE uploads SET offset_bytes = ?, updated = ? WHERE id = ? AND offset_bytes = ?");
        if (!update) return internal_error(update.error());
        auto st = update->bind(1, static_cast<std::int64_t>(new_offset))
                      .bind(2, now_())
                      .bind(3, id)
                      .bind(4, static_cast<std::int64_t>(offset))
                      .run();
        if (!st) return internal_error(st.error());
        if (db_->changes() == 0) return not_found;  // revoked or expired meanwhile
    }
    if (!whole) {
        log().write("chunk_interrupted",
                    {{"upload", id}, {"kept", received}, {"too_slow", too_slow}});
        return api(400, too_slow ? "too_slow" : "interrupted",
                   "the chunk ended early; its bytes so far were kept");
    }
    row->offset = new_offset;
    answer.upload = {new_offset, row->length, now_() + limits_.upload_ttl_seconds};
    if (new_offset < row->length) return answer;
    auto done = finalize(*row);
    if (!done.ok()) return done.error();
    done->received = received;
    return done;
}

Outcome<PatchAnswer> IntakeStore::finalize(const UploadRow& upload) {
    std::optional<crypto::Ed25519PublicKey> key;
    {
        std::lock_guard lock(db_mutex_);
        auto stored = device_key(upload.device);
        if (!stored) return internal_error(stored.error());
        key = *stored;
    }
    if (!key) return api(404, "not_found", "no such upload");
    auto envelope = sync::Envelope::parse(upload.envelope);
    if (!envelope) return internal_error(envelope.error());

    const fs::path part = upload_path(upload.id);
    const fs::path object = object_path(upload.sha256);
    const bool have_part = fs::exists(part);
    const fs::path data = have_part ? part : object;
    if (!have_part && !fs::exists(object)) {
        delete_upload(upload.id);
        return api(410, "gone", "the upload's data is missing; send the bundle again");
    }
    // The whole file against the signed envelope: size, SHA-256, signature.
    auto verified = sync::verify_envelope_file(*envelope, *key, data);
    if (!verified) {
        log().write("envelope_mismatch", {{"upload", upload.id}, {"device", upload.device}});
        delete_upload(upload.id);
        return api(422, "envelope_mismatch",
                   "the bundle does not match its envelope; nothing was stored");
    }
    if (have_part) {
        const fs::path shard = object.parent_path();
        if (::mkdir(shard.c_str(), 0700) == 0) {
            auto st = fsync_dir(shard.parent_path());
            if (!st) return internal_error(st.error());
        } else if (errno != EEXIST) {
            return internal_error(make_error(Errc::io, "cannot create " + shard.string()));
        }
        if (fs::exists(object)) {
            ::unlink(part.c_str());  // the same bytes are already stored
        } else if (::rename(part.c_str(), object.c_str()) != 0) {
            return internal_error(
                make_error(Errc::io, "cannot store the bundle: " + errno_text(errno)));
        }
        for (const fs::path& d : {shard, part.parent_path()}) {
            auto st = fsync_dir(d);
            if (!st) return internal_error(st.error());
        }
    }

    const std::int64_t now = now_();
    sync::Receipt receipt{upload.bundle_id, upload.device, now, name_, envelope->statement().sha256,
                          upload.length};
    auto receipt_note = sync::sign_receipt(receipt, name_, key_);
    if (!receipt_note) return internal_error(receipt_note.error());
    {
        std::lock_guard lock(db_mutex_);
        Transaction tx(*db_);
        auto st = tx.begin();
        if (!st) return internal_error(st.error());
        auto obj =
            db_->prepare("INSERT OR IGNORE INTO objects(sha256, size, stored) VALUES(?, ?, ?)");
        if (!obj) return internal_error(obj.error());
        st = obj->bind(1, upload.sha256)
                 .bind(2, static_cast<std::int64_t>(upload.length))
                 .bind(3, now)
                 .run();
        if (!st) return internal_error(st.error());
        auto rec = db_->prepare(
            "INSERT OR IGNORE INTO receipts(sha256, device, bundle_id, size, received, envelope, "
            "receipt) VALUES(?, ?, ?, ?, ?, ?, ?)");
        if (!rec) return internal_error(rec.error());
        st = rec->bind(1, upload.sha256)
                 .bind(2, upload.device)
                 .bind(3, upload.bundle_id)
                 .bind(4, static_cast<std::int64_t>(upload.length))
                 .bind(5, now)
                 .bind(6, upload.envelope)
                 .bind(7, *receipt_note)
                 .run();
        if (!st) return internal_error(st.error());
        if (db_->changes() > 0) {
            auto usage =
                db_->prepare("UPDATE devices SET stored_bytes = stored_bytes + ? WHERE id = ?");
            if (!usage) return internal_error(usage.error());
            st = usage->bind(1, static_cast<std::int64_t>(upload.length))
                     .bind(2, upload.device)
                     .run();
            if (!st) return internal_error(st.error());
        }
        auto del = db_->prepare("DELETE FROM uploads WHERE id = ?");
        if (!del) return internal_error(del.error());
        st = del->bind(1, upload.id).run();
        if (!st) return internal_error(st.error());
        st = tx.commit();
        if (!st) return internal_error(st.error());
    }
    log().write("bundle_received",
                {{"device", upload.device}, {"sha256", upload.sha256}, {"size", upload.length}});
    auto body =
        receipt_answer(DeviceRecord{upload.device, *key}, upload.sha256, upload.checkpoint, false);
    if (!body.ok()) return body.error();
    PatchAnswer answer;
    answer.status = 200;
    answer.upload = {upload.length, upload.length, 0};
    answer.body = std::move(body.value());
    return answer;
}

void IntakeStore::collect_expired() {
    const std::int64_t now = now_();
    std::vector<std::string> expired;
    {
        std::lock_guard lock(db_mutex_);
        auto stmt =
            db_->prepare("SELECT id FROM uploads WHERE updated < ? AND offset_bytes < length");
        if (!stmt) return;
        stmt->bind(1, now - limits_.upload_ttl_seconds);
        while (true) {
            auto row = stmt->step();
            if (!row || !*row) break;
            expired.push_back(stmt->column_text(0));
        }
        auto nonces = db_->prepare("DELETE FROM nonces WHERE time < ?");
        if (nonces) (void)nonces->bind(1, now - protocol::kNonceMemorySeconds).run();
    }
    for (const auto& id : expired) {
        if (!mark_busy(id)) continue;
        delete_upload(id);
        clear_busy(id);
        log().write("upload_expired", {{"upload", id}});
    }
}

void IntakeStore::recover() {
    std::vector<UploadRow> rows;
    {
        std::lock_guard lock(db_mutex_);
        auto stmt = db_->prepare("SELECT id FROM uploads");
        if (!stmt) return;
        std::vector<std::string> ids;
        while (true) {
            auto row = stmt->step();
            if (!row || !*row) break;
            ids.push_back(stmt->column_text(0));
        }
        for (const auto& id : ids) {
            auto loaded = load_upload(id);
            if (loaded && *loaded) rows.push_back(std::move(**loaded));
        }
    }
    std::set<std::string> known;
    for (auto& row : rows) {
        known.insert(row.id);
        struct stat info {};
        const bool have_part = ::stat(upload_path(row.id).c_str(), &info) == 0;
        if (have_part && static_cast<std::uint64_t>(info.st_size) < row.offset) {
            // The disk lost bytes we had recorded: fall back to what is there,
            // and the device sends the rest again.
            std::lock_guard lock(db_mutex_);
            auto stmt = db_->prepare("UPDATE uploads SET offset_bytes = ? WHERE id = ?");
            if (stmt)
                (void)stmt->bind(1, static_cast<std::int64_t>(info.st_size)).bind(2, row.id).run();
            log().write("upload_offset_lowered", {{"upload", row.id}});
            continue;
        }
        if (row.offset == row.length && mark_busy(row.id)) {
            auto done = finalize(row);
            clear_busy(row.id);
            log().write("upload_recovered", {{"upload", row.id}, {"ok", done.ok()}});
        }
    }
    // Files that no upload row names were created just before a crash.
    const fs::path uploads = dir_ / kUploadsDir;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(uploads, ec)) {
        const std::string name = entry.path().filename().string();
        if (!known.count(name)) ::unlink(entry.path().c_str());
    }
}

}  // namespace custodia::intake
