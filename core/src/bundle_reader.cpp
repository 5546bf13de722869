#include "custodia/core/bundle_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <thread>

#include "bundle_pipeline.h"
#include "custodia/core/zstd_stream.h"
#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "durable_file.h"

namespace custodia::core {

namespace {

namespace pipe = bundle_pipeline;
namespace fs = std::filesystem;
namespace check = bundle_check;
using crypto::ByteSource;

// Tar overhead per entry: a 512-byte header, up to 511 bytes of padding and
// a pax extended header (its own header, a record of up to kMaxPathBytes
// plus keywords, padding).
constexpr std::uint64_t kEntryOverhead = 4096;
// End-of-archive blocks and the padding to a 10240-byte record, with room.
constexpr std::uint64_t kTrailerAllowance = 64 * 1024;
constexpr std::size_t kArchiveReadBytes = std::size_t{64} << 10;
// Plaintext and ciphertext travel between the reader's threads in pieces of this size.
constexpr std::size_t kPipelineBytes = std::size_t{256} << 10;
constexpr std::size_t kMaxReasons = 8;
constexpr std::uint64_t kMaxEnvelopeBytes = 64 * 1024;

// Quotes a name from the bundle for a message: printable, bounded.
std::string shown(std::string_view name) {
    std::string out = "'";
    for (char c : name.substr(0, 120)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7F) ? '?' : c;
    }
    if (name.size() > 120) out += "…";
    return out + "'";
}

std::string hex_of(std::span<const std::uint8_t> bytes) {
    return crypto::to_hex(bytes);
}

struct CheckState {
    explicit CheckState(std::string_view n) : name(n) {}
    std::string_view name;
    bool required = true;
    bool passed = false;
    bool failed = false;
    std::vector<std::string> reasons;
    std::size_t more = 0;
    std::string note;  // for a pass or a check that did not run
};

class Checks {
  public:
    Checks() {
        for (auto name :
             {check::kDecrypt, check::kDecompress, check::kArchive, check::kEntries, check::kLimits,
              check::kManifest, check::kManifestSignature, check::kSha256Sums, check::kFileHashes,
              check::kUnlistedFiles, check::kMissingFiles, check::kEnvelope})
            states_.emplace_back(name);
    }
    void fail(std::string_view name, std::string reason) {
        CheckState& s = get(name);
        s.failed = true;
        if (s.reasons.size() < kMaxReasons)
            s.reasons.push_back(std::move(reason));
        else
            ++s.more;
    }
    void pass(std::string_view name, std::string note) {
        CheckState& s = get(name);
        if (!s.failed && !s.passed) {
            s.passed = true;
            s.note = std::move(note);
        }
    }
    // Records why a check did not run, unless it already has an outcome.
    void skip(std::string_view name, std::string reason, bool required = true) {
        CheckState& s = get(name);
        if (!s.failed && !s.passed) {
            s.note = std::move(reason);
            s.required = required;
        }
    }
    bool failed(std::string_view name) { return get(name).failed; }
    bool decided(std::string_view name) {
        const CheckState& s = get(name);
        return s.failed || s.passed;
    }

    std::vector<BundleCheck> result() const {
        std::vector<BundleCheck> out;
        for (const auto& s : states_) {
            BundleCheck c;
            c.name = std::string(s.name);
            c.required = s.required;
            if (s.failed) {
                c.outcome = CheckOutcome::failed;
                for (std::size_t i = 0; i < s.reasons.size(); ++i)
                    c.detail += (i ? "; " : "") + s.reasons[i];
                if (s.more) c.detail += "; and " + std::to_string(s.more) + " more";
            } else {
                c.outcome = s.passed ? CheckOutcome::passed : CheckOutcome::not_run;
                c.detail = s.note;
            }
            out.push_back(std::move(c));
        }
        return out;
    }

  private:
    CheckState& get(std::string_view name) {
        for (auto& s : states_)
            if (s.name == name) return s;
        states_.emplace_back(name);
        return states_.back();
    }
    std::vector<CheckState> states_;
};

// Remembers the first error of the source under the zstd decoder, so that a
// failure can be told apart: the input (decryption) or zstd itself.
class RecordingSource final : public ByteSource {
  public:
    explicit RecordingSource(ByteSource& in) : in_(in) {}
    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        auto n = in_.read(out);
        if (!n && !error_) error_ = n.error();
        return n;
    }
    const std::optional<Error>& error() const noexcept { return error_; }

  private:
    ByteSource& in_;
    std::optional<Error> error_;
};

// A file being extracted, with its directory so a failed one can be removed.
struct OutputFile {
    UniqueFd dir;
    UniqueFd file;
    std::string name;
};

struct Expected {
    bundle::FileRecord record;
    bool seen = false;
};

class Verifier {
  public:
    Verifier(const BundleReadOptions& options, const Progress& progress)
        : options_(options), progress_(progress) {}

    Status prepare_extraction();
    // Walks the tar inside `payload` (zstd-compressed). `upstream_is_decryption`:
    // errors of `payload` are the decrypt check's, reported by the caller.
    Status walk(ByteSource& payload, bool upstream_is_decryption);
    void set_decrypt_result(const std::optional<Error>& error, bool ran);
    void check_envelope(const crypto::Sha256Digest& sha256, const crypto::Blake2b512Digest& blake,
                        std::uint64_t size);
    void skip_envelope(std::string reason);
    void set_progress_source(const std::atomic<std::uint64_t>* bytes, std::uint64_t total) {
        progress_bytes_ = bytes;
        progress_total_ = total;
    }
    bool cancelled() const { return cancelled_; }
    BundleReport finish();

  private:
    static la_ssize_t on_read(struct archive*, void* self, const void** buffer);

    void report_progress();
    void stop(std::string reason) {
        if (stop_reason_.empty()) stop_reason_ = std::move(reason);
    }
    void stream_failure(struct archive* a, const std::string& where);
    bool handle_entry(struct archive* a, struct archive_entry* entry);
    bool skip_data(struct archive* a);
    Result<std::string> read_small(struct archive* a, const std::string& path, std::uint64_t size,
                                   std::uint64_t limit);
    bool read_manifest(struct archive* a, std::uint64_t size);
    bool read_signature(struct archive* a, std::uint64_t size);
    bool read_sums(struct archive* a, std::uint64_t size);
    void end_meta_phase();
    bool data_entry(struct archive* a, const std::string& path, std::uint64_t size);
    void check_unconsumed_tail(struct archive* a);
    void drain_after_end();
    Result<OutputFile> create_output(const std::string& path);
    Status write_output(const std::string& path, std::string_view bytes);

    const BundleReadOptions& options_;
    const Progress& progress_;
    Checks checks_;
    BundleReport report_;

    // Extraction.
    UniqueFd root_;
    std::set<std::string> created_dirs_;
    std::optional<Error> io_error_;

    // The stream under libarchive.
    ZstdDecompressSource* zstd_ = nullptr;
    RecordingSource* upstream_ = nullptr;
    bool upstream_is_decryption_ = false;
    // libarchive may read past the end-of-archive blocks; the bytes it was
    // given but did not consume are still checked, so two buffers alternate.
    std::array<std::vector<std::uint8_t>, 2> read_buffers_;
    std::array<std::size_t, 2> read_lengths_{};
    std::size_t current_buffer_ = 0;
    std::uint64_t provided_ = 0;
    std::optional<Error> stream_error_;

    // Where the walk is.
    enum class Phase { manifest, signature, sums, data };
    Phase phase_ = Phase::manifest;
    bool signature_seen_ = false;
    bool sums_seen_ = false;
    std::uint64_t entries_ = 0;
    std::set<std::string> seen_paths_;
    std::map<std::string, Expected> expected_;
    std::uint64_t custody_bytes_ = 0;
    std::uint64_t verified_files_ = 0;
    bool archive_ended_ = false;
    bool drained_ = false;
    std::string stop_reason_;
    bool cancelled_ = false;
    bool decrypt_ran_ = false;

    const std::atomic<std::uint64_t>* progress_bytes_ = nullptr;
    std::uint64_t progress_total_ = 0;
};

Status Verifier::prepare_extraction() {
    if (!options_.extract_to) return {};
    const fs::path& dir = *options_.extract_to;
    if (::mkdir(dir.c_str(), 0700) != 0) {
        if (errno != EEXIST) return errno_error("create " + dir.string(), errno);
        std::error_code ec;
        if (!fs::is_directory(fs::symlink_status(dir, ec)) || !fs::is_empty(dir, ec) || ec)
            return make_error(Errc::io, dir.string() + " exists and is not an empty directory");
    }
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + dir.string(), errno);
    root_ = UniqueFd(fd);
    return {};
}

Result<OutputFile> Verifier::create_output(const std::string& path) {
    // Every name was checked by is_safe_path (no "..", no "/" prefix) and the
    // directory is ours and was empty; O_NOFOLLOW all the same.
    OutputFile out;
    int dir = root_.get();
    std::string so_far;
    std::size_t start = 0;
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', start)) {
        const std::string seg = path.substr(start, slash - start);
        so_far += seg + "/";
        if (!created_dirs_.count(so_far)) {
            if (::mkdirat(dir, seg.c_str(), 0700) != 0 && errno != EEXIST)
                return errno_error("create directory " + so_far, errno);
            created_dirs_.insert(so_far);
        }
        const int next =
            ::openat(dir, seg.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) return errno_error("open directory " + so_far, errno);
        out.dir = UniqueFd(next);
        dir = next;
        start = slash + 1;
    }
    if (!out.dir.valid()) {
        const int again = ::dup(root_.get());
        if (again < 0) return errno_error("dup", errno);
        out.dir = UniqueFd(again);
    }
    out.name = path.substr(start);
    const int fd = ::openat(out.dir.get(), out.name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return errno_error("create " + path, errno);
    out.file = UniqueFd(fd);
    return out;
}

Status Verifier::write_output(const std::string& path, std::string_view bytes) {
    if (!root_.valid()) return {};
    auto out = create_output(path);
    if (!out) return std::move(out).error();
    crypto::FdSink sink(out->file.get());
    if (auto st = sink.write(crypto::as_bytes(bytes)); !st) return st;
    return out->file.close_checked();
}

void Verifier::report_progress() {
    if (progress_bytes_ != nullptr)
        progress_(progress_bytes_->load(std::memory_order_relaxed), progress_total_);
    else if (zstd_ != nullptr)
        progress_(zstd_->bytes_in(), progress_total_);
    if (progress_.cancelled()) cancelled_ = true;
}

la_ssize_t Verifier::on_read(struct archive* a, void* self, const void** buffer) {
    auto* v = static_cast<Verifier*>(self);
    v->current_buffer_ ^= 1;
    auto& buf = v->read_buffers_[v->current_buffer_];
    // No exception may cross libarchive's C frames.
    Result<std::size_t> n = std::size_t{0};
    try {
        n = v->zstd_->read(buf);
    } catch (const std::exception& e) {
        n = make_error(Errc::internal, std::string("reading the payload: ") + e.what());
    }
    if (!n) {
        v->stream_error_ = n.error();
        archive_set_error(a, EIO, "%s", "the stream under the archive failed");
        return -1;
    }
    v->read_lengths_[v->current_buffer_] = *n;
    v->provided_ += *n;
    *buffer = buf.data();
    return static_cast<la_ssize_t>(*n);
}

// The archive stopped on an error: name the layer it came from.
void Verifier::stream_failure(struct archive* a, const std::string& where) {
    if (stream_error_) {
        if (upstream_ != nullptr && upstream_->error()) {
            if (upstream_is_decryption_) {
                stop("the payload did not decrypt");  // the decrypt check says why
            } else {
                checks_.fail(check::kDecompress,
                             "reading the input: " + upstream_->error()->message);
                stop("the input could not be read");
            }
        } else if (stream_error_->code == Errc::limit) {
            checks_.fail(
                check::kLimits,
                stream_error_->message + " (the manifest declares less; a decompression bomb?)");
            stop("decompression limit");
        } else {
            checks_.fail(check::kDecompress, stream_error_->message);
            stop("the zstd stream is broken");
        }
        return;
    }
    const char* msg = archive_error_string(a);
    checks_.fail(check::kArchive, where + ": " + (msg != nullptr ? msg : "malformed tar"));
    stop("the tar is malformed");
}

bool Verifier::skip_data(struct archive* a) {
    if (archive_read_data_skip(a) != ARCHIVE_OK) {
        stream_failure(a, "tar data");
        return false;
    }
    return true;
}

Result<std::string> Verifier::read_small(struct archive* a, const std::string& path,
                                         std::uint64_t size, std::uint64_t limit) {
    if (size > limit) {
        checks_.fail(check::kLimits, shown(path) + " is " + std::to_string(size) +
                                         " bytes, more than the limit of " + std::to_string(limit));
        stop("an entry is too large");
        return make_error(Errc::limit, "too large");
    }
    std::string out(static_cast<std::size_t>(size), '\0');
    std::size_t have = 0;
    while (have < out.size()) {
        const la_ssize_t n = archive_read_data(a, out.data() + have, out.size() - have);
        if (n <= 0) {
            stream_failure(a, "tar data of " + shown(path));
            return make_error(Errc::malformed, "short");
        }
        have += static_cast<std::size_t>(n);
    }
    if (auto st = write_output(path, out); !st) {
        io_error_ = st.error();
        stop("extraction failed");
        return std::move(st).error();
    }
    return out;
}

bool Verifier::read_manifest(struct archive* a, std::uint64_t size) {
    auto bytes =
        read_small(a, std::string(bundle::kManifestPath), size, options_.limits.max_manifest_bytes);
    if (!bytes) return false;
    auto manifest = bundle::BundleManifest::parse(crypto::as_bytes(*bytes));
    if (!manifest) {
        checks_.fail(check::kManifest, manifest.error().message);
        stop("no valid manifest");
        return false;
    }
    report_.manifest = std::move(*manifest);
    const bundle::BundleManifest& m = *report_.manifest;
    checks_.pass(check::kManifest,
                 "canonical custodia.bundle/v1 manifest of bundle " + m.bundle_id());

    std::uint64_t declared = 0;
    const auto files = m.files();
    for (const auto& f : files) {
        if (f.size > options_.limits.max_file_bytes) {
            checks_.fail(check::kLimits, "the manifest declares " + shown(f.path) + " of " +
                                             std::to_string(f.size) + " bytes, over the limit");
            stop("a declared size is over the limit");
            return false;
        }
        declared += f.size;
        expected_.emplace(f.path, Expected{f, false});
    }
    if (declared > options_.limits.max_total_bytes ||
        files.size() + 3 > options_.limits.max_entries) {
        checks_.fail(check::kLimits, "the manifest declares " + std::to_string(files.size()) +
                                         " files of " + std::to_string(declared) +
                                         " bytes, over the limits");
        stop("the declared total is over the limit");
        return false;
    }
    // From here the stream may only hold what the manifest declares, plus
    // the signature, SHA256SUMS and tar's own overhead.
    const std::uint64_t budget = zstd_->bytes_out() + options_.limits.max_signature_bytes +
                                 options_.limits.max_sums_bytes + declared +
                                 (files.size() + 3) * kEntryOverhead + kTrailerAllowance;
    zstd_->set_output_limit(std::min(budget, options_.limits.max_total_bytes));
    phase_ = Phase::signature;
    return true;
}

bool Verifier::read_signature(struct archive* a, std::uint64_t size) {
    auto bytes = read_small(a, std::string(bundle::kSignaturePath), size,
                            options_.limits.max_signature_bytes);
    if (!bytes) return false;
    signature_seen_ = true;
    phase_ = Phase::sums;
    const bundle::BundleManifest& m = *report_.manifest;
    auto sig = crypto::minisign::Signature::parse(*bytes);
    if (!sig) {
        checks_.fail(check::kManifestSignature, "manifest.json.minisig: " + sig.error().message);
        return true;
    }
    const auto& manifest_key = m.device_key();
    const crypto::minisign::PublicKey* key = &manifest_key;
    if (options_.device_key) {
        key = &*options_.device_key;
        report_.device_key_source = DeviceKeySource::caller;
        if (options_.device_key->key() != manifest_key.key() ||
            options_.device_key->key_id() != manifest_key.key_id())
            checks_.fail(check::kManifestSignature,
                         "the manifest names device key " +
                             crypto::minisign::key_id_hex(manifest_key.key_id()) +
                             ", not the trusted key " +
                             crypto::minisign::key_id_hex(options_.device_key->key_id()));
    } else {
        report_.device_key_source = DeviceKeySource::self_asserted;
    }
    if (auto st = crypto::minisign::verify(*key, *sig, crypto::as_bytes(m.bytes())); !st)
        checks_.fail(check::kManifestSignature, st.error().message);
    if (sig->trusted_comment() != bundle::manifest_trusted_comment(m.bundle_id()))
        checks_.fail(check::kManifestSignature,
                     "the signature's trusted comment does not name bundle " + m.bundle_id());
    checks_.pass(check::kManifestSignature,
                 options_.device_key ? "signed by the trusted device key " +
                                           crypto::minisign::key_id_hex(key->key_id())
                                     : "signed by the key the manifest names, " +
                                           crypto::minisign::key_id_hex(key->key_id()) +
                                           " (self-asserted: proves integrity, not who sealed it)");
    return true;
}

bool Verifier::read_sums(struct archive* a, std::uint64_t size) {
    auto bytes =
        read_small(a, std::string(bundle::kSumsPath), size, options_.limits.max_sums_bytes);
    if (!bytes) return false;
    sums_seen_ = true;
    end_meta_phase();
    const bundle::BundleManifest& m = *report_.manifest;
    const auto digest = crypto::sha256(*bytes);
    if (!crypto::equal_constant_time(digest, m.sha256sums()))
        checks_.fail(check::kSha256Sums, "SHA256SUMS hashes to " + hex_of(digest) +
                                             ", the manifest says " + hex_of(m.sha256sums()));
    auto lines = bundle::parse_sha256sums(*bytes);
    if (!lines) {
        checks_.fail(check::kSha256Sums, lines.error().message);
        return true;
    }
    std::map<std::string_view, const crypto::Sha256Digest*> listed;
    for (const auto& l : *lines) listed.emplace(l.path, &l.sha256);
    for (const auto& [path, exp] : expected_) {
        auto it = listed.find(path);
        if (it == listed.end())
            checks_.fail(check::kSha256Sums, "SHA256SUMS does not list " + shown(path));
        else if (!crypto::equal_constant_time(*it->second, exp.record.sha256))
            checks_.fail(check::kSha256Sums,
                         "SHA256SUMS and the manifest differ on " + shown(path));
    }
    for (const auto& l : *lines)
        if (!expected_.count(l.path))
            checks_.fail(check::kSha256Sums,
                         "SHA256SUMS lists " + shown(l.path) + ", the manifest does not");
    checks_.pass(check::kSha256Sums, "matches the manifest's hash and lists its " +
                                         std::to_string(lines->size()) + " files");
    return true;
}

void Verifier::end_meta_phase() {
    if (phase_ == Phase::data) return;
    phase_ = Phase::data;
    if (!signature_seen_)
        checks_.fail(check::kManifestSignature, "manifest.json.minisig is missing");
    if (!sums_seen_) checks_.fail(check::kSha256Sums, "SHA256SUMS is missing");
}

bool Verifier::data_entry(struct archive* a, const std::string& path, std::uint64_t size) {
    auto it = expected_.find(path);
    if (it == expected_.end()) {
        checks_.fail(check::kUnlistedFiles, shown(path) + " is not in the manifest");
        report_.files.push_back(BundleFileResult{path, size, FileOutcome::unlisted,
                                                 "not in the manifest; not extracted"});
        return skip_data(a);
    }
    Expected& exp = it->second;
    exp.seen = true;
    if (size != exp.record.size) {
        checks_.fail(check::kFileHashes, shown(path) + " is " + std::to_string(size) +
                                             " bytes, the manifest says " +
                                             std::to_string(exp.record.size));
        report_.files.push_back(BundleFileResult{path, exp.record.size, FileOutcome::mismatch,
                                                 "size differs; not extracted"});
        return skip_data(a);
    }

    const bool custody = path.compare(0, bundle::kCustodyDir.size() + 1,
                                      std::string(bundle::kCustodyDir) + "/") == 0;
    std::vector<std::uint8_t> custody_bytes;
    if (custody) {
        if (size > options_.limits.max_custody_file_bytes ||
            custody_bytes_ + size > options_.limits.max_custody_total_bytes) {
            checks_.fail(check::kLimits, "custody file " + shown(path) + " is too large");
            stop("a custody file is too large");
            return false;
        }
        custody_bytes_ += size;
        custody_bytes.reserve(static_cast<std::size_t>(size));
    }

    std::optional<OutputFile> out;
    if (root_.valid()) {
        auto created = create_output(path);
        if (!created) {
            io_error_ = created.error();
            stop("extraction failed");
            return false;
        }
        out = std::move(*created);
    }

    crypto::Sha256 sha;
    std::uint64_t offset = 0;
    for (;;) {
        const void* block = nullptr;
        std::size_t len = 0;
        la_int64_t at = 0;
        const int r = archive_read_data_block(a, &block, &len, &at);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) {
            if (out) ::unlinkat(out->dir.get(), out->name.c_str(), 0);
            stream_failure(a, "tar data of " + shown(path));
            return false;
        }
        if (at < 0 || static_cast<std::uint64_t>(at) != offset) {
            checks_.fail(check::kEntries, shown(path) + " has holes (a sparse entry)");
            stop("a sparse entry");
            if (out) ::unlinkat(out->dir.get(), out->name.c_str(), 0);
            return false;
        }
        const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(block), len);
        offset += len;
        sha.update(bytes);
        if (custody) custody_bytes.insert(custody_bytes.end(), bytes.begin(), bytes.end());
        if (out) {
            crypto::FdSink sink(out->file.get());
            if (auto st = sink.write(bytes); !st) {
                io_error_ = st.error();
                stop("extraction failed");
                return false;
            }
        }
        report_progress();
        if (cancelled_) return false;
    }
    const auto digest = sha.finish();
    const bool match = offset == size && crypto::equal_constant_time(digest, exp.record.sha256);
    if (out) {
        if (auto st = out->file.close_checked(); !st) {
            io_error_ = st.error();
            stop("extraction failed");
            return false;
        }
        // A file that is not what the bundle states is not left to be mistaken for it.
        if (!match) ::unlinkat(out->dir.get(), out->name.c_str(), 0);
    }
    if (match) {
        ++verified_files_;
        report_.files.push_back(BundleFileResult{path, size, FileOutcome::verified, {}});
    } else {
        checks_.fail(check::kFileHashes, shown(path) + " has SHA-256 " + hex_of(digest) +
                                             ", SHA256SUMS says " + hex_of(exp.record.sha256));
        report_.files.push_back(
            BundleFileResult{path, size, FileOutcome::mismatch, "content differs from SHA256SUMS"});
    }
    if (custody)
        report_.custody_files.push_back(CustodyFileBytes{path, std::move(custody_bytes), match});
    return true;
}

bool Verifier::handle_entry(struct archive* a, struct archive_entry* entry) {
    const char* utf8 = archive_entry_pathname_utf8(entry);
    const std::string path = utf8 != nullptr ? utf8 : "";
    const auto fail_entry = [&](const std::string& why) {
        checks_.fail(check::kEntries, why);
        report_.files.push_back(
            BundleFileResult{path, 0, FileOutcome::rejected, why + "; not extracted"});
        return skip_data(a);
    };
    if (utf8 == nullptr) return fail_entry("an entry name is not valid UTF-8");
    const char* kind = nullptr;
    if (archive_entry_hardlink(entry) != nullptr)
        kind = "hard link";
    else if (archive_entry_symlink(entry) != nullptr || archive_entry_filetype(entry) == AE_IFLNK)
        kind = "symbolic link";
    else if (archive_entry_filetype(entry) == AE_IFDIR)
        kind = "directory";
    else if (archive_entry_filetype(entry) != AE_IFREG)
        kind = "device, FIFO or socket";
    if (kind != nullptr)
        return fail_entry(shown(path) + " is a " + kind + "; only regular files are allowed");
    if (archive_entry_sparse_count(entry) > 0) return fail_entry(shown(path) + " is a sparse file");
    if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0)
        return fail_entry(shown(path) + " has no size");
    const auto size = static_cast<std::uint64_t>(archive_entry_size(entry));
    if (size > options_.limits.max_file_bytes) {
        checks_.fail(check::kLimits, shown(path) + " declares " + std::to_string(size) +
                                         " bytes, over the per-file limit");
        stop("an entry declares a size over the limit");
        return false;
    }
    if (!bundle::is_safe_path(path))
        return fail_entry(shown(path) + " is not a safe relative name");
    if (!seen_paths_.insert(path).second) return fail_entry(shown(path) + " appears twice");

    if (phase_ == Phase::manifest) {
        if (path != bundle::kManifestPath) {
            checks_.fail(check::kArchive,
                         "the first entry is " + shown(path) + ", not manifest.json");
            checks_.fail(check::kManifest, "manifest.json is not the first entry");
            stop("no manifest at the start");
            return false;
        }
        return read_manifest(a, size);
    }
    if (path == bundle::kSignaturePath && phase_ == Phase::signature)
        return read_signature(a, size);
    if (path == bundle::kSumsPath && (phase_ == Phase::signature || phase_ == Phase::sums))
        return read_sums(a, size);
    if (path == bundle::kManifestPath || path == bundle::kSignaturePath ||
        path == bundle::kSumsPath) {
        checks_.fail(check::kArchive, shown(path) + " is out of place");
        return skip_data(a);
    }
    end_meta_phase();
    return data_entry(a, path, size);
}

void Verifier::check_unconsumed_tail(struct archive* a) {
    const la_int64_t consumed = archive_filter_bytes(a, 0);
    if (consumed < 0 || static_cast<std::uint64_t>(consumed) > provided_) {
        checks_.fail(check::kArchive, "cannot tell where the archive ends");
        return;
    }
    std::uint64_t tail = provided_ - static_cast<std::uint64_t>(consumed);
    const std::size_t cur = current_buffer_;
    const std::size_t prev = cur ^ 1;
    if (tail > read_lengths_[cur] + read_lengths_[prev]) {
        checks_.fail(check::kArchive, "cannot check the data after the end of the archive");
        return;
    }
    const auto is_zero = [](std::span<const std::uint8_t> s) {
        return std::all_of(s.begin(), s.end(), [](std::uint8_t b) { return b == 0; });
    };
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(tail, read_lengths_[cur]));
    bool zero = is_zero(std::span(read_buffers_[cur]).subspan(read_lengths_[cur] - take, take));
    tail -= take;
    if (tail > 0)
        zero = zero && is_zero(std::span(read_buffers_[prev])
                                   .subspan(read_lengths_[prev] - static_cast<std::size_t>(tail)));
    if (!zero) checks_.fail(check::kArchive, "data follows the end of the archive");
}

// After the end-of-archive blocks only zero padding may follow, and the zstd
// stream must end cleanly.
void Verifier::drain_after_end() {
    bool nonzero = false;
    // libarchive is done with its buffers.
    std::vector<std::uint8_t>& scratch = read_buffers_[0];
    for (;;) {
        auto n = zstd_->read(scratch);
        if (!n) {
            stream_error_ = n.error();
            stream_failure(nullptr, "after the end of the archive");
            return;
        }
        if (*n == 0) break;
        const auto bytes = std::span(scratch).first(*n);
        if (std::any_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b != 0; }))
            nonzero = true;
    }
    if (nonzero) checks_.fail(check::kArchive, "data follows the end of the archive");
    drained_ = true;
}

Status Verifier::walk(ByteSource& payload, bool upstream_is_decryption) {
    upstream_is_decryption_ = upstream_is_decryption;
    RecordingSource upstream(payload);
    upstream_ = &upstream;
    auto zstd = ZstdDecompressSource::create(upstream, options_.limits.zstd_window_log_max);
    if (!zstd) return std::move(zstd).error();
    zstd_ = zstd->get();
    // Until the manifest says more: room for the three small entries only.
    zstd_->set_output_limit(
        std::min(options_.limits.max_total_bytes,
                 options_.limits.max_manifest_bytes + options_.limits.max_signature_bytes +
                     options_.limits.max_sums_bytes + 3 * kEntryOverhead + kTrailerAllowance));
    for (auto& b : read_buffers_) b.resize(kArchiveReadBytes);

    pipe::Utf8ThreadLocale utf8;
    if (!utf8.active()) return make_error(Errc::unsupported, "the C.UTF-8 locale is missing");
    struct ArchiveFree {
        void operator()(struct archive* a) const noexcept { archive_read_free(a); }
    };
    std::unique_ptr<struct archive, ArchiveFree> a(archive_read_new());
    if (!a) return make_error(Errc::internal, "libarchive: out of memory");
    // Tar only, and no decompression filter: zstd is ours, with its limits.
    if (archive_read_support_format_tar(a.get()) != ARCHIVE_OK ||
        archive_read_open(a.get(), this, nullptr, &Verifier::on_read, nullptr) != ARCHIVE_OK) {
        stream_failure(a.get(), "tar open");
    } else {
        for (;;) {
            report_progress();
            if (cancelled_) break;
            struct archive_entry* entry = nullptr;
            const int r = archive_read_next_header(a.get(), &entry);
            if (r == ARCHIVE_EOF) {
                archive_ended_ = true;
                check_unconsumed_tail(a.get());
                break;
            }
            if (r == ARCHIVE_WARN) {
                const char* msg = archive_error_string(a.get());
                checks_.fail(check::kArchive,
                             std::string("tar header: ") + (msg != nullptr ? msg : "warning"));
            } else if (r != ARCHIVE_OK) {
                stream_failure(a.get(), "tar header");
                break;
            }
            if (++entries_ > options_.limits.max_entries) {
                checks_.fail(
                    check::kLimits,
                    "more than " + std::to_string(options_.limits.max_entries) + " entries");
                stop("too many entries");
                break;
            }
            if (!handle_entry(a.get(), entry)) break;
        }
    }
    if (archive_ended_ && !cancelled_ && stop_reason_.empty()) {
        if (phase_ != Phase::data && report_.manifest) end_meta_phase();
        if (!report_.manifest && stop_reason_.empty()) {
            checks_.fail(check::kManifest, "the archive holds no manifest.json");
            stop("no manifest");
        }
        drain_after_end();
    }
    zstd_ = nullptr;
    upstream_ = nullptr;
    // A disk that fills up is not a property of the bundle: no report.
    if (io_error_) return *io_error_;
    return {};
}

void Verifier::set_decrypt_result(const std::optional<Error>& error, bool ran) {
    decrypt_ran_ = ran;
    if (!ran) {
        checks_.skip(check::kDecrypt, "the payload was given already decrypted", false);
        return;
    }
    if (error)
        checks_.fail(check::kDecrypt, error->message);
    else
        checks_.pass(check::kDecrypt, "age header, key and every payload chunk authentic");
}

void Verifier::skip_envelope(std::string reason) {
    checks_.skip(check::kEnvelope, std::move(reason), options_.require_envelope);
}

void Verifier::check_envelope(const crypto::Sha256Digest& sha256,
                              const crypto::Blake2b512Digest& blake, std::uint64_t size) {
    if (!options_.envelope) return skip_envelope("no envelope given");
    auto sig = crypto::minisign::Signature::parse(*options_.envelope);
    if (!sig)
        return checks_.fail(check::kEnvelope, "not a minisign signature: " + sig.error().message);
    auto statement = bundle::EnvelopeStatement::parse(sig->trusted_comment());
    if (!statement) return checks_.fail(check::kEnvelope, statement.error().message);
    report_.envelope = *statement;
    const crypto::minisign::PublicKey* key = nullptr;
    if (options_.device_key)
        key = &*options_.device_key;
    else if (report_.manifest)
        key = &report_.manifest->device_key();
    if (key == nullptr) {
        checks_.fail(check::kEnvelope,
                     "no device key to check it with: none given, and no readable manifest");
        return;
    }
    const std::string key_id = crypto::minisign::key_id_hex(key->key_id());
    if (statement->device_key_id != key_id)
        checks_.fail(check::kEnvelope, "it names device key " + statement->device_key_id +
                                           ", the key checked with is " + key_id);
    if (auto st = crypto::minisign::verify_prehashed(*key, *sig, blake); !st)
        checks_.fail(check::kEnvelope, "signature: " + st.error().message);
    if (statement->size != size)
        checks_.fail(check::kEnvelope, "it states " + std::to_string(statement->size) +
                                           " bytes, the bundle has " + std::to_string(size));
    if (!crypto::equal_constant_time(statement->sha256, sha256))
        checks_.fail(check::kEnvelope, "it states SHA-256 " + hex_of(statement->sha256) +
                                           ", the bundle's is " + hex_of(sha256));
    if (report_.manifest && statement->bundle_id != report_.manifest->bundle_id())
        checks_.fail(check::kEnvelope, "it names bundle " + statement->bundle_id +
                                           ", the manifest " + report_.manifest->bundle_id());
    checks_.pass(check::kEnvelope, "signed by " + key_id + "; SHA-256 and size match the file");
}

BundleReport Verifier::finish() {
    // Checks that need the whole archive did not run if the walk stopped.
    const bool complete = archive_ended_ && drained_ && stop_reason_.empty();
    const std::string why = stop_reason_.empty() ? "the archive was not read to its end"
                                                 : "not reached: " + stop_reason_;
    if (complete) {
        for (const auto& [path, exp] : expected_)
            if (!exp.seen) {
                checks_.fail(check::kMissingFiles,
                             shown(path) + " is listed but not in the archive");
                report_.files.push_back(BundleFileResult{
                    path, exp.record.size, FileOutcome::missing, "not in the archive"});
            }
        checks_.pass(check::kMissingFiles, "every listed file is present");
        checks_.pass(check::kEntries,
                     std::to_string(entries_) + " entries, all regular files with safe names");
        checks_.pass(check::kUnlistedFiles, "no file outside the manifest");
        checks_.pass(check::kArchive, "pax tar, manifest first, nothing after its end");
        checks_.pass(check::kDecompress, "zstd frames complete, checksums correct");
        checks_.pass(check::kFileHashes,
                     std::to_string(verified_files_) + " files match SHA256SUMS");
        checks_.pass(check::kLimits, "within every limit");
    }
    for (auto name : {check::kDecompress, check::kArchive, check::kEntries, check::kLimits,
                      check::kManifest, check::kManifestSignature, check::kSha256Sums,
                      check::kFileHashes, check::kUnlistedFiles, check::kMissingFiles})
        checks_.skip(name, why);
    if (!decrypt_ran_)
        checks_.skip(check::kDecrypt, "the payload was given already decrypted", false);
    report_.checks = checks_.result();
    if (options_.custody_verifier != nullptr) {
        auto extra = options_.custody_verifier->verify(report_);
        report_.checks.insert(report_.checks.end(), std::make_move_iterator(extra.begin()),
                              std::make_move_iterator(extra.end()));
    }
    return std::move(report_);
}

// Hands every byte read to the hashing stage as well as to the reader.
class TeeSource final : public ByteSource {
  public:
    TeeSource(ByteSource& in, pipe::BufferQueue* copy, std::atomic<std::uint64_t>& count)
        : in_(in), count_(count) {
        if (copy != nullptr) {
            sink_.emplace(*copy);
            queue_ = copy;
        }
    }
    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        auto n = in_.read(out);
        if (!n) return n;
        if (*n > out.size()) return make_error(Errc::internal, "byte source overran");
        count_.fetch_add(*n, std::memory_order_relaxed);
        if (sink_ && *n > 0)
            if (auto st = sink_->write(out.first(*n)); !st) return std::move(st).error();
        return n;
    }
    // Reads the rest, for the hashes, after decryption gave up.
    Status drain() {
        std::vector<std::uint8_t> scratch(crypto::kStreamSealedChunkSize);
        for (;;) {
            auto n = read(scratch);
            if (!n) return std::move(n).error();
            if (*n == 0) return {};
        }
    }
    Status finish() {
        if (!sink_) return {};
        if (auto st = sink_->flush(); !st) return st;
        queue_->close();
        return {};
    }

  private:
    ByteSource& in_;
    std::atomic<std::uint64_t>& count_;
    std::optional<pipe::QueueSink> sink_;
    pipe::BufferQueue* queue_ = nullptr;
};

}  // namespace

bool BundleReport::ok() const {
    return std::all_of(checks.begin(), checks.end(), [](const BundleCheck& c) {
        return c.outcome == CheckOutcome::passed ||
               (c.outcome == CheckOutcome::not_run && !c.required);
    });
}

const BundleCheck* BundleReport::find(std::string_view name) const {
    for (const auto& c : checks)
        if (c.name == name) return &c;
    return nullptr;
}

std::vector<std::string> BundleReport::failed_checks() const {
    std::vector<std::string> out;
    for (const auto& c : checks)
        if (c.outcome == CheckOutcome::failed) out.push_back(c.name);
    return out;
}

Result<BundleReport> verify_bundle(ByteSource& in,
                                   std::span<const crypto::age::Identity> identities,
                                   const BundleReadOptions& options, const Progress& progress,
                                   std::uint64_t total_size) {
    Verifier v(options, progress);
    if (auto st = v.prepare_extraction(); !st) return std::move(st).error();

    const bool hash_for_envelope = options.envelope.has_value();
    pipe::BufferQueue plain(kPipelineBytes);
    pipe::BufferQueue cipher(kPipelineBytes);
    std::atomic<std::uint64_t> read_bytes{0};
    TeeSource tee(in, hash_for_envelope ? &cipher : nullptr, read_bytes);
    std::optional<Error> decrypt_error;
    std::optional<Error> tee_error;
    v.set_progress_source(&read_bytes, total_size);

    // Stage 1: read (and copy for hashing) and decrypt.
    std::thread decrypt_thread([&] {
        try {
            auto decryptor = crypto::age::Decryptor::open(tee, identities);
            if (!decryptor) {
                decrypt_error = decryptor.error();
                plain.fail(decryptor.error());
            } else {
                for (;;) {
                    pipe::Buffer b = plain.take_buffer();
                    if (b.size() != kPipelineBytes) b.resize(kPipelineBytes);
                    auto n = (*decryptor)->read(b);
                    if (!n) {
                        decrypt_error = n.error();
                        plain.fail(n.error());
                        break;
                    }
                    if (*n == 0) {
                        plain.close();
                        break;
                    }
                    b.resize(*n);
                    if (!plain.push(std::move(b))) break;  // the reader gave up
                }
            }
            // The envelope covers every byte of the file, readable or not.
            if (hash_for_envelope && !cipher.failed()) {
                if (auto st = tee.drain(); !st) tee_error = st.error();
                if (auto st = tee.finish(); !st && !tee_error) tee_error = st.error();
            }
        } catch (const std::exception& e) {
            decrypt_error = make_error(Errc::internal, std::string("decrypt stage: ") + e.what());
            plain.fail(*decrypt_error);
            cipher.fail(*decrypt_error);
        }
    });

    // Stage 2, only with an envelope: SHA-256 and BLAKE2b-512 of the file.
    crypto::Sha256Digest sha{};
    crypto::Blake2b512Digest blake{};
    std::uint64_t hashed = 0;
    std::thread hash_thread;
    if (hash_for_envelope) {
        hash_thread = std::thread([&] {
            try {
                crypto::Sha256 s;
                crypto::Blake2b512 b;
                while (auto buffer = cipher.pop()) {
                    s.update(*buffer);
                    b.update(*buffer);
                    hashed += buffer->size();
                    cipher.give_back(std::move(*buffer));
                }
                sha = s.finish();
                blake = b.finish();
            } catch (const std::exception& e) {
                cipher.fail(make_error(Errc::internal, std::string("hash stage: ") + e.what()));
            }
        });
    }

    // Stage 3, here: zstd, tar, hashing and extracting the files.
    pipe::QueueSource plain_source(plain);
    Status walked;
    try {
        walked = v.walk(plain_source, true);
    } catch (const std::exception& e) {
        walked = make_error(Errc::internal, std::string("verify: ") + e.what());
    }
    const Error cancel = make_error(Errc::cancelled, "verification cancelled");
    if (!walked || v.cancelled()) {
        plain.fail(cancel);
        cipher.fail(cancel);
    } else {
        // Let decryption run to its end even if the archive walk stopped:
        // the decrypt check is about the whole file.
        while (auto buffer = plain.pop()) {
            plain.give_back(std::move(*buffer));
            if (progress.cancelled()) {
                plain.fail(cancel);
                cipher.fail(cancel);
                break;
            }
        }
    }
    decrypt_thread.join();
    if (hash_thread.joinable()) hash_thread.join();
    if (!walked) return std::move(walked).error();
    if (v.cancelled() || progress.cancelled()) return cancel;

    v.set_decrypt_result(decrypt_error, true);
    if (hash_for_envelope) {
        if (tee_error || cipher.failed())
            v.skip_envelope("the bundle could not be read to its end: " +
                            (tee_error ? tee_error->message : cipher.error().message));
        else
            v.check_envelope(sha, blake, hashed);
    } else {
        v.skip_envelope("no envelope given");
    }
    BundleReport report = v.finish();
    report.bundle_size = read_bytes.load();
    return report;
}

Result<BundleReport> verify_bundle_file(const fs::path& path,
                                        std::span<const crypto::age::Identity> identities,
                                        const BundleReadOptions& options,
                                        const Progress& progress) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + path.string(), errno);
    UniqueFd file(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return errno_error("stat " + path.string(), errno);
    if (!S_ISREG(st.st_mode)) return make_error(Errc::io, path.string() + " is not a file");

    BundleReadOptions opts = options;
    if (!opts.envelope) {
        auto envelope = read_small_file(path.string() + std::string(bundle::kEnvelopeExtension),
                                        kMaxEnvelopeBytes);
        if (!envelope) return std::move(envelope).error();
        if (*envelope) opts.envelope = std::string((*envelope)->begin(), (*envelope)->end());
    }
    crypto::FdSource source(fd);
    return verify_bundle(source, identities, opts, progress,
                         static_cast<std::uint64_t>(st.st_size));
}

Result<BundleReport> verify_bundle_payload(ByteSource& tar_zst, const BundleReadOptions& options,
                                           const Progress& progress) {
    Verifier v(options, progress);
    if (auto st = v.prepare_extraction(); !st) return std::move(st).error();
    try {
        if (auto st = v.walk(tar_zst, false); !st) return std::move(st).error();
    } catch (const std::exception& e) {
        return make_error(Errc::internal, std::string("verify: ") + e.what());
    }
    if (v.cancelled()) return make_error(Errc::cancelled, "verification cancelled");
    v.set_decrypt_result(std::nullopt, false);
    v.skip_envelope("the payload was given already decrypted");
    return v.finish();
}

Result<bundle::EnvelopeStatement> verify_envelope(ByteSource& bundle_bytes,
                                                  std::string_view envelope_text,
                                                  const crypto::minisign::PublicKey& device_key) {
    auto sig = crypto::minisign::Signature::parse(envelope_text);
    if (!sig) return std::move(sig).error();
    auto statement = bundle::EnvelopeStatement::parse(sig->trusted_comment());
    if (!statement) return std::move(statement).error();
    if (statement->device_key_id != crypto::minisign::key_id_hex(device_key.key_id()))
        return make_error(Errc::no_matching_key, "the envelope names another device key");
    crypto::Sha256 sha;
    crypto::Blake2b512 blake;
    std::uint64_t size = 0;
    std::vector<std::uint8_t> buffer(pipe::kBufferBytes);
    for (;;) {
        auto n = bundle_bytes.read(buffer);
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        const auto chunk = std::span<const std::uint8_t>(buffer).first(*n);
        sha.update(chunk);
        blake.update(chunk);
        size += *n;
    }
    if (auto st = crypto::minisign::verify_prehashed(device_key, *sig, blake.finish()); !st)
        return std::move(st).error();
    if (statement->size != size || !crypto::equal_constant_time(statement->sha256, sha.finish()))
        return make_error(Errc::auth_failed, "the bundle is not the one the envelope describes");
    return statement;
}

}  // namespace custodia::core
