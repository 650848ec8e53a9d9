// lrsched-sim: the simulated MDE tenant (issue 3's contract).
//   lrsched-sim --machines N --seed S --port 0 --client-id ID --client-secret SECRET
//               [--client-cert FILE]...
//               [--config FILE] [--state-dir DIR] [every other setting as a flag]
// When it listens it prints one JSON line on stdout — base, tenant, ca_file,
// port, client_id — and serves until SIGTERM or SIGINT.
#include "sim/model/api.hpp"
#include "sim/model/sim_config.hpp"
#include "sim/server/server.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

int fail(const std::string& message) {
    std::fprintf(stderr, "lrsched-sim: %s\n", message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace lrsched::sim;
    auto config = parse_sim_args(std::vector<std::string>(argv + 1, argv + argc));
    if (!config) return fail(config.error().message);
    if (config->help) {
        std::fputs(sim_help().c_str(), stdout);
        return 0;
    }
    // The model never reads a clock; `now == 0` is this instant, so action
    // times and $filter on creationDateTimeUtc are real wall-clock times.
    if (!config->start_time) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        config->start_time = std::chrono::duration<double>(now).count();
    }
    if (config->state_dir.empty() && config->cert_file.empty()) {
        std::string templ =
            (std::filesystem::temp_directory_path() / "lrsched-sim-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) return fail("cannot create a state directory");
        config->state_dir = templ;
    }
    auto api = SimApi::create(*config);
    if (!api) return fail(api.error().message);
    // Registered once, at start: a file that cannot be read stops the sim
    // here, naming it, rather than refusing every assertion later.
    for (const auto& file : config->client_certs) {
        auto cert = load_client_cert(file);
        if (!cert) return fail(cert.error().message);
        (*api)->add_client_cert(std::move(cert).value());
    }

    ServerOptions options;
    options.port = static_cast<std::uint16_t>(config->port);
    options.state_dir = config->state_dir;
    options.cert_file = config->cert_file;
    options.key_file = config->key_file;
    options.ca_file = config->ca_file;
    options.wrong_host = config->wrong_host;
    const std::string tenant = config->tenant;
    const std::string client_id = config->client_id;
    auto status = run_server(options, **api, [&](const ReadyInfo& ready) {
        (*api)->set_base_url(ready.base);
        const nlohmann::json line = {
            {"base", ready.base}, {"tenant", tenant},       {"ca_file", ready.ca_file},
            {"port", ready.port}, {"client_id", client_id}, {"stats", ready.base + "/_sim/stats"}};
        std::printf("%s\n", line.dump().c_str());
        std::fflush(stdout);
    });
    if (!status) return fail(status.error().message);
    return *status;
}
