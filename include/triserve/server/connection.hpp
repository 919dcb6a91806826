#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "triserve/http/request_parser.hpp"
#include "triserve/server/input_buffer.hpp"
#include "triserve/server/relaxed.hpp"
#include "triserve/server/request_workspace.hpp"
#include "triserve/server/traffic_counters.hpp"
#include "triserve/server/transport.hpp"

namespace triserve::server {

class body_pieces;
class h2_session;
class http1_exchange;
class server;

/// One accepted connection and the HTTP/1.1 requests it carries, answered one after another, over
/// a transport it does not own (see connection_over). The owning server keeps a registry of live
/// connections so that a drain can reach every one of them. Everything but the few read-only
/// observers below runs on the connection's executor: its strand when the io_context runs on
/// several threads.
class connection {
 public:
  using clock = transport::clock;

  /// `stream` must outlive the connection.
  connection(server& owner, transport& stream);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Where this connection's work runs.
  asio::any_io_executor executor() { return transport_.executor(); }

  /// Serves requests until the client leaves, an error, a timeout or the drain ends it.
  asio::awaitable<void> run();

  // Observers safe from any thread (for status lines, the drain's counts and the sweep).
  /// True while waiting for the first byte of a next request with nothing buffered (HTTP/2: while
  /// no stream is open).
  bool idle() const;
  /// False once the connection owes no client an answer: the drain found it idle (or not yet
  /// started), or it is lingering after its last response (HTTP/2: no stream is open).
  bool owes_answer() const;
  /// Whether enforce_deadline has anything to do at `now` (a deadline, a write to sample, a hot
  /// wait to shed; HTTP/2: a stream's or the write's deadline).
  bool deadline_due(clock::time_point now) const;

  /// Starts this connection's part of a drain: an idle connection closes now, a busy one finishes
  /// the request in flight, answers it with `Connection: close`, and closes.
  void begin_drain();

  /// Closes the connection now, whatever it was doing (drain deadline or second signal).
  void force_close();

  /// Cuts the operation in progress if its deadline has passed by `now`. The server sweeps its
  /// connections with this a few times a second: one timer for all of them, rather than a timer
  /// per connection re-armed by every request.
  void enforce_deadline(clock::time_point now);

 private:
  friend class http1_exchange;

  /// Where the connection is in its life; run() goes through them top to bottom, and back to
  /// waiting after each keep-alive response.
  enum class phase : std::uint8_t {
    accepted,      ///< run() has not begun: a drain finds nobody owed anything
    waiting,       ///< for the first byte of a next request, holding no receive buffer
    waiting_hot,   ///< for a next request, with a read into the receive buffer it holds
    reading_head,  ///< a request head is arriving (or the first wait is about to begin)
    answering,     ///< the handler runs, the body and the response flow
    lingering      ///< the last response has left: FIN sent, reading until the client closes
  };
  /// What the group has asked of the connection: nothing, to finish and close (the drain), or to
  /// close now (the drain's deadline, a second signal).
  enum class ending : std::uint8_t { none, drain, force };

  bool draining() const { return ending_ != ending::none; }
  bool forced() const { return ending_ == ending::force; }

  /// How the next request will come: already received, after a wait for readability, or not.
  enum class next_request { buffered, awaited, none };
  /// Flushes queued responses and decides how the next request comes; closes when draining. A
  /// busy connection waits for its next request here, holding its receive buffer.
  asio::awaitable<next_request> prepare_for_request(bool first);
  /// Borrows a request workspace from the server's pool, unless one is held already.
  void borrow_workspace();
  /// Gives the request workspace back, emptied; nothing may refer into it afterwards.
  void return_workspace();
  /// Whether to wait for the next request holding the receive buffer (see prepare_for_request).
  bool wait_hot() const;
  /// Whether the client's next request has begun to arrive (bytes wait in the socket).
  bool request_pending() const;
  /// Takes the outcome of the wait for a next request; false when the connection must end.
  bool finish_idle_wait(std::error_code ec);
  /// After a wake-up, receives what the socket holds without waiting; false when it holds nothing
  /// (the readiness was stale), true for bytes, end of stream or an error.
  bool take_waiting_bytes();
  asio::awaitable<bool> read_head(http::parse_result& result, bool first);
  asio::awaitable<bool> answer(bool& keep_alive);

  /// Receives more bytes before `deadline`; 0 on end of stream, error, timeout or forced close.
  asio::awaitable<std::size_t> read_more(clock::time_point deadline, std::size_t limit);
  /// Bytes of our output the client has acknowledged so far (what the transport took from us
  /// minus what it still holds unacknowledged).
  std::uint64_t delivered_bytes() const;
  /// Adds what the client acknowledged since the write waiting on it was last accounted to the
  /// response's pace, as of `now`.
  void account_write_wait(clock::time_point now);
  /// Writes the workspace's queued output followed by `extra` when there is one; false when the
  /// write failed.
  asio::awaitable<bool> write(const body_pieces* extra = nullptr);
  /// Queues an error response with `Connection: close`.
  void queue_error(int status, std::string_view reason);
  /// Sends FIN, then drops what the client still sends for a moment, so that our last response
  /// is not destroyed by a reset (RFC 9112 §9.6).
  asio::awaitable<void> close_gracefully();
  /// Closes a connection that owes no answer, whose idle wait ended with `ended_by`: when the
  /// drain or the idle timeout cut it, TLS's close_notify and a FIN, without waiting for the
  /// client's reply.
  asio::awaitable<void> close_idle(std::error_code ended_by);
  /// Writes what is queued, then closes gracefully; false when that last write failed.
  asio::awaitable<bool> finish_and_close();
  /// Starts timing a new operation: it is cut when `deadline` passes.
  void set_deadline(clock::time_point deadline);
  /// Whether the response being started must close the connection, as far as the connection
  /// knows (client's wish, drain, earlier failure).
  bool must_close() const;
  /// Counts and logs (at debug level) a client cut for moving data below a minimum rate.
  void count_too_slow(transfer_direction direction);
  /// Counts and logs a response that was cut short after its head had left.
  void log_cut_short(const http1_exchange& ex, clock::time_point started);
  /// One access-log line (at debug level when the access log is off), `note` saying why a
  /// request was rejected or aborted.
  void log_request(int status, std::uint64_t body_bytes, clock::time_point started,
                   std::string_view note) const;

  // HTTP/2: the connection hands itself over to an h2_session when its client speaks HTTP/2, and
  // stays what the server's registry knows, forwarding the drain and forced closes to it.
  /// Whether the client speaks HTTP/2: `h2` chosen by ALPN over TLS (RFC 9113 §3.2), or the client
  /// preface in cleartext (§3.3 prior knowledge). Reads while the bytes could still be the preface.
  asio::awaitable<bool> arrives_as_http2();
  /// Serves the rest of the connection as HTTP/2 with `session`, made from the bytes already
  /// received (and the request of an `Upgrade: h2c`).
  asio::awaitable<void> serve_http2(std::unique_ptr<h2_session> session);
  /// The HTTP/2 session, once there is one; set once, on the connection's strand.
  std::unique_ptr<h2_session> h2_;
  /// h2_ is set: published for the observers, which may run on other threads.
  std::atomic<bool> speaks_h2_{false};

  server& server_;
  transport& transport_;
  clock::time_point accepted_at_;
  input_buffer input_;
  /// Held while serving requests; an idle connection has none.
  std::unique_ptr<request_workspace> work_;
  // Written on the connection's strand only, read by the observers above from the group's: a
  // stale value costs at most a needless visit to the strand or a status line a moment old.
  relaxed<clock::time_point> deadline_ = clock::time_point::max();
  relaxed<phase> phase_ = phase::accepted;
  relaxed<bool> closed_while_idle_ = false;
  relaxed<bool> writing_ = false;
  relaxed<bool> delivery_sampled_ = false;  ///< delivered_seen_ holds a sample of this write
  bool shed_marked_ = false;                ///< a sweep found this hot wait in progress
  bool shedding_ = false;                   ///< the sweep cancelled the hot wait to take its buffer
  std::uint32_t requests_answered_ = 0;
  ending ending_ = ending::none;
  bool timed_out_ = false;
  std::uint64_t handed_to_kernel_ = 0;  ///< bytes the transport accepted from our writes
  std::uint64_t delivered_seen_ = 0;    ///< delivered_bytes() when last sampled
  bool peer_closed_ = false;
};

/// The transport of a connection_over, as a base so that it is constructed before the connection
/// that refers to it and destroyed after it.
template <typename Transport>
struct owned_transport {
  Transport stream;
};

/// A connection together with the transport it runs over, in one allocation.
template <typename Transport>
class connection_over final : private owned_transport<Transport>, public connection {
 public:
  connection_over(server& owner, Transport over)
      : owned_transport<Transport>{std::move(over)}, connection(owner, this->stream) {}
};

}  // namespace triserve::server
