// Reading items back from vault.db: one row per item with its attachment,
// capture record and consent. Shared by the item operations and verify().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custodia/core/database.h"
#include "custodia/core/evidence.h"

namespace custodia::core {

// "SELECT <item columns> FROM items i LEFT JOIN ..." without a WHERE clause.
// Columns 0-29 are what item_from_row reads; `extra_columns` (", x, y")
// follow them, and the aliases cr (capture_records) and a (attachments) can be
// used in them and in the caller's WHERE clause.
std::string item_select(std::string_view extra_columns = {});

[[nodiscard]] Result<Item> item_from_row(const Statement& st);
[[nodiscard]] Result<Item> load_item(Database& db, const ItemId& id);

// A 16-byte id column as hex; nullopt for NULL or a wrong length.
std::optional<std::string> optional_id_column(const Statement& st, int column);

}  // namespace custodia::core
