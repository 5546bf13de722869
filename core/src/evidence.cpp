#include "custodia/core/evidence.h"

#include <utility>

namespace custodia::core {

namespace {

// One table per enum, so that to_string and parse cannot drift apart.
constexpr std::pair<ItemKind, std::string_view> kItemKinds[] = {
    {ItemKind::testimony, "testimony"}, {ItemKind::audio, "audio"},
    {ItemKind::video, "video"},         {ItemKind::photo, "photo"},
    {ItemKind::document, "document"},   {ItemKind::note, "note"},
};

constexpr std::pair<ConsentType, std::string_view> kConsentTypes[] = {
    {ConsentType::written, "written"},
    {ConsentType::oral_recorded, "oral_recorded"},
    {ConsentType::none, "none"},
};

template <class Enum, std::size_t N>
std::string_view name_of(const std::pair<Enum, std::string_view> (&table)[N], Enum value) {
    for (const auto& [v, name] : table)
        if (v == value) return name;
    return "unknown";
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const std::pair<Enum, std::string_view> (&table)[N],
                             std::string_view text) {
    for (const auto& [v, name] : table)
        if (name == text) return v;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(ItemKind kind) {
    return name_of(kItemKinds, kind);
}
std::optional<ItemKind> parse_item_kind(std::string_view text) {
    return value_of(kItemKinds, text);
}

std::string_view to_string(ConsentType type) {
    return name_of(kConsentTypes, type);
}
std::optional<ConsentType> parse_consent_type(std::string_view text) {
    return value_of(kConsentTypes, text);
}

}  // namespace custodia::core
