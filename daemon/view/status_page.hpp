// Placeholder until the status page branch lands (issue 13).
#pragma once
#include <string>
namespace lrsched::view {
const std::string& status_page_html();
}
