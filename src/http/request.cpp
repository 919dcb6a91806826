#include "triserve/http/request.hpp"

namespace triserve::http {

namespace {

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
  for (const header_field& field : headers) {
    if (iequals(field.name, name)) return field.value;
  }
  return std::nullopt;
}

void request::clear() {
  method = {};
  target = {};
  path = {};
  query = {};
  version_major = 1;
  version_minor = 1;
  headers.clear();  // keeps the capacity: the next request on this connection reuses it
  framing = body_framing::none;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace triserve::http
