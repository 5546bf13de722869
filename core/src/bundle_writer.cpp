#include "custodia/core/bundle_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "bundle_pipeline.h"
#include "custodia/core/bundle_format.h"
#include "custodia/core/new_file.h"
#include "custodia/core/zstd_stream.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/minisign.h"
#include "durable_file.h"

namespace custodia::core {

namespace {

namespace pipe = bundle_pipeline;
namespace fs = std::filesystem;
using crypto::ByteSink;
using crypto::ByteSource;

constexpr std::size_t kReadBytes = std::size_t{1} << 20;
// Sealed buffers (of pipe::kBufferBytes) that may wait for the hashes and
// the write before stage 1 stops to help: some slack for the two threads.
constexpr std::size_t kSealedDepth = 8;

// One entry of the tar, in stream order.
struct TarEntry {
    std::string path;
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
    std::span<const std::uint8_t> bytes;           // meta and custody files
    const BundleAttachment* attachment = nullptr;  // originals, streamed
};

struct Prepared {
    bundle::BundleManifest manifest;
    std::string signature;  // manifest.json.minisig
    std::string sums;       // SHA256SUMS
    std::vector<TarEntry> entries;
    std::uint64_t total_bytes = 0;
};

Result<Prepared> prepare(const BundleContents& contents, const std::string& bundle_id,
                         const std::string& created, const crypto::Ed25519SecretKey& device_key) {
    const auto device = crypto::minisign::PublicKey::derive_from(device_key.public_key());
    bundle::ManifestDraft draft{bundle_id,
                                created,
                                device,
                                contents.case_id,
                                contents.case_title,
                                contents.case_description,
                                {},
                                {},
                                {}};
    std::vector<bundle::FileRecord> records;
    std::vector<TarEntry> files;

    std::set<std::string_view> item_ids;
    for (const auto& item : contents.items) {
        if (!bundle::is_safe_segment(item.id) || item.id.size() > bundle::kMaxNameBytes)
            return make_error(Errc::malformed, "item id is not a safe name");
        if (!item_ids.insert(item.id).second)
            return make_error(Errc::malformed, "item id repeated: " + item.id);
        bundle::ManifestDraft::Item d{item.id, item.metadata_json, std::nullopt};
        if (item.attachment) {
            const BundleAttachment& a = *item.attachment;
            if (!a.open)
                return make_error(Errc::malformed, "attachment of " + item.id + " has no source");
            // One attachment per item today; the names stay unique per item
            // directory should items ever carry several.
            const std::vector<std::string> taken;
            const std::string name =
                bundle::unique_file_name(bundle::sanitize_file_name(a.name), taken);
            const std::string path = std::string(bundle::kFilesDir) + "/" + item.id + "/" + name;
            if (!bundle::is_safe_path(path))
                return make_error(Errc::malformed, "attachment path too long for item " + item.id);
            d.attachment = bundle::ManifestAttachment{path, a.name, a.mime, a.size, a.sha256};
            records.push_back(bundle::FileRecord{path, a.size, a.sha256});
            files.push_back(TarEntry{path, a.size, a.sha256, {}, &a});
        }
        draft.items.push_back(std::move(d));
    }
    for (const auto& c : contents.custody) {
        const std::string path = std::string(bundle::kCustodyDir) + "/" + c.path;
        if (!bundle::is_safe_path(c.path) || !bundle::is_safe_path(path))
            return make_error(Errc::malformed, "custody path is not safe: " + c.path);
        const auto digest = crypto::sha256(c.bytes);
        records.push_back(bundle::FileRecord{path, c.bytes.size(), digest});
        draft.custody.push_back(records.back());
        files.push_back(TarEntry{path, c.bytes.size(), digest, c.bytes, nullptr});
    }

    auto sums = bundle::format_sha256sums(records);
    if (!sums) return std::move(sums).error();
    draft.sha256sums = crypto::sha256(*sums);
    auto manifest = bundle::BundleManifest::create(draft);
    if (!manifest) return std::move(manifest).error();

    const crypto::minisign::Signer signer(device_key, device.key_id());
    auto sig = signer.sign(crypto::as_bytes(manifest->bytes()),
                           bundle::manifest_trusted_comment(bundle_id),
                           "custodia bundle manifest, signed by the device key");
    if (!sig) return std::move(sig).error();

    // custody/ sorts before files/, and both in SHA256SUMS order.
    std::sort(files.begin(), files.end(),
              [](const TarEntry& a, const TarEntry& b) { return a.path < b.path; });
    Prepared p{std::move(*manifest), sig->serialize(), std::move(*sums), {}, 0};
    p.entries.push_back(TarEntry{std::string(bundle::kManifestPath),
                                 p.manifest.bytes().size(),
                                 {},
                                 crypto::as_bytes(p.manifest.bytes()),
                                 nullptr});
    p.entries.push_back(TarEntry{std::string(bundle::kSignaturePath),
                                 p.signature.size(),
                                 {},
                                 crypto::as_bytes(p.signature),
                                 nullptr});
    p.entries.push_back(TarEntry{
        std::string(bundle::kSumsPath), p.sums.size(), {}, crypto::as_bytes(p.sums), nullptr});
    for (auto& f : files) p.entries.push_back(std::move(f));
    for (const auto& e : p.entries) p.total_bytes += e.size;
    return p;
}

// libarchive's pax writer over a ByteSink, through its write callback.
class TarWriter {
  public:
    explicit TarWriter(ByteSink& out) : out_(out) {}
    ~TarWriter() {
        if (a_ != nullptr) archive_write_free(a_);
    }
    TarWriter(const TarWriter&) = delete;
    TarWriter& operator=(const TarWriter&) = delete;

    Status open() {
        a_ = archive_write_new();
        if (a_ == nullptr) return make_error(Errc::internal, "libarchive: out of memory");
        if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
            archive_write_open2(a_, this, nullptr, &TarWriter::on_write, nullptr, nullptr) !=
                ARCHIVE_OK)
            return failure("tar open");
        return {};
    }

    Status begin_entry(const std::string& path, std::uint64_t size, std::int64_t mtime) {
        struct EntryFree {
            void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
        };
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new2(a_));
        if (!e) return make_error(Errc::internal, "libarchive: out of memory");
        archive_entry_set_pathname_utf8(e.get(), path.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
        archive_entry_set_mtime(e.get(), mtime, 0);
        archive_entry_set_uid(e.get(), 0);
        archive_entry_set_gid(e.get(), 0);
        // A warning here means a name libarchive could not store as given.
        if (archive_write_header(a_, e.get()) != ARCHIVE_OK) return failure("tar header");
        return {};
    }

    Status write(std::span<const std::uint8_t> data) {
        while (!data.empty()) {
            const la_ssize_t n = archive_write_data(a_, data.data(), data.size());
            if (n <= 0) return failure("tar data");
            data = data.subspan(static_cast<std::size_t>(n));
        }
        return {};
    }

    Status close() {
        const int r = archive_write_close(a_);
        if (r != ARCHIVE_OK) return failure("tar close");
        return {};
    }

  private:
    static la_ssize_t on_write(struct archive*, void* self, const void* buf, std::size_t n) {
        auto* w = static_cast<TarWriter*>(self);
        // No exception may cross libarchive's C frames.
        Status st;
        try {
            st = w->out_.write({static_cast<const std::uint8_t*>(buf), n});
        } catch (const std::exception& e) {
            st = make_error(Errc::internal, std::string("compressing: ") + e.what());
        }
        if (!st) {
            w->sink_error_ = std::move(st).error();
            return -1;
        }
        return static_cast<la_ssize_t>(n);
    }

    Error failure(const char* what) {
        if (sink_error_) return *sink_error_;
        const char* msg = archive_error_string(a_);
        return make_error(Errc::internal,
                          std::string(what) + ": " + (msg != nullptr ? msg : "libarchive error"));
    }

    ByteSink& out_;
    struct archive* a_ = nullptr;
    std::optional<Error> sink_error_;
};

struct SealResult {
    crypto::Sha256Digest sha256{};
    crypto::Blake2b512Digest blake2b{};
    std::uint64_t size = 0;
};

// What happens to the sealed bytes after stage 1 (tar + zstd + age): two
// chains of work, each in buffer order, each run by one thread at a time —
// SHA-256 and the write (chain 0), BLAKE2b-512 (chain 1). Two threads share
// them: a helper that runs chain work whenever some is ready, and stage 1,
// which runs chain work instead of waiting whenever `depth` buffers are
// unfinished. So neither core idles while there is work, and no thread is a
// fixed stage that the scheduler can starve (three busy threads on two
// cores left about a sixth of the CPU idle).
class SealedChains {
  public:
    SealedChains(ByteSink& out, std::size_t depth)
        : out_(out), depth_(depth), pool_(pipe::kBufferBytes, depth + 2) {}

    // For pipe::BufferingSink, which fills buffers for push().
    std::size_t buffer_bytes() const noexcept { return pipe::kBufferBytes; }
    pipe::Buffer take_buffer() { return pool_.take(); }
    Error error() { return failure().value_or(make_error(Errc::internal, "sealing stopped")); }

    // Stage 1 hands over a sealed buffer; false once the chains failed.
    bool push(pipe::Buffer buffer) {
        std::unique_lock lock(mutex_);
        if (error_) return false;
        slots_.push_back(Slot{std::move(buffer), {false, false}});
        ready_.notify_all();
        while (slots_.size() >= depth_ && !error_) run_or_wait(lock, 0);
        return !error_;
    }

    // The end of the stream: the caller then helps until all is done.
    void close() {
        std::unique_lock lock(mutex_);
        closed_ = true;
        ready_.notify_all();
        work_until_done(lock, 0);
    }

    // Stops everything; the first error is the one reported.
    void fail(Error e) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::move(e);
        ready_.notify_all();
    }

    // The helper thread's loop, BLAKE2b first.
    void help() {
        std::unique_lock lock(mutex_);
        work_until_done(lock, 1);
    }

    std::optional<Error> failure() {
        std::lock_guard lock(mutex_);
        return error_;
    }
    // Valid after close() returned and help() ended without an error.
    SealResult finish() {
        SealResult r;
        r.sha256 = sha_.finish();
        r.blake2b = blake_.finish();
        r.size = size_;
        return r;
    }

  private:
    struct Slot {
        pipe::Buffer bytes;
        bool done[2];
    };

    void work_until_done(std::unique_lock<std::mutex>& lock, int preferred) {
        while (!error_ && !(closed_ && slots_.empty())) run_or_wait(lock, preferred);
    }

    // Runs one piece of ready chain work (the preferred chain first), or
    // waits for some to become ready.
    void run_or_wait(std::unique_lock<std::mutex>& lock, int preferred) {
        for (const int chain : {preferred, 1 - preferred}) {
            const std::size_t at = next_[chain] - front_;
            if (busy_[chain] || at >= slots_.size()) continue;
            busy_[chain] = true;
            const pipe::Buffer& bytes = slots_[at].bytes;  // stays put: a deque
            lock.unlock();
            Status st;
            try {
                st = run(chain, bytes);
            } catch (const std::exception& e) {
                st = make_error(Errc::internal, std::string("sealing: ") + e.what());
            }
            lock.lock();
            busy_[chain] = false;
            if (!st && !error_) error_ = std::move(st).error();
            // Slots before this one may have gone meanwhile: index afresh.
            slots_[next_[chain] - front_].done[chain] = true;
            ++next_[chain];
            while (!slots_.empty() && slots_.front().done[0] && slots_.front().done[1]) {
                pool_.give_back(std::move(slots_.front().bytes));
                slots_.pop_front();
                ++front_;
            }
            ready_.notify_all();
            return;
        }
        ready_.wait(lock);
    }

    Status run(int chain, std::span<const std::uint8_t> bytes) {
        if (chain == 1) {
            blake_.update(bytes);
            return {};
        }
        sha_.update(bytes);
        size_ += bytes.size();
        return out_.write(bytes);
    }

    ByteSink& out_;
    const std::size_t depth_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Slot> slots_;
    pipe::BufferPool pool_;
    std::uint64_t front_ = 0;  // the sequence number of slots_.front()
    std::uint64_t next_[2]{};  // the next buffer each chain works on
    bool busy_[2]{};           // a thread runs this chain right now
    bool closed_ = false;
    std::optional<Error> error_;
    crypto::Sha256 sha_;        // chain 0
    std::uint64_t size_ = 0;    // chain 0
    crypto::Blake2b512 blake_;  // chain 1
};

// Stage 1, on the caller's thread: tar + zstd + age into the chains,
// re-hashing every original whose source does not authenticate it.
Status produce_sealed(const Prepared& p, std::int64_t mtime, int level,
                      std::span<const crypto::age::Recipient> recipients,
                      crypto::RandomSource& random, SealedChains& chains,
                      const Progress& progress) {
    pipe::Utf8ThreadLocale utf8;
    if (!utf8.active()) return make_error(Errc::unsupported, "the C.UTF-8 locale is missing");
    pipe::BufferingSink<SealedChains> sealed(chains);
    auto encryptor = crypto::age::Encryptor::create(sealed, recipients, random);
    if (!encryptor) return std::move(encryptor).error();
    auto zstd = ZstdCompressSink::create(**encryptor, level);
    if (!zstd) return std::move(zstd).error();
    TarWriter tar(**zstd);
    if (auto st = tar.open(); !st) return st;

    std::vector<std::uint8_t> buffer(kReadBytes);
    std::uint64_t done = 0;
    progress(done, p.total_bytes);
    for (const TarEntry& e : p.entries) {
        if (progress.cancelled()) return make_error(Errc::cancelled, "export cancelled");
        if (auto st = tar.begin_entry(e.path, e.size, mtime); !st) return st;
        if (e.attachment == nullptr) {
            if (auto st = tar.write(e.bytes); !st) return st;
            done += e.size;
            progress(done, p.total_bytes);
            continue;
        }
        auto source = e.attachment->open();
        if (!source) return std::move(source).error();
        if (!*source) return make_error(Errc::internal, "attachment source is null: " + e.path);
        crypto::Sha256 sha;
        std::uint64_t seen = 0;
        for (;;) {
            if (progress.cancelled()) return make_error(Errc::cancelled, "export cancelled");
            auto n = (*source)->read(buffer);
            if (!n) return std::move(n).error();
            if (*n == 0) break;
            if (*n > buffer.size()) return make_error(Errc::internal, "byte source overran");
            const auto chunk = std::span<const std::uint8_t>(buffer).first(*n);
            seen += *n;
            // Never write past the declared size: the tar header is out already.
            if (seen > e.size)
                return make_error(Errc::auth_failed,
                                  e.path + ": longer than its declared size; not exported");
            if (!e.attachment->authenticated) sha.update(chunk);
            if (auto st = tar.write(chunk); !st) return st;
            done += *n;
            progress(done, p.total_bytes);
        }
        const auto digest = sha.finish();
        if (seen != e.size)
            return make_error(Errc::auth_failed,
                              e.path + ": shorter than its declared size; not exported");
        if (!e.attachment->authenticated && !crypto::equal_constant_time(digest, e.sha256))
            return make_error(Errc::auth_failed,
                              e.path + ": content differs from its recorded SHA-256; not exported");
    }
    if (auto st = tar.close(); !st) return st;
    if (auto st = (*zstd)->finish(); !st) return st;
    if (auto st = (*encryptor)->finish(); !st) return st;
    return sealed.flush();
}

// Seals on the caller's thread and one helper. `bundle_id` and `created` are fixed
// by the caller so that write_bundle can name its file before sealing.
Result<SealedBundle> seal_with_id(ByteSink& out, const BundleContents& contents,
                                  std::span<const crypto::age::Recipient> recipients,
                                  const BundleSigner& signer, const Progress& progress,
                                  const BundleWriteOptions& options, const std::string& bundle_id,
                                  std::int64_t created_ms) {
    if (recipients.empty()) return make_error(Errc::malformed, "a bundle needs a recipient");
    if (options.zstd_level < kZstdMinLevel || options.zstd_level > kZstdMaxLevel)
        return make_error(Errc::unsupported, "zstd level must be 1..19");
    const std::string created = bundle::format_rfc3339_utc(created_ms);
    auto prepared = prepare(contents, bundle_id, created, signer.device_key);
    if (!prepared) return std::move(prepared).error();
    const Prepared& p = *prepared;

    SealedChains chains(out, kSealedDepth);
    std::thread helper([&] { chains.help(); });
    try {
        const std::int64_t mtime = (created_ms - ((created_ms % 1000) + 1000) % 1000) / 1000;
        auto st = produce_sealed(p, mtime, options.zstd_level, recipients, signer.random, chains,
                                 progress);
        if (!st) chains.fail(std::move(st).error());
    } catch (const std::exception& e) {
        chains.fail(make_error(Errc::internal, std::string("seal stage: ") + e.what()));
    }
    chains.close();
    helper.join();
    if (auto e = chains.failure()) return *e;
    const SealResult result = chains.finish();

    const auto device = crypto::minisign::PublicKey::derive_from(signer.device_key.public_key());
    bundle::EnvelopeStatement statement{bundle_id, result.sha256, result.size,
                                        crypto::minisign::key_id_hex(device.key_id()), created};
    const crypto::minisign::Signer envelope_signer(signer.device_key, device.key_id());
    auto envelope = envelope_signer.sign_prehashed(result.blake2b, statement.to_string(),
                                                   "custodia bundle envelope");
    if (!envelope) return std::move(envelope).error();

    SealedBundle sealed_bundle;
    sealed_bundle.bundle_id = bundle_id;
    sealed_bundle.created = created;
    sealed_bundle.size = result.size;
    sealed_bundle.sha256 = result.sha256;
    sealed_bundle.manifest = p.manifest.bytes();
    sealed_bundle.envelope = envelope->serialize();
    sealed_bundle.envelope_statement = statement.to_string();
    return sealed_bundle;
}

Status write_all_fd(int fd, std::string_view text) {
    crypto::FdSink sink(fd);
    return sink.write(crypto::as_bytes(text));
}

}  // namespace

Result<SealedBundle> seal_bundle(ByteSink& out, const BundleContents& contents,
                                 std::span<const crypto::age::Recipient> recipients,
                                 const BundleSigner& signer, const Progress& progress,
                                 const BundleWriteOptions& options) {
    const std::string id = crypto::to_hex(signer.random.bytes<16>());
    return seal_with_id(out, contents, recipients, signer, progress, options, id,
                        signer.clock.now().unix_ms);
}

Result<WrittenBundle> write_bundle(const fs::path& directory, const BundleContents& contents,
                                   std::span<const crypto::age::Recipient> recipients,
                                   const BundleSigner& signer, const Progress& progress,
                                   const BundleWriteOptions& options) {
    const std::string id = crypto::to_hex(signer.random.bytes<16>());
    const std::string name =
        options.file_name.empty() ? id + std::string(bundle::kBundleExtension) : options.file_name;
    if (name.find('/') != std::string::npos || !bundle::is_safe_segment(name))
        return make_error(Errc::malformed, "bundle file name is not a plain file name");
    const fs::path bundle_path = directory / name;
    const fs::path envelope_path = directory / (name + std::string(bundle::kEnvelopeExtension));
    for (const auto& p : {bundle_path, envelope_path}) {
        struct stat st {};
        if (::lstat(p.c_str(), &st) == 0)
            return make_error(Errc::io, p.string() + " already exists; not overwritten");
    }

    // Unnamed until complete: a kill leaves no partial bundle behind.
    auto bundle_file = NewFile::create(bundle_path);
    if (!bundle_file) return std::move(bundle_file).error();
    WriteBehindSink file_sink(bundle_file->fd());
    auto sealed = seal_with_id(file_sink, contents, recipients, signer, progress, options, id,
                               signer.clock.now().unix_ms);
    if (!sealed) return std::move(sealed).error();
    if (auto st = file_sink.flush_and_sync(); !st) return std::move(st).error();

    auto envelope_file = NewFile::create(envelope_path);
    if (!envelope_file) return std::move(envelope_file).error();
    if (auto st = write_all_fd(envelope_file->fd(), sealed->envelope); !st)
        return std::move(st).error();

    // All or nothing: both named, then one directory fsync; a failure after
    // the bundle was named removes what this call named.
    constexpr auto kLater = NewFile::SyncDirectory::no;
    if (auto st = bundle_file->commit(NewFile::Replace::no, kLater); !st)
        return std::move(st).error();
    if (auto st = envelope_file->commit(NewFile::Replace::no, kLater); !st) {
        ::unlink(bundle_path.c_str());
        return std::move(st).error();
    }
    if (auto st = fsync_directory(directory); !st) {
        ::unlink(envelope_path.c_str());
        ::unlink(bundle_path.c_str());
        return std::move(st).error();
    }
    return WrittenBundle{std::move(*sealed), bundle_path, envelope_path};
}

}  // namespace custodia::core
