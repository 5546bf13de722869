// A file's media type and evidence kind as guessed from its name. The guess
// is metadata only: the bytes are kept exactly as they are, whatever it says.
#pragma once

#include <string>
#include <string_view>

#include "custodia/core/evidence.h"

namespace custodia::cli {

// From the extension, case-insensitively; "application/octet-stream" when
// the extension is missing or not in the table.
std::string guess_media_type(std::string_view file_name);

// photo, audio or video for image/*, audio/* and video/*; document otherwise.
core::ItemKind kind_for_media_type(std::string_view media_type);

}  // namespace custodia::cli
