// A whole age file through Decryptor::open and read() with a fixed identity,
// the one the C2SP CCTV vectors use, so the seed corpus reaches the payload.
#include <cstdint>
#include <span>
#include <vector>

#include "custodia/crypto/age.h"
#include "fuzz_check.h"

namespace crypto = custodia::crypto;
namespace age = custodia::crypto::age;

namespace {

// A published test key (C2SP CCTV age/testdata), not a secret.
constexpr const char* kTestIdentity =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

const std::vector<age::Identity>& identities() {
    static const std::vector<age::Identity> ids = [] {
        std::vector<age::Identity> out;
        auto id = age::Identity::parse(kTestIdentity);
        FUZZ_CHECK(id.ok());
        out.push_back(std::move(id).value());
        return out;
    }();
    return ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    crypto::MemorySource source(std::span<const std::uint8_t>(data, size));
    auto decryptor = age::Decryptor::open(source, identities());
    if (!decryptor) {
        return 0;
    }
    std::vector<std::uint8_t> buffer(4096);
    std::size_t released = 0;
    for (;;) {
        auto n = (*decryptor)->read(buffer);
        if (!n) {
            // A payload error is sticky: no plaintext after the first failure.
            auto again = (*decryptor)->read(buffer);
            FUZZ_CHECK(!again.ok());
            break;
        }
        if (*n == 0) {
            break;
        }
        FUZZ_CHECK(*n <= buffer.size());
        released += *n;
        // Every plaintext byte costs at least one ciphertext byte.
        FUZZ_CHECK(released <= size);
    }
    return 0;
}
