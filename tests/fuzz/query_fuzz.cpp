// libFuzzer harness: query_unescape and first_query_value never grow their input, leave plain
// text alone, and invert percent-encoding.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "triserve/http/query.hpp"

namespace {

using triserve::http::first_query_value;
using triserve::http::query_unescape;

/// Every byte as %XX: the encoding any conforming decoder must invert.
std::string escape_all(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(hex[u >> 4]);
    out.push_back(hex[u & 0xf]);
  }
  return out;
}

void check_unescape(std::string_view text) {
  std::string out = "stale";  // out is overwritten, never appended to
  if (!query_unescape(text, out)) {
    FUZZ_CHECK(text.find('%') != std::string_view::npos);
    return;
  }
  FUZZ_CHECK(out.size() <= text.size());
  // Each escape turns three bytes into one; every other byte stays one byte.
  const auto escapes = static_cast<std::size_t>(std::count(text.begin(), text.end(), '%'));
  FUZZ_CHECK(out.size() == text.size() - 2 * escapes);
  if (text.find_first_of("%+") == std::string_view::npos) FUZZ_CHECK(out == text);

  std::string again;
  FUZZ_CHECK(query_unescape(escape_all(out), again) && again == out);
}

void check_first_value(std::string_view query, std::string_view key) {
  std::string value = "stale";
  if (first_query_value(query, key, value)) {
    FUZZ_CHECK(value.size() <= query.size());
    // A pair for the same key put in front wins, whatever the rest of the query holds.
    std::string front = escape_all(key) + "=" + escape_all(value) + "&";
    std::string again;
    FUZZ_CHECK(first_query_value(front + std::string(query), key, again) && again == value);
  } else {
    FUZZ_CHECK(value.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input{reinterpret_cast<const char*>(data), size};
  check_unescape(input);
  // "key NUL query" picks the key; without a NUL the handlers' own key, "name", is looked up.
  const std::size_t nul = input.find('\0');
  if (nul == std::string_view::npos) {
    check_first_value(input, "name");
  } else {
    check_first_value(input.substr(nul + 1), input.substr(0, nul));
  }
  return 0;
}
