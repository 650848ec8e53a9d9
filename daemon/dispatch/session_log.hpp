// The daemon's one log line per session event (SPEC §7): `job= run= machine=
// action= state=` fields, so operators can grep a machine or an action
// across a sweep. The server's host names, machine and action ids are
// written through log_value(): a name cannot add a field or a line. No
// secret ever reaches a session row.
#pragma once

#include "common/log_text.hpp"
#include "store/store.hpp"

#include <spdlog/spdlog.h>

#include <string_view>

namespace lrsched::dispatch {

inline void log_session(std::string_view job,
                        const store::SessionRow& row,
                        store::SessionState from) {
    const std::string_view machine = row.computer_dns_name && !row.computer_dns_name->empty()
                                         ? *row.computer_dns_name
                                         : row.machine_id;
    const bool bad =
        row.state == store::SessionState::rejected || row.state == store::SessionState::not_found ||
        row.state == store::SessionState::failed || row.state == store::SessionState::busy;
    spdlog::info("job={} run={} machine={} machine_id={} action={} state={} from={} attempt={}{}{}",
                 job, row.run_id, log_value(machine), log_value(row.machine_id),
                 row.action_id ? log_value(*row.action_id) : "-", sessions::to_string(row.state),
                 sessions::to_string(from), row.attempt, bad && row.last_error ? " error=" : "",
                 bad && row.last_error ? log_error(*row.last_error) : std::string());
}

}  // namespace lrsched::dispatch
