// libFuzzer harness: the real HTTP/1.1 connection code (src/server/connection.cpp, exchange.cpp,
// server.cpp and the product's three handlers) serving one connection over a memory_transport.
// The input is the client's bytes; a read plan (read_plan.hpp) cuts them into the pieces reads
// see, and draws from a hash of the input decide what else happens between steps: the clock
// jumps and the deadline sweep runs, the kernel's send room shrinks or grows, the drain begins,
// the connection is forced closed, the client closes or falls silent. Checked: what the
// connection wrote reads back, strictly, as responses to the requests the client sent (decoded
// independently with the HTTP layer's pure pieces), in order and framed exactly; nothing is
// written after the FIN; the connection always ends once time passes without the client (no
// wait without a deadline); and every pooled buffer and workspace comes back.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connection_driver.hpp"
#include "fuzz_check.hpp"
#include "read_plan.hpp"
#include "triserve/http/chunked_decoder.hpp"
#include "triserve/http/query.hpp"
#include "triserve/http/request_parser.hpp"
#include "triserve/http/status.hpp"
#include "triserve/server/server_options.hpp"

namespace {

using namespace triserve::http;
using triserve::fuzz::product;
using triserve::fuzz::read_plan;
namespace server = triserve::server;

/// One request of the client's stream, as the client meant it.
struct reference_request {
  int error_status = 0;        ///< the parser's answer to a malformed head; 0 for a valid one
  bool head_request = false;   ///< HEAD: the response has no body
  bool bad_body = false;       ///< its chunked body is malformed
  bool body_complete = false;  ///< the stream holds its whole body
  std::string body;            ///< its body, decoded, as far as the stream holds it
  std::string name;            ///< hello-name's `name` query value, decoded
};

/// The requests in `stream`, decoded one after another with the parser and the chunked decoder
/// (each fuzzed on its own), up to the first that the connection cannot be followed past.
std::vector<reference_request> reference_requests(std::string_view stream, parser_limits limits) {
  std::vector<reference_request> requests;
  request_parser parser{limits};
  while (!stream.empty()) {
    request head;
    const parse_result parsed = parser.parse(stream, head);
    if (parsed.status == parse_status::need_more) break;
    reference_request ref;
    if (parsed.status == parse_status::error) {
      ref.error_status = parsed.error_status;
      // A head rejected once whole still shows its method: a HEAD's error has no body.
      ref.head_request = head.is_head();
      requests.push_back(std::move(ref));
      break;
    }
    stream.remove_prefix(parsed.consumed);
    ref.head_request = head.is_head();
    first_query_value(head.query, "name", ref.name);
    if (head.framing == body_framing::content_length) {
      const auto available =
          static_cast<std::size_t>(std::min<std::uint64_t>(head.content_length, stream.size()));
      ref.body.assign(stream.substr(0, available));
      ref.body_complete = available == head.content_length;
      stream.remove_prefix(available);
    } else if (head.framing == body_framing::chunked) {
      chunked_decoder decoder;
      for (;;) {
        const chunked_result step = decoder.decode(stream);
        stream.remove_prefix(step.consumed);
        if (step.status == chunked_status::data) {
          ref.body.append(step.data);
          continue;
        }
        ref.bad_body = step.status == chunked_status::error;
        ref.body_complete = step.status == chunked_status::done;
        break;
      }
    } else {
      ref.body_complete = true;
    }
    const bool follow = ref.body_complete && head.keep_alive;
    requests.push_back(std::move(ref));
    if (!follow) break;
  }
  return requests;
}

/// One response as read back by a strict client.
struct parsed_response {
  int status = 0;
  bool close = false;
  bool truncated = false;
  /// The body ran to the close: cut short or not, it looks the same (HTTP/1.0's lot).
  bool close_delimited = false;
  std::string body;
};

/// Reads one response (or the interim 100) from the front of `wire`; `head_request` says that
/// no body follows whatever the head says. Aborts on anything malformed.
parsed_response read_response(std::string_view& wire, bool head_request) {
  parsed_response out;
  const std::size_t end = wire.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string_view::npos);
  std::string_view head = wire.substr(0, end + 2);
  wire.remove_prefix(end + 4);

  // Status line: HTTP/1.1 SP 3DIGIT SP reason-phrase CRLF.
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);
  FUZZ_CHECK(line.size() > 13 && line.substr(0, 9) == "HTTP/1.1 " && line[12] == ' ');
  FUZZ_CHECK(std::all_of(line.begin() + 9, line.begin() + 12,
                         [](char c) { return c >= '0' && c <= '9'; }));
  out.status = std::stoi(std::string(line.substr(9, 3)));
  FUZZ_CHECK(line.substr(13) == reason_phrase(out.status));
  if (out.status == 100) {
    FUZZ_CHECK(head.empty());
    return out;
  }

  bool content_type = false, date = false, nosniff = false, chunked = false;
  std::optional<std::uint64_t> length;
  while (!head.empty()) {
    const std::size_t eol = head.find("\r\n");
    const std::string_view field = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = field.find(": ");
    FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = field.substr(colon + 2);
    FUZZ_CHECK(
        std::none_of(field.begin(), field.end(), [](char c) { return c == '\r' || c == '\n'; }));
    if (name == "Content-Type") content_type = true;
    // IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
    if (name == "Date") date = value.size() == 29 && value.substr(25) == " GMT";
    if (name == "X-Content-Type-Options") nosniff = value == "nosniff";
    if (name == "Connection") {
      FUZZ_CHECK(value == "close" || value == "keep-alive");
      out.close = value == "close";
    }
    if (name == "Transfer-Encoding") {
      FUZZ_CHECK(value == "chunked" && !length && !chunked);
      chunked = true;
    }
    if (name == "Content-Length") {
      FUZZ_CHECK(!length && !chunked && !value.empty());
      FUZZ_CHECK(
          std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }));
      length = std::stoull(std::string(value));
    }
  }
  FUZZ_CHECK(content_type && date && nosniff);
  // Without a length or chunking the body runs to the close, which the head must announce.
  if (!length && !chunked) FUZZ_CHECK(out.close);
  if (head_request) return out;

  if (length) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(*length, wire.size()));
    out.body = std::string(wire.substr(0, n));
    out.truncated = n < *length;
    wire.remove_prefix(n);
  } else if (chunked) {
    chunked_decoder decoder;
    for (;;) {
      const chunked_result r = decoder.decode(wire);
      wire.remove_prefix(r.consumed);
      FUZZ_CHECK(r.status != chunked_status::error);
      if (r.status != chunked_status::data) break;
      out.body.append(r.data);
    }
    out.truncated = !decoder.done();
  } else {
    out.body = std::string(wire);
    out.close_delimited = true;
    wire = {};
  }
  return out;
}

/// What the connection wrote answers the requests the client sent, in order, framed exactly.
/// `writes_cut`: a write may have been cut short (the client stopped reading until the write
/// timeout, or the connection was forced closed), so the output may end anywhere.
/// `timeouts_possible`: enough time passed for a 408.
void check_responses(std::string_view wire, const std::vector<reference_request>& requests,
                     product serving, bool writes_cut, bool timeouts_possible) {
  std::size_t index = 0;
  while (!wire.empty()) {
    if (wire.find("\r\n\r\n") == std::string_view::npos) {
      // Part of a head, and nothing after it.
      constexpr std::string_view version = "HTTP/1.1 ";
      FUZZ_CHECK(writes_cut);
      FUZZ_CHECK(wire.substr(0, version.size()) == version.substr(0, wire.size()));
      break;
    }
    const bool head_request = index < requests.size() && requests[index].head_request;
    const std::string_view before = wire;
    parsed_response r = read_response(wire, head_request);
    if (r.status == 408 && head_request && !wire.empty()) {
      // Timed out before its head was whole, the connection could not know it was a HEAD.
      wire = before;
      r = read_response(wire, false);
    }
    if (r.status == 100) {
      // Interim: only for a request that was received, and followed by its final answer or
      // nothing (the client never sent the body).
      FUZZ_CHECK(index < requests.size() && requests[index].error_status == 0);
      continue;
    }
    const bool last = wire.empty();
    // A response that promised keep-alive is followed by the next answer or by nothing (the
    // client went away, time ran out); one that announced the close, by nothing.
    if (r.close || r.truncated) FUZZ_CHECK(last);
    if (r.status == 408) {
      // The head or body did not arrive in time.
      FUZZ_CHECK(r.close && last && timeouts_possible);
      break;
    }
    FUZZ_CHECK(index < requests.size());
    const reference_request& request = requests[index];
    if (request.error_status != 0) {
      // The parser's answer, whatever the pieces the head came in.
      FUZZ_CHECK(r.status == request.error_status && r.close && last);
      break;
    }
    if (r.status == 500) {
      // A handler's exception, before any of its response had left.
      FUZZ_CHECK(serving == product::faulty_echo && r.close && last);
      break;
    }
    if (r.status == 400) {
      // A malformed chunked body, found before the response began.
      FUZZ_CHECK(request.bad_body && r.close && last);
      break;
    }
    FUZZ_CHECK(r.status == 200);
    const std::string body =
        request.head_request ? std::string{} : expected_body(serving, request.name, request.body);
    if (r.truncated || r.close_delimited)
      FUZZ_CHECK(body.substr(0, r.body.size()) == r.body);
    else
      FUZZ_CHECK(r.body == body);
    ++index;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  triserve::fuzz::silence_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const read_plan plan = triserve::fuzz::make_read_plan(data, size);
  // This harness drives HTTP/1.1 (h2_connection_fuzz drives HTTP/2): a preface is answered as
  // HTTP/1.1 would answer it.
  server::server_options options = triserve::fuzz::drawn_options(plan, false);
  // The minimum rates as shipped (240 bytes/s after 5 s), or off, or strict.
  switch (plan.draw(9) % 4) {
    case 0:
      options.min_receive_rate = options.min_send_rate = 0;
      break;
    case 1:
      options.min_receive_rate = options.min_send_rate = 64 * 1024;
      options.min_rate_grace = std::chrono::seconds{1};
      break;
    default:
      break;
  }
  if (plan.draw(1) % 4 == 0) {
    options.max_request_line = static_cast<std::size_t>(4 + plan.draw(2) % 128);
    options.max_header_bytes = static_cast<std::size_t>(8 + plan.draw(3) % 1024);
    options.max_discard_bytes = static_cast<std::size_t>(plan.draw(4) % 64);
  }
  const parser_limits limits{options.max_request_line, options.max_header_bytes,
                             options.max_header_fields};
  triserve::fuzz::served_connection served{options, plan};
  const std::string_view payload = plan.payload;
  auto driven = triserve::fuzz::drive_connection(served, plan, payload, plan.prefix_ends(1024));
  // Every wait the connection is left in has a deadline, so it ends by itself as time passes.
  triserve::fuzz::let_time_pass(served, driven);
  triserve::fuzz::check_connection_gone(served);

  // To see what a failing input did: TRISERVE_FUZZ_PRINT=1 connection_fuzz crash-file.
  if (std::getenv("TRISERVE_FUZZ_PRINT") != nullptr)
    std::fprintf(stderr, "product %d, writes cut %d, output:\n%s\n",
                 static_cast<int>(served.serving), static_cast<int>(driven.writes_cut),
                 served.client.output().c_str());
  // A 408 needs time to pass: the header timeout, or the grace of a minimum rate at least.
  const bool timeouts_possible =
      driven.clock_moved >= std::min(options.header_timeout, options.min_rate_grace);
  check_responses(served.client.output(), reference_requests(payload, limits), served.serving,
                  driven.writes_cut, timeouts_possible);
  return 0;
}
