#include "ids.h"

#include "custodia/crypto/encoding.h"

namespace custodia::core {

std::string new_id(crypto::RandomSource& random) {
    return id_text(random.bytes<vault_format::kIdSize>());
}

std::optional<IdBytes> id_bytes(std::string_view id) {
    if (id.size() != 2 * vault_format::kIdSize) return std::nullopt;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    auto bytes = crypto::from_hex(id);
    if (!bytes || bytes->size() != vault_format::kIdSize) return std::nullopt;
    IdBytes out{};
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
}

std::string id_text(const IdBytes& bytes) {
    return crypto::to_hex(bytes);
}

}  // namespace custodia::core
