// Where evidence goes (SPEC §4): file and folder names made from what the
// server and the job say, which an attacker may control (a remote path on a
// compromised machine, a host name). Every name returned here is a single
// path component that cannot leave its folder: no separators, no `.` or
// `..`, no NUL or control characters, no drive letters, UNC or `\\?\`
// prefixes, and at most kMaxComponent bytes of valid UTF-8. Pure; called once
// per downloaded file.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace lrsched::evidence {

inline constexpr std::size_t kMaxComponent = 200;  // bytes; ext4 allows 255

// Any text to one safe path component (see above). Never empty.
std::string safe_component(std::string_view raw, std::size_t max_bytes = kMaxComponent);

// The last component of a remote path as the API sends it: Windows (`\`) or
// POSIX (`/`) separators, drive letters, UNC and `\\?\` prefixes stripped.
std::string_view remote_basename(std::string_view remote);

// "<index>-<Type>-<name>": the script name for RunScript, the remote path's
// last component for GetFile (SPEC §4), made safe.
std::string artifact_name(int index, std::string_view type, std::string_view remote);

// The folder of one machine inside the run folder: its host name, or its id
// when the API gave none.
std::string machine_folder(std::string_view computer_dns_name, std::string_view machine_id);

// `name`, or when `taken(name)` says it is in use, "stem~2.ext", "stem~3.ext"
// ...: the first free one. Deterministic for a given set of taken names.
std::string unique_name(const std::string& name,
                        const std::function<bool(const std::string&)>& taken);

}  // namespace lrsched::evidence
