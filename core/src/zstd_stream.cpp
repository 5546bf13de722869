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

}  // namespace

struct ZstdCompressSink::State {
    crypto::ByteSink& out;
    std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx;
    std::vector<std::uint8_t> buffer;
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
};

ZstdCompressSink::ZstdCompressSink(std::unique_ptr<State> state) : state_(std::move(state)) {}
ZstdCompressSink::~ZstdCompressSink() = default;

Result<std::unique_ptr<ZstdCompressSink>> ZstdCompressSink::create(crypto::ByteSink& out,
                                                                   int level) {
    if (level < kZstdMinLevel || level > kZstdMaxLevel)
        return make_error(Errc::unsupported, "zstd level must be 1..19");
    std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
    if (!cctx) return make_error(Errc::internal, "zstd: out of memory");
    for (auto [param, value] :
         {std::pair{ZSTD_c_compressionLevel, level}, std::pair{ZSTD_c_checksumFlag, 1}}) {
        const std::size_t ret = ZSTD_CCtx_setParameter(cctx.get(), param, value);
        if (ZSTD_isError(ret)) return zstd_error(Errc::internal, "zstd parameter", ret);
    }
    auto state = std::unique_ptr<State>(
        new State{out, std::move(cctx), std::vector<std::uint8_t>(ZSTD_CStreamOutSize())});
    return std::unique_ptr<ZstdCompressSink>(new ZstdCompressSink(std::move(state)));
}

Status ZstdCompressSink::write(std::span<const std::uint8_t> data) {
    if (state_->finished || state_->failed)
        return make_error(Errc::internal, "write to a finished zstd stream");
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    auto st = state_->pump(in, ZSTD_e_continue);
    if (!st) state_->failed = true;
    return st;
}

Status ZstdCompressSink::finish() {
    if (state_->finished || state_->failed)
        return make_error(Errc::internal, "zstd stream finished twice");
    state_->finished = true;
    ZSTD_inBuffer in{nullptr, 0, 0};
    return state_->pump(in, ZSTD_e_end);
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
