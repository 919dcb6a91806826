#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "triserve/http/date.hpp"
#include "triserve/server/buffer_pool.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/request_workspace.hpp"
#include "triserve/server/server_options.hpp"

namespace triserve::server {

class connection;
class server_group;

/// Counts a server keeps for the final log line of a drain.
struct server_stats {
  std::uint64_t requests_served = 0;
  /// Connections the drain closed between requests: idle keep-alive ones, ones accepted without a
  /// request yet, and ones whose response had already promised keep-alive.
  std::uint64_t idle_closed = 0;
  std::uint64_t cut = 0;  ///< connections closed at the deadline or by a second signal
};

/// One listener, its accept loop, its live connections and the handler that answers them.
class server {
 public:
  server(asio::io_context& io, std::string name, handler answer, const server_options& options,
         server_group& group, http::date_cache& dates, buffer_pool& input_buffers,
         workspace_pool& workspaces);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The server's name in logs: "hello", "hello-name", "echo".
  const std::string& name() const { return name_; }

  /// Opens and binds the listening socket; throws std::system_error. Nothing listens yet.
  void bind(const asio::ip::tcp::endpoint& where);
  /// Starts listening on the bound socket; throws std::system_error.
  void listen();
  /// Closes the listening socket (start-up failure or drain); safe to call twice.
  void close_listener();
  /// The bound address with the port the kernel chose.
  asio::ip::tcp::endpoint local_endpoint() const;

  /// Starts the accept loop; it ends when the listener closes.
  void start_accepting();
  /// Stops accepting and asks every connection to finish its request in flight and close.
  void begin_drain();
  /// Closes every remaining connection now.
  void force_close();
  /// Cuts every connection whose current operation is past its deadline at `now`.
  void enforce_deadlines(std::chrono::steady_clock::time_point now);

  /// Live connections, idle or busy.
  std::size_t connection_count() const { return connections_.size(); }
  /// Live connections waiting for a next request with nothing received.
  std::size_t idle_connection_count() const;
  /// Live connections that still owe a client an answer (not those closing because idle).
  std::size_t busy_connection_count() const;
  const server_stats& stats() const { return stats_; }

  // For connections.
  std::list<connection*>::iterator add(connection* conn);
  void remove(std::list<connection*>::iterator registration);
  const server_options& options() const { return options_; }
  http::date_cache& dates() { return dates_; }
  buffer_pool& input_buffers() { return input_buffers_; }
  workspace_pool& workspaces() { return workspaces_; }
  const handler& answer() const { return answer_; }
  void count_request() { ++stats_.requests_served; }
  void count_idle_closed() { ++stats_.idle_closed; }
  /// A connection's coroutine failed unexpectedly: the group aborts (errgroup contract).
  void report_failure(std::exception_ptr failure);

 private:
  asio::awaitable<void> accept_loop();
  /// Registers an accepted socket as a connection and starts serving it.
  void start_connection(asio::ip::tcp::socket socket);

  asio::io_context& io_;
  std::string name_;
  handler answer_;
  const server_options& options_;
  server_group& group_;
  http::date_cache& dates_;
  buffer_pool& input_buffers_;
  workspace_pool& workspaces_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  std::list<connection*> connections_;
  server_stats stats_;
  bool accepting_ = false;
};

/// "127.0.0.1:7000" or "[::]:7000".
std::string to_string(const asio::ip::tcp::endpoint& endpoint);

}  // namespace triserve::server
