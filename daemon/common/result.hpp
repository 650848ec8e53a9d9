// Result<T>: a value or an Error (error_code plus a message fit for an
// operator). std::expected is not in g++ 12's C++20, and Boost.Outcome's TRY
// macro changed between Boost releases, so this small class stands in.
//
// Folder common/: errors, the clock, text, YAML guards, safe file reads,
// hashes; includes nothing of ours.
#pragma once

#include "common/error.hpp"

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace lrsched {

struct Error {
    std::error_code code;
    std::string message;  // says what and where; never holds a secret

    Error(std::error_code c, std::string m) : code(c), message(std::move(m)) {}
    Error(Errc c, std::string m) : code(make_error_code(c)), message(std::move(m)) {}
};

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor): like expected
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    explicit operator bool() const noexcept { return v_.index() == 0; }
    bool ok() const noexcept { return v_.index() == 0; }

    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const& {
        assert(!ok());
        return std::get<1>(v_);
    }
    Error&& error() && {
        assert(!ok());
        return std::get<1>(std::move(v_));
    }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

    explicit operator bool() const noexcept { return !failed_; }
    bool ok() const noexcept { return !failed_; }
    const Error& error() const& {
        assert(failed_);
        return error_;
    }
    Error&& error() && {
        assert(failed_);
        return std::move(error_);
    }

  private:
    Error error_{Errc::ok, {}};
    bool failed_ = false;
};

inline Result<void> ok() {
    return {};
}

}  // namespace lrsched
