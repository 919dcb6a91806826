#include "triserve/server/h2_exchange.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "triserve/http/status.hpp"
#include "triserve/http/syntax.hpp"
#include "triserve/server/h2_session.hpp"
#include "triserve/server/server.hpp"

namespace triserve::server {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

/// RFC 9113 §6.5.2: each field of a header list counts its name, its value and 32 bytes.
constexpr std::size_t field_overhead = 32;

/// A header field for nghttp2, which copies it (no NO_COPY flags): `text` need only last the call.
nghttp2_nv field(std::string_view name, std::string_view text) {
  // nghttp2's fields are not const, though the library never writes through them.
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(text.data())), name.size(), text.size(),
          NGHTTP2_NV_FLAG_NONE};
}

/// nghttp2's data provider: the response body comes from what the exchange's handler writes.
ssize_t read_response_body(nghttp2_session*, std::int32_t, std::uint8_t* buffer, std::size_t length,
                           std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
  return static_cast<h2_exchange*>(source->ptr)->supply(buffer, length, data_flags);
}

/// Whether `path` can be a :path: the absolute-path and query of the target URI, or "*" for
/// OPTIONS (RFC 9113 §8.3.1); visible ASCII only, with no fragment (RFC 3986 §3.3, §3.4).
bool valid_path(std::string_view path, std::string_view method) {
  if (path == "*") return method == "OPTIONS";
  if (path.empty() || path.front() != '/') return false;
  return std::all_of(path.begin(), path.end(),
                     [](char c) { return c > 0x20 && c < 0x7f && c != '#'; });
}

}  // namespace

h2_exchange::h2_exchange(h2_session& session, std::int32_t stream_id)
    : exchange(parsed, scratch_text),
      session_(session),
      stream_id_(stream_id),
      started_(session.now()),
      head_due_(started_ + session.owner().options().header_timeout),
      window_(h2_session::initial_stream_window()),
      body_wait_(session.owner().options().body_read_timeout,
                 session.owner().options().min_receive_rate,
                 session.owner().options().min_rate_grace),
      window_wait_(session.owner().options().write_timeout, session.owner().options().min_send_rate,
                   session.owner().options().min_rate_grace),
      wake_(session.executor(), clock::time_point::max()) {
  session_.arm_deadline(head_due_);
}

h2_exchange::overdue h2_exchange::overdue_at(clock::time_point now) const {
  if (now >= head_due_) return overdue::head;
  if (now >= body_wait_.deadline()) return overdue::body;
  if (now >= window_wait_.deadline()) return overdue::window;
  if (now >= unread_body_due_) return overdue::unread_body;
  return overdue::nothing;
}

h2_exchange::clock::time_point h2_exchange::deadline() const {
  return std::min({head_due_, body_wait_.deadline(), window_wait_.deadline(), unread_body_due_});
}

void h2_exchange::await_unread_body(clock::time_point due) {
  if (unread_body_stopped_ || !leaves_body_unread()) return;
  unread_body_due_ = due;
  session_.arm_deadline(due);
}

void h2_exchange::stop_unread_body() {
  unread_body_due_ = clock::time_point::max();
  if (unread_body_stopped_ || !leaves_body_unread()) return;
  unread_body_stopped_ = true;
  reset(NGHTTP2_NO_ERROR);
}

bool h2_exchange::cut_body_wait(clock::time_point now) {
  const bool too_slow = body_wait_.too_slow(now);
  body_wait_.end(now);
  fail(too_slow ? failure::body_too_slow : failure::body_timeout);
  wake();
  return too_slow;
}

bool h2_exchange::cut_window_wait(clock::time_point now) {
  const bool too_slow = window_wait_.too_slow(now);
  window_wait_.end(now);
  // RFC 9113 §8.7: CANCEL, "the stream is no longer needed"; its handler's write fails.
  reset(NGHTTP2_CANCEL);
  fail(failure::write_failed);
  outgoing_ = {};
  wake();
  return too_slow;
}

void h2_exchange::track_window_wait() {
  // From the head's submission until nghttp2 has sent the last byte: time the client's windows
  // may hold it back. A handler that has not written yet owes nothing to the client.
  const bool held = head_submitted_ && head_with_body_ && !response_sent_ && !closed_ &&
                    (!outgoing_.empty() || finishing_);
  const auto now = session_.now();
  if (!held) {
    window_wait_.end(now);
  } else if (!window_wait_.waiting()) {
    window_wait_.begin(now);
    session_.arm_deadline(window_wait_.deadline());
  }
}

bool h2_exchange::add_field(std::string_view name, std::string_view value) {
  // The per-stream limits of the header section, checked field by field as HPACK decodes them:
  // the section as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2; we announce
  // max_header_bytes, but a client may send more before it has seen that), and the number of
  // fields. Past either, nothing more is kept and the request is answered 431 (RFC 6585 §5).
  const auto& options = session_.owner().options();
  header_list_size_ += name.size() + value.size() + field_overhead;
  const bool pseudo = !name.empty() && name.front() == ':';
  if (!pseudo) ++regular_fields_;
  if (header_list_size_ > options.max_header_bytes || regular_fields_ > options.max_header_fields)
    head_too_large_ = true;
  if (head_too_large_) return false;
  field_spans.push_back(
      {field_bytes.size(), name.size(), field_bytes.size() + name.size(), value.size()});
  field_bytes.append(name);
  field_bytes.append(value);
  return true;
}

h2_exchange::head_verdict h2_exchange::complete_head(bool ends_stream) {
  started_ = session_.now();
  head_due_ = clock::time_point::max();
  auto& req = parsed;
  req.clear();
  req.version_major = 2;
  req.version_minor = 0;
  if (ends_stream) body_ended_ = true;
  if (head_too_large_) return head_verdict::too_large;
  // nghttp2 has checked the section already (RFC 9113 §8.2, §8.3): lower-case names, no
  // connection-specific field (connection, keep-alive, proxy-connection, transfer-encoding,
  // upgrade) and no `te` but "trailers" (§8.2.2), pseudo-header fields first, known, not
  // repeated and not empty, :method, :scheme and :path present (§8.3.1), :authority or host
  // present, one content-length of digits only, and it matches the DATA received (§8.1.1).
  // What it leaves to us follows.
  std::string_view method;
  std::string_view path;
  std::optional<std::string_view> authority;
  std::optional<std::string_view> host;
  std::optional<std::string_view> content_length;
  const std::string_view bytes = field_bytes;
  for (const auto& span : field_spans) {
    const auto name = bytes.substr(span.name_at, span.name_size);
    const auto value = bytes.substr(span.value_at, span.value_size);
    if (name == ":method") {
      method = value;
    } else if (name == ":path") {
      path = value;
    } else if (name == ":authority") {
      authority = value;
    } else if (name.front() != ':') {
      req.headers.push_back({name, value});
      if (name == "host") host = value;
      if (name == "content-length") content_length = value;
      if (name == "expect") req.expect_continue = http::iequals(value, "100-continue");
    }
  }
  req.method = method;
  if (!http::syntax::is_token(method)) return head_verdict::malformed;
  if (method == "CONNECT") {
    req.target = authority.value_or("");
    return head_verdict::not_supported;
  }
  // RFC 9113 §8.3.1: no userinfo in an http or https :authority.
  if (authority && authority->find('@') != std::string_view::npos) return head_verdict::malformed;
  // RFC 9113 §8.3.1: when both are present, :authority and Host must name the same thing.
  if (authority && host && !http::iequals(*authority, *host)) return head_verdict::malformed;
  // :authority stands in for Host (RFC 9113 §8.3.1): handlers find it where HTTP/1.1 puts it.
  if (authority && !host) req.headers.push_back({"host", *authority});
  if (!valid_path(path, method)) return head_verdict::malformed;
  req.target = path;
  if (path != "*") {
    const auto question = path.find('?');
    req.path = path.substr(0, question);
    if (question != std::string_view::npos) req.query = path.substr(question + 1);
  }
  if (ends_stream) {
    req.framing = http::body_framing::none;
  } else if (content_length) {
    // Digits only, and within int64 (nghttp2 checked): from_chars cannot fail here.
    req.framing = http::body_framing::content_length;
    std::from_chars(content_length->data(), content_length->data() + content_length->size(),
                    req.content_length);
  } else {
    req.framing = http::body_framing::stream_end;
  }
  body_done_ = body_ended_;
  return head_verdict::serve;
}

void h2_exchange::body_arrived(std::string_view data) {
  body_wait_.progress(session_.now(), data.size());
  arrived_.append(data);
  wake();
}

void h2_exchange::body_ended() {
  body_ended_ = true;
  wake();
}

void h2_exchange::stream_closed(std::uint32_t) {
  // A stream that closes before both its request and our response have ended was reset (by the
  // client, or by nghttp2 for a protocol error) or went with the connection.
  end_stream(response_sent_ && body_ended_);
}

void h2_exchange::abandon() {
  // The session is going away: as good as closed, and failed.
  end_stream(false);
}

void h2_exchange::end_stream(bool completed) {
  closed_ = true;
  if (!completed) fail(failure::disconnected);
  outgoing_ = {};
  const auto now = session_.now();
  body_wait_.end(now);
  window_wait_.end(now);
  unread_body_due_ = clock::time_point::max();
  // A failed handler takes nothing more: what waits for it is dropped. Its last piece stays
  // until it returns (the piece is valid until the next call).
  if (!completed) drop_arrived();
  wake();
}

void h2_exchange::response_sent() {
  response_sent_ = true;
  track_window_wait();
}

void h2_exchange::drop_body() {
  give_back_piece();
  drop_arrived();
  std::string{}.swap(handed_);
}

void h2_exchange::give_back_piece() {
  if (handed_.empty()) return;
  nghttp2_session_consume(session_.native(), stream_id_, handed_.size());
  handed_.clear();
  session_.wake_writer();
}

void h2_exchange::drop_arrived() {
  if (arrived_.empty()) return;
  nghttp2_session_consume_connection(session_.native(), arrived_.size());
  std::string{}.swap(arrived_);
  session_.wake_writer();
}

void h2_exchange::respond(int status, std::initializer_list<std::string_view> body_parts) {
  if (state_ != response_state::none) return fail(failure::handler_bug);
  std::uint64_t length = 0;
  for (auto part : body_parts) length += part.size();
  status_ = status;
  declared_length_ = length;
  body_bytes_sent_ = length;
  state_ = response_state::complete;
  // RFC 9110 §9.3.2: HEAD gets the head only, content-length included.
  const bool with_body = length > 0 && !parsed.is_head();
  if (with_body) {
    // The parts may live in the handler's frame or its scratch: the body is copied.
    response_body_.clear();
    for (auto part : body_parts) response_body_.append(part);
    outgoing_ = response_body_;
    finishing_ = true;
  }
  // Submitted when the handler returns or waits (like HTTP/1.1's queued output), so that a
  // handler failing right after can still be answered 500 instead.
  queue_head(with_body);
}

void h2_exchange::begin_response(int status, std::optional<std::uint64_t> content_length) {
  if (state_ != response_state::none) return fail(failure::handler_bug);
  status_ = status;
  declared_length_ = content_length;
  state_ = response_state::streaming;
  if (parsed.is_head()) {
    queue_head(false);
    state_ = response_state::complete;
  }
}

void h2_exchange::queue_head(bool with_body) {
  if (head_queued_) return;
  head_queued_ = true;
  head_with_body_ = with_body;
}

void h2_exchange::submit_head() {
  if (!head_queued_ || head_submitted_) return;
  head_submitted_ = true;
  std::array<char, 3> status_text{static_cast<char>('0' + status_ / 100 % 10),
                                  static_cast<char>('0' + status_ / 10 % 10),
                                  static_cast<char>('0' + status_ % 10)};
  std::array<char, 20> length_text{};
  std::array<nghttp2_nv, 5> head{};
  std::size_t count = 0;
  head[count++] = field(":status", {status_text.data(), status_text.size()});
  head[count++] = field("content-type", "text/plain; charset=utf-8");
  if (declared_length_) {
    const auto end = std::to_chars(length_text.data(), length_text.data() + length_text.size(),
                                   *declared_length_)
                         .ptr;
    head[count++] = field("content-length",
                          {length_text.data(), static_cast<std::size_t>(end - length_text.data())});
  }
  head[count++] = field("date", session_.date());
  head[count++] = field("x-content-type-options", "nosniff");
  nghttp2_data_provider body{};
  body.source.ptr = this;
  body.read_callback = &read_response_body;
  const int submitted = nghttp2_submit_response(session_.native(), stream_id_, head.data(), count,
                                                head_with_body_ ? &body : nullptr);
  // The stream is gone (reset by the client) or the session is out of memory.
  if (submitted != 0) fail(failure::write_failed);
  track_window_wait();
  session_.wake_writer();
}

std::ptrdiff_t h2_exchange::supply(std::uint8_t* buffer, std::size_t length,
                                   std::uint32_t* data_flags) {
  if (outgoing_.empty()) {
    if (finishing_) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    // Asked again once write_body or finish resumes the stream.
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::size_t taken = std::min(length, outgoing_.size());
  std::memcpy(buffer, outgoing_.data(), taken);
  outgoing_.remove_prefix(taken);
  window_wait_.progress(session_.now(), taken);
  if (outgoing_.empty()) {
    if (finishing_) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    // The handler's write_body may return: nghttp2 holds its own copy of the piece.
    wake();
  }
  track_window_wait();
  return static_cast<std::ptrdiff_t>(taken);
}

void h2_exchange::send_continue_if_expected() {
  // RFC 9110 §10.1.1: only before the final response, and only while the client holds its body
  // back (RFC 9113 §8.1: an interim response is a HEADERS frame without END_STREAM).
  if (!parsed.expect_continue || continue_sent_ || head_queued_ || body_ended_ || !arrived_.empty())
    return;
  continue_sent_ = true;
  const std::array interim{field(":status", "100")};
  nghttp2_submit_headers(session_.native(), NGHTTP2_FLAG_NONE, stream_id_, nullptr, interim.data(),
                         interim.size(), nullptr);
  session_.wake_writer();
}

asio::awaitable<std::string_view> h2_exchange::read_body_some() {
  // The previous piece is the handler's no longer: only now may the client send as much again,
  // on this stream and on the connection, so that what a connection holds for its handlers is
  // bounded by its window. A handler that stops reading stalls its own stream, and holds at
  // most its stream's window of the connection's.
  give_back_piece();
  if (body_done_ || failed()) co_return std::string_view{};
  // A response queued before reading leaves now rather than after the body.
  submit_head();
  send_continue_if_expected();
  if (arrived_.empty() && !body_ended_ && !failed()) {
    // The client owes body: the sweep cuts a pause of the body timeout, or a pace below the
    // minimum receive rate (cut_body_wait).
    body_wait_.begin(session_.now());
    session_.arm_deadline(body_wait_.deadline());
    while (arrived_.empty() && !body_ended_ && !failed()) co_await wait();
    body_wait_.end(session_.now());
  }
  if (failed()) co_return std::string_view{};
  handed_.swap(arrived_);
  arrived_.clear();
  body_done_ = body_ended_ && arrived_.empty();
  if (handed_.size() >= window_) window_ = session_.widen_stream_window(stream_id_, window_);
  co_return std::string_view{handed_};
}

asio::awaitable<void> h2_exchange::write_body(std::string_view piece) {
  if (state_ != response_state::streaming || failed() || piece.empty()) co_return;
  if (declared_length_ && piece.size() > *declared_length_ - body_bytes_sent_) {
    // Past its content-length the stream would be malformed (RFC 9113 §8.1.1).
    fail(failure::handler_bug);
    co_return;
  }
  queue_head(true);
  submit_head();
  body_bytes_sent_ += piece.size();
  outgoing_ = piece;
  track_window_wait();
  nghttp2_session_resume_data(session_.native(), stream_id_);
  session_.wake_writer();
  // Until nghttp2 has copied it into DATA frames, which the stream's and the connection's send
  // windows allow: a handler never runs ahead of its client.
  while (!outgoing_.empty() && !failed()) co_await wait();
  outgoing_ = {};
}

void h2_exchange::finish() {
  if (state_ != response_state::streaming || failed()) return;
  if (declared_length_ && body_bytes_sent_ != *declared_length_) return fail(failure::handler_bug);
  finishing_ = true;
  state_ = response_state::complete;
  if (!head_queued_) {
    // No body was written: an empty DATA frame still ends the stream after the head, as every
    // streamed body's last one does, when the client's window lets DATA go. Conformance suites
    // count on it (h2spec's generic/2/2 and 2/3 open the window of a GET's stream and wait for
    // DATA; http2/5.1.2/1 keeps streams open with a window of 0): the echo of an empty body
    // behaves as any other's. 9 bytes; a response of respond() with no body has none.
    queue_head(true);
    return;
  }
  track_window_wait();
  nghttp2_session_resume_data(session_.native(), stream_id_);
  session_.wake_writer();
}

bool h2_exchange::withdraw_response() {
  if (head_submitted_) return false;
  forget_response();
  outgoing_ = {};
  finishing_ = false;
  head_with_body_ = false;
  return true;
}

void h2_exchange::answer_error(int status, std::string_view reason) {
  if (!withdraw_response()) return;
  const auto phrase = http::reason_phrase(status);
  auto& body = scratch_text;
  body.clear();
  // The same body as HTTP/1.1's error responses: "431 Request Header Fields Too Large: reason".
  const std::array<char, 4> code{static_cast<char>('0' + status / 100 % 10),
                                 static_cast<char>('0' + status / 10 % 10),
                                 static_cast<char>('0' + status % 10), ' '};
  body.append(code.data(), code.size());
  body.append(phrase);
  body.append(": ");
  body.append(reason);
  respond(status, {body});
  submit_head();
}

void h2_exchange::reset(std::uint32_t error_code) {
  if (closed_) return;
  nghttp2_submit_rst_stream(session_.native(), NGHTTP2_FLAG_NONE, stream_id_, error_code);
  session_.wake_writer();
}

asio::awaitable<void> h2_exchange::wait() {
  co_await wake_.async_wait(as_result);
}

void h2_exchange::wake() {
  wake_.cancel();
}

}  // namespace triserve::server
