// The one include of Boost.Asio, Beast and their OpenSSL glue for lrsched's
// own .cpp files, with the namespace aliases they share. Expected load: only
// the few translation units that do network I/O include it (each costs
// seconds of compile time); every other file sees plain headers.
//
// Asio and Beast are compiled once, in asio_impl.cpp: the library
// lrsched_net defines BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION for everything that links it.
//
// Folder net/: the HTTPS client and the one separately compiled Asio/Beast
// unit; includes common/ only.
#pragma once

#include "net/coro.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace lrsched::net {

namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace lrsched::net
