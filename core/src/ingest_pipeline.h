// Reads content once and, on two threads, hashes it (SHA-256, the calling
// thread) and seals it into a blob (a worker thread). The reader hands each
// 1 MiB piece to both through a pool of a few buffers, so memory stays at a
// few MiB whatever the size of the content, and the slower of the two sets
// the pace.
#pragma once

#include <cstdint>

#include "custodia/core/progress.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/result.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"

namespace custodia::core {

struct SealedContent {
    crypto::Sha256Digest sha256{};
    std::uint64_t size = 0;
};

// Seals `content` under `blob_key` into the file `blob_fd` (crypto/blob.h
// format) and fsyncs it. Errc::cancelled when `progress` asks to stop;
// the caller removes the file on any error. `progress` is called on the
// calling thread with the bytes both hashed and sealed so far, and a total of
// 0 (the source does not know its size) until the last call, (size, size).
[[nodiscard]] Result<SealedContent> seal_and_hash(crypto::ByteSource& content, int blob_fd,
                                                  const crypto::SecretBytes& blob_key,
                                                  crypto::RandomSource& random,
                                                  const Progress& progress);

}  // namespace custodia::core
