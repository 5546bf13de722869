#include "custodia/core/vault_header.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "custodia/crypto/aead.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/kdf.h"

namespace custodia::core {

using crypto::SecretBytes;

namespace {

// "CUSTVLT" and a newline, so that a text-mode transfer that rewrites line
// endings is caught by the magic rather than by a puzzling checksum error.
constexpr std::array<std::uint8_t, 8> kMagic = {'C', 'U', 'S', 'T', 'V', 'L', 'T', '\n'};

// Every domain string of this file, written once (docs/FORMAT.md).
constexpr std::string_view kSlotAadDomain = "custodia/v1/slot";
constexpr std::string_view kPassphraseWrapInfo = "custodia/v1/slot/passphrase";
constexpr std::string_view kRecoveryWrapInfo = "custodia/v1/slot/recovery";
constexpr std::string_view kRecoveryCheckDomain = "custodia/v1/recovery-key-check";
constexpr std::string_view kUnlockFailuresTag = "custodia-unlock-failures/v1";

constexpr std::uint8_t kPayloadMasterKey = 0x01;
constexpr std::uint8_t kPayloadDuress = 0x02;

// Bounds a header can ask for. They keep a hostile header from making us
// allocate terabytes or spin for hours; calibration stays far below them.
constexpr std::uint32_t kMaxOpslimit = 1024;
constexpr std::uint32_t kMinMemlimitKib = 8;                 // libsodium's minimum
constexpr std::uint32_t kMaxMemlimitKib = 4u * 1024 * 1024;  // 4 GiB

constexpr std::chrono::milliseconds kTargetDerivation{1000};
constexpr std::size_t kChecksummedSize = VaultHeader::kSize - VaultHeader::kChecksumSize;

constexpr const char* kHeaderTmpName = "vault.header.tmp";

// ---- Big-endian fields ----------------------------------------------------

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint16_t get_u16(std::span<const std::uint8_t> in) {
    return static_cast<std::uint16_t>((in[0] << 8) | in[1]);
}

std::uint32_t get_u32(std::span<const std::uint8_t> in) {
    return (std::uint32_t{in[0]} << 24) | (std::uint32_t{in[1]} << 16) |
           (std::uint32_t{in[2]} << 8) | std::uint32_t{in[3]};
}

void put_prefix(std::vector<std::uint8_t>& out, const VaultHeader::VaultId& id) {
    out.insert(out.end(), kMagic.begin(), kMagic.end());
    put_u16(out, VaultHeader::kFormatVersion);
    out.push_back(static_cast<std::uint8_t>(kVaultSlotCount));
    out.insert(out.end(), id.begin(), id.end());
}

// The slot's fields that the AEAD binds: kind, Argon2id cost and salt.
void put_slot_parameters(std::vector<std::uint8_t>& out, const KeySlot& slot) {
    out.push_back(static_cast<std::uint8_t>(slot.kind));
    put_u32(out, slot.opslimit);
    put_u32(out, slot.memlimit_kib);
    out.insert(out.end(), slot.salt.begin(), slot.salt.end());
}

void put_slot(std::vector<std::uint8_t>& out, const KeySlot& slot) {
    put_slot_parameters(out, slot);
    out.insert(out.end(), slot.nonce.begin(), slot.nonce.end());
    out.insert(out.end(), slot.sealed.begin(), slot.sealed.end());
}

// Associated data of slot `index`: a sealed slot only opens in the header,
// at the position and with the parameters it was sealed for. Moving it to
// another vault or slot, or lowering its Argon2id cost, breaks the tag.
std::vector<std::uint8_t> slot_aad(const VaultHeader::VaultId& id, std::size_t index,
                                   const KeySlot& slot) {
    std::vector<std::uint8_t> aad(kSlotAadDomain.begin(), kSlotAadDomain.end());
    put_prefix(aad, id);
    aad.push_back(static_cast<std::uint8_t>(index));
    put_slot_parameters(aad, slot);
    return aad;
}

Result<KeySlot> parse_slot(std::span<const std::uint8_t> in, std::size_t index) {
    KeySlot slot;
    const std::string where = "vault header slot " + std::to_string(index);
    const std::uint8_t kind = in[0];
    slot.opslimit = get_u32(in.subspan(1, 4));
    slot.memlimit_kib = get_u32(in.subspan(5, 4));
    std::copy_n(in.begin() + 9, slot.salt.size(), slot.salt.begin());
    std::copy_n(in.begin() + 25, slot.nonce.size(), slot.nonce.begin());
    std::copy_n(in.begin() + 49, slot.sealed.size(), slot.sealed.begin());
    switch (kind) {
        case static_cast<std::uint8_t>(KeySlotKind::empty):
            // One encoding for "nothing here", so that the round trip is exact.
            if (std::any_of(in.begin() + 1, in.end(), [](std::uint8_t b) { return b != 0; }))
                return make_error(Errc::malformed, where + " is empty but not all zero");
            slot.kind = KeySlotKind::empty;
            return slot;
        case static_cast<std::uint8_t>(KeySlotKind::passphrase):
            if (slot.opslimit < 1 || slot.opslimit > kMaxOpslimit)
                return make_error(Errc::malformed,
                                  where + " has an Argon2id pass count out of range");
            if (slot.memlimit_kib < kMinMemlimitKib || slot.memlimit_kib > kMaxMemlimitKib)
                return make_error(Errc::malformed,
                                  where + " has an Argon2id memory size out of range");
            slot.kind = KeySlotKind::passphrase;
            return slot;
        case static_cast<std::uint8_t>(KeySlotKind::recovery):
            if (slot.opslimit != 0 || slot.memlimit_kib != 0)
                return make_error(Errc::malformed,
                                  where + " is a recovery slot with Argon2id fields");
            slot.kind = KeySlotKind::recovery;
            return slot;
        default:
            return make_error(Errc::malformed, where + " has an unknown kind");
    }
}

// ---- Slot keys and sealing --------------------------------------------------

std::span<const std::uint8_t, 32> key32(const SecretBytes& key) {
    return std::span<const std::uint8_t, 32>(key.data(), 32);
}

Result<SecretBytes> passphrase_wrap_key(std::span<const std::uint8_t> passphrase,
                                        const KeySlot& slot) {
    crypto::Argon2idParams params;
    params.opslimit = slot.opslimit;
    params.memlimit = std::uint64_t{slot.memlimit_kib} * 1024;
    params.salt = slot.salt;
    auto stretched = crypto::argon2id(passphrase, params, 32);
    if (!stretched) return std::move(stretched).error();
    // Argon2id takes no context string; HKDF adds ours, so this key can never
    // equal a key derived from the same passphrase for another purpose.
    return crypto::hkdf_sha256(stretched->span(), {}, kPassphraseWrapInfo, 32);
}

Result<SecretBytes> recovery_wrap_key(const RecoveryKey& key, const KeySlot& slot) {
    return crypto::hkdf_sha256(key.bytes().span(), slot.salt, kRecoveryWrapInfo, 32);
}

void seal_slot(const VaultHeader::VaultId& id, std::size_t index, KeySlot& slot,
               const SecretBytes& wrap_key, std::uint8_t payload_type,
               std::span<const std::uint8_t> master_key, crypto::RandomSource& rng) {
    rng.fill(slot.nonce);
    SecretBytes payload(1 + kMasterKeySize);
    payload.data()[0] = payload_type;
    // A duress payload carries 32 zero bytes so it has the master key's length.
    if (!master_key.empty()) std::copy(master_key.begin(), master_key.end(), payload.data() + 1);
    const auto aad = slot_aad(id, index, slot);
    crypto::seal_xchacha20poly1305(key32(wrap_key), slot.nonce, aad, payload.span(), slot.sealed);
}

struct OpenedSlot {
    std::uint8_t payload_type = 0;
    SecretBytes master_key;  // empty for a duress payload
};

// nullopt when the tag does not verify (wrong secret, or a decoy slot).
Result<std::optional<OpenedSlot>> open_slot(const VaultHeader::VaultId& id, std::size_t index,
                                            const KeySlot& slot, const SecretBytes& wrap_key) {
    SecretBytes payload(1 + kMasterKeySize);
    const auto aad = slot_aad(id, index, slot);
    if (!crypto::open_xchacha20poly1305(key32(wrap_key), slot.nonce, aad, slot.sealed,
                                        payload.span()))
        return std::optional<OpenedSlot>{};
    OpenedSlot opened;
    opened.payload_type = payload.data()[0];
    if (opened.payload_type == kPayloadMasterKey) {
        opened.master_key = SecretBytes::copy_of(payload.span().subspan(1));
    } else if (opened.payload_type != kPayloadDuress) {
        return make_error(Errc::malformed, "vault header slot " + std::to_string(index) +
                                               " opened but holds an unknown payload type");
    }
    return std::optional<OpenedSlot>{std::move(opened)};
}

// Fills a passphrase slot so that it cannot be told from a real one: the
// same kind and cost, random salt and nonce, and random bytes where a real
// slot has ciphertext (XChaCha20-Poly1305 output is indistinguishable from
// random without the key).
void fill_decoy(KeySlot& slot, const KeySlot& like, crypto::RandomSource& rng) {
    slot.kind = KeySlotKind::passphrase;
    slot.opslimit = like.opslimit;
    slot.memlimit_kib = like.memlimit_kib;
    rng.fill(slot.salt);
    rng.fill(slot.nonce);
    rng.fill(slot.sealed);
}

// ---- Passphrase cost ----------------------------------------------------

struct PassphraseCost {
    bool calibrate = true;
    std::uint32_t opslimit = 0;  // used when !calibrate
    std::uint32_t memlimit_kib = 0;
};

Result<PassphraseCost> testing_cost(const InsecureTestingKdf& testing) {
    if (testing.memlimit % 1024 != 0 || testing.opslimit < 1 || testing.opslimit > kMaxOpslimit ||
        testing.memlimit / 1024 < kMinMemlimitKib || testing.memlimit / 1024 > kMaxMemlimitKib)
        return make_error(Errc::limit, "testing Argon2id parameters out of range");
    return PassphraseCost{false, testing.opslimit,
                          static_cast<std::uint32_t>(testing.memlimit / 1024)};
}

struct DerivedSlotKey {
    SecretBytes wrap_key;
    std::chrono::milliseconds elapsed{0};
};

Result<DerivedSlotKey> derive_timed(std::span<const std::uint8_t> passphrase, const KeySlot& slot) {
    const auto start = std::chrono::steady_clock::now();
    auto key = passphrase_wrap_key(passphrase, slot);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (!key) return std::move(key).error();
    return DerivedSlotKey{std::move(key).value(), elapsed};
}

// Sets the slot's Argon2id cost and derives its wrap key. Calibration starts
// at libsodium's MODERATE and only ever raises the pass count, keeping the
// memory at 256 MiB: the time per pass is close to linear, so one measured
// derivation predicts the pass count for the target. When MODERATE already
// takes most of the target, its result is the slot key and nothing runs twice.
Result<DerivedSlotKey> derive_for_new_slot(std::span<const std::uint8_t> passphrase, KeySlot& slot,
                                           const PassphraseCost& cost) {
    if (!cost.calibrate) {
        slot.opslimit = cost.opslimit;
        slot.memlimit_kib = cost.memlimit_kib;
        return derive_timed(passphrase, slot);
    }
    const auto floor = crypto::Argon2idParams::moderate(slot.salt);
    slot.opslimit = static_cast<std::uint32_t>(floor.opslimit);
    slot.memlimit_kib = static_cast<std::uint32_t>(floor.memlimit / 1024);
    auto first = derive_timed(passphrase, slot);
    if (!first) return first;
    const auto took = std::max<std::int64_t>(first->elapsed.count(), 1);
    if (took * 100 >= kTargetDerivation.count() * 85) return first;
    const std::int64_t wanted =
        (static_cast<std::int64_t>(floor.opslimit) * kTargetDerivation.count() + took - 1) / took;
    slot.opslimit = static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(wanted, static_cast<std::int64_t>(floor.opslimit), kMaxOpslimit));
    return derive_timed(passphrase, slot);
}

// ---- Files ------------------------------------------------------------------

Error io_error(const std::string& what, int err) {
    return make_error(Errc::io, what + ": " + std::generic_category().message(err));
}

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // close(2) can report a deferred write error; a durable write must see it.
    [[nodiscard]] bool close_checked() noexcept {
        const int fd = std::exchange(fd_, -1);
        return fd < 0 || ::close(fd) == 0;
    }

  private:
    int fd_ = -1;
};

Result<Fd> open_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("cannot open vault directory", errno);
    return Fd(fd);
}

Status write_all(int fd, std::span<const std::uint8_t> bytes, off_t offset) {
    while (!bytes.empty()) {
        const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error("write failed", errno);
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        offset += n;
    }
    return {};
}

Status fsync_fd(int fd, const char* what) {
    if (::fsync(fd) != 0) return io_error(std::string("fsync of ") + what + " failed", errno);
    return {};
}

// Reads a small file whole; files larger than `limit` are not read.
Result<std::optional<std::vector<std::uint8_t>>> read_small_file(int dir_fd, const char* name,
                                                                 std::size_t limit) {
    Fd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        if (errno == ENOENT) return std::optional<std::vector<std::uint8_t>>{};
        return io_error(std::string("cannot open ") + name, errno);
    }
    std::vector<std::uint8_t> out;
    std::array<std::uint8_t, 4096> buf{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(std::string("cannot read ") + name, errno);
        }
        if (n == 0) break;
        out.insert(out.end(), buf.begin(), buf.begin() + n);
        if (out.size() > limit) break;  // the caller rejects the size
    }
    return std::optional<std::vector<std::uint8_t>>{std::move(out)};
}

// Overwrites a file's bytes in place with random data and fsyncs it.
Status overwrite_with_random(int fd, crypto::RandomSource& rng) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error("fstat failed", errno);
    std::array<std::uint8_t, 4096> noise{};
    for (off_t offset = 0; offset < st.st_size;) {
        const auto n = static_cast<std::size_t>(
            std::min<off_t>(static_cast<off_t>(noise.size()), st.st_size - offset));
        rng.fill(std::span(noise).first(n));
        if (auto s = write_all(fd, std::span(noise).first(n), offset); !s) return s;
        offset += static_cast<off_t>(n);
    }
    return fsync_fd(fd, "overwritten file");
}

enum class Replace { forbid, allow_and_retire_old, allow };

// The durable write: `<name>.tmp` in the same directory, fsync, rename over
// `name`, fsync the directory. A crash leaves either the old or the new file,
// never a mix. With allow_and_retire_old, the replaced file's bytes are then
// overwritten in place: after a passphrase change, the old slot (still
// openable with the old passphrase) should not linger in free blocks.
Status write_file_durably(int dir_fd, const std::string& name, std::span<const std::uint8_t> bytes,
                          Replace replace, crypto::RandomSource* rng) {
    const std::string tmp = name + ".tmp";
    // Until the rename, a failure removes the temporary file: a leftover
    // vault.header.tmp holds key slots under the new passphrase that the
    // caller was told were never written.
    struct RemoveTemporary {
        int dir_fd;
        const std::string& tmp;
        bool armed = true;
        ~RemoveTemporary() {
            if (armed) (void)::unlinkat(dir_fd, tmp.c_str(), 0);
        }
    } remove_temporary{dir_fd, tmp};
    {
        Fd fd(::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                       0600));
        if (!fd.valid()) return io_error("cannot create " + tmp, errno);
        if (auto s = write_all(fd.get(), bytes, 0); !s) return s;
        if (auto s = fsync_fd(fd.get(), tmp.c_str()); !s) return s;
        if (!fd.close_checked()) return io_error("cannot close " + tmp, errno);
    }
    Fd old;
    if (replace == Replace::forbid) {
        if (::renameat2(dir_fd, tmp.c_str(), dir_fd, name.c_str(), RENAME_NOREPLACE) != 0) {
            const int err = errno;
            if (err != EINVAL) {
                ::unlinkat(dir_fd, tmp.c_str(), 0);
                if (err == EEXIST)
                    return make_error(Errc::io, name + " already exists; refusing to replace it");
                return io_error("cannot rename " + tmp, err);
            }
            // Filesystems without RENAME_NOREPLACE: link(2) fails atomically on EEXIST too.
            if (::linkat(dir_fd, tmp.c_str(), dir_fd, name.c_str(), 0) != 0) {
                const int link_err = errno;
                ::unlinkat(dir_fd, tmp.c_str(), 0);
                if (link_err == EEXIST)
                    return make_error(Errc::io, name + " already exists; refusing to replace it");
                return io_error("cannot link " + name, link_err);
            }
            ::unlinkat(dir_fd, tmp.c_str(), 0);
        }
    } else {
        if (replace == Replace::allow_and_retire_old)
            old = Fd(::openat(dir_fd, name.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
        if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0)
            return io_error("cannot rename " + tmp, errno);
    }
    remove_temporary.armed = false;
    if (auto s = fsync_fd(dir_fd, "vault directory"); !s) return s;
    if (old.valid()) {
        // Only a file no other name refers to: a hard-linked backup stays intact.
        struct stat st {};
        if (rng != nullptr && ::fstat(old.get(), &st) == 0 && st.st_nlink == 0) {
            // Best effort: the new file is already durable, and failing here
            // only leaves what a filesystem without in-place writes leaves.
            (void)overwrite_with_random(old.get(), *rng);
        }
    }
    return {};
}

// ---- Failed-unlock counter -------------------------------------------------

struct UnlockFailures {
    std::uint64_t count = 0;
    std::int64_t last_unix = 0;
};

constexpr std::uint64_t kFreeAttempts = 5;
constexpr std::int64_t kFirstDelaySeconds = 30;
constexpr std::int64_t kMaxDelaySeconds = 3600;

std::int64_t failure_delay_seconds(std::uint64_t failures) {
    if (failures < kFreeAttempts) return 0;
    const std::uint64_t doublings = failures - kFreeAttempts;
    if (doublings >= 7) return kMaxDelaySeconds;
    return std::min(kFirstDelaySeconds << doublings, kMaxDelaySeconds);
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::chrono::seconds wait_remaining(const UnlockFailures& f,
                                    std::chrono::system_clock::time_point now) {
    const std::int64_t delay = failure_delay_seconds(f.count);
    // A clock set back must not shorten the wait: count from now at worst.
    const std::int64_t elapsed = std::max<std::int64_t>(unix_seconds(now) - f.last_unix, 0);
    return std::chrono::seconds(std::max<std::int64_t>(delay - elapsed, 0));
}

bool parse_decimal(std::string_view text, auto& out) {
    if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size();
}

// A file that is missing or does not parse counts as no failures. That is
// no gift to an attacker: whoever can edit the vault directory can copy
// vault.header and guess offline, where no counter of ours reaches.
Result<UnlockFailures> read_unlock_failures(int dir_fd) {
    const std::string name(kUnlockFailuresFileName);
    auto bytes = read_small_file(dir_fd, name.c_str(), 128);
    if (!bytes) return std::move(bytes).error();
    UnlockFailures f;
    if (!bytes->has_value()) return f;
    const std::string_view text(reinterpret_cast<const char*>((*bytes)->data()), (*bytes)->size());
    // "custodia-unlock-failures/v1 <count> <unix seconds>\n"
    if (text.size() < kUnlockFailuresTag.size() + 1 || !text.starts_with(kUnlockFailuresTag) ||
        text[kUnlockFailuresTag.size()] != ' ' || !text.ends_with('\n'))
        return f;
    const auto rest =
        text.substr(kUnlockFailuresTag.size() + 1, text.size() - kUnlockFailuresTag.size() - 2);
    const auto space = rest.find(' ');
    UnlockFailures parsed;
    if (space == std::string_view::npos || !parse_decimal(rest.substr(0, space), parsed.count) ||
        !parse_decimal(rest.substr(space + 1), parsed.last_unix))
        return f;
    return parsed;
}

Status write_unlock_failures(int dir_fd, const UnlockFailures& f) {
    const std::string text = std::string(kUnlockFailuresTag) + " " + std::to_string(f.count) + " " +
                             std::to_string(f.last_unix) + "\n";
    return write_file_durably(dir_fd, std::string(kUnlockFailuresFileName), crypto::as_bytes(text),
                              Replace::allow, nullptr);
}

}  // namespace

// ---- VaultHeader ------------------------------------------------------------

struct VaultHeaderAccess {
    static VaultHeader make(const VaultHeader::VaultId& id) {
        VaultHeader h;
        h.vault_id_ = id;
        return h;
    }
    static KeySlot& slot(VaultHeader& h, std::size_t index) { return h.slots_.at(index); }
};

Result<VaultHeader> VaultHeader::parse(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), bytes.begin()))
        return make_error(Errc::malformed, "not a Custodia vault header (wrong magic bytes)");
    if (bytes.size() < kMagic.size() + 2)
        return make_error(Errc::malformed, "vault header is truncated");
    const std::uint16_t version = get_u16(bytes.subspan(kMagic.size(), 2));
    if (version != kFormatVersion)
        return make_error(Errc::unsupported, "vault header format version " +
                                                 std::to_string(version) +
                                                 " is not supported by this build");
    if (bytes.size() != kSize)
        return make_error(Errc::malformed, "vault header has " + std::to_string(bytes.size()) +
                                               " bytes; format version 1 has exactly " +
                                               std::to_string(kSize));
    const auto digest = crypto::sha256(bytes.first(kChecksummedSize));
    if (!crypto::equal_constant_time(digest, bytes.subspan(kChecksummedSize)))
        return make_error(Errc::malformed, "vault header checksum mismatch: the file is damaged");
    if (bytes[10] != kVaultSlotCount)
        return make_error(Errc::malformed, "vault header slot count is not 8");
    VaultHeader header;
    std::copy_n(bytes.begin() + 11, header.vault_id_.size(), header.vault_id_.begin());
    for (std::size_t i = 0; i < kVaultSlotCount; ++i) {
        auto slot = parse_slot(bytes.subspan(kPrefixSize + i * kSlotSize, kSlotSize), i);
        if (!slot) return std::move(slot).error();
        header.slots_[i] = *slot;
    }
    return header;
}

std::vector<std::uint8_t> VaultHeader::serialize() const {
    std::vector<std::uint8_t> out;
    out.reserve(kSize);
    put_prefix(out, vault_id_);
    for (const auto& slot : slots_) {
        if (slot.kind == KeySlotKind::empty) {
            out.push_back(0);
            out.insert(out.end(), kSlotSize - 1, 0);
        } else {
            put_slot(out, slot);
        }
    }
    const auto digest = crypto::sha256(out);
    out.insert(out.end(), digest.begin(), digest.end());
    return out;
}

// ---- RecoveryKey ------------------------------------------------------------

namespace {

// Crockford's base32: no I, L, O or U, so nothing is read as a 1, a 0 or a word.
constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kRecoveryCheckSize = 3;
constexpr std::size_t kRecoveryPayloadSize = RecoveryKey::kSize + kRecoveryCheckSize;  // 35
constexpr std::size_t kRecoverySymbols = kRecoveryPayloadSize * 8 / 5;                 // 56
constexpr std::size_t kRecoveryGroup = 4;

std::array<std::uint8_t, kRecoveryCheckSize> recovery_check(std::span<const std::uint8_t> key) {
    crypto::Sha256 h;
    h.update(kRecoveryCheckDomain);
    h.update(key);
    const auto digest = h.finish();
    return {digest[0], digest[1], digest[2]};
}

int crockford_value(char c) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') return 0;
    if (c == 'I' || c == 'L') return 1;
    const auto pos = kCrockford.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

}  // namespace

RecoveryKey RecoveryKey::generate(crypto::RandomSource& rng) {
    SecretBytes key(kSize);
    rng.fill(key.span());
    return RecoveryKey(std::move(key));
}

RecoveryKey RecoveryKey::from_bytes(std::span<const std::uint8_t, kSize> bytes) {
    return RecoveryKey(SecretBytes::copy_of(bytes));
}

Result<RecoveryKey> RecoveryKey::parse(std::string_view text) {
    SecretBytes symbols(kRecoverySymbols);
    std::size_t count = 0;
    for (const char c : text) {
        if (c == '-' || c == ' ') continue;
        const int v = crockford_value(c);
        if (v < 0)
            return make_error(Errc::malformed,
                              "recovery key contains a character that is not in its alphabet");
        if (count == kRecoverySymbols)
            return make_error(Errc::malformed, "recovery key is too long");
        symbols.data()[count++] = static_cast<std::uint8_t>(v);
    }
    if (count != kRecoverySymbols) return make_error(Errc::malformed, "recovery key is too short");
    SecretBytes payload(kRecoveryPayloadSize);
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t out = 0;
    for (std::size_t i = 0; i < kRecoverySymbols; ++i) {
        acc = ((acc << 5) | symbols.data()[i]) & 0xFFFu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            payload.data()[out++] = static_cast<std::uint8_t>(acc >> bits);
        }
    }
    const auto key = payload.span().first(kSize);
    const auto check = recovery_check(key);
    if (!crypto::equal_constant_time(check, payload.span().subspan(kSize)))
        return make_error(Errc::malformed,
                          "recovery key checksum does not match: check for a typo");
    return RecoveryKey(SecretBytes::copy_of(key));
}

SecretBytes RecoveryKey::to_text() const {
    SecretBytes payload(kRecoveryPayloadSize);
    std::copy(key_.data(), key_.data() + kSize, payload.data());
    const auto check = recovery_check(key_.span());
    std::copy(check.begin(), check.end(), payload.data() + kSize);
    constexpr std::size_t kGroups = kRecoverySymbols / kRecoveryGroup;
    SecretBytes text(kRecoverySymbols + kGroups - 1);
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t symbol = 0;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < kRecoveryPayloadSize; ++i) {
        acc = ((acc << 8) | payload.data()[i]) & 0xFFFFu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            if (symbol > 0 && symbol % kRecoveryGroup == 0) text.data()[pos++] = '-';
            text.data()[pos++] = static_cast<std::uint8_t>(kCrockford[(acc >> bits) & 0x1F]);
            ++symbol;
        }
    }
    return text;
}

// ---- Unlocking ------------------------------------------------------------------

Result<VaultUnlock> unlock_with_passphrase(const VaultHeader& header,
                                           std::span<const std::uint8_t> passphrase) {
    std::optional<VaultUnlock> master;
    std::optional<VaultUnlock> duress;
    std::optional<Error> failure;
    // No early return once a slot opens: every passphrase slot costs one
    // derivation on every attempt, so timing does not tell the duress slot
    // from the real one, nor a vault with a duress slot from one without.
    for (std::size_t i = 0; i < kVaultSlotCount; ++i) {
        const KeySlot& slot = header.slots()[i];
        if (slot.kind != KeySlotKind::passphrase) continue;
        auto wrap = passphrase_wrap_key(passphrase, slot);
        if (!wrap) {
            if (!failure) failure = std::move(wrap).error();
            continue;
        }
        auto opened = open_slot(header.vault_id(), i, slot, *wrap);
        if (!opened) {
            if (!failure) failure = std::move(opened).error();
            continue;
        }
        if (!opened->has_value()) continue;
        OpenedSlot& o = **opened;
        if (o.payload_type == kPayloadDuress && !duress) {
            duress = VaultUnlock{UnlockedBy::duress, i, header.vault_id(), SecretBytes{}};
        } else if (o.payload_type == kPayloadMasterKey && !master) {
            master =
                VaultUnlock{UnlockedBy::passphrase, i, header.vault_id(), std::move(o.master_key)};
        }
    }
    // If one passphrase opened both, the person typing it may be under
    // duress; the duress answer is the one that cannot hurt them.
    if (duress) return std::move(*duress);
    if (master) return std::move(*master);
    if (failure) return std::move(*failure);
    return make_error(Errc::wrong_passphrase, "the passphrase does not unlock this vault");
}

Result<VaultUnlock> unlock_with_recovery_key(const VaultHeader& header, const RecoveryKey& key) {
    for (std::size_t i = 0; i < kVaultSlotCount; ++i) {
        const KeySlot& slot = header.slots()[i];
        if (slot.kind != KeySlotKind::recovery) continue;
        auto wrap = recovery_wrap_key(key, slot);
        if (!wrap) return std::move(wrap).error();
        auto opened = open_slot(header.vault_id(), i, slot, *wrap);
        if (!opened) return std::move(opened).error();
        if (!opened->has_value()) continue;
        if ((*opened)->payload_type != kPayloadMasterKey)
            return make_error(Errc::malformed, "vault header recovery slot holds no master key");
        return VaultUnlock{UnlockedBy::recovery_key, i, header.vault_id(),
                           std::move((*opened)->master_key)};
    }
    return make_error(Errc::wrong_passphrase, "the recovery key does not unlock this vault");
}

// ---- Directory operations ----------------------------------------------------

namespace {

Result<VaultHeader> load_header_at(int dir_fd) {
    auto bytes =
        read_small_file(dir_fd, std::string(kVaultHeaderFileName).c_str(), VaultHeader::kSize);
    if (!bytes) return std::move(bytes).error();
    if (!bytes->has_value()) return make_error(Errc::io, "vault.header does not exist");
    return VaultHeader::parse(**bytes);
}

std::vector<std::size_t> passphrase_slots(const VaultHeader& header) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < kVaultSlotCount; ++i)
        if (header.slots()[i].kind == KeySlotKind::passphrase) out.push_back(i);
    return out;
}

// Before anything replaces vault.header, the bytes about to be written are
// parsed back and the slot just sealed is opened with its key. A bug here
// must fail this check, not lock a person out of their evidence.
Status check_before_write(const std::vector<std::uint8_t>& bytes, std::size_t slot_index,
                          const SecretBytes& wrap_key, std::uint8_t payload_type,
                          const SecretBytes& master_key) {
    auto reparsed = VaultHeader::parse(bytes);
    if (!reparsed)
        return make_error(Errc::internal,
                          "new vault header does not parse: " + reparsed.error().message);
    if (reparsed->serialize() != bytes)
        return make_error(Errc::internal, "new vault header does not round-trip");
    auto opened =
        open_slot(reparsed->vault_id(), slot_index, reparsed->slots()[slot_index], wrap_key);
    if (!opened || !opened->has_value() || (*opened)->payload_type != payload_type)
        return make_error(Errc::internal, "new vault header slot does not open");
    if (payload_type == kPayloadMasterKey && !(*opened)->master_key.equals(master_key.span()))
        return make_error(Errc::internal, "new vault header slot holds a different key");
    return {};
}

Status check_unlock_for(const VaultHeader& header, const VaultUnlock& current) {
    if (!crypto::equal_constant_time(header.vault_id(), current.vault_id))
        return make_error(Errc::no_matching_key, "this unlock belongs to another vault");
    if (current.by == UnlockedBy::duress)
        return make_error(Errc::wrong_passphrase, "a duress unlock cannot change key slots");
    if (current.master_key.size() != kMasterKeySize)
        return make_error(Errc::internal, "the unlock holds no master key");
    if (passphrase_slots(header).size() != 2)
        return make_error(Errc::unsupported,
                          "this build manages vaults with exactly two passphrase slots");
    return {};
}

Result<NewVault> create_with_cost(const std::filesystem::path& vault_dir,
                                  std::span<const std::uint8_t> passphrase,
                                  crypto::RandomSource& rng, const PassphraseCost& cost) {
    if (::mkdir(vault_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return io_error("cannot create vault directory", errno);
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    // Checked early so that no second of Argon2id is spent on a doomed create;
    // the rename below refuses atomically in any case.
    if (::faccessat(dir->get(), std::string(kVaultHeaderFileName).c_str(), F_OK,
                    AT_SYMLINK_NOFOLLOW) == 0)
        return make_error(Errc::io, "vault.header already exists; refusing to replace it");
    // A database without its header is a vault whose header was lost or
    // moved; a new header here would start a second vault on top of it.
    if (::faccessat(dir->get(), "vault.db", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return make_error(Errc::io,
                          "vault.db exists but vault.header does not; refusing to create a new "
                          "vault over it");

    VaultHeader::VaultId id{};
    rng.fill(id);
    VaultHeader header = VaultHeaderAccess::make(id);
    SecretBytes master(kMasterKeySize);
    rng.fill(master.span());

    KeySlot& real = VaultHeaderAccess::slot(header, 0);
    real.kind = KeySlotKind::passphrase;
    rng.fill(real.salt);
    auto derived = derive_for_new_slot(passphrase, real, cost);
    if (!derived) return std::move(derived).error();
    seal_slot(id, 0, real, derived->wrap_key, kPayloadMasterKey, master.span(), rng);

    fill_decoy(VaultHeaderAccess::slot(header, 1), real, rng);

    RecoveryKey recovery = RecoveryKey::generate(rng);
    KeySlot& rec = VaultHeaderAccess::slot(header, 2);
    rec.kind = KeySlotKind::recovery;
    rng.fill(rec.salt);
    auto rec_key = recovery_wrap_key(recovery, rec);
    if (!rec_key) return std::move(rec_key).error();
    seal_slot(id, 2, rec, *rec_key, kPayloadMasterKey, master.span(), rng);

    const auto bytes = header.serialize();
    if (auto s = check_before_write(bytes, 0, derived->wrap_key, kPayloadMasterKey, master); !s)
        return std::move(s).error();
    if (auto s = check_before_write(bytes, 2, *rec_key, kPayloadMasterKey, master); !s)
        return std::move(s).error();
    if (auto s = write_file_durably(dir->get(), std::string(kVaultHeaderFileName), bytes,
                                    Replace::forbid, &rng);
        !s)
        return std::move(s).error();
    return NewVault{std::move(master), std::move(recovery),
                    Argon2idCost{real.opslimit, std::uint64_t{real.memlimit_kib} * 1024},
                    derived->elapsed};
}

Status change_passphrase_with_cost(const std::filesystem::path& vault_dir,
                                   const VaultUnlock& current,
                                   std::span<const std::uint8_t> new_passphrase,
                                   crypto::RandomSource& rng, const PassphraseCost& cost) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto loaded = load_header_at(dir->get());
    if (!loaded) return std::move(loaded).error();
    VaultHeader header = std::move(loaded).value();
    if (auto s = check_unlock_for(header, current); !s) return s;
    const auto slots = passphrase_slots(header);

    std::size_t target = slots[0];
    std::size_t other = slots[1];
    if (current.by == UnlockedBy::passphrase) {
        if (current.slot != slots[0] && current.slot != slots[1])
            return make_error(Errc::no_matching_key, "the unlocked slot is not a passphrase slot");
        target = current.slot;
        other = target == slots[0] ? slots[1] : slots[0];
        // The other slot is a decoy or the duress slot. A new passphrase that
        // opens it would make every unlock a duress unlock.
        auto probe = passphrase_wrap_key(new_passphrase, header.slots()[other]);
        if (!probe) return std::move(probe).error();
        auto opened = open_slot(header.vault_id(), other, header.slots()[other], *probe);
        if (!opened) return std::move(opened).error();
        if (opened->has_value())
            return make_error(Errc::malformed,
                              "the new passphrase must differ from the duress passphrase");
    }

    KeySlot& slot = VaultHeaderAccess::slot(header, target);
    slot = KeySlot{};
    slot.kind = KeySlotKind::passphrase;
    rng.fill(slot.salt);
    auto derived = derive_for_new_slot(new_passphrase, slot, cost);
    if (!derived) return std::move(derived).error();
    seal_slot(header.vault_id(), target, slot, derived->wrap_key, kPayloadMasterKey,
              current.master_key.span(), rng);
    if (current.by == UnlockedBy::recovery_key)
        fill_decoy(VaultHeaderAccess::slot(header, other), slot, rng);

    const auto bytes = header.serialize();
    if (auto s = check_before_write(bytes, target, derived->wrap_key, kPayloadMasterKey,
                                    current.master_key);
        !s)
        return s;
    return write_file_durably(dir->get(), std::string(kVaultHeaderFileName), bytes,
                              Replace::allow_and_retire_old, &rng);
}

}  // namespace

Result<NewVault> create_vault_header(const std::filesystem::path& vault_dir,
                                     std::span<const std::uint8_t> passphrase,
                                     crypto::RandomSource& rng) {
    return create_with_cost(vault_dir, passphrase, rng, PassphraseCost{});
}

Result<NewVault> create_vault_header(const std::filesystem::path& vault_dir,
                                     std::span<const std::uint8_t> passphrase,
                                     crypto::RandomSource& rng, const InsecureTestingKdf& testing) {
    auto cost = testing_cost(testing);
    if (!cost) return std::move(cost).error();
    return create_with_cost(vault_dir, passphrase, rng, *cost);
}

Result<VaultHeader> load_vault_header(const std::filesystem::path& vault_dir) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    return load_header_at(dir->get());
}

Result<std::chrono::seconds> unlock_wait_remaining(const std::filesystem::path& vault_dir,
                                                   std::chrono::system_clock::time_point now) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto failures = read_unlock_failures(dir->get());
    if (!failures) return std::move(failures).error();
    return wait_remaining(*failures, now);
}

Result<VaultUnlock> unlock_vault(const std::filesystem::path& vault_dir,
                                 std::span<const std::uint8_t> passphrase,
                                 std::chrono::system_clock::time_point now) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto header = load_header_at(dir->get());
    if (!header) return std::move(header).error();  // nothing is written for a bad header
    auto failures = read_unlock_failures(dir->get());
    if (!failures) return std::move(failures).error();
    if (const auto wait = wait_remaining(*failures, now); wait.count() > 0)
        return make_error(Errc::limit, "too many failed unlock attempts; try again in " +
                                           std::to_string(wait.count()) + " s");
    // Counted before the derivation, so that killing the app mid-attempt does
    // not make the attempt free. Success clears it.
    UnlockFailures charged{failures->count + 1, unix_seconds(now)};
    if (auto s = write_unlock_failures(dir->get(), charged); !s) return std::move(s).error();
    auto unlocked = unlock_with_passphrase(*header, passphrase);
    if (unlocked) {
        // A leftover count after a success only delays a later typo; the
        // unlock itself has already happened, so this error is not reported.
        if (::unlinkat(dir->get(), std::string(kUnlockFailuresFileName).c_str(), 0) == 0)
            (void)::fsync(dir->get());
    }
    return unlocked;
}

Result<VaultUnlock> unlock_vault_with_recovery_key(const std::filesystem::path& vault_dir,
                                                   const RecoveryKey& key) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto header = load_header_at(dir->get());
    if (!header) return std::move(header).error();
    auto unlocked = unlock_with_recovery_key(*header, key);
    if (unlocked && ::unlinkat(dir->get(), std::string(kUnlockFailuresFileName).c_str(), 0) == 0)
        (void)::fsync(dir->get());
    return unlocked;
}

Status change_passphrase(const std::filesystem::path& vault_dir, const VaultUnlock& current,
                         std::span<const std::uint8_t> new_passphrase, crypto::RandomSource& rng) {
    return change_passphrase_with_cost(vault_dir, current, new_passphrase, rng, PassphraseCost{});
}

Status change_passphrase(const std::filesystem::path& vault_dir, const VaultUnlock& current,
                         std::span<const std::uint8_t> new_passphrase, crypto::RandomSource& rng,
                         const InsecureTestingKdf& testing) {
    auto cost = testing_cost(testing);
    if (!cost) return std::move(cost).error();
    return change_passphrase_with_cost(vault_dir, current, new_passphrase, rng, *cost);
}

namespace {

// Loads the header and finds the master-key slot and its twin for an unlock
// that must have come from the passphrase.
struct TwinSlots {
    VaultHeader header;
    std::size_t real = 0;
    std::size_t other = 0;
};

Result<TwinSlots> twin_slots(int dir_fd, const VaultUnlock& current) {
    auto loaded = load_header_at(dir_fd);
    if (!loaded) return std::move(loaded).error();
    if (auto s = check_unlock_for(*loaded, current); !s) return std::move(s).error();
    if (current.by != UnlockedBy::passphrase)
        return make_error(Errc::unsupported,
                          "unlock with the passphrase to manage the duress passphrase");
    const auto slots = passphrase_slots(*loaded);
    if (current.slot != slots[0] && current.slot != slots[1])
        return make_error(Errc::no_matching_key, "the unlocked slot is not a passphrase slot");
    const std::size_t other = current.slot == slots[0] ? slots[1] : slots[0];
    return TwinSlots{std::move(loaded).value(), current.slot, other};
}

}  // namespace

Status set_duress_passphrase(const std::filesystem::path& vault_dir, const VaultUnlock& current,
                             std::span<const std::uint8_t> duress_passphrase,
                             crypto::RandomSource& rng) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto twins = twin_slots(dir->get(), current);
    if (!twins) return std::move(twins).error();
    VaultHeader& header = twins->header;
    const KeySlot& real = header.slots()[twins->real];

    auto probe = passphrase_wrap_key(duress_passphrase, real);
    if (!probe) return std::move(probe).error();
    auto opened = open_slot(header.vault_id(), twins->real, real, *probe);
    if (!opened) return std::move(opened).error();
    if (opened->has_value())
        return make_error(Errc::malformed, "the duress passphrase must differ from the passphrase");

    // The twin copies the real slot's cost: a duress slot and a decoy are
    // then written the same way and stay indistinguishable.
    KeySlot& slot = VaultHeaderAccess::slot(header, twins->other);
    slot = KeySlot{};
    slot.kind = KeySlotKind::passphrase;
    slot.opslimit = real.opslimit;
    slot.memlimit_kib = real.memlimit_kib;
    rng.fill(slot.salt);
    auto wrap = passphrase_wrap_key(duress_passphrase, slot);
    if (!wrap) return std::move(wrap).error();
    seal_slot(header.vault_id(), twins->other, slot, *wrap, kPayloadDuress, {}, rng);

    const auto bytes = header.serialize();
    if (auto s = check_before_write(bytes, twins->other, *wrap, kPayloadDuress, SecretBytes{}); !s)
        return s;
    return write_file_durably(dir->get(), std::string(kVaultHeaderFileName), bytes,
                              Replace::allow_and_retire_old, &rng);
}

Status remove_duress_passphrase(const std::filesystem::path& vault_dir, const VaultUnlock& current,
                                crypto::RandomSource& rng) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    auto twins = twin_slots(dir->get(), current);
    if (!twins) return std::move(twins).error();
    VaultHeader& header = twins->header;
    const KeySlot real = header.slots()[twins->real];
    fill_decoy(VaultHeaderAccess::slot(header, twins->other), real, rng);
    const auto bytes = header.serialize();
    auto reparsed = VaultHeader::parse(bytes);
    if (!reparsed) return make_error(Errc::internal, "new vault header does not parse");
    return write_file_durably(dir->get(), std::string(kVaultHeaderFileName), bytes,
                              Replace::allow_and_retire_old, &rng);
}

Status crypto_erase_vault_header(const std::filesystem::path& vault_dir,
                                 crypto::RandomSource& rng) {
    auto dir = open_directory(vault_dir);
    if (!dir) return std::move(dir).error();
    const std::string header_name(kVaultHeaderFileName);
    // The temporary file of an interrupted write may hold a complete header.
    for (const std::string& name : {header_name, std::string(kHeaderTmpName)}) {
        Fd fd(::openat(dir->get(), name.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
        if (!fd.valid()) {
            if (errno == ENOENT) continue;
            return io_error("cannot open " + name + " to erase it", errno);
        }
        if (auto s = overwrite_with_random(fd.get(), rng); !s) return s;
        fd.reset();
        if (::unlinkat(dir->get(), name.c_str(), 0) != 0 && errno != ENOENT)
            return io_error("cannot remove " + name, errno);
    }
    if (::unlinkat(dir->get(), std::string(kUnlockFailuresFileName).c_str(), 0) != 0 &&
        errno != ENOENT)
        return io_error("cannot remove the unlock failure count", errno);
    return fsync_fd(dir->get(), "vault directory");
}

}  // namespace custodia::core
