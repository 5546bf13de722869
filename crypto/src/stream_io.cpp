#include "custodia/crypto/stream_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace custodia::crypto {

Result<std::size_t> read_full(ByteSource& in, std::span<std::uint8_t> out) {
    std::size_t total = 0;
    while (total < out.size()) {
        auto n = in.read(out.subspan(total));
        if (!n) return std::move(n).error();
        if (*n == 0) break;
        total += *n;
    }
    return total;
}

Status copy_stream(ByteSource& in, ByteSink& out) {
    std::vector<std::uint8_t> buf(1 << 20);
    for (;;) {
        auto n = in.read(buf);
        if (!n) return std::move(n).error();
        if (*n == 0) return {};
        if (auto st = out.write(std::span(buf).first(*n)); !st) return st;
    }
}

Result<std::size_t> MemorySource::read(std::span<std::uint8_t> out) {
    std::size_t n = std::min(out.size(), data_.size());
    if (n > 0) std::memcpy(out.data(), data_.data(), n);
    data_ = data_.subspan(n);
    return n;
}

Status VectorSink::write(std::span<const std::uint8_t> data) {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return {};
}

Result<std::size_t> FdSource::read(std::span<std::uint8_t> out) {
    for (;;) {
        ssize_t n = ::read(fd_, out.data(), out.size());
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno != EINTR)
            return make_error(Errc::io, std::string("read: ") + std::strerror(errno));
    }
}

Status FdSink::write(std::span<const std::uint8_t> data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd_, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(Errc::io, std::string("write: ") + std::strerror(errno));
        }
        data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace custodia::crypto
