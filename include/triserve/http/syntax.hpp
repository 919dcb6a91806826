#pragma once

#include <algorithm>
#include <string_view>

/// The character classes of HTTP's grammar (RFC 9110 §5.6, RFC 5234 appendix B.1), shared by
/// the request parser, the chunked decoder and query decoding.
namespace triserve::http::syntax {

inline constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

inline constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// tchar (RFC 9110 §5.6.2): the characters of a token.
inline constexpr bool is_tchar(char c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A non-empty run of tchar.
inline constexpr bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

/// CTL (RFC 5234); bytes from 0x80 up are obs-text, not controls.
inline constexpr bool is_ctl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

/// OWS / BWS (RFC 9110 §5.6.3): space or horizontal tab.
inline constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

/// obs-text (RFC 9110 §5.5): bytes 0x80-0xFF, tolerated in values.
inline constexpr bool is_obs_text(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

/// VCHAR (RFC 5234): 0x21-0x7E.
inline constexpr bool is_vchar(char c) {
  return c >= 0x21 && c <= 0x7e;
}

/// `s` without the OWS around it.
inline constexpr std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

/// Calls `f` with each non-empty, OWS-trimmed element of a comma-separated list (RFC 9110 §5.6.1).
template <typename F>
constexpr void for_each_element(std::string_view list, F f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

/// The value of a hex digit (either case), or -1.
inline constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace triserve::http::syntax
