#include "custodia/core/zstd_stream.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace custodia::core {

namespace {

struct CCtxFree {
    void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
    void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

Error zstd_error(Errc code, const char* what, std::size_t ret) {
    return make_error(code, std::string(what) + ": " + ZSTD_getErrorName(ret));
}

// Input is cut into segments. A segment zstd would not shrink (media is
// already compressed) goes out as a stored frame of raw blocks, which costs
// a copy instead of a compression attempt; the others go into a zstd frame
// with a content checksum, kept open across consecutive compressible
// segments.
constexpr std::size_t kSegmentBytes = std::size_t{1} << 20;
constexpr std::size_t kSampleBytes = 16 * 1024;
constexpr std::size_t kSamples = 4;
constexpr std::size_t kRawBlockMax = 128 * 1024;  // RFC 8878 Block_Maximum_Size
}  // namespace

struct ZstdCompressSink::State {
    crypto::ByteSink& out;
    std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx;
    std::unique_ptr<ZSTD_CCtx, CCtxFree> probe;
    std::vector<std::uint8_t> buffer;
    std::vector<std::uint8_t> segment;
    bool frame_open = false;  // a compressed frame has begun and not ended
    bool any_frame = false;
    bool finished = false;
    bool failed = false;

    Status pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
        for (;;) {
            ZSTD_outBuffer outb{buffer.data(), buffer.size(), 0};
            const std::size_t ret = ZSTD_compressStream2(cctx.get(), &outb, &in, mode);
            if (ZSTD_isError(ret)) return zstd_error(Errc::internal, "zstd compression", ret);
            if (outb.pos > 0)
                if (auto st = out.write(std::span(buffer).first(outb.pos)); !st) return st;
            // e_continue is done once the input is taken; e_end once the
            // frame epilogue is flushed (ret == 0).
            if (mode == ZSTD_e_continue ? in.pos == in.size : ret == 0) return {};
        }
    }

    // Whether zstd at level 1 saves less than 1/64 on every one of a few
    // samples spread over the segment. A short segment is always compressed.
    bool incompressible(std::span<const std::uint8_t> seg) {
        if (seg.size() < kSamples * kSampleBytes) return false;
        const std::size_t stride = seg.size() / kSamples;
        for (std::size_t i = 0; i < kSamples; ++i) {
            const std::size_t n = ZSTD_compressCCtx(probe.get(), buffer.data(), buffer.size(),
                                                    seg.data() + i * stride, kSampleBytes, 1);
            if (ZSTD_isError(n) || n < kSampleBytes - kSampleBytes / 64) return false;
        }
        return true;
    }

    // One frame: single segment, 4-byte content size, no checksum (the age
    // layer authenticates every byte), then raw blocks.
    Status write_stored_frame(std::span<const std::uint8_t> seg) {
        const auto size = static_cast<std::uint32_t>(seg.size());
        const std::uint8_t header[] = {0x28,
                                       0xB5,
                                       0x2F,
                                       0xFD,
                                       0xA0,  // FCS field 4 bytes, single segment
                                       static_cast<std::uint8_t>(size),
                                       static_cast<std::uint8_t>(size >> 8),
                                       static_cast<std::uint8_t>(size >> 16),
                                       static_cast<std::uint8_t>(size >> 24)};
        if (auto st = out.write(header); !st) return st;
        while (!seg.empty()) {
            const std::size_t n = std::min(seg.size(), kRawBlockMax);
            const std::uint32_t block =
                (static_cast<std::uint32_t>(n) << 3) | (n == seg.size() ? 1u : 0u);  // type 0: raw
            const std::uint8_t block_header[] = {static_cast<std::uint8_t>(block),
                                                 static_cast<std::uint8_t>(block >> 8),
                                                 static_cast<std::uint8_t>(block >> 16)};
            if (auto st = out.write(block_header); !st) return st;
            if (auto st = out.write(seg.first(n)); !st) return st;
            seg = seg.subspan(n);
        }
        return {};
    }

    Status end_frame() {
        ZSTD_inBuffer in{nullptr, 0, 0};
        frame_open = false;
        any_frame = true;
        return pump(in, ZSTD_e_end);
    }

    Status emit(std::span<const std::uint8_t> seg) {
        if (incompressible(seg)) {
            if (frame_open)
                if (auto st = end_frame(); !st) return st;
            any_frame = true;
            return write_stored_frame(seg);
        }
        ZSTD_inBuffer in{seg.data(), seg.size(), 0};
        frame_open = true;
        return pump(in, ZSTD_e_continue);
    }
};

ZstdCompressSink::ZstdCompressSink(std::unique_ptr<State> state) : state_(std::move(state)) {}
ZstdCompressSink::~ZstdCompressSink() = default;

Result<std::unique_ptr<ZstdCompressSink>> ZstdCompressSink::create(crypto::ByteSink& out,
                                                                   int level) {
    if (level < kZstdMinLevel || level > kZstdMaxLevel)
        return make_error(Errc::unsupported, "zstd level must be 1..19");
    std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
    std::unique_ptr<ZSTD_CCtx, CCtxFree> probe(ZSTD_createCCtx());
    if (!cctx || !probe) return make_error(Errc::internal, "zstd: out of memory");
    for (auto [param, value] :
         {std::pair{ZSTD_c_compressionLevel, level}, std::pair{ZSTD_c_checksumFlag, 1}}) {
        const std::size_t ret = ZSTD_CCtx_setParameter(cctx.get(), param, value);
        if (ZSTD_isError(ret)) return zstd_error(Errc::internal, "zstd parameter", ret);
    }
    auto state = std::unique_ptr<State>(
        new State{out,
                  std::move(cctx),
                  std::move(probe),
                  std::vector<std::uint8_t>(
                      std::max(ZSTD_CStreamOutSize(), ZSTD_compressBound(kSampleBytes))),
                  {}});
    state->segment.reserve(kSegmentBytes);
    return std::unique_ptr<ZstdCompressSink>(new ZstdCompressSink(std::move(state)));
}

Status ZstdCompressSink::write(std::span<const std::uint8_t> data) {
    State& s = *state_;
    if (s.finished || s.failed)
        return make_error(Errc::internal, "write to a finished zstd stream");
    while (!data.empty()) {
        Status st;
        if (s.segment.empty() && data.size() >= kSegmentBytes) {
            st = s.emit(data.first(kSegmentBytes));  // whole segments need no copy
            data = data.subspan(kSegmentBytes);
        } else {
            const std::size_t n = std::min(data.size(), kSegmentBytes - s.segment.size());
            s.segment.insert(s.segment.end(), data.begin(),
                             data.begin() + static_cast<std::ptrdiff_t>(n));
            data = data.subspan(n);
            if (s.segment.size() == kSegmentBytes) {
                st = s.emit(s.segment);
                s.segment.clear();
            }
        }
        if (!st) {
            s.failed = true;
            return st;
        }
    }
    return {};
}

Status ZstdCompressSink::finish() {
    State& s = *state_;
    if (s.finished || s.failed) return make_error(Errc::internal, "zstd stream finished twice");
    s.finished = true;
    if (!s.segment.empty())
        if (auto st = s.emit(s.segment); !st) return st;
    // An empty input still makes one (empty) frame: a stream is never empty.
    if (s.frame_open || !s.any_frame) return s.end_frame();
    return {};
}

struct ZstdDecompressSource::State {
    crypto::ByteSource& in;
    std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx;
    std::vector<std::uint8_t> buffer;
    ZSTD_inBuffer inb{nullptr, 0, 0};
    bool in_eof = false;
    bool mid_frame = false;  // a frame has begun and not yet ended
    std::uint64_t frames = 0;
    std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    bool failed = false;
    Error failure{Errc::internal, {}};

    Result<std::size_t> fail(Error e) {
        failed = true;
        failure = e;
        return e;
    }
};

ZstdDecompressSource::ZstdDecompressSource(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
ZstdDecompressSource::~ZstdDecompressSource() = default;

Result<std::unique_ptr<ZstdDecompressSource>> ZstdDecompressSource::create(crypto::ByteSource& in,
                                                                           int window_log_max) {
    std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
    if (!dctx) return make_error(Errc::internal, "zstd: out of memory");
    const std::size_t ret = ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, window_log_max);
    if (ZSTD_isError(ret)) return zstd_error(Errc::internal, "zstd parameter", ret);
    auto state = std::unique_ptr<State>(
        new State{in, std::move(dctx), std::vector<std::uint8_t>(ZSTD_DStreamInSize())});
    return std::unique_ptr<ZstdDecompressSource>(new ZstdDecompressSource(std::move(state)));
}

Result<std::size_t> ZstdDecompressSource::read(std::span<std::uint8_t> out) {
    State& s = *state_;
    if (s.failed) return s.failure;
    if (out.empty()) return std::size_t{0};
    for (;;) {
        if (s.inb.pos == s.inb.size && !s.in_eof) {
            auto n = s.in.read(s.buffer);
            // Upstream errors (an age chunk that fails to open) keep their kind.
            if (!n) return s.fail(std::move(n).error());
            if (*n > s.buffer.size()) return s.fail(make_error(Errc::internal, "source overran"));
            s.inb = ZSTD_inBuffer{s.buffer.data(), *n, 0};
            s.bytes_in += *n;
            if (*n == 0) s.in_eof = true;
        }
        if (s.inb.pos == s.inb.size && s.in_eof) {
            if (s.frames > 0 && !s.mid_frame) return std::size_t{0};
            return s.fail(make_error(Errc::malformed, s.bytes_in == 0
                                                          ? "zstd stream is empty"
                                                          : "zstd stream ends inside a frame"));
        }
        // One byte more than the limit allows is enough to know it is passed.
        const std::uint64_t room = s.limit - std::min(s.limit, s.bytes_out);
        const std::size_t cap = static_cast<std::size_t>(std::min<std::uint64_t>(
            out.size(), room == std::numeric_limits<std::uint64_t>::max() ? room : room + 1));
        ZSTD_outBuffer outb{out.data(), cap, 0};
        const std::size_t before = s.inb.pos;
        const std::size_t ret = ZSTD_decompressStream(s.dctx.get(), &outb, &s.inb);
        if (ZSTD_isError(ret)) {
            const bool window = ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge;
            return s.fail(zstd_error(window ? Errc::limit : Errc::malformed,
                                     window ? "zstd window too large" : "zstd stream is corrupt",
                                     ret));
        }
        if (s.inb.pos > before || outb.pos > 0) s.mid_frame = ret != 0;
        if (ret == 0 && (s.inb.pos > before || outb.pos > 0)) ++s.frames;
        s.bytes_out += outb.pos;
        if (s.bytes_out > s.limit)
            return s.fail(make_error(Errc::limit, "decompressed data exceeds its limit"));
        if (outb.pos > 0) return outb.pos;
    }
}

void ZstdDecompressSource::set_output_limit(std::uint64_t limit) noexcept {
    state_->limit = limit;
}
std::uint64_t ZstdDecompressSource::output_limit() const noexcept {
    return state_->limit;
}
std::uint64_t ZstdDecompressSource::bytes_in() const noexcept {
    return state_->bytes_in;
}
std::uint64_t ZstdDecompressSource::bytes_out() const noexcept {
    return state_->bytes_out;
}

}  // namespace custodia::core
