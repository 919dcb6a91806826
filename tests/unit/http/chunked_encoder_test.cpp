#include "triserve/http/chunked_encoder.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "triserve/http/chunked_decoder.hpp"

using triserve::http::max_chunk_header_size;
using triserve::http::write_chunk_header;

namespace {

std::string chunk_header(std::size_t size) {
  char buffer[max_chunk_header_size];
  return std::string(buffer, write_chunk_header(size, buffer));
}

}  // namespace

TEST_CASE("chunk headers are lowercase hex and CRLF", "[chunked]") {
  struct row {
    std::size_t size;
    std::string_view header;
  };
  const row rows[] = {
      {1, "1\r\n"},
      {9, "9\r\n"},
      {10, "a\r\n"},
      {15, "f\r\n"},
      {16, "10\r\n"},
      {255, "ff\r\n"},
      {4096, "1000\r\n"},
      {0xdeadbeef, "deadbeef\r\n"},
      {SIZE_MAX, "ffffffffffffffff\r\n"},
  };
  for (const row& r : rows) {
    INFO("size " << r.size);
    CHECK(chunk_header(r.size) == r.header);
  }
  CHECK(chunk_header(SIZE_MAX).size() == max_chunk_header_size);
}

TEST_CASE("encoded chunks decode back to the same bytes", "[chunked]") {
  const std::string_view pieces[] = {"hello", ", ", "world", std::string_view("\0\r\n", 3)};
  std::string wire;
  std::string expected;
  for (const std::string_view piece : pieces) {
    wire += chunk_header(piece.size());
    wire += piece;
    wire += triserve::http::chunk_trailer;
    expected += piece;
  }
  wire += triserve::http::last_chunk;

  triserve::http::chunked_decoder decoder;
  std::string body;
  std::string_view input = wire;
  for (;;) {
    const auto result = decoder.decode(input);
    REQUIRE(result.status != triserve::http::chunked_status::error);
    body += result.data;
    input.remove_prefix(result.consumed);
    if (result.status == triserve::http::chunked_status::done) break;
    REQUIRE(result.status == triserve::http::chunked_status::data);
  }
  CHECK(body == expected);
  CHECK(input.empty());
}
