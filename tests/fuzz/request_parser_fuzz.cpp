// libFuzzer harness: request_parser fed whole, byte by byte and in planned reads must agree, stay
// inside its input, and accept its own re-serialization of every request it completes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "read_plan.hpp"
#include "triserve/http/request_parser.hpp"

namespace {

using namespace triserve::http;
using triserve::fuzz::read_plan;

/// A parse and the bytes its views point into.
struct outcome {
  parse_result result;
  request req;
  std::string_view input;
};

/// Copies of the input for the calls that must not see one byte more than they are given.
using buffers = std::vector<std::unique_ptr<char[]>>;

bool inside(std::string_view view, std::string_view area) {
  return view.empty() ||
         (view.data() >= area.data() && view.data() + view.size() <= area.data() + area.size());
}

void check_result(const parse_result& r, std::string_view input) {
  FUZZ_CHECK(r.consumed <= input.size());
  switch (r.status) {
    case parse_status::need_more:
      FUZZ_CHECK(r.consumed == 0);
      break;
    case parse_status::complete:
      FUZZ_CHECK(r.consumed > 0 && input[r.consumed - 1] == '\n');
      break;
    case parse_status::error:
      FUZZ_CHECK(r.error_status == 400 || r.error_status == 414 || r.error_status == 417 ||
                 r.error_status == 431 || r.error_status == 501 || r.error_status == 505);
      FUZZ_CHECK(!r.error_reason.empty());
      break;
  }
}

/// Every view of a complete request lies inside the head the parser consumed.
void check_views(const request& req, std::string_view head) {
  FUZZ_CHECK(inside(req.method, head) && !req.method.empty());
  FUZZ_CHECK(inside(req.target, head) && !req.target.empty());
  FUZZ_CHECK(inside(req.path, req.target));
  FUZZ_CHECK(inside(req.query, req.target));
  for (const header_field& field : req.headers) {
    FUZZ_CHECK(inside(field.name, head) && !field.name.empty());
    FUZZ_CHECK(inside(field.value, head));
  }
}

/// Parses `payload` as a connection would, calling the parser with each prefix in `ends`. With
/// `copy`, each prefix is handed over in its own allocation, so ASan catches a read past it.
outcome feed(std::string_view payload, const std::vector<std::size_t>& ends,
             const parser_limits& limits, bool copy, buffers& keep) {
  request_parser parser{limits};
  outcome out;
  for (const std::size_t end : ends) {
    std::string_view input = payload.substr(0, end);
    if (copy) {
      keep.push_back(std::make_unique<char[]>(end));
      std::copy(input.begin(), input.end(), keep.back().get());
      input = {keep.back().get(), end};
    }
    out.result = parser.parse(input, out.req);
    out.input = input;
    check_result(out.result, input);
    if (out.result.status != parse_status::need_more) break;
  }
  if (out.result.status == parse_status::complete) {
    check_views(out.req, out.input.substr(0, out.result.consumed));
  }
  return out;
}

bool same_place(std::string_view a, std::string_view abase, std::string_view b,
                std::string_view bbase) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return a.data() - abase.data() == b.data() - bbase.data();
}

/// Two parses of the same bytes agree on everything, views included (by offset).
void check_same(const outcome& a, const outcome& b) {
  FUZZ_CHECK(a.result.status == b.result.status);
  if (a.result.status == parse_status::error)
    FUZZ_CHECK(a.result.error_status == b.result.error_status);
  if (a.result.status != parse_status::complete) return;
  FUZZ_CHECK(a.result.consumed == b.result.consumed);
  const request& x = a.req;
  const request& y = b.req;
  FUZZ_CHECK(same_place(x.method, a.input, y.method, b.input));
  FUZZ_CHECK(same_place(x.target, a.input, y.target, b.input));
  FUZZ_CHECK(same_place(x.path, a.input, y.path, b.input));
  FUZZ_CHECK(same_place(x.query, a.input, y.query, b.input));
  FUZZ_CHECK(x.version_minor == y.version_minor);
  FUZZ_CHECK(x.headers.size() == y.headers.size());
  for (std::size_t i = 0; i < x.headers.size(); ++i) {
    FUZZ_CHECK(same_place(x.headers[i].name, a.input, y.headers[i].name, b.input));
    FUZZ_CHECK(same_place(x.headers[i].value, a.input, y.headers[i].value, b.input));
  }
  FUZZ_CHECK(x.framing == y.framing);
  FUZZ_CHECK(x.content_length == y.content_length);
  FUZZ_CHECK(x.keep_alive == y.keep_alive);
  FUZZ_CHECK(x.expect_continue == y.expect_continue);
}

/// The canonical form of a request head: single spaces, CRLF, `name: value`, no leading lines.
std::string serialize(const request& req) {
  std::string out;
  out.append(req.method).append(" ").append(req.target).append(" HTTP/1.");
  out.push_back(static_cast<char>('0' + req.version_minor));
  out.append("\r\n");
  for (const header_field& field : req.headers) {
    out.append(field.name).append(": ").append(field.value).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

/// A request the parser accepted, written out again, parses to an equivalent request.
void check_reserialization(const request& req, const parser_limits& limits) {
  const std::string text = serialize(req);
  // The canonical form may be longer than the original ("a:b" becomes "a: b", LF becomes CRLF).
  request_parser parser{parser_limits{limits.max_request_line, text.size() + 1}};
  request again;
  const parse_result r = parser.parse(text, again);
  FUZZ_CHECK(r.status == parse_status::complete);
  FUZZ_CHECK(r.consumed == text.size());
  FUZZ_CHECK(again.method == req.method);
  FUZZ_CHECK(again.target == req.target);
  FUZZ_CHECK(again.path == req.path);
  FUZZ_CHECK(again.query == req.query);
  FUZZ_CHECK(again.version_minor == req.version_minor);
  FUZZ_CHECK(again.headers.size() == req.headers.size());
  for (std::size_t i = 0; i < req.headers.size(); ++i) {
    FUZZ_CHECK(again.headers[i].name == req.headers[i].name);
    FUZZ_CHECK(again.headers[i].value == req.headers[i].value);
  }
  FUZZ_CHECK(again.framing == req.framing);
  FUZZ_CHECK(again.content_length == req.content_length);
  FUZZ_CHECK(again.keep_alive == req.keep_alive);
  FUZZ_CHECK(again.expect_continue == req.expect_continue);
}

/// The product's limits mostly; a quarter of inputs get tiny ones so the 414/431 edges are reached.
parser_limits limits_for(const read_plan& plan) {
  if (plan.draw(1) % 4 != 0) return {};
  return parser_limits{static_cast<std::size_t>(4 + plan.draw(2) % 128),
                       static_cast<std::size_t>(8 + plan.draw(3) % 1024),
                       static_cast<std::size_t>(1 + plan.draw(4) % 8)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const read_plan plan = triserve::fuzz::make_read_plan(data, size);
  const parser_limits limits = limits_for(plan);
  buffers keep;

  const outcome whole = feed(plan.payload, {plan.payload.size()}, limits, false, keep);
  const outcome planned = feed(plan.payload, plan.prefix_ends(64), limits, true, keep);
  check_same(whole, planned);
  if (plan.payload.size() <= 4096) {
    const outcome bytewise =
        feed(plan.payload, triserve::fuzz::bytewise_ends(plan.payload.size()), limits, false, keep);
    check_same(whole, bytewise);
  }
  if (whole.result.status == parse_status::complete) check_reserialization(whole.req, limits);
  return 0;
}
