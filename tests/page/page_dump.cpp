// lrsched_page_dump: writes the status page exactly as the daemon embeds it
// (view::status_page_html()) to stdout, for tests/page/page_test.py to serve
// to a browser. Test-only: lrsched itself has no command for it.
#include "view/status_page.hpp"

#include <cstdio>

int main() {
    const std::string& page = lrsched::view::status_page_html();
    const bool ok = std::fwrite(page.data(), 1, page.size(), stdout) == page.size();
    return ok && std::fflush(stdout) == 0 ? 0 : 1;
}
