#include "outbox_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <set>

#include "custodia/core/note.h"
#include "custodia/crypto/encoding.h"
#include "durable_file.h"

namespace custodia::core {
namespace {

std::vector<std::uint8_t> bytes_of(std::string_view text) {
    return {text.begin(), text.end()};
}

// One file: <final>.tmp written and fsynced, then renamed over nothing.
Status copy_file_durably(const std::filesystem::path& from, const std::filesystem::path& to,
                         std::uint64_t expected_size) {
    struct stat existing {};
    if (::stat(to.c_str(), &existing) == 0) {
        if (static_cast<std::uint64_t>(existing.st_size) == expected_size) return {};
        return make_error(Errc::io,
                          to.filename().string() + " is already in the outbox with another size");
    }
    UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return errno_error("cannot read " + from.filename().string(), errno);
    const std::filesystem::path tmp = to.string() + ".tmp";
    ::unlink(tmp.c_str());  // a leftover of a copy cut short
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out.valid()) return errno_error("cannot write " + tmp.filename().string(), errno);
    std::uint64_t copied = 0;
    {
        WriteBehindSink sink(out.get());
        std::vector<std::uint8_t> buffer(std::size_t{1} << 20);
        for (;;) {
            const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                ::unlink(tmp.c_str());
                return errno_error("cannot read " + from.filename().string(), errno);
            }
            if (n == 0) break;
            if (auto s = sink.write(std::span(buffer.data(), static_cast<std::size_t>(n))); !s) {
                ::unlink(tmp.c_str());
                return s;
            }
            copied += static_cast<std::uint64_t>(n);
        }
        if (auto s = sink.flush_and_sync(); !s) {
            ::unlink(tmp.c_str());
            return s;
        }
    }
    if (auto s = out.close_checked(); !s) {
        ::unlink(tmp.c_str());
        return s;
    }
    if (expected_size != 0 && copied != expected_size) {
        ::unlink(tmp.c_str());
        return make_error(Errc::io, from.filename().string() + " changed size while copied");
    }
    if (::rename(tmp.c_str(), to.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        return errno_error("cannot name " + to.filename().string(), err);
    }
    return fsync_directory(to.parent_path());
}

}  // namespace

bool is_valid_outbox_bundle_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128 || id.front() == '.') return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

std::filesystem::path outbox_bundle_path(const std::filesystem::path& vault_dir,
                                         std::string_view bundle_id) {
    return vault_dir / kOutboxDirectoryName / (std::string(bundle_id) + ".custodia");
}

std::filesystem::path outbox_envelope_path(const std::filesystem::path& vault_dir,
                                           std::string_view bundle_id) {
    return vault_dir / kOutboxDirectoryName / (std::string(bundle_id) + ".custodia.envelope");
}

Status copy_into_outbox(const std::filesystem::path& vault_dir, const ExportedBundle& bundle) {
    if (auto s = make_directory_durably(vault_dir / kOutboxDirectoryName); !s) return s;
    struct stat envelope {};
    if (::stat(bundle.envelope_path.c_str(), &envelope) != 0)
        return errno_error("cannot read the bundle's envelope", errno);
    // The envelope first: a bundle file in the outbox always has its envelope.
    if (auto s = copy_file_durably(bundle.envelope_path,
                                   outbox_envelope_path(vault_dir, bundle.bundle_id),
                                   static_cast<std::uint64_t>(envelope.st_size));
        !s)
        return s;
    return copy_file_durably(bundle.bundle_path, outbox_bundle_path(vault_dir, bundle.bundle_id),
                             bundle.size);
}

Result<std::vector<BundleCustodyFile>> receipt_custody_files(Database& db,
                                                             std::string_view case_id) {
    auto st = db.prepare(
        "SELECT bundle_id, receipt_note, cosigned_checkpoint, receipt_verifier,"
        " cosignature_verifier FROM outbox WHERE state = 'received' AND case_id = ?1 ORDER BY id");
    if (!st) return std::move(st).error();
    if (auto s = st->bind_text(1, case_id); !s) return std::move(s).error();
    std::vector<BundleCustodyFile> out;
    for (;;) {
        auto row = st->step();
        if (!row) return std::move(row).error();
        if (!*row) break;
        const std::string bundle_id = st->column_text(0);
        const std::string receipt_vkey = st->column_text(3);
        auto vkey = NoteVerifierKey::parse(receipt_vkey);
        if (!vkey) return make_error(Errc::malformed, "a stored receipt key is malformed");
        std::array<char, 9> id_hex{};
        std::snprintf(id_hex.data(), id_hex.size(), "%08x", static_cast<unsigned>(vkey->key_id()));
        const std::string stem = "receipts/" + bundle_id + "-" + id_hex.data();
        out.push_back({stem + ".receipt", bytes_of(st->column_text(1))});
        out.push_back({stem + ".checkpoint", bytes_of(st->column_text(2))});
        out.push_back({stem + ".vkeys", bytes_of(receipt_vkey + "\n" + st->column_text(4) + "\n")});
    }
    return out;
}

void remove_unqueued_outbox_files(Database& db, const std::filesystem::path& vault_dir) {
    const auto dir = vault_dir / kOutboxDirectoryName;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) return;
    auto st = db.prepare("SELECT bundle_id FROM outbox");
    if (!st) return;
    std::set<std::string> queued;
    for (;;) {
        auto row = st->step();
        if (!row) return;  // unsure what is queued: remove nothing
        if (!*row) break;
        queued.insert(st->column_text(0));
    }
    bool removed = false;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::string_view id = name;
        for (std::string_view suffix : {".tmp", ".envelope", ".custodia"})
            if (id.ends_with(suffix)) id.remove_suffix(suffix.size());
        // Temporaries: a copy cut short ("<name>.tmp"), or the hidden file
        // a bundle is written to on a file system without O_TMPFILE.
        const bool temporary = name.starts_with('.') || name.ends_with(".tmp");
        const bool bundle_file =
            name.ends_with(".custodia") || name.ends_with(".custodia.envelope");
        if (!temporary && !bundle_file) continue;  // not the outbox's: left alone
        if (!temporary && queued.contains(std::string(id))) continue;
        if (::unlink(it->path().c_str()) == 0) removed = true;
    }
    if (removed) (void)fsync_directory(dir);
}

Status remove_outbox_directory(const std::filesystem::path& vault_dir) {
    const auto dir = vault_dir / kOutboxDirectoryName;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        ::unlink(it->path().c_str());
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
        return errno_error("cannot remove the outbox", errno);
    return {};
}

}  // namespace custodia::core
