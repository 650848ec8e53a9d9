// sd_notify without libsystemd (runtime/sd_notify.hpp). A fresh datagram
// socket per message keeps no descriptor open between messages (they are
// rare) and needs no state.
#include "runtime/sd_notify.hpp"

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace lrsched::runtime::sd {

bool notify_to(std::string_view notify_socket, std::string_view state) noexcept {
    sockaddr_un addr{};
    // A path or an abstract name fits sun_path, or is not one we can reach;
    // other forms (systemd 253's "vsock:...") are not for a local daemon.
    if (notify_socket.size() < 2 || notify_socket.size() >= sizeof(addr.sun_path)) return false;
    if (notify_socket.front() != '/' && notify_socket.front() != '@') return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, notify_socket.data(), notify_socket.size());
    // An abstract name starts with a NUL byte, and its length is exact:
    // no terminating NUL belongs to it.
    if (notify_socket.front() == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + notify_socket.size() +
                                            (notify_socket.front() == '/' ? 1 : 0));

    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ssize_t sent;
    do {
        sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&addr), len);
    } while (sent < 0 && errno == EINTR);
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

bool notify(std::string_view state) noexcept {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    if (socket == nullptr) return false;
    return notify_to(socket, state);
}

std::optional<std::chrono::milliseconds> watchdog_interval_from(const char* watchdog_usec,
                                                                const char* watchdog_pid,
                                                                pid_t self) noexcept {
    if (watchdog_usec == nullptr) return std::nullopt;
    const std::string_view usec_text(watchdog_usec);
    std::uint64_t usec = 0;
    auto [end, ec] = std::from_chars(usec_text.data(), usec_text.data() + usec_text.size(), usec);
    if (ec != std::errc() || end != usec_text.data() + usec_text.size() || usec == 0)
        return std::nullopt;
    // systemd sets WATCHDOG_PID for the main process; a child that
    // inherited the environment is not the one it watches.
    if (watchdog_pid != nullptr) {
        const std::string_view pid_text(watchdog_pid);
        long long pid = 0;
        auto [pend, pec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
        if (pec != std::errc() || pend != pid_text.data() + pid_text.size() || pid != self)
            return std::nullopt;
    }
    // Rounded down, but never to zero: a timer of 0 ms would spin.
    const auto ms = std::chrono::milliseconds(usec / 1000);
    return ms.count() > 0 ? ms : std::chrono::milliseconds(1);
}

std::optional<std::chrono::milliseconds> watchdog_interval() noexcept {
    return watchdog_interval_from(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                                  ::getpid());
}

bool ready() noexcept {
    return notify("READY=1");
}

bool status(std::string_view text) noexcept {
    try {
        std::string line = "STATUS=";
        for (char c : text)
            line += (c == '\n' || c == '\r') ? ' ' : c;
        return notify(line);
    } catch (...) {  // std::bad_alloc: a status line is not worth failing for
        return false;
    }
}

bool watchdog() noexcept {
    return notify("WATCHDOG=1");
}

bool stopping() noexcept {
    return notify("STOPPING=1");
}

}  // namespace lrsched::runtime::sd
