// unwrap(result): the value of a Result, or the test stops with its error
// message (which a bare REQUIRE(r.ok()) would not show).
#pragma once

#include "common/result.hpp"

#include <doctest/doctest.h>

#include <utility>

namespace lrsched::test {

template <typename T>
T unwrap(Result<T> r) {
    if (!r) FAIL(r.error().message);
    return std::move(r).value();
}

inline void unwrap(Result<void> r) {
    if (!r) FAIL(r.error().message);
}

}  // namespace lrsched::test
