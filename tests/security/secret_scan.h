// Looks for known secrets in bytes: in every file under a directory (what a
// seized disk shows) or in a core dump (what the memory of a live process
// shows). A secret is searched as UTF-8 and as UTF-16LE, since Qt keeps its
// strings (QString) in UTF-16; media is searched as every 64-byte window of
// the original at a 64-byte stride, so any copy of 127 or more contiguous
// bytes, at any offset, is found.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace custodia::testing {

// A file mapped read-only (a core can be larger than we want to copy).
class MappedFile {
  public:
    explicit MappedFile(const std::filesystem::path& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size > 0) {
            void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE,
                             fd, 0);
            if (p != MAP_FAILED) {
                data_ = static_cast<const std::uint8_t*>(p);
                size_ = static_cast<std::size_t>(st.st_size);
            }
        }
        ::close(fd);
        ok_ = true;
    }
    ~MappedFile() {
        if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    bool ok() const { return ok_; }
    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

  private:
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool ok_ = false;
};

struct Needle {
    std::string label;
    std::vector<std::uint8_t> bytes;
};

inline std::vector<std::uint8_t> utf16le(const std::string& ascii) {
    std::vector<std::uint8_t> out;
    for (const char c : ascii) {
        out.push_back(static_cast<std::uint8_t>(c));
        out.push_back(0);
    }
    return out;
}

// `text` (ASCII) as UTF-8 and as UTF-16LE.
inline void add_text_needle(std::vector<Needle>& needles, const std::string& label,
                            const std::string& text) {
    needles.push_back({label, {text.begin(), text.end()}});
    needles.push_back({label + " (UTF-16)", utf16le(text)});
}

inline std::size_t count_occurrences(std::span<const std::uint8_t> hay,
                                     std::span<const std::uint8_t> needle) {
    if (needle.empty() || hay.size() < needle.size()) return 0;
    std::size_t n = 0;
    const std::boyer_moore_horspool_searcher searcher(needle.begin(), needle.end());
    for (auto it = hay.begin();;) {
        it = std::search(it, hay.end(), searcher);
        if (it == hay.end()) return n;
        ++n;
        ++it;
    }
}

// Every 64-byte window of `media` at a 64-byte stride, found at any offset.
class MediaWindows {
  public:
    static constexpr std::size_t kWindow = 64;

    explicit MediaWindows(std::vector<std::uint8_t> media) : media_(std::move(media)) {
        for (std::size_t off = 0; off + kWindow <= media_.size(); off += kWindow)
            by_prefix_[prefix(media_.data() + off)].push_back(off);
    }

    // How many places in `hay` hold one of the windows.
    std::size_t count(std::span<const std::uint8_t> hay) const {
        std::size_t n = 0;
        if (hay.size() < kWindow) return 0;
        for (std::size_t i = 0; i + kWindow <= hay.size(); ++i) {
            const auto found = by_prefix_.find(prefix(hay.data() + i));
            if (found == by_prefix_.end()) continue;
            for (const std::size_t off : found->second) {
                if (std::memcmp(hay.data() + i, media_.data() + off, kWindow) == 0) {
                    ++n;
                    break;
                }
            }
        }
        return n;
    }

  private:
    static std::uint64_t prefix(const std::uint8_t* p) {
        std::uint64_t v;
        std::memcpy(&v, p, sizeof v);
        return v;
    }
    std::vector<std::uint8_t> media_;
    std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_prefix_;
};

struct Hit {
    std::string where;
    std::string what;
    std::size_t count = 0;
};

inline std::vector<Hit> scan_bytes(const std::string& where, std::span<const std::uint8_t> bytes,
                                   const std::vector<Needle>& needles,
                                   const MediaWindows* media = nullptr) {
    std::vector<Hit> hits;
    for (const auto& needle : needles) {
        if (const auto n = count_occurrences(bytes, needle.bytes); n > 0)
            hits.push_back({where, needle.label, n});
    }
    if (media != nullptr) {
        if (const auto n = media->count(bytes); n > 0) hits.push_back({where, "media bytes", n});
    }
    return hits;
}

// Every regular file under `dir` (symbolic links are not followed); `files`
// counts what was scanned, so that a scan of nothing is seen as such.
inline std::vector<Hit> scan_tree(const std::filesystem::path& dir,
                                  const std::vector<Needle>& needles, const MediaWindows* media,
                                  std::size_t* files = nullptr) {
    std::vector<Hit> hits;
    if (!std::filesystem::exists(dir)) return hits;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file() || e.is_symlink()) continue;
        if (files != nullptr) ++*files;
        const MappedFile file(e.path());
        auto found = scan_bytes(e.path().string(), file.bytes(), needles, media);
        hits.insert(hits.end(), found.begin(), found.end());
    }
    return hits;
}

inline std::string describe(const std::vector<Hit>& hits) {
    std::string out;
    for (const auto& h : hits)
        out += "  " + h.what + " ×" + std::to_string(h.count) + " in " + h.where + "\n";
    return out;
}

}  // namespace custodia::testing
