// libFuzzer harness: a model of connection::serve() over an in-memory byte stream. It drives the
// real input_buffer, request_parser, chunked_decoder, chunked_encoder and response-head serializer
// the way src/server/connection.cpp and exchange.cpp do, with the echo handler's semantics, and
// checks the framing of everything written back. The socket, timer and coroutine code is not
// exercised: it cannot run without sockets. See README.md.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "read_plan.hpp"
#include "triserve/http/chunked_decoder.hpp"
#include "triserve/http/chunked_encoder.hpp"
#include "triserve/http/request_parser.hpp"
#include "triserve/http/response_head.hpp"
#include "triserve/http/status.hpp"
#include "triserve/server/input_buffer.hpp"

namespace {

using namespace triserve::http;
using triserve::fuzz::read_plan;
using triserve::server::buffer_pool;
using triserve::server::input_buffer;

// The constants of src/server/connection.cpp, which keeps them private.
constexpr std::size_t initial_input_capacity = 16 * 1024;
constexpr std::size_t minimum_read = 2048;
constexpr std::string_view fixed_date = "Thu, 01 Jan 1970 00:00:00 GMT";

/// The client: a byte stream that arrives in the plan's segments, read as a socket would.
class client_stream {
 public:
  client_stream(std::string_view bytes, std::vector<std::size_t> segment_ends)
      : bytes_(bytes), ends_(std::move(segment_ends)) {}

  /// One read_some into the buffer's room: at most the rest of the current segment. 0 when the
  /// stream is over or the buffer has no room, which the server treats alike (it closes).
  std::size_t read_into(input_buffer& buffer, std::size_t limit) {
    while (segment_ < ends_.size() && ends_[segment_] <= delivered_) ++segment_;
    if (segment_ == ends_.size()) return 0;
    const auto room = buffer.prepare(minimum_read, limit);
    const std::size_t n = std::min(room.size(), ends_[segment_] - delivered_);
    std::copy_n(bytes_.data() + delivered_, n, room.data());
    buffer.commit(n);
    delivered_ += n;
    return n;
  }

  /// Offset in the stream of the first byte the server has not consumed.
  std::size_t offset_of(const input_buffer& buffer) const { return delivered_ - buffer.size(); }

  std::string_view bytes() const { return bytes_; }

 private:
  std::string_view bytes_;
  std::vector<std::size_t> ends_;
  std::size_t segment_ = 0;
  std::size_t delivered_ = 0;
};

/// What the model answered one request head with, to check the written responses against.
struct answer_record {
  int status = 0;             ///< 0: only the interim 100 Continue was written
  bool head_request = false;  ///< HEAD: the response has no body
  bool body_cut = false;      ///< the request body failed after the response head was queued
  bool expect_100 = false;    ///< a 100 Continue precedes the response
  std::string body;           ///< the response body the server meant to send
};

/// The canonical text of a request head, to see that its views survive the body streaming by.
std::string head_text(const request& req) {
  std::string out;
  out.append(req.method).append(" ").append(req.target).append(" ").append(req.path);
  out.append("?").append(req.query).append("\n");
  for (const auto& field : req.headers) out.append(field.name).append(":").append(field.value);
  return out;
}

/// The body of connection::queue_error's response.
std::string error_body(int status, std::string_view reason) {
  return std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " +
         std::string(reason);
}

/// connection::serve() with the echo handler, writing into `output`.
class connection_model {
 public:
  connection_model(client_stream& client, parser_limits limits, std::size_t max_discard)
      : client_(client), limits_(limits), max_discard_(max_discard), parser_(limits) {}

  void serve() {
    while (serve_one()) {
    }
    // A 100 Continue may be all a request got, when its body never came.
    if (interim_pending_) record(answer_record{});
  }

  const std::string& output() const { return output_; }
  const std::vector<answer_record>& answers() const { return answers_; }

 private:
  /// One request; false when the connection closes after it.
  bool serve_one() {
    const std::size_t head_limit = limits_.max_header_bytes + minimum_read;
    parser_.reset();
    request_.clear();
    parse_result head;
    for (;;) {
      head = parser_.parse(input_.data(), request_);
      if (head.status != parse_status::need_more) break;
      if (client_.read_into(input_, head_limit) == 0) return false;  // EOF: close
    }
    if (head.status == parse_status::error) {
      queue_error(head.error_status, head.error_reason);
      return false;
    }
    const char* before = input_.data().data();
    input_.prepare(minimum_read, head_limit);
    if (input_.data().data() != before) {
      const std::size_t consumed = head.consumed;
      parser_.reset();
      request_.clear();
      head = parser_.parse(input_.data(), request_);
      FUZZ_CHECK(head.status == parse_status::complete && head.consumed == consumed);
    }
    input_.consume_and_pin(head.consumed);
    const std::string text_before = head_text(request_);
    const std::size_t body_start = client_.offset_of(input_);

    const bool keep_alive = echo();

    // Pinning kept the head's bytes in place while the body streamed through the buffer.
    FUZZ_CHECK(head_text(request_) == text_before);
    check_request_body(body_start);
    input_.unpin();
    return keep_alive;
  }

  /// app::echo() on an exchange; true when the connection stays open.
  bool echo() {
    answer_record answer;
    answer.head_request = request_.is_head();
    body_.clear();
    body_remaining_ =
        request_.framing == body_framing::content_length ? request_.content_length : 0;
    body_done_ = !request_.has_body();
    decoder_.reset();
    continue_sent_ = body_read_started_ = head_queued_ = closes_ = failed_ = bad_body_ = false;

    framing_ = response_framing::content_length;
    declared_ = request_.framing == body_framing::content_length ? request_.content_length : 0;
    if (request_.framing == body_framing::chunked)
      framing_ =
          request_.version_minor >= 1 ? response_framing::chunked : response_framing::until_close;
    bool complete = false;
    if (request_.is_head()) {
      queue_head_once();
      complete = true;
    }
    for (;;) {
      const std::string_view piece = read_body_some();
      if (piece.empty()) break;
      body_.append(piece);
      if (complete || failed_) continue;
      // exchange::write_body
      queue_head_once();
      if (framing_ == response_framing::chunked) {
        char header[max_chunk_header_size];
        output_.append(header, write_chunk_header(piece.size(), header));
      }
      output_.append(piece);
      if (framing_ == response_framing::chunked) output_.append(chunk_trailer);
    }
    if (!complete && !failed_) {  // exchange::finish
      queue_head_once();
      if (framing_ == response_framing::chunked) output_.append(last_chunk);
      complete = true;
    }
    answer.body = answer.head_request ? std::string{} : body_;

    if (!complete) {
      // connection::answer: an error replaces a response whose head has not left; else close.
      if (head_queued_) {
        answer.status = 200;
        answer.body_cut = true;
        record(std::move(answer));
      } else if (bad_body_) {
        queue_error(400, "malformed chunked body");
      }
      return false;
    }
    answer.status = 200;
    answer.body_cut = failed_;
    record(std::move(answer));
    if (failed_) return false;
    // exchange::discard_body: echo has read all it could, so only a finished body keeps it open.
    return !closes_ && body_done_;
  }

  /// exchange::read_body_some; empty at the end of the body or on failure.
  std::string_view read_body_some() {
    if (body_done_ || failed_) return {};
    if (request_.expect_continue && !continue_sent_ && head_queued_ && !body_read_started_)
      return {};
    body_read_started_ = true;
    if (request_.expect_continue && !continue_sent_ && !head_queued_ && input_.empty()) {
      continue_sent_ = interim_pending_ = true;
      output_.append(continue_response);
    }
    for (;;) {
      const std::string_view buffered = input_.data();
      if (request_.framing == body_framing::content_length) {
        if (!buffered.empty()) {
          const auto take =
              static_cast<std::size_t>(std::min<std::uint64_t>(buffered.size(), body_remaining_));
          input_.consume(take);
          body_remaining_ -= take;
          body_done_ = body_remaining_ == 0;
          return buffered.substr(0, take);
        }
      } else if (!buffered.empty()) {
        const chunked_result step = decoder_.decode(buffered);
        FUZZ_CHECK(step.consumed <= buffered.size());
        input_.consume(step.consumed);
        switch (step.status) {
          case chunked_status::data:
            return step.data;
          case chunked_status::done:
            body_done_ = true;
            return {};
          case chunked_status::error:
            failed_ = bad_body_ = true;
            return {};
          case chunked_status::need_more:
            FUZZ_CHECK(input_.empty());
            break;
        }
      }
      if (client_.read_into(input_, 0) == 0) {
        failed_ = true;  // disconnected (the socket's EOF) or no room, which it treats alike
        return {};
      }
    }
  }

  /// exchange::append_head through queue_head_once.
  void queue_head_once() {
    if (head_queued_) return;
    head_queued_ = true;
    bool close = !request_.keep_alive || framing_ == response_framing::until_close;
    if (!body_done_) {
      if (request_.expect_continue && !continue_sent_ && !body_read_started_) close = true;
      if (!body_read_started_ && request_.framing == body_framing::content_length &&
          body_remaining_ > max_discard_)
        close = true;
    }
    closes_ = close;
    response_head head;
    head.status = 200;
    head.framing = framing_;
    head.content_length = declared_;
    head.date = fixed_date;
    head.close = close;
    head.keep_alive_1_0 = !close && request_.version_minor == 0;
    append_response_head(output_, head);
  }

  /// connection::queue_error.
  void queue_error(int status, std::string_view reason) {
    const std::string body = error_body(status, reason);
    response_head head;
    head.status = status;
    head.content_length = body.size();
    head.date = fixed_date;
    head.close = true;
    append_response_head(output_, head);
    output_.append(body);
    answer_record answer;
    answer.status = status;
    answer.body = body;
    record(std::move(answer));
  }

  /// Notes what the client must find next on the wire, after the 100 Continue written before it.
  void record(answer_record answer) {
    answer.expect_100 = interim_pending_;
    interim_pending_ = false;
    answers_.push_back(std::move(answer));
  }

  /// The body echoed is the body on the wire: checked against the stream itself, not the buffer.
  void check_request_body(std::size_t body_start) const {
    const std::string_view rest = client_.bytes().substr(body_start);
    if (request_.framing == body_framing::content_length) {
      const std::string_view expected = rest.substr(
          0,
          static_cast<std::size_t>(std::min<std::uint64_t>(request_.content_length, rest.size())));
      if (body_done_) FUZZ_CHECK(body_ == expected);
      FUZZ_CHECK(expected.substr(0, body_.size()) == body_);
    } else if (request_.framing == body_framing::chunked) {
      chunked_decoder reference;
      std::string expected;
      std::size_t pos = 0;
      for (;;) {
        const chunked_result r = reference.decode(rest.substr(pos));
        pos += r.consumed;
        if (r.status != chunked_status::data) break;
        expected.append(r.data);
      }
      FUZZ_CHECK(expected.substr(0, body_.size()) == body_);
      if (body_done_) FUZZ_CHECK(reference.done() && expected == body_);
    } else {
      FUZZ_CHECK(body_.empty());
    }
  }

  client_stream& client_;
  parser_limits limits_;
  std::size_t max_discard_;
  buffer_pool input_buffers_{initial_input_capacity, 4};
  input_buffer input_{input_buffers_};
  request_parser parser_;
  request request_;
  chunked_decoder decoder_;
  std::string output_;
  std::vector<answer_record> answers_;

  // The state of the exchange in progress.
  std::string body_;
  std::uint64_t body_remaining_ = 0;
  std::uint64_t declared_ = 0;
  response_framing framing_ = response_framing::content_length;
  bool body_done_ = false;
  bool continue_sent_ = false;
  bool body_read_started_ = false;
  bool head_queued_ = false;
  bool closes_ = false;
  bool failed_ = false;
  bool bad_body_ = false;
  bool interim_pending_ = false;  ///< a 100 Continue is written and its answer is not recorded
};

/// One response as read back by a strict client.
struct parsed_response {
  int status = 0;
  bool close = false;
  bool truncated = false;
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
    if (name == "Date") date = value == fixed_date;
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
    wire = {};
  }
  return out;
}

/// Every answer the model recorded is on the wire, in order, framed so a client reads it exactly.
void check_output(const connection_model& model) {
  std::string_view wire = model.output();
  const auto& answers = model.answers();
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const answer_record& answer = answers[i];
    const bool last = i + 1 == answers.size();
    if (answer.expect_100) {
      const parsed_response interim = read_response(wire, false);
      FUZZ_CHECK(interim.status == 100);
    }
    if (answer.status == 0) {
      FUZZ_CHECK(last && answer.expect_100);
      break;
    }
    const parsed_response r = read_response(wire, answer.head_request);
    FUZZ_CHECK(r.status == answer.status);
    if (answer.body_cut) {
      // The request body failed mid-response: what was sent is a prefix, and nothing follows.
      FUZZ_CHECK(last);
      FUZZ_CHECK(answer.body.substr(0, r.body.size()) == r.body);
    } else {
      FUZZ_CHECK(!r.truncated);
      FUZZ_CHECK(r.body == answer.body);  // echo: body bytes out == body bytes in
    }
    // A response announcing the close is the last; one that does not is followed by the next
    // answer unless the client went away.
    if (r.close) FUZZ_CHECK(last);
    if (answer.status >= 400) FUZZ_CHECK(r.close && last);
  }
  FUZZ_CHECK(wire.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const read_plan plan = triserve::fuzz::make_read_plan(data, size);
  parser_limits limits;
  std::size_t max_discard = 256 * 1024;
  if (plan.draw(1) % 4 == 0) {
    limits = {static_cast<std::size_t>(4 + plan.draw(2) % 128),
              static_cast<std::size_t>(8 + plan.draw(3) % 1024)};
    max_discard = static_cast<std::size_t>(plan.draw(4) % 64);
  }
  client_stream client{plan.payload, plan.prefix_ends(1024)};
  connection_model model{client, limits, max_discard};
  model.serve();
  check_output(model);
  return 0;
}
