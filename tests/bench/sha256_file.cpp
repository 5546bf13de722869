// sha256_file FILE: prints "<hex>  FILE" like sha256sum, hashing with
// custodia::crypto::Sha256 through FdSource, the way ingest reads evidence,
// so the benchmark times our code path against `openssl dgst -sha256`.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "custodia/crypto/encoding.h"
#include "custodia/crypto/hash.h"
#include "custodia/crypto/stream_io.h"

namespace crypto = custodia::crypto;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: sha256_file FILE\n");
        return 2;
    }
    const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::perror(argv[1]);
        return 4;
    }
    crypto::FdSource source(fd);
    crypto::Sha256 hash;
    // Large reads keep syscall overhead well below hashing cost.
    std::vector<std::uint8_t> buffer(1 << 20);
    for (;;) {
        auto n = source.read(buffer);
        if (!n) {
            std::fprintf(stderr, "sha256_file: %s\n", n.error().message.c_str());
            ::close(fd);
            return 4;
        }
        if (*n == 0) {
            break;
        }
        hash.update(std::span<const std::uint8_t>(buffer).first(*n));
    }
    ::close(fd);
    const auto digest = hash.finish();
    std::printf("%s  %s\n", crypto::to_hex(digest).c_str(), argv[1]);
    return 0;
}
