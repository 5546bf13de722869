#include "custodia/crypto/stream.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "custodia/crypto/aead.h"

namespace custodia::crypto {

namespace {
std::array<std::uint8_t, 12> chunk_nonce(std::uint64_t counter, bool last) {
    // 11-byte big-endian counter; the top three bytes stay zero because no
    // stream reaches 2^64 chunks (2^80 bytes).
    std::array<std::uint8_t, 12> nonce{};
    for (int i = 0; i < 8; ++i) nonce[10 - i] = static_cast<std::uint8_t>(counter >> (8 * i));
    nonce[11] = last ? 1 : 0;
    return nonce;
}

std::span<const std::uint8_t, 32> key32(const SecretBytes& key) {
    return std::span<const std::uint8_t, 32>(key.data(), 32);
}
}  // namespace

std::uint64_t stream_sealed_size(std::uint64_t size) noexcept {
    std::uint64_t chunks = size == 0 ? 1 : (size + kStreamChunkSize - 1) / kStreamChunkSize;
    return size + chunks * kPoly1305TagSize;
}

StreamSealer::StreamSealer(SecretBytes key, ByteSink& out) : key_(std::move(key)), out_(out) {
    if (key_.size() != 32) throw std::invalid_argument("STREAM key must be 32 bytes");
    plain_.reserve(kStreamChunkSize);
    sealed_.resize(kStreamSealedChunkSize);
}

Status StreamSealer::seal_chunk(bool last) {
    auto nonce = chunk_nonce(counter_++, last);
    auto out = std::span(sealed_).first(plain_.size() + kPoly1305TagSize);
    seal_chacha20poly1305(key32(key_), nonce, {}, plain_, out);
    wipe(plain_);
    plain_.clear();
    return out_.write(out);
}

Status StreamSealer::write(std::span<const std::uint8_t> data) {
    if (finished_) return make_error(Errc::internal, "write after STREAM finished");
    while (!data.empty()) {
        // A full chunk is sealed only once more data arrives: until then it
        // might be the final one.
        if (plain_.size() == kStreamChunkSize)
            if (auto st = seal_chunk(false); !st) return st;
        std::size_t n = std::min(data.size(), kStreamChunkSize - plain_.size());
        plain_.insert(plain_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
        data = data.subspan(n);
    }
    return {};
}

Status StreamSealer::finish() {
    if (finished_) return make_error(Errc::internal, "STREAM finished twice");
    finished_ = true;
    return seal_chunk(true);
}

StreamOpener::StreamOpener(SecretBytes key, ByteSource& in) : key_(std::move(key)), in_(in) {
    if (key_.size() != 32) throw std::invalid_argument("STREAM key must be 32 bytes");
    sealed_.reserve(kStreamSealedChunkSize);
}

void StreamOpener::prepend(std::span<const std::uint8_t> bytes) {
    sealed_.insert(sealed_.begin(), bytes.begin(), bytes.end());
}

Status StreamOpener::open_next_chunk() {
    while (!in_eof_ && sealed_.size() < kStreamSealedChunkSize) {
        std::size_t have = sealed_.size();
        sealed_.resize(kStreamSealedChunkSize);
        auto n = in_.read(std::span(sealed_).subspan(have));
        if (!n) {
            sealed_.resize(have);
            return std::move(n).error();
        }
        sealed_.resize(have + *n);
        if (*n == 0) in_eof_ = true;
    }
    std::size_t len = std::min(sealed_.size(), kStreamSealedChunkSize);
    if (len == 0)
        return make_error(Errc::malformed, counter_ > 0 ? "payload ends without a final chunk"
                                                        : "payload has no chunks");
    if (len < kPoly1305TagSize)
        return make_error(Errc::malformed, "payload truncated inside a chunk");

    // A short chunk can only be the final one. A full chunk is a middle one
    // unless it opens with the final flag; which it is shows only in its tag.
    auto ciphertext = std::span<const std::uint8_t>(sealed_).first(len);
    plain_.resize(len - kPoly1305TagSize);
    plain_pos_ = 0;
    bool last = len < kStreamSealedChunkSize;
    bool opened =
        open_chacha20poly1305(key32(key_), chunk_nonce(counter_, last), {}, ciphertext, plain_);
    if (!opened && !last) {
        last = true;
        opened =
            open_chacha20poly1305(key32(key_), chunk_nonce(counter_, true), {}, ciphertext, plain_);
    }
    if (!opened) {
        plain_.clear();
        return make_error(Errc::auth_failed,
                          "payload chunk " + std::to_string(counter_) + " failed authentication");
    }
    if (last && plain_.empty() && counter_ > 0) {
        plain_.clear();
        return make_error(Errc::malformed, "final payload chunk is empty");
    }
    ++counter_;
    sealed_.erase(sealed_.begin(), sealed_.begin() + static_cast<std::ptrdiff_t>(len));
    done_ = last;
    return {};
}

Status StreamOpener::check_no_trailing_data() {
    trailing_checked_ = true;
    if (!sealed_.empty()) return make_error(Errc::malformed, "trailing data after the final chunk");
    std::uint8_t probe = 0;
    auto n = in_.read({&probe, 1});
    if (!n) return std::move(n).error();
    if (*n != 0) return make_error(Errc::malformed, "trailing data after the final chunk");
    return {};
}

Result<std::size_t> StreamOpener::read(std::span<std::uint8_t> out) {
    if (failed_) return failure_;
    std::size_t total = 0;
    while (total < out.size()) {
        if (plain_pos_ == plain_.size()) {
            if (done_ && trailing_checked_) break;
            if (auto st = done_ ? check_no_trailing_data() : open_next_chunk(); !st) {
                // Plaintext already verified is released; the error comes on the next call.
                failed_ = true;
                failure_ = st.error();
                if (total > 0) return total;
                return failure_;
            }
            continue;
        }
        std::size_t n = std::min(out.size() - total, plain_.size() - plain_pos_);
        std::memcpy(out.data() + total, plain_.data() + plain_pos_, n);
        plain_pos_ += n;
        total += n;
    }
    if (plain_pos_ == plain_.size() && !plain_.empty()) {
        wipe(plain_);
        plain_.clear();
        plain_pos_ = 0;
    }
    return total;
}

}  // namespace custodia::crypto
