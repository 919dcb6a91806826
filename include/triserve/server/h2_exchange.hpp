#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "triserve/http/request.hpp"
#include "triserve/server/client_wait.hpp"
#include "triserve/server/exchange.hpp"

namespace triserve::server {

class h2_session;

/// What an HTTP/2 stream's request is made of, as a base of h2_exchange so that it exists before
/// the exchange that refers to it: the field bytes as received, and the request viewing them.
struct h2_request_storage {
  /// One received field, as offsets into `fields`: its bytes may move while more arrive.
  struct field_span {
    std::size_t name_at;     ///< where the name starts in field_bytes
    std::size_t name_size;   ///< its length
    std::size_t value_at;    ///< where the value starts
    std::size_t value_size;  ///< its length
  };
  std::string field_bytes;              ///< every field's name and value, one after another
  std::vector<field_span> field_spans;  ///< in the order received, pseudo-header fields included
  http::request parsed;                 ///< views into field_bytes, once the section is complete
  std::string scratch_text;             ///< the handler's working text
};

/// An exchange carried by one HTTP/2 stream of an h2_session: the request comes from the stream's
/// header section, its body from the stream's DATA frames as the stream window lets them come, and
/// the response goes out through nghttp2 (a data provider that takes each piece the handler
/// writes). The session owns it, feeds it what nghttp2 reports for its stream, and keeps it until
/// both its stream has closed and its handler has returned.
class h2_exchange final : private h2_request_storage, public exchange {
 public:
  /// The clock of the exchange's times (its transport's).
  using clock = std::chrono::steady_clock;

  /// How a complete header section turned out (RFC 9113 §8.1.1, §8.3).
  enum class head_verdict {
    serve,         ///< a well-formed request: its handler runs
    malformed,     ///< a stream error of type PROTOCOL_ERROR
    too_large,     ///< beyond the server's header limits: 431
    not_supported  ///< CONNECT: 501, as over HTTP/1.1 (no server here tunnels)
  };

  /// An exchange for stream `stream_id` of `session`.
  h2_exchange(h2_session& session, std::int32_t stream_id);

  /// Queues a complete response; its body is copied (the handler's parts may not outlive it).
  void respond(int status, std::initializer_list<std::string_view> body_parts) override;
  /// The head leaves with the first body write or with finish(); without a length, the body ends
  /// with the stream (END_STREAM), no content-length sent.
  void begin_response(int status, std::optional<std::uint64_t> content_length) override;
  /// The next piece of the body; the stream's window reopens by its size only now.
  asio::awaitable<std::string_view> read_body_some() override;
  /// Returns once nghttp2 has taken all of `piece` into DATA frames (as the windows allow).
  asio::awaitable<void> write_body(std::string_view piece) override;
  /// Ends the body: the last DATA frame carries END_STREAM.
  void finish() override;

  // What the session tells it, from nghttp2's callbacks.
  /// The stream's id.
  std::int32_t stream_id() const { return stream_id_; }
  /// One field of the request's header section, in order; false once the section exceeds the
  /// server's limits (the field is then not kept).
  bool add_field(std::string_view name, std::string_view value);
  /// The header section is complete; `ends_stream` when HEADERS carried END_STREAM. Builds the
  /// request and says whether it can be served.
  head_verdict complete_head(bool ends_stream);
  /// Request body bytes arrived (DATA) for the running handler; the stream's and the
  /// connection's windows bound how many wait here, and reopen as the handler is done with them.
  void body_arrived(std::string_view data);
  /// The client ended the stream: the body is complete.
  void body_ended();
  /// nghttp2 closed the stream (`error_code` from its RST_STREAM or GOAWAY, NO_ERROR after a
  /// normal end); an exchange whose response had not been completed has failed.
  void stream_closed(std::uint32_t error_code);
  /// The session is going away: every wait ends, with failure::disconnected.
  void abandon();
  /// nghttp2 sent the frame that ended our side of the stream.
  void response_sent();
  /// The handler has returned: the body bytes it left (its last piece, what arrived after) are
  /// dropped, and the connection's window given back for them.
  void drop_body();

  /// Fills nghttp2's DATA frame buffer from what the handler wrote (nghttp2's data provider).
  std::ptrdiff_t supply(std::uint8_t* buffer, std::size_t length, std::uint32_t* data_flags);

  // What the session asks, when the handler has returned.
  /// Hands a response head queued by respond() (or finish() without a body) to nghttp2, once.
  /// Until then an error response can still take the response's place.
  void submit_head();
  /// After the handler failed: takes back the response it queued, so that an error response can
  /// take its place, and returns true; false, taking back nothing, once its head was submitted.
  bool withdraw_response();
  /// Whether the response head has been handed to nghttp2: only a reset can end it early now.
  bool head_submitted() const { return head_submitted_; }
  /// Answers with an error response (a status of exchange::answer_for, or 431, 501) and submits
  /// it, unless a head has been submitted already.
  void answer_error(int status, std::string_view reason);
  /// Resets the stream with `error_code` (RFC 9113 §5.4.2), when it is still open.
  void reset(std::uint32_t error_code);
  /// After the handler returned: whether a response that has ended leaves a request body the
  /// client is still sending; RFC 9113 §8.1 lets the server stop it with RST_STREAM(NO_ERROR).
  bool leaves_body_unread() const { return response_sent_ && !body_ended_ && !closed_; }
  /// Lets a request body the response leaves unread go on coming until `due`.
  void await_unread_body(clock::time_point due);
  /// Stops a request body the response leaves unread with RST_STREAM(NO_ERROR), once.
  void stop_unread_body();

  /// Marks the handler as running or returned; the session keeps the exchange while it runs.
  void set_handler_running(bool running) { handler_running_ = running; }
  /// Whether the handler is running.
  bool handler_running() const { return handler_running_; }
  /// Whether nghttp2 has closed the stream.
  bool closed() const { return closed_; }
  /// When the request's header section was complete.
  clock::time_point started() const { return started_; }

  // Timeouts: the session's sweep asks each stream what its client has kept it waiting for.
  /// What the client has kept the stream waiting for past its limit.
  enum class overdue : std::uint8_t {
    nothing,
    head,    ///< the header section, past the header timeout: its connection is blocked (§6.10)
    body,    ///< request body, past the body timeout or below the minimum receive rate
    window,  ///< window for the response, past the write timeout or below the minimum send rate
    unread_body  ///< a request body the complete response leaves unread, past its grace
  };
  /// What is overdue at `now`, the earliest first.
  overdue overdue_at(clock::time_point now) const;
  /// When something becomes overdue unless the client moves first; time_point::max() if never.
  clock::time_point deadline() const;
  /// Fails the handler's wait for a body that stopped coming (408 unless its head has left);
  /// true when it was too slow rather than paused.
  bool cut_body_wait(clock::time_point now);
  /// Resets the stream whose client kept its window shut (CANCEL); true when it was too slow
  /// rather than paused.
  bool cut_window_wait(clock::time_point now);

 private:
  /// Queues the response head, with a body to come (`with_body`) or none, once.
  void queue_head(bool with_body);
  /// Sends `100 Continue` (an interim HEADERS, RFC 9113 §8.1) when the client asked for it.
  void send_continue_if_expected();
  /// The stream is closed (`completed`: both its request and our response ended) or gone with
  /// the session: every wait ends, and its window goes back.
  void end_stream(bool completed);
  /// Starts or ends the wait for window as the response has bytes nghttp2 has not sent.
  void track_window_wait();
  /// The handler is done with the piece read_body_some returned last: both windows reopen by its
  /// size.
  void give_back_piece();
  /// Body bytes that arrived are dropped unread: the connection's window reopens by their size,
  /// the stream's does not (the client may send no more than the window it has).
  void drop_arrived();
  /// Suspends until the session or nghttp2 changes something of this stream.
  asio::awaitable<void> wait();
  /// Ends the wait in progress, if any.
  void wake();

  h2_session& session_;
  std::int32_t stream_id_;
  clock::time_point started_{};
  /// When the header section must be complete (RFC 9113 §6.10: until it is, the connection
  /// carries nothing else); time_point::max() once it is.
  clock::time_point head_due_;
  std::uint32_t window_;     ///< the stream's receive window (h2_session::widen_stream_window)
  client_wait body_wait_;    ///< the handler waits for request body
  client_wait window_wait_;  ///< the response waits for the client to open a window
  /// Until when a request body the complete response leaves unread may still come;
  /// time_point::max() when none is awaited.
  clock::time_point unread_body_due_ = clock::time_point::max();
  bool unread_body_stopped_ = false;  ///< its RST_STREAM(NO_ERROR) has been submitted
  /// Sum of the header section's field sizes as SETTINGS_MAX_HEADER_LIST_SIZE counts them
  /// (RFC 9113 §6.5.2: name, value and 32 bytes each).
  std::size_t header_list_size_ = 0;
  std::size_t regular_fields_ = 0;  ///< fields other than pseudo-header fields
  bool head_too_large_ = false;
  std::string arrived_;      ///< body bytes received and not yet handed to the handler
  std::string handed_;       ///< the piece read_body_some returned last, still ours
  bool body_ended_ = false;  ///< END_STREAM received
  bool continue_sent_ = false;
  std::optional<std::uint64_t> declared_length_;
  std::string response_body_;    ///< respond()'s body, which must outlive the call
  std::string_view outgoing_;    ///< body bytes written and not yet taken by nghttp2
  bool finishing_ = false;       ///< the handler has no more body to write
  bool head_with_body_ = false;  ///< DATA frames follow the queued head
  bool head_submitted_ = false;
  bool response_sent_ = false;
  bool closed_ = false;
  bool handler_running_ = false;
  asio::steady_timer wake_;
};

}  // namespace triserve::server
