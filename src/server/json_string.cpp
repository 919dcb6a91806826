#include "triserve/server/json_string.hpp"

#include <cstddef>

namespace triserve::server {

namespace {

/// The length of the well-formed UTF-8 sequence `text` starts with (RFC 3629 §4: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or 0 when it does not start with one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto continuation = [&](std::size_t i, unsigned char low = 0x80,
                                unsigned char high = 0xbf) {
    return i < text.size() && byte(i) >= low && byte(i) <= high;
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const unsigned char low = lead == 0xe0 ? 0xa0 : 0x80;   // E0 80..9F would be overlong
    const unsigned char high = lead == 0xed ? 0x9f : 0xbf;  // ED A0..BF are surrogates
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const unsigned char low = lead == 0xf0 ? 0x90 : 0x80;   // F0 80..8F would be overlong
    const unsigned char high = lead == 0xf4 ? 0x8f : 0xbf;  // F4 90.. is above U+10FFFF
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

void append_escaped_byte(std::string& out, unsigned char byte) {
  constexpr char hex[] = "0123456789abcdef";
  out.append("\\u00");
  out.push_back(hex[byte >> 4]);
  out.push_back(hex[byte & 0xf]);
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t plain_from = 0;  // start of the run of bytes copied as they are
  std::size_t at = 0;
  while (at < text.size()) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      ++at;
      continue;
    }
    if (byte >= 0x80) {
      if (const auto length = utf8_sequence_length(text.substr(at))) {
        at += length;
        continue;
      }
    }
    out.append(text.substr(plain_from, at - plain_from));
    if (byte == '"' || byte == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(byte));
    } else {
      append_escaped_byte(out, byte);
    }
    plain_from = ++at;
  }
  out.append(text.substr(plain_from));
  out.push_back('"');
}

}  // namespace triserve::server
