// The pieces that let a sealed bundle be written and read by several threads
// at once: bounded queues of byte buffers between pipeline stages, sinks and
// sources over those queues, and the thread-local UTF-8 locale libarchive
// needs to handle Unicode names without touching the process's locale.
#pragma once

#include <locale.h>  // newlocale, uselocale: POSIX, not in <clocale>

#include <clocale>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "custodia/crypto/result.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core::bundle_pipeline {

// Big enough that the per-buffer locking is noise, small enough that a few
// in flight keep memory bounded.
inline constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
inline constexpr std::size_t kQueueDepth = 4;

using Buffer = std::vector<std::uint8_t>;

// Buffers consumers are done with, kept for reuse (up to `keep`). They keep
// their capacity and contents, so steady state allocates nothing, and a
// reader that fills whole buffers reuses the size it already has instead of
// zeroing a fresh MiB each time.
class BufferPool {
  public:
    BufferPool(std::size_t buffer_bytes, std::size_t keep)
        : buffer_bytes_(buffer_bytes), keep_(keep) {}

    Buffer take() {
        std::lock_guard lock(mutex_);
        if (spare_.empty()) {
            Buffer b;
            b.reserve(buffer_bytes_);
            return b;
        }
        Buffer b = std::move(spare_.back());
        spare_.pop_back();
        return b;
    }
    void give_back(Buffer b) {
        std::lock_guard lock(mutex_);
        if (spare_.size() < keep_) spare_.push_back(std::move(b));
    }

  private:
    std::mutex mutex_;
    std::vector<Buffer> spare_;
    std::size_t buffer_bytes_;
    std::size_t keep_;
};

// A queue of buffers with a fixed capacity, plus a pool that recycles the
// buffers consumers are done with. close() ends the stream normally; fail()
// ends it with an error that every pop and push then sees.
class BufferQueue {
  public:
    explicit BufferQueue(std::size_t buffer_bytes = kBufferBytes, std::size_t depth = kQueueDepth)
        : buffer_bytes_(buffer_bytes), depth_(depth), pool_(buffer_bytes, depth + 2) {}

    std::size_t buffer_bytes() const noexcept { return buffer_bytes_; }

    // Blocks while the queue is full. False when the queue failed.
    bool push(Buffer buffer) {
        std::unique_lock lock(mutex_);
        not_full_.wait(lock, [&] { return items_.size() < depth_ || failed_; });
        if (failed_) return false;
        items_.push_back(std::move(buffer));
        not_empty_.notify_one();
        return true;
    }

    // Blocks while the queue is empty and open. nullopt at the end of the
    // stream or after a failure (see error()).
    std::optional<Buffer> pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty() || closed_ || failed_; });
        if (failed_ || items_.empty()) return std::nullopt;
        Buffer b = std::move(items_.front());
        items_.pop_front();
        not_full_.notify_one();
        return b;
    }

    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        not_empty_.notify_all();
    }

    // The first failure wins; later ones are dropped.
    void fail(Error error) {
        std::lock_guard lock(mutex_);
        if (!failed_) {
            failed_ = true;
            error_ = std::move(error);
        }
        not_empty_.notify_all();
        not_full_.notify_all();
    }

    bool failed() const {
        std::lock_guard lock(mutex_);
        return failed_;
    }
    Error error() const {
        std::lock_guard lock(mutex_);
        return error_;
    }

    Buffer take_buffer() { return pool_.take(); }
    void give_back(Buffer b) { pool_.give_back(std::move(b)); }

  private:
    mutable std::mutex mutex_;
    std::condition_variable not_empty_;
    std::condition_variable not_full_;
    std::deque<Buffer> items_;
    std::size_t buffer_bytes_;
    std::size_t depth_;
    BufferPool pool_;
    bool closed_ = false;
    bool failed_ = false;
    Error error_{Errc::internal, {}};
};

// Collects writes into whole buffers and hands them to `Target`: a
// BufferQueue, or anything else with buffer_bytes(), take_buffer(), a push()
// that is false once the target failed, and error().
template <class Target>
class BufferingSink final : public crypto::ByteSink {
  public:
    explicit BufferingSink(Target& target) : target_(target), buffer_(target.take_buffer()) {
        buffer_.clear();
    }

    Status write(std::span<const std::uint8_t> data) override {
        while (!data.empty()) {
            const std::size_t n = std::min(data.size(), target_.buffer_bytes() - buffer_.size());
            buffer_.insert(buffer_.end(), data.begin(),
                           data.begin() + static_cast<std::ptrdiff_t>(n));
            data = data.subspan(n);
            if (buffer_.size() == target_.buffer_bytes())
                if (auto st = flush(); !st) return st;
        }
        return {};
    }

    // Sends what is buffered; for a queue, close() it afterwards to end the
    // stream.
    [[nodiscard]] Status flush() {
        if (buffer_.empty()) return {};
        if (!target_.push(std::move(buffer_))) return target_.error();
        buffer_ = target_.take_buffer();
        buffer_.clear();
        return {};
    }

  private:
    Target& target_;
    Buffer buffer_;
};

using QueueSink = BufferingSink<BufferQueue>;

// Reads the buffers of a queue as one stream. The producer's failure comes
// out of read() as its own error.
class QueueSource final : public crypto::ByteSource {
  public:
    explicit QueueSource(BufferQueue& queue) : queue_(queue) {}
    ~QueueSource() override {
        if (!current_.empty()) queue_.give_back(std::move(current_));
    }

    Result<std::size_t> read(std::span<std::uint8_t> out) override {
        while (pos_ == current_.size()) {
            if (done_) return std::size_t{0};
            if (!current_.empty()) queue_.give_back(std::move(current_));
            current_.clear();
            pos_ = 0;
            auto next = queue_.pop();
            if (!next) {
                if (queue_.failed()) return queue_.error();
                done_ = true;
                return std::size_t{0};
            }
            current_ = std::move(*next);
        }
        const std::size_t n = std::min(out.size(), current_.size() - pos_);
        std::memcpy(out.data(), current_.data() + pos_, n);
        pos_ += n;
        return n;
    }

  private:
    BufferQueue& queue_;
    Buffer current_;
    std::size_t pos_ = 0;
    bool done_ = false;
};

// Switches the calling thread to a UTF-8 character type for its lifetime.
// libarchive converts names through the thread's locale; in the "C" locale a
// pax writer cannot express a non-ASCII name (and libarchive 3.6 crashes on
// one set with archive_entry_set_pathname_utf8), while the process locale is
// the application's to choose.
class Utf8ThreadLocale {
  public:
    Utf8ThreadLocale() {
        locale_ = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
        if (locale_ != static_cast<locale_t>(nullptr)) previous_ = ::uselocale(locale_);
    }
    ~Utf8ThreadLocale() {
        if (locale_ != static_cast<locale_t>(nullptr)) {
            ::uselocale(previous_);
            ::freelocale(locale_);
        }
    }
    Utf8ThreadLocale(const Utf8ThreadLocale&) = delete;
    Utf8ThreadLocale& operator=(const Utf8ThreadLocale&) = delete;
    bool active() const noexcept { return locale_ != static_cast<locale_t>(nullptr); }

  private:
    locale_t locale_ = static_cast<locale_t>(nullptr);
    locale_t previous_ = static_cast<locale_t>(nullptr);
};

}  // namespace custodia::core::bundle_pipeline
