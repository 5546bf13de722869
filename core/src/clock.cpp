#include "custodia/core/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace custodia::core {

namespace {

struct CivilTime {
    std::int64_t year;
    unsigned month, day, hour, minute, second, millisecond;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// days_from_civil inverse), exact for every int64 millisecond count: gmtime
// would depend on the C library's range and locale.
CivilTime civil_from_unix_ms(std::int64_t unix_ms) {
    constexpr std::int64_t kMsPerDay = 86'400'000;
    std::int64_t days = unix_ms / kMsPerDay;
    std::int64_t ms_of_day = unix_ms % kMsPerDay;
    if (ms_of_day < 0) {
        ms_of_day += kMsPerDay;
        --days;
    }
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
    const auto msd = static_cast<unsigned>(ms_of_day);
    return CivilTime{y, m, d, msd / 3'600'000, (msd / 60'000) % 60, (msd / 1000) % 60, msd % 1000};
}

std::string format_civil(const CivilTime& t) {
    char buf[64];
    (void)std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u.%03u",
                        static_cast<long long>(t.year), t.month, t.day, t.hour, t.minute, t.second,
                        t.millisecond);
    return buf;
}

class SystemClock final : public Clock {
  public:
    Timestamp now() override {
        const auto now = std::chrono::system_clock::now();
        const std::int64_t ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
        // The offset in force at this instant (it changes with daylight
        // saving time), as the C library's time zone database knows it.
        std::time_t secs = static_cast<std::time_t>(ms / 1000);
        std::tm local{};
        std::int32_t offset = 0;
        if (::localtime_r(&secs, &local) != nullptr)
            offset = static_cast<std::int32_t>(local.tm_gmtoff / 60);
        return Timestamp{ms, offset};
    }
    std::string source() const override { return "system"; }
};

}  // namespace

std::string format_utc(std::int64_t unix_ms) {
    return format_civil(civil_from_unix_ms(unix_ms)) + "Z";
}

std::string format_local(const Timestamp& t) {
    const std::int64_t local_ms = t.unix_ms + std::int64_t{t.offset_minutes} * 60'000;
    const std::int64_t magnitude =
        t.offset_minutes < 0 ? -std::int64_t{t.offset_minutes} : std::int64_t{t.offset_minutes};
    char offset[16];
    (void)std::snprintf(offset, sizeof offset, "%c%02lld:%02lld", t.offset_minutes < 0 ? '-' : '+',
                        static_cast<long long>(magnitude / 60),
                        static_cast<long long>(magnitude % 60));
    return format_civil(civil_from_unix_ms(local_ms)) + offset;
}

Clock& system_clock() {
    static SystemClock clock;
    return clock;
}

}  // namespace custodia::core
