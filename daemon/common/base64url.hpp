// Base64url without padding (RFC 4648 §5, RFC 7515 §2): the encoding of a
// JWT's three parts. Used once per token request (the client assertion) and
// by the simulator to read one. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lrsched {

// Encodes `bytes` with the URL-safe alphabet, no '=' padding.
std::string base64url_encode(std::string_view bytes);

// Decodes unpadded base64url; nullopt for any byte outside the alphabet, a
// '=' or a length that no encoding has (4k+1), or bits left over that are
// not zero (each input has one encoding only).
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace lrsched
