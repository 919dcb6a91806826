#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>

#include "triserve/http/date.hpp"
#include "triserve/http/request.hpp"
#include "triserve/server/client_wait.hpp"
#include "triserve/server/h2_exchange.hpp"
#include "triserve/server/relaxed.hpp"
#include "triserve/server/traffic_counters.hpp"
#include "triserve/server/transport.hpp"

struct nghttp2_session;
struct nghttp2_session_callbacks;
struct nghttp2_option;

namespace triserve::server {

class server;

/// The 24 bytes every HTTP/2 connection starts with (RFC 9113 §3.4).
inline constexpr std::string_view h2_client_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One HTTP/2 connection over a transport it does not own: libnghttp2 does the framing, HPACK and
/// flow control (fed with mem_recv, drained with mem_send), and each request stream becomes an
/// h2_exchange whose handler runs on the connection's executor. One reader loop, one writer loop
/// with one write in flight, woken when there is something to send. The connection that detected
/// HTTP/2 owns the session and forwards the drain and forced closes to it; everything but the
/// observers runs on the connection's executor.
class h2_session {
 public:
  /// `stream` must outlive the session; `received` are the bytes the connection has already read
  /// (the client preface and whatever followed it), which the session serves first.
  h2_session(server& owner, transport& stream, std::string_view received);
  ~h2_session();
  h2_session(const h2_session&) = delete;
  h2_session& operator=(const h2_session&) = delete;

  /// Takes over an HTTP/1.1 request that asked to continue in HTTP/2 (`Upgrade: h2c`, see
  /// http::h2c_upgrade_settings), with `settings` its decoded HTTP2-Settings, as stream 1; before
  /// run(). False when nghttp2 refuses the settings: the request is then HTTP/1.1's to serve.
  bool accept_upgrade(const http::request& request, std::string_view settings);

  /// Serves the connection until the client leaves, an error, or the drain's GOAWAY with no
  /// stream left; returns once every stream's handler has returned.
  asio::awaitable<void> run();

  // Observers safe from any thread.
  /// True while no stream is open.
  bool idle() const { return open_streams_.load() == 0; }
  /// True while a stream waits for its answer.
  bool owes_answer() const { return open_streams_.load() > 0; }

  /// The drain: tells the client with GOAWAY (RFC 9113 §6.8) that no new stream will be served,
  /// finishes the open ones, and closes once none is left.
  void begin_drain();
  /// Closes now: open streams are cancelled and the final GOAWAY goes if the socket takes it
  /// without waiting; every stream's handler fails.
  void force_close();

  /// Whether enforce_deadline has anything to do at `now`; safe from any thread.
  bool deadline_due(transport::clock::time_point now) const { return now >= next_check_.load(); }
  /// The server's sweep: cuts what its client has kept waiting too long (a header section, a
  /// request body, a window, the socket taking our frames), on the connection's executor.
  void enforce_deadline(transport::clock::time_point now);

  // For h2_exchange.
  /// Where the session's work runs.
  asio::any_io_executor executor() { return transport_.executor(); }
  /// The nghttp2 session, for submitting frames.
  nghttp2_session* native() { return session_.get(); }
  /// Something was submitted to nghttp2 (a response, data, a WINDOW_UPDATE): the writer looks.
  void wake_writer();
  /// The receive window every stream starts with.
  static std::uint32_t initial_stream_window();
  /// The handler of `stream_id` took its whole `window` at once: the window, not the handler,
  /// holds the body back. Returns the stream's new window, larger up to a limit.
  std::uint32_t widen_stream_window(std::int32_t stream_id, std::uint32_t window);
  /// The server the session serves for: its options, counters and logs.
  server& owner() { return server_; }
  /// The transport's clock.
  transport::clock::time_point now() const { return transport_.now(); }
  /// The Date header's value now.
  std::string_view date() { return dates_.now(); }
  /// Something of a stream falls due at `when`: the sweep visits the session then.
  void arm_deadline(transport::clock::time_point when) {
    if (when < next_check_.load()) next_check_ = when;
  }

 private:
  struct session_free {
    void operator()(nghttp2_session* session) const;
  };
  struct callbacks_free {
    void operator()(nghttp2_session_callbacks* callbacks) const;
  };
  struct option_free {
    void operator()(nghttp2_option* option) const;
  };
  friend struct h2_callbacks;

  /// Receives and feeds nghttp2 until the client leaves or the session is closed.
  asio::awaitable<void> read_loop();
  /// Sends what nghttp2 has to send, one write at a time, until nghttp2 wants nothing more.
  asio::awaitable<void> write_loop();
  /// Runs the handler of `ex` and settles what it leaves: an error answer, a reset, the counts.
  asio::awaitable<void> serve_stream(h2_exchange& ex);
  /// Serves a stream whose header section is complete as `verdict` says: its handler, an error
  /// response, or a reset.
  void start_stream(h2_exchange& ex, h2_exchange::head_verdict verdict);
  /// Starts the handler of `ex` on the connection's executor.
  void spawn_handler(h2_exchange& ex);
  /// The handler of `ex` has returned.
  void handler_returned(h2_exchange& ex);
  /// Forgets `ex` once both its stream has closed and its handler has returned.
  void forget_if_done(h2_exchange& ex);
  /// The response of `ex` has ended, its handler returned, and the client is still sending a
  /// request body nobody will read: it is stopped (RST_STREAM NO_ERROR), at once or after a grace.
  void end_unread_body(h2_exchange& ex);
  /// Remembers that the client skipped the odd stream ids `first` to `last`.
  void remember_skipped(std::int32_t first, std::int32_t last);
  /// Whether `stream_id` is one the client skipped (and so closed without opening it).
  bool was_skipped(std::int32_t stream_id) const;
  /// Feeds `bytes` to nghttp2; false when the connection must end (nghttp2 queued a GOAWAY
  /// for a connection error, if it could).
  bool feed(std::string_view bytes);
  /// Counts a GOAWAY sent, and the flood it stopped when nghttp2 sent it for one.
  void count_goaway(std::uint32_t error_code);
  /// Counts and logs a flood the connection is ended for.
  void note_flood(h2_flood flood);
  /// Sends the final GOAWAY (of a drain, or of a connection idle too long), with the last stream
  /// that will be served, once.
  void send_final_goaway();
  /// When the writer sends the final GOAWAY unless something happens first: the drain's round
  /// trip has passed, or the connection has been idle for the idle timeout.
  transport::clock::time_point next_goaway_at() const;
  /// Ends the session now: stops both loops and fails every exchange.
  void close_now();
  /// Ends the session for `why` (logged at debug level): open streams get RST_STREAM(CANCEL) and
  /// the final GOAWAY carries `error_code` and `why`, if the socket takes them without waiting.
  void cut(std::uint32_t error_code, std::string_view why);
  /// Bytes of our output the client has acknowledged (what the transport took from us minus what
  /// it still holds unacknowledged).
  std::uint64_t delivered_bytes() const;
  /// A write is blocked and nghttp2 holds more frames than the backlog allows: reading more
  /// would only queue more answers.
  bool backlog_full() const;
  /// Waits while the backlog is full.
  asio::awaitable<void> wait_for_backlog();
  /// The exchange of `stream_id`, or null.
  h2_exchange* find(std::int32_t stream_id);
  /// Counts, and logs when the access log is on, a response whose handler returned.
  void log_request(const h2_exchange& ex, int status, std::uint64_t body_bytes,
                   std::string_view note) const;
  /// Counts a response cut short by a reset after its head was submitted.
  void log_cut_short(const h2_exchange& ex);
  /// Answers `ex` with an error response (its handler never ran, or left no answer), counted and
  /// logged like HTTP/1.1's.
  void send_error(h2_exchange& ex, int status, std::string_view reason);

  server& server_;
  transport& transport_;
  std::unique_ptr<nghttp2_session, session_free> session_;
  std::string initial_;  ///< bytes read before the session took over, served first
  std::string output_;   ///< what mem_send yielded, gathered for one write
  std::unordered_map<std::int32_t, std::unique_ptr<h2_exchange>> streams_;
  /// The request of an `Upgrade: h2c` (stream 1) and how it turned out, started by run().
  std::optional<std::pair<h2_exchange*, h2_exchange::head_verdict>> upgraded_;
  relaxed<std::size_t> open_streams_ = 0;  ///< streams nghttp2 has open with an exchange
  std::size_t handlers_running_ = 0;
  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;  ///< the reader waits here while the backlog is full
  asio::steady_timer handlers_done_;
  /// When the drain's final GOAWAY goes even if the PING sent with the first one is not answered.
  transport::clock::time_point final_goaway_due_ = transport::clock::time_point::max();
  /// Since when no stream has been open (from the start, or when the last one closed).
  transport::clock::time_point idle_since_;
  wire_protocol protocol_;  ///< h2 over TLS, h2c in cleartext
  /// When the reader last received something: a closing connection lingers while bytes come.
  transport::clock::time_point last_received_at_{};
  http::date_cache dates_;
  bool draining_ = false;
  bool final_goaway_sent_ = false;
  /// We have submitted a GOAWAY (any other is nghttp2's own).
  bool goaway_submitted_ = false;
  /// The last stream id of the final GOAWAY: streams above it are refused.
  std::int32_t last_stream_served_ = 0;
  /// The final GOAWAY has been sent (not only submitted): nghttp2 now ignores new streams.
  bool final_goaway_on_wire_ = false;
  /// The highest stream id a HEADERS frame has carried: only a higher one opens a stream. -1
  /// before the first, so that the next id a client may open is always this plus 2.
  std::int32_t highest_stream_seen_ = -1;
  /// What the header block being received has decoded to so far, as SETTINGS_MAX_HEADER_LIST_SIZE
  /// counts it, and the most it may decode to before the connection ends (an HPACK bomb).
  std::size_t block_decoded_ = 0;
  /// When the header timeout ends a connection whose client has not yet sent the SETTINGS frame
  /// that ends its preface (RFC 9113 §3.4); time_point::max() once it has.
  transport::clock::time_point preface_due_;
  std::size_t header_bomb_limit_ = 0;
  bool header_bomb_ = false;  ///< a block went past header_bomb_limit_: the connection ends
  /// Ranges of odd stream ids (first, last) the client skipped: closed without being opened.
  std::vector<std::pair<std::int32_t, std::int32_t>> skipped_ids_;
  /// New streams above it seen in the bytes being fed, to be refused once they are taken.
  std::vector<std::int32_t> to_refuse_;
  /// A write of output_ is in progress: nothing else may be written before it ends.
  bool writing_ = false;
  /// When the sweep has something to look at (a stream's or the write's deadline); may be
  /// early, never late. Written on the connection's executor, read by the sweep's thread.
  relaxed<transport::clock::time_point> next_check_ = transport::clock::time_point::max();
  /// The socket taking our frames: a pause of the write timeout, or a client reading below the
  /// minimum send rate, cuts the connection (CVE-2019-9517).
  client_wait write_wait_;
  std::uint64_t handed_to_kernel_ = 0;  ///< bytes the transport accepted from our writes
  std::uint64_t delivered_seen_ = 0;    ///< delivered_bytes() when last accounted
  bool closed_ = false;  ///< no more reading or writing: close_now() or force_close()
  /// feed() failed: once nghttp2's GOAWAY has left, the connection ends.
  bool connection_error_ = false;
  bool reader_done_ = false;
  bool writer_done_ = false;
};

}  // namespace triserve::server
