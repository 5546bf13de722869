// Shared pieces of the vault tests: cheap key slots, reproducible randomness
// and time, and file snapshots for "nothing was touched" checks.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "custodia/core/vault.h"
#include "custodia/crypto/random.h"
#include "custodia/crypto/secret.h"
#include "custodia/crypto/stream_io.h"
#include "support/temp_dir.h"

namespace custodia::testing {

inline crypto::SecretBytes secret(std::string_view text) {
    return crypto::SecretBytes::copy_of(text);
}

// libsodium's minimum Argon2id cost: tests never spend a second per slot.
inline core::VaultOptions cheap_options(std::string investigator = "Investigator A") {
    core::VaultOptions o;
    o.investigator = std::move(investigator);
    o.kdf.calibrate = false;
    o.kdf.opslimit = 1;
    o.kdf.memlimit = 8192;
    return o;
}

inline std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, std::span<const std::uint8_t> bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

// Every regular file under `dir` with its bytes, by relative path. The
// failed-unlock counter is left out on purpose: counting a failed attempt is
// its whole job (vault_header.h, "Failed unlocks").
inline std::map<std::string, std::vector<std::uint8_t>> snapshot(const std::filesystem::path& dir) {
    std::map<std::string, std::vector<std::uint8_t>> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const auto rel = std::filesystem::relative(e.path(), dir).string();
        if (rel == "vault.unlock-failures") continue;
        out[rel] = read_file(e.path());
    }
    return out;
}

inline std::vector<std::uint8_t> pattern_bytes(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> v(n);
    crypto::DeterministicRandom r(seed);
    r.fill(v);
    return v;
}

inline std::vector<std::uint8_t> extract_all(core::Vault& vault, const core::ItemId& id,
                                             Status* status = nullptr) {
    crypto::VectorSink sink;
    Status s = vault.extract(id, sink);
    if (status != nullptr) *status = s;
    return std::move(sink.bytes());
}

inline std::vector<std::filesystem::path> blob_files(const std::filesystem::path& vault_dir) {
    std::vector<std::filesystem::path> out;
    const auto blobs = vault_dir / "blobs";
    if (!std::filesystem::exists(blobs)) return out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(blobs))
        if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

}  // namespace custodia::testing
