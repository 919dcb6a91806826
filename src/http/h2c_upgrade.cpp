#include "triserve/http/h2c_upgrade.hpp"

#include <array>
#include <cstdint>
#include <string_view>

#include "triserve/http/syntax.hpp"

namespace triserve::http {

namespace {

/// The 6-bit value of a base64url character (RFC 4648 §5), or -1.
int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

/// `text` decoded as base64url without padding (RFC 7540 §3.2.1: "with any trailing '='
/// characters omitted"), or nothing when it is not.
std::optional<std::string> decode_base64url(std::string_view text) {
  // A lone character in the last group carries fewer than 8 bits: no such encoding.
  if (text.size() % 4 == 1) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int held = 0;
  for (const char c : text) {
    const int value = base64url_value(c);
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    held += 6;
    if (held >= 8) {
      held -= 8;
      bytes.push_back(static_cast<char>((bits >> held) & 0xff));
    }
  }
  return bytes;
}

/// Whether any field named `name` lists `token` (case-insensitively, RFC 9110 §5.6.1).
bool lists_token(const request& req, std::string_view name, std::string_view token) {
  bool found = false;
  for (const auto& field : req.headers)
    if (iequals(field.name, name))
      syntax::for_each_element(field.value, [&](std::string_view element) {
        if (iequals(element, token)) found = true;
      });
  return found;
}

}  // namespace

std::optional<std::string> h2c_upgrade_settings(const request& req) {
  if (req.version_major != 1 || req.version_minor != 1) return std::nullopt;
  if (req.target.empty() || req.target.front() != '/' || req.has_body()) return std::nullopt;
  // RFC 9110 §7.6.1: Upgrade is a connection option, named in Connection by its sender.
  if (!lists_token(req, "Upgrade", "h2c") || !lists_token(req, "Connection", "Upgrade") ||
      !lists_token(req, "Connection", "HTTP2-Settings"))
    return std::nullopt;
  // RFC 7540 §3.2.1: "A server MUST NOT upgrade the connection to HTTP/2 if this header field is
  // not present or if more than one is present."
  std::optional<std::string_view> encoded;
  for (const auto& field : req.headers) {
    if (!iequals(field.name, "HTTP2-Settings")) continue;
    if (encoded) return std::nullopt;
    encoded = field.value;
  }
  if (!encoded) return std::nullopt;
  auto payload = decode_base64url(*encoded);
  // A SETTINGS payload is a sequence of 6-byte settings (RFC 9113 §6.5.1); empty is allowed.
  if (!payload || payload->size() % 6 != 0) return std::nullopt;
  return payload;
}

}  // namespace triserve::http
