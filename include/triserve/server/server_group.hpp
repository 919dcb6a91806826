#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "triserve/server/buffer_pool.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/listen_address.hpp"
#include "triserve/server/request_workspace.hpp"
#include "triserve/server/server_options.hpp"

namespace triserve::server {

class server;
struct server_stats;

/// The group could not start: one line naming the server, the address and the reason.
class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// All servers of the process: they start together or not at all, and one signal drains them all
/// against one deadline, as Go's errgroup with Server.Shutdown does.
class server_group {
 public:
  /// `threads`: how many threads will run `io` (each connection then gets a strand of its own).
  server_group(asio::io_context& io, server_options options,
               std::chrono::milliseconds drain_timeout, unsigned threads = 1);
  ~server_group();
  server_group(const server_group&) = delete;
  server_group& operator=(const server_group&) = delete;

  /// Declares a server; nothing is opened before start().
  void add(std::string name, listen_address where, handler answer);

  /// Binds every server, then listens on every one, then starts accepting and watching SIGINT and
  /// SIGTERM. On any failure closes what it opened and throws startup_error.
  void start();

  /// Stops accepting everywhere, closes idle connections, lets requests in flight finish. On the
  /// group's strand.
  void begin_drain(std::string_view why);
  /// Closes every remaining connection now. On the group's strand. `at_deadline`: the exit code
  /// is 1 only if a connection was actually cut (else it is for a second signal or a failure).
  void force_close(std::string_view why, bool at_deadline = false);
  /// Closes everything because of an unexpected failure; from any thread.
  void abort(std::string why);

  /// 0 after a complete drain, 1 after a deadline, a second signal or a server failure.
  int exit_code() const { return exit_code_; }

  /// Where the server named `name` listens, with the port the kernel chose; throws
  /// std::out_of_range for an unknown name.
  asio::ip::tcp::endpoint local_endpoint(std::string_view name) const;

  /// Total live connections over all servers.
  std::size_t connection_count() const;
  /// Live connections that still owe a client an answer.
  std::size_t busy_connection_count() const;

  // For servers.
  /// A server registered a connection: deadlines need sweeping. On the group's strand.
  void connection_opened();
  /// A server's connection is gone: the drain may be complete. From any thread.
  void connection_closed();
  /// A server's accept loop or one of its connections failed unexpectedly. From any thread.
  void server_failed(const server& failed, std::exception_ptr failure);

 private:
  enum class state { idle, running, draining, stopped };

  struct planned_server {
    std::unique_ptr<server> instance;
    listen_address where;
  };

  void bind_all();
  void wait_for_signal();
  void wait_for_status_request();
  /// "hello 2, hello-name 0, echo 1": live connections per server.
  std::string connections_by_server() const;
  /// One line: state, live connections per server, requests served so far.
  void log_status() const;
  void wait_for_deadline();
  void schedule_progress_log();
  /// Checks every connection's deadline a few times a second while there are connections.
  void schedule_deadline_sweep();
  /// Frees pooled buffers and workspaces unused for a second (or, with `all_unused`, every spare
  /// beyond a few), and returns freed heap memory to the system after a burst.
  void trim_spares(bool all_unused);
  void finish_if_drained();
  /// After a forced close, logs what was cut once every connection is gone.
  void report_cut_if_closed();
  /// The servers' counts added up.
  server_stats totals() const;
  /// The final line: everything closed, or what was cut.
  void log_outcome() const;
  void stop_watching();

  asio::io_context& io_;
  /// Everything the group does itself (signals, timers, accept loops, the drain) runs here, so it
  /// needs no lock whatever the number of threads.
  asio::strand<asio::io_context::executor_type> control_;
  server_options options_;
  std::chrono::milliseconds drain_timeout_;
  unsigned threads_;
  buffer_pool input_buffers_;
  workspace_pool workspaces_;
  std::vector<planned_server> servers_;
  asio::signal_set signals_;
  /// SIGUSR1 asks for a status line. Registered for the group's whole life, so that a late
  /// SIGUSR1 (while connections unwind after a drain) never takes the default action: exit.
  asio::signal_set status_signal_;
  asio::steady_timer drain_deadline_;
  asio::steady_timer progress_timer_;
  asio::steady_timer deadline_sweep_;
  bool sweeping_ = false;
  int sweeps_since_trim_ = 0;
  bool cut_report_pending_ = false;
  std::chrono::steady_clock::time_point deadline_at_;
  state state_ = state::idle;
  int exit_code_ = 0;
};

}  // namespace triserve::server
