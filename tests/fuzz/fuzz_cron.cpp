// Cron expressions and time windows (jobs/cron.hpp). The first 4 bytes pick
// an instant between 1970 and 2200, the rest is the text. No crash, and a
// next firing is strictly later, on a whole minute, within 8 years and a day.
#include "fuzz_check.hpp"
#include "jobs/cron.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string_view>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // A zone with daylight saving time, so that local evaluation meets gaps
    // and repeats (UTC when tzdata is missing).
    ::setenv("TZ", "Europe/Berlin", 1);
    ::tzset();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace lrsched::jobs;
    using namespace std::chrono;
    if (size < 4) return 0;
    std::uint32_t raw = 0;
    std::memcpy(&raw, data, 4);
    const std::int64_t minutes = raw % (230LL * 366 * 24 * 60);
    const TimePoint at = TimePoint{minutes * 60s + seconds(raw % 60)};
    const std::string_view text(reinterpret_cast<const char*>(data) + 4, size - 4);
    ScheduleParseError err{};
    if (const auto cron = CronExpr::parse(text, &err)) {
        for (const TimeZone tz : {TimeZone::utc, TimeZone::local}) {
            const auto next = cron->next_after(at, tz);
            if (!next) continue;
            FUZZ_CHECK(*next > at);
            FUZZ_CHECK(*next - at <= hours(24 * (366 * 8 + 1)));
            FUZZ_CHECK(duration_cast<seconds>(next->time_since_epoch()).count() % 60 == 0);
        }
    } else {
        FUZZ_CHECK(err.offset <= text.size());
    }
    if (const auto window = TimeWindow::parse(text, &err)) {
        for (const TimeZone tz : {TimeZone::utc, TimeZone::local}) {
            const TimePoint open = window->next_open(at, tz);
            FUZZ_CHECK(open >= at);
            FUZZ_CHECK(open - at <= hours(49));
        }
    }
    return 0;
}
