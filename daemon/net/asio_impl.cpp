// The compiled bodies of Boost.Asio, its SSL support and Beast, built once
// for the whole program (separate compilation: see net.hpp). Nothing else
// belongs here; this TU takes the longest to build and changes never.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
