// The status page (issue 13): one self-contained HTML page for the people
// watching a sweep, served read-only at GET / on the control socket and on
// the loopback listener of `metrics.listen` (control/routes.hpp). It reads
// GET /v1/status (view::to_json(Overview)) every 2 s and draws it in the
// browser, so the daemon's side is this constant text and nothing more.
// The HTML is kept as HTML in view/status_page.html and embedded at build
// time (cmake/embed_text.cmake). Load: one copy for the process, handed out
// by reference on each GET /.
#pragma once

#include <string>

namespace lrsched::view {

// The page, text/html in UTF-8. Built on first use; never changes after.
const std::string& status_page_html();

}  // namespace lrsched::view
