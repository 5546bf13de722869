// Injected time. Capture records, custody entries and checkpoints take their
// time from a Clock so that tests can make them byte-for-byte reproducible.
#pragma once

#include <cstdint>
#include <string>

namespace custodia::core {

struct Timestamp {
    std::int64_t unix_ms = 0;         // UTC
    std::int32_t offset_minutes = 0;  // the device's local offset from UTC at that moment
    friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// "2026-11-24T05:00:00.123Z" (UTC, millisecond precision) and the same instant
// in local time with its offset, "2026-11-24T07:00:00.123+02:00".
std::string format_utc(std::int64_t unix_ms);
std::string format_local(const Timestamp& t);

class Clock {
  public:
    virtual ~Clock() = default;
    virtual Timestamp now() = 0;
    // Where the time comes from, recorded with every capture: "system" for the
    // device clock; other sources (GNSS, network) may come later.
    virtual std::string source() const = 0;
};

Clock& system_clock();

// Starts at a fixed instant and advances by a fixed step at every call.
class FixedClock final : public Clock {
  public:
    explicit FixedClock(std::int64_t start_unix_ms, std::int64_t step_ms = 1000,
                        std::int32_t offset_minutes = 0)
        : next_(start_unix_ms), step_(step_ms), offset_(offset_minutes) {}
    Timestamp now() override {
        Timestamp t{next_, offset_};
        next_ += step_;
        return t;
    }
    std::string source() const override { return "fixed"; }

  private:
    std::int64_t next_;
    std::int64_t step_;
    std::int32_t offset_;
};

}  // namespace custodia::core
