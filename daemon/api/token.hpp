// The Entra ID token endpoint's answer as plain data (mde-api.md, token
// scope): the token and how long to keep it, or why there is none. Pure;
// mde/token_provider.hpp makes the calls and caches the token.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace lrsched::api {

// The lifetime a token is scheduled with, whatever `expires_in` said.
inline constexpr std::chrono::seconds kMinTokenLife{60};
inline constexpr std::chrono::seconds kMaxTokenLife{24 * 3600};

// Reads an Entra token response: the token and its lifetime (expires_in,
// a number or a numeric string, clamped to [kMinTokenLife, kMaxTokenLife]),
// or an error naming the AADSTS code and description (the first line of it),
// or, for a 200 that cannot be used, what is wrong with it (not JSON, no
// access_token, no usable expires_in). Never the token or the body. Pure.
struct TokenResponse {
    std::string access_token;
    std::chrono::seconds expires_in{0};
};
Result<TokenResponse> parse_token_response(int status,
                                           std::string_view body,
                                           std::string_view tenant_name);

}  // namespace lrsched::api
