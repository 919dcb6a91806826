#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "triserve/server/buffer_pool.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/request_workspace.hpp"
#include "triserve/server/server_options.hpp"
#include "triserve/server/traffic_counters.hpp"

namespace triserve::http {
struct request;
}

namespace triserve::server {

class connection;
class server_group;
class transport;

/// Counts a server keeps for the final log line of a drain.
struct server_stats {
  std::uint64_t requests_served = 0;
  /// Connections the drain closed between requests: idle keep-alive ones, ones accepted without a
  /// request yet, and ones whose response had already promised keep-alive.
  std::uint64_t idle_closed = 0;
  std::uint64_t cut = 0;  ///< connections closed at the deadline or by a second signal
  /// HTTP/2 streams those connections carried, cancelled with them.
  std::uint64_t streams_cut = 0;
};

/// Where a server listens, once bound.
struct bound_address {
  asio::ip::tcp::endpoint endpoint;
  bool tls = false;
};

/// "127.0.0.1:7000", or "tls://127.0.0.1:7443" for a TLS one.
std::string to_string(const bound_address& address);

/// One server: its listening sockets and their accept loops, its live connections and the handler
/// that answers them.
class server {
 public:
  /// The listener and the accept loop run on `control`, the group's strand; each connection runs
  /// on a strand of its own when `io` runs on several threads, else on `io` directly.
  server(asio::io_context& io, asio::any_io_executor control, unsigned threads, std::string name,
         handler answer, const server_options& options, server_group& group,
         buffer_pool& input_buffers, workspace_pool& workspaces);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The server's name in logs: "hello", "hello-name", "echo".
  const std::string& name() const { return name_; }

  /// Opens a listening socket bound to `where`, clients speaking TLS on it when `tls`; throws
  /// std::system_error, and then keeps nothing of it. Nothing listens yet.
  void bind(const asio::ip::tcp::endpoint& where, bool tls);
  /// Takes over a listening socket another process opened (socket activation); throws
  /// std::system_error when `listening_fd` is not a TCP socket.
  void adopt(int listening_fd, bool tls);
  /// Starts listening on every bound socket; throws startup_error naming the address that failed.
  void listen();
  /// Closes every listening socket (start-up failure or drain); safe to call twice.
  void close_listeners();
  /// The bound addresses, in the order bound, with the ports the kernel chose.
  std::vector<bound_address> local_endpoints() const;

  /// Starts an accept loop on every listening socket; each ends when its socket closes.
  void start_accepting();
  /// Registers `conn` as one of this server's connections and starts serving it on its executor.
  /// The accept loop calls it for every TCP connection; a fuzzer, for one over bytes in memory.
  void serve(std::shared_ptr<connection> conn);
  /// Stops accepting and asks every connection to finish its request in flight and close.
  void begin_drain();
  /// Closes every remaining connection now.
  void force_close();
  /// Cuts every connection whose current operation is past its deadline at `now`.
  void enforce_deadlines(std::chrono::steady_clock::time_point now);

  /// Live connections, idle or busy.
  std::size_t connection_count() const;
  /// Live connections waiting for a next request with nothing received.
  std::size_t idle_connection_count() const;
  /// Live connections that still owe a client an answer (not those closing because idle).
  std::size_t busy_connection_count() const;
  /// A snapshot of the counts; exact once every connection is gone.
  server_stats stats() const;

  // For connections, from their own strands.
  const server_options& options() const { return options_; }
  buffer_pool& input_buffers() { return input_buffers_; }
  workspace_pool& workspaces() { return workspaces_; }
  const handler& answer() const { return answer_; }
  void count_request() { requests_served_.fetch_add(1, std::memory_order_relaxed); }
  void count_idle_closed() { idle_closed_.fetch_add(1, std::memory_order_relaxed); }
  void count_cut() { cut_.fetch_add(1, std::memory_order_relaxed); }
  /// A connection cut at the deadline (or by a second signal) cancelled `streams` HTTP/2 streams.
  void count_streams_cut(std::uint64_t streams) {
    streams_cut_.fetch_add(streams, std::memory_order_relaxed);
  }
  traffic_counters& traffic() { return traffic_; }
  const traffic_counters& traffic() const { return traffic_; }
  /// The handler threw answering `request` from `peer`: counts it and logs one error line.
  /// `answered`: a 500 took the place of its response; else part of that had left, and the
  /// connection closes without one.
  void handler_failed(const http::request& request, const asio::ip::tcp::endpoint& peer,
                      std::exception_ptr failure, bool answered);
  /// One access-log line (at debug level when the access log is off) for `request`, received
  /// over `stream` by `protocol` `took` ago: a rejected request may have no method or target
  /// yet; `note` says why it was rejected or aborted.
  void log_request(const transport& stream, const http::request& request, std::string_view protocol,
                   int status, std::uint64_t body_bytes, std::chrono::steady_clock::duration took,
                   std::string_view note) const;

 private:
  using registry = std::list<std::shared_ptr<connection>>;

  /// A listening socket, its accept back-off and whether its clients speak TLS.
  struct listening_socket {
    asio::ip::tcp::acceptor acceptor;
    asio::steady_timer backoff;
    bool tls = false;
  };

  asio::awaitable<void> accept_loop(listening_socket& listening);
  /// Where a new connection runs: a strand of its own, or the io_context itself on one thread.
  asio::any_io_executor connection_executor();
  /// Serves an accepted socket as a connection over TCP.
  void start_connection(asio::ip::tcp::socket socket, const listening_socket& from);
  /// The connection's coroutine ended, normally or with `failure`: forgets it.
  void connection_ended(registry::iterator registration, std::exception_ptr failure);
  /// Runs `action` on every connection `select`ed, each on its own strand. The registry lock is
  /// not held meanwhile: on one thread the action runs right here.
  template <typename Select, typename Action>
  void for_each_connection(Select select, Action action);

  asio::io_context& io_;
  const unsigned threads_;
  std::string name_;
  handler answer_;
  const server_options& options_;
  server_group& group_;
  buffer_pool& input_buffers_;
  workspace_pool& workspaces_;
  asio::any_io_executor control_;
  /// Stable addresses: each accept loop refers to its socket. On the group's strand only.
  std::vector<std::unique_ptr<listening_socket>> listeners_;
  /// Shared ownership, so that work sent to a connection's strand keeps it alive until it runs.
  registry connections_;  ///< guarded by registry_mutex_
  mutable std::mutex registry_mutex_;
  /// for_each_connection's selection, kept so that a sweep does not allocate. Group strand only.
  std::vector<std::shared_ptr<connection>> selected_;
  std::atomic<std::uint64_t> requests_served_{0};
  std::atomic<std::uint64_t> idle_closed_{0};
  std::atomic<std::uint64_t> cut_{0};
  std::atomic<std::uint64_t> streams_cut_{0};
  traffic_counters traffic_;
  bool accepting_ = false;  ///< only touched on the group's strand
};

/// "127.0.0.1:7000" or "[::]:7000".
std::string to_string(const asio::ip::tcp::endpoint& endpoint);

/// What an exception says: its what(), or "unknown exception" when it is no std::exception.
std::string describe_exception(std::exception_ptr failure);

}  // namespace triserve::server
