// The client commands of SPEC §6 (cli/control_cmds.hpp), run as the real
// `lrsched` binary: with no daemon at the control socket, and against a
// stand-in daemon (a thread answering canned HTTP on a Unix socket in a
// temp dir) for what the CLI does with each kind of answer. The real
// daemon's answers are the end-to-end tests' business.
#include "store/database_path.hpp"
#include "store/store.hpp"
#include "support/process.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

using lrsched::test::run_process;
using lrsched::test::TempDir;
using lrsched::test::unwrap;
namespace fs = std::filesystem;

namespace {

const std::string kBin = LRSCHED_BINARY;

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// A configuration whose control socket is in a temp dir where nothing
// listens until a test says so.
struct Site {
    TempDir dir;
    std::string config;
    std::string socket;

    Site() {
        const auto secret = dir.write("c.secret", "s3cret\n");
        ::chmod(secret.c_str(), 0600);
        fs::create_directories(dir.path() / "state");
        fs::create_directories(dir.path() / "jobs");
        socket = (dir.path() / "control.sock").string();
        config = dir.write("lrsched.yaml",
                           "state_dir: state\njobs_dir: jobs\ncontrol:\n  socket: " + socket +
                               "\ntenants:\n"
                               "  - name: contoso\n"
                               "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
                               "    client_id: 11111111-1111-1111-1111-111111111111\n"
                               "    client_secret_file: c.secret\n")
                     .string();
    }

    lrsched::test::ProcessResult run(std::vector<std::string> args) const {
        args.insert(args.begin(), kBin);
        args.emplace_back("-c");
        args.push_back(config);
        return run_process(args);
    }
};

// Answers each connection on `path` with the canned response for its
// request line ("GET /v1/status?format=text"), 404 JSON for any other, and
// records the request lines.
class StandInDaemon {
  public:
    StandInDaemon(const std::string& path, std::map<std::string, std::string> answers)
        : answers_(std::move(answers)) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path.size() < sizeof addr.sun_path);
        std::copy(path.begin(), path.end(), addr.sun_path);
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~StandInDaemon() {
        ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
        thread_.join();
        ::close(fd_);
    }
    std::vector<std::string> requests() {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

    static std::string http(int status, const std::string& type, const std::string& body) {
        return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body;
    }

  private:
    void serve() {
        for (;;) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            std::string req;
            char buf[4096];
            while (req.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            std::string line = req.substr(0, req.find(" HTTP/1.1"));
            {
                const std::lock_guard lock(mutex_);
                requests_.push_back(line);
            }
            const auto it = answers_.find(line);
            const std::string out = it != answers_.end()
                                        ? it->second
                                        : http(404, "application/json", "{\"error\":\"no route\"}");
            (void)::write(c, out.data(), out.size());
            ::close(c);
        }
    }

    int fd_ = -1;
    std::map<std::string, std::string> answers_;
    std::mutex mutex_;
    std::vector<std::string> requests_;
    std::thread thread_;
};

}  // namespace

TEST_CASE("with no daemon, run, pause, resume, cancel and reload exit 2 with one line") {
    Site site;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"run", "sweep"},
          {"pause", "sweep"},
          {"resume", "sweep"},
          {"cancel", "sweep"},
          {"cancel", "sweep", "--machine", "0123456789abcdef0123456789abcdef01234567"},
          {"reload"}}) {
        CAPTURE(args.front());
        const auto r = site.run(args);
        CHECK(r.exit_code == 2);
        CHECK(r.out.empty());
        CHECK(lines(r.err) == 1);
        CHECK(r.err.rfind(
                  "lrsched " + args.front() + ": daemon unreachable at " + site.socket + ": ", 0) ==
              0);
    }
}

TEST_CASE("a socket file nobody listens on is the same as no daemon") {
    Site site;
    { StandInDaemon gone(site.socket, {}); }  // bound, then closed: a stale socket file
    REQUIRE(fs::exists(site.socket));
    const auto r = site.run({"pause", "sweep"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("lrsched pause: daemon unreachable at " + site.socket, 0) == 0);
}

TEST_CASE("with no daemon, status reads the store and says so in one line") {
    Site site;
    {
        auto s = unwrap(lrsched::store::Store::open(
            lrsched::store::database_path((site.dir.path() / "state").string())));
        unwrap(s.upsert_job(lrsched::test::sample_job("sweep")));
    }
    const auto r = site.run({"status"});
    CHECK(r.exit_code == 0);
    CHECK(r.err ==
          "lrsched status: daemon not running at " + site.socket + "; read from the store\n");
    CHECK(r.out.find("job sweep (tenant contoso)\n") != std::string::npos);

    const auto s = site.run({"sessions", "sweep", "--json"});
    CHECK(s.exit_code == 0);
    CHECK(s.err ==
          "lrsched sessions: daemon not running at " + site.socket + "; read from the store\n");
}

TEST_CASE("sessions with a state that does not exist exits 1 naming the states") {
    Site site;
    const auto r = site.run({"sessions", "sweep", "--state", "Done"});
    CHECK(r.exit_code == 1);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("lrsched sessions: unknown state 'Done' (states: queued, ", 0) == 0);
}

TEST_CASE("usage errors exit 1 before asking anyone") {
    Site site;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"run"},
          {"pause", "a", "b"},
          {"reload", "sweep"},
          {"resume", "sweep", "--machine", "0123456789abcdef0123456789abcdef01234567"},
          {"run", "sweep", "--state", "done"}}) {
        CAPTURE(args.front());
        const auto r = site.run(args);
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("usage: lrsched ", 0) == 0);
    }
}

TEST_CASE("with a daemon, status and sessions print its answer and never read the store") {
    Site site;  // no database at all: reading the store would fail
    StandInDaemon daemon(site.socket,
                         {{"GET /v1/status?format=text",
                           StandInDaemon::http(200, "text/plain", "job sweep (tenant contoso)\n")},
                          {"GET /v1/status?job=sweep",
                           StandInDaemon::http(200, "application/json", "{\"jobs\":{}}\n")},
                          {"GET /v1/sessions?job=sweep&state=running&format=text",
                           StandInDaemon::http(200, "text/plain", "MACHINE  MACHINE ID\n")}});
    const auto text = site.run({"status"});
    CHECK(text.exit_code == 0);
    CHECK(text.err.empty());
    CHECK(text.out == "job sweep (tenant contoso)\n");
    const auto json = site.run({"status", "sweep", "--json"});
    CHECK(json.exit_code == 0);
    CHECK(json.out == "{\"jobs\":{}}\n");
    const auto listed = site.run({"sessions", "sweep", "--state", "running"});
    CHECK(listed.exit_code == 0);
    CHECK(listed.out == "MACHINE  MACHINE ID\n");
    CHECK(daemon.requests() ==
          std::vector<std::string>{"GET /v1/status?format=text", "GET /v1/status?job=sweep",
                                   "GET /v1/sessions?job=sweep&state=running&format=text"});
}

TEST_CASE(
    "the daemon's answers: a message, a 4xx exits 1, a 5xx or 403 exits 2, each in one line") {
    Site site;
    StandInDaemon daemon(
        site.socket,
        {{"POST /v1/jobs/sweep/pause",
          StandInDaemon::http(200, "application/json", "{\"message\":\"sweep paused\"}")},
         {"POST /v1/jobs/sweep/cancel?machine=0123456789abcdef0123456789abcdef01234567",
          StandInDaemon::http(200, "application/json",
                              "{\"message\":\"1 cancelled\",\"cancelled\":1,\"on_server\":0}")},
         {"POST /v1/reload",
          StandInDaemon::http(500, "application/json", "{\"error\":\"store\\nbroken\"}")},
         {"GET /v1/jobs/sweep/plan?format=text",
          StandInDaemon::http(200, "text/plain", "plan of sweep\n")},
         {"POST /v1/jobs/sweep/resume",
          StandInDaemon::http(403, "application/json",
                              "{\"error\":\"this user may not use the control socket\"}")},
         {"GET /v1/status?job=nope&format=text",
          StandInDaemon::http(404, "application/json",
                              "{\"error\":\"no job named \\\"nope\\\"\"}")}});
    const auto paused = site.run({"pause", "sweep"});
    CHECK(paused.exit_code == 0);
    CHECK(paused.out == "sweep paused\n");

    const auto cancelled = site.run(
        {"cancel", "sweep", "--machine", "0123456789abcdef0123456789abcdef01234567", "--json"});
    CHECK(cancelled.exit_code == 0);
    CHECK(cancelled.out.find("\"on_server\":0") != std::string::npos);

    const auto unknown =
        site.run({"run", "s/../x y"});  // escaped; the stand-in knows no such route
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err == "lrsched run: no route\n");

    const auto broken = site.run({"reload"});
    CHECK(broken.exit_code == 2);
    CHECK(broken.err == "lrsched reload: store broken\n");  // one line

    const auto refused = site.run({"resume", "sweep"});  // the peer check: unreachable for us
    CHECK(refused.exit_code == 2);
    CHECK(refused.err == "lrsched resume: this user may not use the control socket\n");

    const auto plan = site.run({"plan", "sweep"});
    CHECK(plan.exit_code == 0);
    CHECK(plan.out == "plan of sweep\n");

    const auto no_job = site.run({"status", "nope"});
    CHECK(no_job.exit_code == 1);
    CHECK(no_job.err == "lrsched status: no job named \"nope\"\n");

    const auto requests = daemon.requests();
    CHECK(std::find(requests.begin(), requests.end(), "POST /v1/jobs/s%2F..%2Fx%20y/run") !=
          requests.end());
}
