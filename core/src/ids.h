// Case, item and blob ids: 16 random bytes as 32 lower-case hex digits.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "custodia/core/vault_format.h"
#include "custodia/crypto/random.h"

namespace custodia::core {

using IdBytes = std::array<std::uint8_t, vault_format::kIdSize>;

std::string new_id(crypto::RandomSource& random);
// Only the canonical form: 32 characters of [0-9a-f].
std::optional<IdBytes> id_bytes(std::string_view id);
std::string id_text(const IdBytes& bytes);
inline bool is_valid_id(std::string_view id) {
    return id_bytes(id).has_value();
}

}  // namespace custodia::core
