// Re-verifying a folder that `open` extracted (docs/VERIFY.md §7). The
// folder is packed again, in the bundle's entry order, into a tar.zst stream
// that the ordinary payload reader checks: the very same checks, limits and
// name rules as for a sealed bundle, with no second implementation of any of
// them. Links, devices and FIFOs in the folder become entries of their own
// type, which the reader rejects and names; nothing is followed.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "custodia/core/bundle_reader.h"

namespace custodia::core {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kCopyBytes = std::size_t{64} << 10;

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

// Writes to a socket without SIGPIPE: when the reader stops early, the
// writer sees EPIPE and ends.
la_ssize_t on_write(struct archive*, void* fd, const void* buffer, size_t length) {
    const auto* p = static_cast<const char*>(buffer);
    std::size_t done = 0;
    while (done < length) {
        const ssize_t n = ::send(*static_cast<int*>(fd), p + done, length - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        done += static_cast<std::size_t>(n);
    }
    return static_cast<la_ssize_t>(length);
}

struct FolderEntry {
    std::string path;  // relative, '/'-separated
    fs::path full;
};

// Bundle order: the three small files first, then every other path by its bytes.
std::vector<FolderEntry> list_folder(const fs::path& given) {
    // "out/" and "out" alike, so that relative names come out right.
    fs::path dir = given.lexically_normal();
    if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();
    std::vector<FolderEntry> head;
    std::vector<FolderEntry> rest;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
         !ec && it != end; it.increment(ec)) {
        const auto status = it->symlink_status(ec);
        if (ec) break;
        if (fs::is_directory(status)) continue;
        // Lexically: fs::relative would resolve a link to its target's path.
        std::string rel = it->path().lexically_relative(dir).generic_string();
        // What `open` writes beside the bundle's own files.
        if (rel == "report.json" || rel == "report.html") continue;
        FolderEntry e{rel, it->path()};
        if (rel == "manifest.json" || rel == "manifest.json.minisig" || rel == "SHA256SUMS")
            head.push_back(std::move(e));
        else
            rest.push_back(std::move(e));
    }
    const auto rank = [](const std::string& p) {
        return p == "manifest.json" ? 0 : p == "manifest.json.minisig" ? 1 : 2;
    };
    std::sort(head.begin(), head.end(),
              [&](const auto& a, const auto& b) { return rank(a.path) < rank(b.path); });
    std::sort(rest.begin(), rest.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    head.insert(head.end(), rest.begin(), rest.end());
    return head;
}

// Packs the folder into `fd`. Failures simply end the stream: the reader
// then reports what it could not check.
void pack_folder(const std::vector<FolderEntry>& entries, int fd) {
    struct ArchiveFree {
        void operator()(struct archive* a) const noexcept { archive_write_free(a); }
    };
    struct EntryFree {
        void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
    };
    std::unique_ptr<struct archive, ArchiveFree> a(archive_write_new());
    int target = fd;
    if (!a || archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(a.get()) != ARCHIVE_OK ||
        // Without this the compressed stream is padded with zeros to 10240
        // bytes, which no zstd reader accepts after the last frame.
        archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
        archive_write_open2(a.get(), &target, nullptr, &on_write, nullptr, nullptr) != ARCHIVE_OK)
        return;
    std::vector<char> buffer(kCopyBytes);
    for (const auto& e : entries) {
        std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new2(a.get()));
        archive_entry_set_pathname_utf8(entry.get(), e.path.c_str());
        archive_entry_set_perm(entry.get(), 0644);
        struct stat st {};
        if (::lstat(e.full.c_str(), &st) != 0) return;
        if (S_ISLNK(st.st_mode)) {
            std::array<char, 4096> link{};
            const ssize_t n = ::readlink(e.full.c_str(), link.data(), link.size() - 1);
            archive_entry_set_filetype(entry.get(), AE_IFLNK);
            archive_entry_set_symlink(entry.get(), n > 0 ? link.data() : "?");
            archive_entry_set_size(entry.get(), 0);
            if (archive_write_header(a.get(), entry.get()) < ARCHIVE_WARN) return;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            archive_entry_set_filetype(entry.get(), S_ISFIFO(st.st_mode)  ? AE_IFIFO
                                                    : S_ISCHR(st.st_mode) ? AE_IFCHR
                                                    : S_ISBLK(st.st_mode) ? AE_IFBLK
                                                                          : AE_IFSOCK);
            archive_entry_set_size(entry.get(), 0);
            if (archive_write_header(a.get(), entry.get()) < ARCHIVE_WARN) return;
            continue;
        }
        Fd in(::open(e.full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        struct stat opened {};
        if (in.get() < 0 || ::fstat(in.get(), &opened) != 0 || !S_ISREG(opened.st_mode)) return;
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(opened.st_size));
        if (archive_write_header(a.get(), entry.get()) < ARCHIVE_WARN) return;
        for (;;) {
            const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return;
            if (n == 0) break;
            if (archive_write_data(a.get(), buffer.data(), static_cast<std::size_t>(n)) != n)
                return;
        }
    }
    archive_write_close(a.get());
}

}  // namespace

Result<BundleReport> verify_bundle_folder(const fs::path& dir, const BundleReadOptions& options,
                                          const Progress& progress) {
    std::error_code ec;
    const auto status = fs::symlink_status(dir, ec);
    if (ec || !fs::is_directory(status))
        return make_error(Errc::io, dir.string() + " is not a directory");
    if (options.extract_to)
        return make_error(Errc::malformed, "an opened folder is verified in place, not extracted");
    const auto entries = list_folder(dir);

    int sv[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return make_error(Errc::io, std::string("socketpair: ") + std::strerror(errno));
    Fd reader(sv[0]);
    // The packer owns the writing end: closing it is the reader's end of stream.
    std::thread packer([&entries, fd = sv[1]] {
        Fd owned(fd);
        pack_folder(entries, owned.get());
    });

    crypto::FdSource source(reader.get());
    auto report = verify_bundle_payload(source, options, progress);
    // Unblocks the packer if the reader stopped before the end.
    ::shutdown(reader.get(), SHUT_RDWR);
    packer.join();
    if (!report) return report;
    for (auto& c : report->checks) {
        if (c.name == bundle_check::kDecrypt)
            c.detail = "an opened folder: the sealed .custodia file itself is not re-read";
        if (c.name == bundle_check::kEnvelope)
            c.detail = "an opened folder: check the envelope against the .custodia file";
    }
    return report;
}

}  // namespace custodia::core
