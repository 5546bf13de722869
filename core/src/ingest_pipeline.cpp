#include "ingest_pipeline.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "custodia/crypto/blob.h"
#include "durable_file.h"

namespace custodia::core {

namespace {

constexpr std::size_t kPieceSize = 1 << 20;
// Enough pieces in flight that neither thread waits on the other's jitter;
// few enough that memory stays bounded (kPieces MiB of plaintext).
constexpr std::size_t kPieces = 4;

struct Piece {
    std::vector<std::uint8_t> bytes;
    std::size_t size = 0;
    // The hasher and the sealer each release a piece once; the second
    // release returns it to the pool.
    std::atomic<int> users{0};
};

class PiecePool {
  public:
    PiecePool() {
        for (std::size_t i = 0; i < kPieces; ++i) {
            pieces_[i].bytes.resize(kPieceSize);
            free_.push_back(i);
        }
    }
    ~PiecePool() {
        // The pieces held plaintext.
        for (auto& p : pieces_) crypto::wipe(p.bytes);
    }

    Piece& piece(std::size_t i) { return pieces_[i]; }

    // A free piece, or nullopt once aborted.
    std::optional<std::size_t> acquire() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !free_.empty() || aborted_; });
        if (aborted_) return std::nullopt;
        const std::size_t i = free_.front();
        free_.pop_front();
        return i;
    }

    void release(std::size_t i) {
        if (pieces_[i].users.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        {
            std::lock_guard lock(mutex_);
            done_bytes_ += pieces_[i].size;
            free_.push_back(i);
        }
        changed_.notify_all();
    }

    void send_to_sealer(std::size_t i) {
        {
            std::lock_guard lock(mutex_);
            to_seal_.push_back(i);
        }
        changed_.notify_all();
    }

    // The sealer's next piece; nullopt at the end of the input or on abort.
    std::optional<std::size_t> next_to_seal() {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return !to_seal_.empty() || end_of_input_ || aborted_; });
        if (aborted_ || to_seal_.empty()) return std::nullopt;
        const std::size_t i = to_seal_.front();
        to_seal_.pop_front();
        return i;
    }

    void end_of_input() {
        {
            std::lock_guard lock(mutex_);
            end_of_input_ = true;
        }
        changed_.notify_all();
    }

    void abort() {
        {
            std::lock_guard lock(mutex_);
            aborted_ = true;
        }
        changed_.notify_all();
    }
    bool aborted() {
        std::lock_guard lock(mutex_);
        return aborted_;
    }

    std::uint64_t done_bytes() {
        std::lock_guard lock(mutex_);
        return done_bytes_;
    }

  private:
    std::array<Piece, kPieces> pieces_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::size_t> free_;
    std::deque<std::size_t> to_seal_;
    std::uint64_t done_bytes_ = 0;
    bool end_of_input_ = false;
    bool aborted_ = false;
};

// The worker: seals pieces in order into the blob and finishes it.
Status run_sealer(PiecePool& pool, crypto::blob::BlobWriter& writer, WriteBehindSink& sink) {
    while (auto i = pool.next_to_seal()) {
        Piece& p = pool.piece(*i);
        Status s = writer.write(std::span(p.bytes).first(p.size));
        pool.release(*i);
        if (!s) return s;
    }
    if (pool.aborted()) return make_error(Errc::cancelled, "ingest stopped");
    if (auto s = writer.finish(); !s) return s;
    return sink.flush_and_sync();
}

}  // namespace

Result<SealedContent> seal_and_hash(crypto::ByteSource& content, int blob_fd,
                                    const crypto::SecretBytes& blob_key,
                                    crypto::RandomSource& random, const Progress& progress) {
    WriteBehindSink sink(blob_fd);
    // The nonce is drawn here, on the caller's thread: RandomSource is not
    // shared with the worker.
    auto writer = crypto::blob::BlobWriter::create(sink, blob_key, random);
    if (!writer) return std::move(writer).error();

    PiecePool pool;
    Status sealed;
    // An exception on the worker (std::bad_alloc) is carried over and
    // rethrown here: escaping the thread would terminate the process.
    std::exception_ptr sealer_threw;
    std::thread sealer([&] {
        try {
            sealed = run_sealer(pool, **writer, sink);
        } catch (...) {
            sealer_threw = std::current_exception();
            pool.abort();
            return;
        }
        // A failed sealer must not leave the reader waiting for a free piece.
        if (!sealed) pool.abort();
    });
    // If this thread throws before the join below, the worker is stopped and
    // joined first: destroying a joinable std::thread terminates the process.
    struct JoinSealer {
        PiecePool& pool;
        std::thread& thread;
        ~JoinSealer() {
            if (!thread.joinable()) return;
            pool.abort();
            thread.join();
        }
    } join_sealer{pool, sealer};

    crypto::Sha256 hasher;
    std::uint64_t total = 0;
    std::optional<Error> failure;
    for (;;) {
        if (progress.cancelled()) {
            failure = make_error(Errc::cancelled, "ingest cancelled");
            break;
        }
        auto i = pool.acquire();
        if (!i) break;  // the sealer failed; its error is reported below
        Piece& p = pool.piece(*i);
        auto n = crypto::read_full(content, p.bytes);
        if (!n) {
            failure = std::move(n).error();
            p.size = 0;
            p.users.store(1, std::memory_order_relaxed);
            pool.release(*i);
            break;
        }
        p.size = *n;
        if (*n == 0) {
            p.users.store(1, std::memory_order_relaxed);
            pool.release(*i);
            break;
        }
        p.users.store(2, std::memory_order_release);
        pool.send_to_sealer(*i);
        hasher.update(std::span(p.bytes).first(*n));
        total += *n;
        pool.release(*i);
        progress(pool.done_bytes(), 0);
        if (*n < kPieceSize) break;  // read_full stops short only at the end
    }
    if (failure)
        pool.abort();
    else
        pool.end_of_input();
    sealer.join();
    if (sealer_threw) std::rethrow_exception(sealer_threw);
    if (failure) return std::move(*failure);
    if (!sealed) return std::move(sealed).error();
    if (sink.bytes_written() != crypto::blob::sealed_size(total))
        return make_error(Errc::internal, "sealed blob has an unexpected size");
    progress(total, total);
    return SealedContent{hasher.finish(), total};
}

}  // namespace custodia::core
