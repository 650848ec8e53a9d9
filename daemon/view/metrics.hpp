// Placeholder until the metrics branch lands (issue 13 item 5).
#pragma once
#include "view/overview.hpp"
#include <string>
namespace lrsched::view {
std::string prometheus_text(const Overview& o);
}
