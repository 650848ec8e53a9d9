// The systemd notify protocol (sd_notify(3)) without libsystemd: one
// datagram of "KEY=VALUE" lines to the socket named by $NOTIFY_SOCKET (a
// path, or an abstract name written with a leading '@'), and the watchdog
// interval from $WATCHDOG_USEC. Outside systemd (no NOTIFY_SOCKET) every
// call does nothing. No Asio: a blocking sendto() on a datagram socket
// returns at once. Expected load: READY and STOPPING once, STATUS and
// WATCHDOG a few times a minute.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace lrsched::runtime::sd {

// Sends `state` (one or more "KEY=VALUE" lines) to $NOTIFY_SOCKET. Returns
// whether a datagram was sent; false without NOTIFY_SOCKET or when sending
// fails (systemd gone): the daemon goes on either way. Never throws.
bool notify(std::string_view state) noexcept;

// notify() with the socket named explicitly, for the tests: "/path",
// "@abstract", or empty (nothing sent).
bool notify_to(std::string_view notify_socket, std::string_view state) noexcept;

// How often systemd expects WATCHDOG=1 at the latest (WatchdogSec=), when
// it expects it from this process: $WATCHDOG_USEC set to a positive number
// and $WATCHDOG_PID, when set, our pid. Ping at half of it (as
// sd_watchdog_enabled(3) advises).
std::optional<std::chrono::milliseconds> watchdog_interval() noexcept;

// watchdog_interval() on given values (null when unset), for the tests.
std::optional<std::chrono::milliseconds> watchdog_interval_from(const char* watchdog_usec,
                                                                const char* watchdog_pid,
                                                                pid_t self) noexcept;

// READY=1: start-up is over (the store is open, the loops run).
bool ready() noexcept;
// STATUS=text, one line ("3 jobs, 12 running, 480 queued, 0 paused"); a
// line break in `text` becomes a space, so it cannot add a key.
bool status(std::string_view text) noexcept;
// WATCHDOG=1: the loop that sends it is alive.
bool watchdog() noexcept;
// STOPPING=1: the two-phase stop has begun.
bool stopping() noexcept;

}  // namespace lrsched::runtime::sd
