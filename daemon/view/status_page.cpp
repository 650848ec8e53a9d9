#include "view/status_page.hpp"

#include <string_view>

namespace lrsched::view {

namespace embedded {
// Defined in the build tree's status_page_embedded.cpp, generated from
// view/status_page.html (daemon/CMakeLists.txt).
std::string_view status_page_source();
}  // namespace embedded

const std::string& status_page_html() {
    // A function-local static: built once, thread-safe, no order of
    // initialisation to fear across translation units.
    static const std::string page(embedded::status_page_source());
    return page;
}

}  // namespace lrsched::view
