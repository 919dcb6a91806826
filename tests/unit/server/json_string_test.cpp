#include "triserve/server/json_string.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using triserve::server::append_json_string;

namespace {

std::string quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

}  // namespace

TEST_CASE("JSON strings: what is escaped and what passes through", "[json]") {
  using namespace std::string_view_literals;
  struct row {
    std::string_view text;
    std::string_view json;
  };
  const row rows[] = {
      {"", R"("")"},
      {"plain /path?q=1", R"("plain /path?q=1")"},
      {R"(a "quoted" word)", R"("a \"quoted\" word")"},
      {R"(back\slash)", R"("back\\slash")"},
      {"tab\tnew\nline\r", R"("tab\u0009new\u000aline\u000d")"},
      {"nul\0byte"sv, R"("nul\u0000byte")"},
      {"\x1f\x7f", R"("\u001f\u007f")"},
      {"/", R"("/")"},
      // Well-formed UTF-8 stays as it is: 2, 3 and 4 bytes, and the highest code point.
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
      {"\xe2\x82\xac", "\"\xe2\x82\xac\""},
      {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},
      {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},
      {"\xed\x9f\xbf", "\"\xed\x9f\xbf\""},  // U+D7FF, just below the surrogates
      // Anything else: each byte as \u00XX.
      {"\xff", R"("\u00ff")"},
      {"a\xffz", R"("a\u00ffz")"},
      {"\x80", R"("\u0080")"},                                // a lone continuation byte
      {"\xc3", R"("\u00c3")"},                                // truncated at the end
      {"\xc3(", R"("\u00c3(")"},                              // lead byte without its continuation
      {"\xc0\xaf", R"("\u00c0\u00af")"},                      // overlong '/'
      {"\xe0\x80\xaf", R"("\u00e0\u0080\u00af")"},            // overlong, 3 bytes
      {"\xed\xa0\x80", R"("\u00ed\u00a0\u0080")"},            // a surrogate, U+D800
      {"\xf0\x8f\xbf\xbf", R"("\u00f0\u008f\u00bf\u00bf")"},  // overlong, 4 bytes
      {"\xf4\x90\x80\x80", R"("\u00f4\u0090\u0080\u0080")"},  // above U+10FFFF
      {"\xf5\x80\x80\x80", R"("\u00f5\u0080\u0080\u0080")"},
      {"\xe2\x82", R"("\u00e2\u0082")"},  // truncated 3-byte sequence
      {"\xe2\x82\xac\xff\"", "\"\xe2\x82\xac\\u00ff\\\"\""},
  };
  for (const auto& r : rows) {
    INFO("text of " << r.text.size() << " bytes: " << std::string(r.text));
    CHECK(quoted(r.text) == r.json);
  }
}

TEST_CASE("JSON strings append to what is already there", "[json]") {
  std::string out = "{\"k\":";
  append_json_string(out, "v");
  CHECK(out == R"({"k":"v")");
}

TEST_CASE("JSON strings: every single byte yields printable ASCII or well-formed text", "[json]") {
  // A lone byte is never part of a multi-byte sequence: all of 0x00-0x1f, 0x7f-0xff are escaped.
  for (int value = 0; value < 256; ++value) {
    const std::string text(1, static_cast<char>(value));
    const auto json = quoted(text);
    INFO("byte " << value << " -> " << json);
    const bool plain = value >= 0x20 && value < 0x7f && value != '"' && value != '\\';
    if (plain) {
      CHECK(json == "\"" + text + "\"");
    } else if (value == '"' || value == '\\') {
      CHECK(json == "\"\\" + text + "\"");
    } else {
      REQUIRE(json.size() == 8);
      CHECK(json.substr(0, 5) == "\"\\u00");
    }
    for (const char c : json) CHECK((static_cast<unsigned char>(c) >= 0x20 && c != 0x7f));
  }
}
