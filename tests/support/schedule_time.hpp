// Test helpers for schedule code: ISO-8601 UTC text to time points and back
// (so failures print readable times), and a scoped TZ override for the
// local-time tests that restores the previous value, set or unset.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace lrsched::test {

// "2026-01-01T00:00:30Z" (seconds required, no fraction).
inline std::chrono::system_clock::time_point utc(const std::string& iso) {
    using namespace std::chrono;
    int y = 0;
    unsigned mo = 0;
    unsigned d = 0;
    int h = 0;
    int mi = 0;
    int s = 0;
    char z = 0;
    if (std::sscanf(iso.c_str(), "%d-%u-%uT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &z) != 7 ||
        z != 'Z') {
        throw std::invalid_argument("not an ISO UTC time: " + iso);
    }
    return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

inline std::string iso(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const sys_days day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{floor<seconds>(t - day)};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

inline std::string iso(std::optional<std::chrono::system_clock::time_point> t) {
    return t ? iso(*t) : "none";
}

// The zone database is the Debian package `tzdata` (tests/deps.sh installs
// it). Without it glibc silently takes TZ=Europe/Berlin for UTC and a DST
// test would pass on nothing, so a test that needs a zone fails instead.
inline bool zone_installed(const std::string& name) {
    return std::filesystem::exists("/usr/share/zoneinfo/" + name);
}

inline void require_zone(const std::string& name) {
    REQUIRE_MESSAGE(zone_installed(name), "/usr/share/zoneinfo/"
                                              << name
                                              << " is missing: install the Debian package tzdata "
                                                 "(tests/deps.sh does)");
}

class ScopedTz {
  public:
    explicit ScopedTz(const char* tz) {
        if (const char* old = std::getenv("TZ")) saved_ = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~ScopedTz() {
        if (saved_) {
            setenv("TZ", saved_->c_str(), 1);
        } else {
            unsetenv("TZ");
        }
        tzset();
    }
    ScopedTz(const ScopedTz&) = delete;
    ScopedTz& operator=(const ScopedTz&) = delete;

  private:
    std::optional<std::string> saved_;
};

}  // namespace lrsched::test
