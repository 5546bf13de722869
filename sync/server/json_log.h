// Structured logs: one JSON object per line on standard error, so that
// journald and log shippers read them without a parser of our own. Callers
// pass only what may be logged: never tokens, signatures, nonces, bodies,
// device names or client addresses.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>

namespace custodia::intake {

class JsonLog {
  public:
    void write(std::string_view event, nlohmann::json fields = nlohmann::json::object());

  private:
    std::mutex mutex_;
};

JsonLog& log();

}  // namespace custodia::intake
