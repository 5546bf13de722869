// WriteBehindSink, the writer of every blob, bundle and outbox copy: whatever
// the size and the pattern of writes, the file holds exactly the bytes given,
// on the disk's file system (O_DIRECT past 1 MiB where it is supported) and on
// tmpfs.
#include "../core/src/durable_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "custodia/crypto/random.h"
#include "support/temp_dir.h"

namespace {

using custodia::core::UniqueFd;
using custodia::core::WriteBehindSink;

std::vector<std::uint8_t> random_bytes(std::size_t n, std::uint64_t seed) {
    custodia::crypto::DeterministicRandom random(seed);
    std::vector<std::uint8_t> out(n);
    random.fill(out);
    return out;
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The open flags of `fd` as the kernel reports them.
int kernel_flags(int fd) {
    std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
    std::string key;
    while (in >> key) {
        if (key == "flags:") {
            std::string octal;
            in >> octal;
            return static_cast<int>(std::stol(octal, nullptr, 8));
        }
    }
    return -1;
}

bool supports_o_direct(const std::filesystem::path& dir) {
    const auto probe = dir / "probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
    return fd >= 0;
}

struct Pattern {
    const char* name;
    std::size_t piece;  // bytes per write() call; 0 = all at once
};

void check_sizes_and_patterns(const std::filesystem::path& dir) {
    const bool direct = supports_o_direct(dir);
    constexpr std::size_t kMiB = std::size_t{1} << 20;
    const std::size_t sizes[] = {
        0, 1, 4095, 4096, kMiB - 1, kMiB, kMiB + 1, 2 * kMiB + 4097, 9 * kMiB + 123};
    // 65552: one sealed blob chunk; 7919: a prime, so that nothing aligns.
    const Pattern patterns[] = {{"whole", 0}, {"sealed chunks", 65552}, {"odd pieces", 7919}};
    std::uint64_t seed = 1;
    for (const std::size_t size : sizes) {
        for (const auto& pattern : patterns) {
            SCOPED_TRACE(std::to_string(size) + " bytes, " + pattern.name);
            const auto data = random_bytes(size, seed++);
            const auto path = dir / ("file-" + std::to_string(seed));
            UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
            ASSERT_TRUE(fd.valid());
            bool saw_direct = false;
            {
                WriteBehindSink sink(fd.get());
                std::span<const std::uint8_t> left(data);
                while (!left.empty()) {
                    const std::size_t n =
                        pattern.piece == 0 ? left.size() : std::min(pattern.piece, left.size());
                    ASSERT_TRUE(sink.write(left.first(n)).ok());
                    left = left.subspan(n);
                    saw_direct = saw_direct || (kernel_flags(fd.get()) & O_DIRECT) != 0;
                }
                ASSERT_TRUE(sink.flush_and_sync().ok());
                EXPECT_EQ(sink.bytes_written(), size);
            }
            EXPECT_EQ(kernel_flags(fd.get()) & O_DIRECT, 0) << "O_DIRECT left on the descriptor";
            ASSERT_TRUE(fd.close_checked().ok());
            EXPECT_TRUE(read_file(path) == data) << "the file differs from what was written";
            // Past 1 MiB (and 2 MiB, so that a whole piece went out before
            // the end), the direct path must have been taken where it exists.
            if (direct && size > 2 * kMiB) {
                EXPECT_TRUE(saw_direct);
            }
            if (size < kMiB) {
                EXPECT_FALSE(saw_direct);
            }
            std::filesystem::remove(path);
        }
    }
}

TEST(WriteBehindSink, WritesExactlyTheBytesGivenOnTheTestFileSystem) {
    custodia::testing::TempDir dir;
    check_sizes_and_patterns(dir.path());
}

TEST(WriteBehindSink, WritesExactlyTheBytesGivenOnTmpfs) {
    ASSERT_TRUE(std::filesystem::is_directory("/dev/shm")) << "no tmpfs at /dev/shm";
    char tmpl[] = "/dev/shm/custodia-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::filesystem::path dir = tmpl;
    check_sizes_and_patterns(dir);
    std::filesystem::remove_all(dir);
}

TEST(WriteBehindSink, AbandonedSinkStopsWithoutCommittingAnything) {
    custodia::testing::TempDir dir;
    const auto path = dir / "abandoned";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid());
    {
        WriteBehindSink sink(fd.get());
        const auto data = random_bytes(5 << 20, 99);
        ASSERT_TRUE(sink.write(data).ok());
        // Destroyed without flush_and_sync: an error path of the caller.
    }
    EXPECT_EQ(kernel_flags(fd.get()) & O_DIRECT, 0);
    // The descriptor is usable again through the page cache.
    const char tail[] = "x";
    EXPECT_EQ(::write(fd.get(), tail, 1), 1);
}

}  // namespace
