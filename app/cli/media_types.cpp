#include "media_types.h"

#include <utility>

namespace custodia::cli {
namespace {

// What field work produces: phone cameras and recorders, office documents,
// exported messages. Anything else is kept as application/octet-stream.
constexpr std::pair<std::string_view, std::string_view> kByExtension[] = {
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"png", "image/png"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"heic", "image/heic"},
    {"heif", "image/heif"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"dng", "image/x-adobe-dng"},
    {"mp4", "video/mp4"},
    {"m4v", "video/mp4"},
    {"mov", "video/quicktime"},
    {"mkv", "video/x-matroska"},
    {"webm", "video/webm"},
    {"3gp", "video/3gpp"},
    {"avi", "video/x-msvideo"},
    {"mp3", "audio/mpeg"},
    {"m4a", "audio/mp4"},
    {"aac", "audio/aac"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"opus", "audio/opus"},
    {"wav", "audio/wav"},
    {"flac", "audio/flac"},
    {"amr", "audio/amr"},
    {"pdf", "application/pdf"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"html", "text/html"},
    {"htm", "text/html"},
    {"json", "application/json"},
    {"xml", "application/xml"},
    {"eml", "message/rfc822"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"zip", "application/zip"},
};

constexpr std::string_view kUnknown = "application/octet-stream";

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string guess_media_type(std::string_view file_name) {
    const auto slash = file_name.find_last_of('/');
    if (slash != std::string_view::npos) {
        file_name.remove_prefix(slash + 1);
    }
    const auto dot = file_name.find_last_of('.');
    // ".profile" is a hidden file with no extension, not a file of type "profile".
    if (dot == std::string_view::npos || dot == 0) {
        return std::string(kUnknown);
    }
    std::string extension(file_name.substr(dot + 1));
    for (char& c : extension) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    for (const auto& [ext, type] : kByExtension) {
        if (ext == extension) {
            return std::string(type);
        }
    }
    return std::string(kUnknown);
}

core::ItemKind kind_for_media_type(std::string_view media_type) {
    if (starts_with(media_type, "image/")) {
        return core::ItemKind::photo;
    }
    if (starts_with(media_type, "audio/")) {
        return core::ItemKind::audio;
    }
    if (starts_with(media_type, "video/")) {
        return core::ItemKind::video;
    }
    return core::ItemKind::document;
}

}  // namespace custodia::cli
