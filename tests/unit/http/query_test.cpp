#include "triserve/http/query.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using triserve::http::first_query_value;
using triserve::http::query_unescape;
using namespace std::string_literals;

TEST_CASE("first_query_value matches Go's url.ParseQuery(q).Get(\"name\")", "[query]") {
  struct row {
    std::string query;
    bool found;
    std::string value;
  };
  // Outputs of Go 1.17+; "found" is whether the key is present at all (Go's Has).
  const row rows[] = {
      {"name=Alex", true, "Alex"},
      {"", false, ""},
      {"name=", true, ""},
      {"name", true, ""},
      {"name=Alex&name=Bob", true, "Alex"},
      {"name=Alex+Smith", true, "Alex Smith"},
      {"name=Alex%20Smith", true, "Alex Smith"},
      {"name=%E4%B8%96%E7%95%8C", true, "世界"},
      {"name=%zz&name=ok", true, "ok"},
      {"name=%", false, ""},
      {"name=%4", false, ""},
      {"name=a;b", false, ""},
      {"x=1;name=Bob", false, ""},
      {"a=1&&name=Bob", true, "Bob"},
      {"na%6De=Bob", true, "Bob"},
      {"Name=Bob", false, ""},
      {"name=a=b", true, "a=b"},
      {"name=%2B", true, "+"},
      {"name=a%26b", true, "a&b"},
      {"name=%41%42", true, "AB"},
      {"name=caf\xc3\xa9", true, "caf\xc3\xa9"},
      {"&name=x&", true, "x"},
      {"name=%00", true, "\0"s},
      {"name=%e4%b8%96", true, "世"},
      {"other=1&name=x", true, "x"},
      {"name%=x&name=y", true, "y"},  // a key that fails to decode skips its pair
      {"names=x", false, ""},
      {"nam=x", false, ""},
  };
  std::string out = "stale";
  for (const row& r : rows) {
    INFO("query " << r.query);
    CHECK(first_query_value(r.query, "name", out) == r.found);
    CHECK(out == r.value);
  }
}

TEST_CASE("query_unescape matches Go's url.QueryUnescape", "[query]") {
  struct row {
    std::string_view text;
    bool ok;
    std::string decoded;
  };
  const row rows[] = {
      {"", true, ""},           {"abc", true, "abc"},  {"a+b", true, "a b"},
      {"a%20b", true, "a b"},   {"%2b", true, "+"},    {"%2B%2b", true, "++"},
      {"%41", true, "A"},       {"%ff", true, "\xff"}, {"%00", true, "\0"s},
      {"100%25", true, "100%"}, {"a=b", true, "a=b"},  {"caf\xc3\xa9", true, "caf\xc3\xa9"},
      {"%", false, ""},         {"%4", false, ""},     {"a%", false, ""},
      {"%zz", false, ""},       {"%4g", false, ""},    {"%g4", false, ""},
      {"ok%2", false, ""},
  };
  std::string out;
  for (const row& r : rows) {
    INFO("text " << r.text);
    REQUIRE(query_unescape(r.text, out) == r.ok);
    if (r.ok) CHECK(out == r.decoded);
  }
}

TEST_CASE("query_unescape overwrites its output", "[query]") {
  std::string out = "previous contents";
  REQUIRE(query_unescape("x", out));
  CHECK(out == "x");
}
