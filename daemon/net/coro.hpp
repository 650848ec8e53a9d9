// The part of Boost.Asio that the runtime's coroutines need (io_context,
// timers, signals, co_spawn, awaitable) without Beast and OpenSSL: the
// runtime's files include this, not net.hpp, and compile in half the time.
// Asio is compiled once, in asio_impl.cpp (see net.hpp).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lrsched::net {

namespace asio = boost::asio;

// Completion token for co_await that returns (error_code, values...) instead
// of throwing: every network failure is an expected outcome here.
inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace lrsched::net
