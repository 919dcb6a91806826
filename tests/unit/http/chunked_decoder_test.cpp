#include "triserve/http/chunked_decoder.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using triserve::http::chunked_decoder;
using triserve::http::chunked_limits;
using triserve::http::chunked_result;
using triserve::http::chunked_status;
using namespace std::string_literals;

namespace {

/// What feeding a whole stream, piece by piece, produced.
struct decode_outcome {
  chunked_status status = chunked_status::need_more;
  std::string body;
  std::string unconsumed;  ///< bytes left in the caller's buffer at the end
  std::string_view error_reason;
};

/// Drives the decoder like a connection does: a buffer that grows with each arriving piece and
/// shrinks by what each call consumed. Checks the invariants of every single call on the way.
decode_outcome feed(chunked_decoder& decoder, const std::vector<std::string>& pieces) {
  decode_outcome outcome;
  std::string buffer;
  for (const std::string& piece : pieces) {
    buffer += piece;
    for (;;) {
      const std::string_view input = buffer;
      const chunked_result result = decoder.decode(input);
      REQUIRE(result.consumed <= input.size());
      REQUIRE(result.data.size() <= result.consumed);
      if (result.status == chunked_status::data) {
        REQUIRE(!result.data.empty());
        // The slice is a view into the input, ending exactly where consumption ends.
        REQUIRE(result.data.data() + result.data.size() == input.data() + result.consumed);
        REQUIRE(result.data.data() >= input.data());
        outcome.body += result.data;
      } else {
        REQUIRE(result.data.empty());
      }
      if (result.status == chunked_status::need_more) REQUIRE(result.consumed == input.size());
      buffer.erase(0, result.consumed);
      outcome.status = result.status;
      outcome.error_reason = result.error_reason;
      if (result.status == chunked_status::done || result.status == chunked_status::error) {
        outcome.unconsumed = buffer;
        return outcome;
      }
      if (result.status == chunked_status::need_more) break;
    }
  }
  outcome.unconsumed = buffer;
  return outcome;
}

std::vector<std::string> whole(std::string_view wire) {
  return {std::string(wire)};
}

std::vector<std::string> split_at(std::string_view wire, std::size_t at) {
  return {std::string(wire.substr(0, at)), std::string(wire.substr(at))};
}

std::vector<std::string> byte_by_byte(std::string_view wire) {
  std::vector<std::string> pieces;
  for (const char c : wire) pieces.emplace_back(1, c);
  return pieces;
}

struct valid_case {
  const char* name;
  std::string wire;
  std::string body;
};

const std::vector<valid_case>& valid_cases() {
  static const std::vector<valid_case> cases = {
      {"empty body", "0\r\n\r\n", ""},
      {"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
      {"two chunks", "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", "hello, world"},
      {"uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
      {"lowercase hex", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
      {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
      {"16 significant digits with zeros", "00000000000000000003\r\nabc\r\n0\r\n\r\n", "abc"},
      {"data holding CRLF", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
      {"binary data", "3\r\n\0\xff\n\r\n0\r\n\r\n"s, "\0\xff\n"s},
      {"extension without value", "5;foo\r\nhello\r\n0\r\n\r\n", "hello"},
      {"extension with token", "5;foo=bar\r\nhello\r\n0\r\n\r\n", "hello"},
      {"extension quoted", "5;foo=\"b a;r\"\r\nhello\r\n0\r\n\r\n", "hello"},
      {"extension quoted-pair", "5;foo=\"a\\\"b\"\r\nhello\r\n0\r\n\r\n", "hello"},
      {"several extensions", "5;a=1;b;c=\"x\"\r\nhello\r\n0;last\r\n\r\n", "hello"},
      {"BWS around ; and =", "5 ;\ta = 1 ; b\r\nhello\r\n0\r\n\r\n", "hello"},
      {"one trailer", "5\r\nhello\r\n0\r\nChecksum: abc\r\n\r\n", "hello"},
      {"two trailers", "5\r\nhello\r\n0\r\nA: 1\r\nB:\t2 \r\n\r\n", "hello"},
      {"empty trailer value", "0\r\nX-Empty:\r\n\r\n", ""},
      {"obs-text trailer value", "0\r\nX: caf\xc3\xa9\r\n\r\n", ""},
  };
  return cases;
}

}  // namespace

TEST_CASE("chunked decoder: valid bodies fed whole", "[chunked]") {
  for (const valid_case& c : valid_cases()) {
    INFO(c.name);
    chunked_decoder decoder;
    const decode_outcome outcome = feed(decoder, whole(c.wire));
    CHECK(outcome.status == chunked_status::done);
    CHECK(outcome.body == c.body);
    CHECK(outcome.unconsumed.empty());
    CHECK(decoder.done());
  }
}

TEST_CASE("chunked decoder: valid bodies split at every byte boundary", "[chunked]") {
  for (const valid_case& c : valid_cases()) {
    for (std::size_t at = 0; at <= c.wire.size(); ++at) {
      INFO(c.name << ", split at " << at);
      chunked_decoder decoder;
      const decode_outcome outcome = feed(decoder, split_at(c.wire, at));
      CHECK(outcome.status == chunked_status::done);
      CHECK(outcome.body == c.body);
      CHECK(outcome.unconsumed.empty());
    }
  }
}

TEST_CASE("chunked decoder: valid bodies byte by byte", "[chunked]") {
  for (const valid_case& c : valid_cases()) {
    INFO(c.name);
    chunked_decoder decoder;
    const decode_outcome outcome = feed(decoder, byte_by_byte(c.wire));
    CHECK(outcome.status == chunked_status::done);
    CHECK(outcome.body == c.body);
    CHECK(outcome.unconsumed.empty());
  }
}

TEST_CASE("chunked decoder: returns at most one data slice per call", "[chunked]") {
  chunked_decoder decoder;
  const std::string_view wire = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

  chunked_result result = decoder.decode(wire);
  REQUIRE(result.status == chunked_status::data);
  CHECK(result.data == "abc");
  CHECK(result.consumed == 6);

  result = decoder.decode(wire.substr(6));
  REQUIRE(result.status == chunked_status::data);
  CHECK(result.data == "de");
  CHECK(result.consumed == 7);

  result = decoder.decode(wire.substr(13));
  CHECK(result.status == chunked_status::done);
  CHECK(result.consumed == 7);
}

TEST_CASE("chunked decoder: metadata-only input is consumed with need_more", "[chunked]") {
  chunked_decoder decoder;
  const chunked_result result = decoder.decode("10;ext=1\r");
  CHECK(result.status == chunked_status::need_more);
  CHECK(result.consumed == 9);
}

TEST_CASE("chunked decoder: never consumes pipelined bytes after the body", "[chunked]") {
  const std::string next_request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const valid_case& c : valid_cases()) {
    const std::string wire = c.wire + next_request;
    {
      INFO(c.name << ", fed whole");
      chunked_decoder decoder;
      const decode_outcome outcome = feed(decoder, whole(wire));
      CHECK(outcome.status == chunked_status::done);
      CHECK(outcome.body == c.body);
      CHECK(outcome.unconsumed == next_request);
    }
    for (std::size_t at = 0; at <= wire.size(); ++at) {
      INFO(c.name << ", split at " << at);
      chunked_decoder decoder;
      const decode_outcome outcome = feed(decoder, split_at(wire, at));
      CHECK(outcome.status == chunked_status::done);
      CHECK(outcome.body == c.body);
      // Whatever arrived after the body stays in the caller's buffer: the body ends in the first
      // piece when the split is at or past its end, otherwise everything has arrived by then.
      const std::string_view expected =
          at >= c.wire.size() ? std::string_view(wire).substr(c.wire.size(), at - c.wire.size())
                              : std::string_view(next_request);
      CHECK(outcome.unconsumed == expected);
    }
  }
}

TEST_CASE("chunked decoder: decoding after done consumes nothing", "[chunked]") {
  chunked_decoder decoder;
  REQUIRE(decoder.decode("0\r\n\r\n").status == chunked_status::done);
  const chunked_result result = decoder.decode("5\r\nhello\r\n");
  CHECK(result.status == chunked_status::done);
  CHECK(result.consumed == 0);
}

TEST_CASE("chunked decoder: reset starts a new body", "[chunked]") {
  chunked_decoder decoder;
  REQUIRE(decoder.decode("zz\r\n").status == chunked_status::error);
  decoder.reset();
  CHECK_FALSE(decoder.done());
  const decode_outcome outcome = feed(decoder, whole("2\r\nok\r\n0\r\n\r\n"));
  CHECK(outcome.status == chunked_status::done);
  CHECK(outcome.body == "ok");
}

namespace {

struct invalid_case {
  const char* name;
  std::string wire;
  chunked_limits limits;
  std::string_view reason;
};

const std::vector<invalid_case>& invalid_cases() {
  static const chunked_limits defaults;
  static const chunked_limits short_line{8, 16384};
  static const chunked_limits small_trailers{4096, 16};
  static const std::vector<invalid_case> cases = {
      {"empty size", "\r\n", defaults, "chunk size is not a hex number"},
      {"non-hex size", "g\r\n", defaults, "chunk size is not a hex number"},
      {"size with 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", defaults,
       "invalid character after chunk size"},
      {"negative size", "-5\r\nhello\r\n0\r\n\r\n", defaults, "chunk size is not a hex number"},
      {"size with leading space", " 5\r\nhello\r\n0\r\n\r\n", defaults,
       "chunk size is not a hex number"},
      {"overflow: 17 significant digits", "10000000000000000\r\n", defaults,
       "chunk size overflows"},
      {"overflow: all f and one more", "fffffffffffffffff\r\n", defaults, "chunk size overflows"},
      {"beyond 2^63-1, as Go refuses", "8000000000000000\r\n", defaults, "chunk size overflows"},
      {"sixteen f", "ffffffffffffffff\r\n", defaults, "chunk size overflows"},
      {"bare LF after size", "5\nhello\r\n0\r\n\r\n", defaults, "bare LF in chunk line"},
      {"bare LF after extension", "5;a=b\nhello\r\n0\r\n\r\n", defaults, "bare LF in chunk line"},
      {"CR without LF after size", "5\rhello\r\n0\r\n\r\n", defaults,
       "CR not followed by LF in chunk line"},
      {"bare LF after data", "5\r\nhello\n0\r\n\r\n", defaults, "bare LF after chunk data"},
      {"CR without LF after data", "5\r\nhello\r0\r\n\r\n", defaults,
       "CR not followed by LF after chunk data"},
      {"missing CRLF after data", "5\r\nhello0\r\n\r\n", defaults,
       "chunk data not followed by CRLF"},
      {"data longer than size", "3\r\nhello\r\n0\r\n\r\n", defaults,
       "chunk data not followed by CRLF"},
      {"whitespace before CRLF", "5 \r\nhello\r\n0\r\n\r\n", defaults,
       "chunk extension ends early"},
      {"trailing whitespace after value", "5;a=b \r\nhello\r\n0\r\n\r\n", defaults,
       "chunk extension ends early"},
      {"empty extension name", "5;\r\nhello\r\n0\r\n\r\n", defaults, "chunk extension ends early"},
      {"empty extension value", "5;a=\r\nhello\r\n0\r\n\r\n", defaults,
       "chunk extension ends early"},
      {"separator in extension name", "5;a@b\r\nhello\r\n0\r\n\r\n", defaults,
       "invalid chunk extension name"},
      {"control char in extension name", "5;a\x01\r\nhello\r\n0\r\n\r\n", defaults,
       "invalid chunk extension name"},
      {"control char in token value", "5;a=b\x7f\r\nhello\r\n0\r\n\r\n", defaults,
       "invalid chunk extension value"},
      {"control char in quoted value", "5;a=\"b\x01\"\r\nhello\r\n0\r\n\r\n", defaults,
       "control character in chunk extension"},
      {"NUL in quoted value", "5;a=\"\0\"\r\nhello\r\n0\r\n\r\n"s, defaults,
       "control character in chunk extension"},
      {"unterminated quoted value", "5;a=\"b\r\nhello\r\n0\r\n\r\n", defaults,
       "unterminated quoted string in chunk extension"},
      {"junk after quoted value", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", defaults,
       "invalid character after chunk extension value"},
      {"chunk line too long", "5;abcdefgh\r\nhello\r\n0\r\n\r\n", short_line,
       "chunk line too long"},
      {"too many leading zeros", "000000000\r\n\r\n", short_line, "chunk line too long"},
      {"obs-fold trailer", "0\r\nA: 1\r\n  continued\r\n\r\n", defaults,
       "obsolete line folding in trailer"},
      {"trailer starting with tab", "0\r\n\tA: 1\r\n\r\n", defaults,
       "obsolete line folding in trailer"},
      {"trailer without colon", "0\r\nA\r\n\r\n", defaults, "trailer field without ':'"},
      {"trailer with empty name", "0\r\n: 1\r\n\r\n", defaults, "invalid trailer field name"},
      {"space before trailer colon", "0\r\nA : 1\r\n\r\n", defaults, "invalid trailer field name"},
      {"control char in trailer", "0\r\nA: \x01\r\n\r\n", defaults, "control character in trailer"},
      {"bare LF in trailer", "0\r\nA: 1\n\r\n", defaults, "bare LF in trailer"},
      {"bare LF ending trailers", "0\r\nA: 1\r\n\n", defaults, "bare LF in trailer"},
      {"bare LF after last chunk", "0\r\n\n", defaults, "bare LF in trailer"},
      {"CR without LF ending trailers", "0\r\n\rX", defaults,
       "CR not followed by LF at end of trailers"},
      {"trailers too large", "0\r\nX-Long: 0123456789\r\n\r\n", small_trailers,
       "trailer section too large"},
  };
  return cases;
}

}  // namespace

TEST_CASE("chunked decoder: invalid bodies are errors however they are fed", "[chunked]") {
  for (const invalid_case& c : invalid_cases()) {
    INFO(c.name);
    {
      chunked_decoder decoder(c.limits);
      const decode_outcome outcome = feed(decoder, whole(c.wire));
      CHECK(outcome.status == chunked_status::error);
      CHECK(outcome.error_reason == c.reason);
    }
    {
      chunked_decoder decoder(c.limits);
      const decode_outcome outcome = feed(decoder, byte_by_byte(c.wire));
      CHECK(outcome.status == chunked_status::error);
      CHECK(outcome.error_reason == c.reason);
    }
  }
}

TEST_CASE("chunked decoder: limits are inclusive", "[chunked]") {
  SECTION("a chunk line of exactly max_chunk_line bytes") {
    chunked_decoder decoder(chunked_limits{8, 16384});
    CHECK(feed(decoder, whole("5;abcdef\r\nhello\r\n0\r\n\r\n")).status == chunked_status::done);
  }
  SECTION("trailers of exactly max_trailer_bytes bytes, CRLF included") {
    chunked_decoder decoder(chunked_limits{4096, 8});
    CHECK(feed(decoder, whole("0\r\nAB: 12\r\n\r\n")).status == chunked_status::done);
  }
  SECTION("2^63-1, the largest size accepted, fits") {
    chunked_decoder decoder;
    const chunked_result result = decoder.decode("7fffffffffffffff\r\nab");
    CHECK(result.status == chunked_status::data);
    CHECK(result.data == "ab");
  }
}

TEST_CASE("chunked decoder: an error is sticky", "[chunked]") {
  chunked_decoder decoder;
  const chunked_result first = decoder.decode("5\nhello");
  REQUIRE(first.status == chunked_status::error);
  const chunked_result again = decoder.decode("0\r\n\r\n");
  CHECK(again.status == chunked_status::error);
  CHECK(again.consumed == 0);
  CHECK(again.error_reason == first.error_reason);
  CHECK_FALSE(decoder.done());
}
