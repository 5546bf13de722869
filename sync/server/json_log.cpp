#include "json_log.h"

#include <chrono>
#include <cstdio>

namespace custodia::intake {

void JsonLog::write(std::string_view event, nlohmann::json fields) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    fields["time"] = std::chrono::duration<double>(now).count();
    fields["event"] = std::string(event);
    // replace: a stray invalid byte must not throw or break the line.
    const std::string line =
        fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::lock_guard lock(mutex_);
    (void)std::fwrite(line.data(), 1, line.size(), stderr);
    (void)std::fflush(stderr);
}

JsonLog& log() {
    static JsonLog instance;
    return instance;
}

}  // namespace custodia::intake
