#pragma once

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include "triserve/server/buffer_pool.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/listen_address.hpp"
#include "triserve/server/relaxed.hpp"
#include "triserve/server/request_workspace.hpp"
#include "triserve/server/server_options.hpp"
#include "triserve/server/service_notifier.hpp"
#include "triserve/server/tls_settings.hpp"
#include "triserve/server/traffic_counters.hpp"

namespace triserve::server {

class server;
class tls_context;
struct server_stats;

/// The group could not start: one line naming the server, the address and the reason.
class startup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A listening socket the service manager opened and passed to us (socket activation).
struct adopted_socket {
  int fd = -1;
  bool tls = false;  ///< clients speak TLS on it
};

/// Where a server listens: an address to bind, or a socket to adopt.
using listener = std::variant<listen_address, adopted_socket>;

/// Whether clients speak TLS on `where`.
bool speaks_tls(const listener& where);

/// When a server stops accepting during a drain.
enum class drain_order {
  with_the_group,   ///< as the drain begins
  after_the_others  ///< once every other server has drained (an admin endpoint watching it)
};

/// Where the group is in its life, as /readyz and /metrics report it.
enum class group_phase { starting, serving, delaying_drain, draining, stopped };

/// One server's counts at a moment, for /metrics.
struct server_report {
  std::string name;
  std::size_t live = 0;
  std::size_t idle = 0;
  std::uint64_t requests_served = 0;
  std::uint64_t idle_closed = 0;
  std::uint64_t cut = 0;
  traffic_snapshot traffic;
};

/// The whole group at a moment, for /metrics.
struct group_report {
  group_phase phase = group_phase::starting;
  /// Seconds left until the drain deadline while draining, else 0.
  double seconds_to_deadline = 0;
  /// When the TLS certificate in service expires, in seconds since the Unix epoch; 0 without TLS.
  std::int64_t certificate_not_after = 0;
  std::vector<server_report> servers;
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

  /// Declares a server listening on every one of `where` (at least one); nothing is opened
  /// before start().
  void add(std::string name, std::vector<listener> where, handler answer,
           drain_order order = drain_order::with_the_group);

  /// The certificate, key and versions of every TLS listener. Before start(), which loads them
  /// before anything binds; required when a listener speaks TLS. SIGHUP loads them again.
  void use_tls(tls_settings settings) { tls_settings_ = std::move(settings); }

  /// Reports the group's life to a service manager: READY=1 once every server listens, STATUS=
  /// lines, STOPPING=1 when the drain begins, and WATCHDOG=1 every `watchdog_interval` while the
  /// event loop runs (zero: no watchdog). Before start().
  void report_to(service_notifier notifier, std::chrono::microseconds watchdog_interval);
  /// On SIGINT/SIGTERM, first report not ready for `delay` while still serving, then drain: a
  /// load balancer that polls readiness stops sending traffic before anything refuses it.
  void set_drain_delay(std::chrono::milliseconds delay) { drain_delay_ = delay; }

  /// Loads the TLS certificate, binds every server, then listens on every one, then starts
  /// accepting and watching SIGINT, SIGTERM (drain), SIGUSR1 (status) and SIGHUP (certificate
  /// reload). On any failure closes what it opened and throws startup_error.
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

  /// Where the server named `name` listens first, with the port the kernel chose; throws
  /// std::out_of_range for an unknown name.
  asio::ip::tcp::endpoint local_endpoint(std::string_view name) const;

  /// Serving and not about to drain: what /readyz answers. From any thread.
  bool ready() const { return phase_.load() == group_phase::serving; }
  /// Every server's counts and the group's phase. From any thread.
  group_report report() const;

  /// Total live connections over all servers.
  std::size_t connection_count() const;
  /// Live connections that still owe a client an answer the drain waits for (a server that
  /// drains last counts once it drains).
  std::size_t busy_connection_count() const;

  // For servers.
  /// The certificate new TLS connections use now. On the group's strand, where reloads happen.
  const std::shared_ptr<const tls_context>& current_tls() const { return tls_context_; }
  /// A server registered a connection: deadlines need sweeping. On the group's strand.
  void connection_opened();
  /// A server's connection is gone: the drain may be complete. From any thread.
  void connection_closed();
  /// A server's accept loop failed unexpectedly: the group drains. From any thread.
  void server_failed(const server& failed, std::exception_ptr failure);

 private:
  struct planned_server {
    std::unique_ptr<server> instance;
    std::vector<listener> where;
    drain_order order;
  };

  /// Loads the TLS certificate when a listener speaks TLS; throws startup_error.
  void load_tls();
  /// Loads the certificate again on SIGHUP; a bad one leaves the one in service.
  void wait_for_reload_request();
  void reload_tls();
  /// Takes `loaded` into service for new handshakes, and warns when it expires soon.
  void put_in_service(std::shared_ptr<const tls_context> loaded);
  void bind_all();
  void wait_for_signal();
  /// Reports not ready for the drain delay, then drains.
  void delay_drain(std::string_view why);
  void schedule_watchdog();
  /// "draining: hello 2, hello-name 0, echo 1 connection(s) left; 3.2s to deadline"
  std::string drain_progress() const;
  /// Starts draining the servers that close last once every other one is done.
  void drain_last_servers_if_due();
  /// Live connections of the servers that drain with the group.
  std::size_t first_wave_connection_count() const;
  /// Whether the server's connections that owe an answer hold up the drain now.
  bool counts_as_busy(const planned_server& planned) const;
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
  /// beyond a few), and returns freed heap memory to the system once no connection is left or
  /// many buffers were freed.
  void trim_spares(bool all_unused);
  void finish_if_drained();
  /// After a forced close, logs what was cut once every connection is gone.
  void report_cut_if_closed();
  /// The servers' counts added up.
  server_stats totals() const;
  /// The final line: everything closed, or what was cut.
  void log_outcome();
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
  /// SIGHUP reloads the certificate; registered for the group's whole life like SIGUSR1.
  asio::signal_set reload_signal_;
  asio::steady_timer drain_deadline_;
  asio::steady_timer progress_timer_;
  asio::steady_timer deadline_sweep_;
  asio::steady_timer drain_delay_timer_;
  asio::steady_timer watchdog_timer_;
  service_notifier notifier_;
  std::optional<tls_settings> tls_settings_;
  std::shared_ptr<const tls_context> tls_context_;  ///< on the group's strand only
  /// tls_context_'s expiry for report(), which any thread calls.
  relaxed<std::int64_t> certificate_not_after_{0};
  std::chrono::microseconds watchdog_interval_{0};
  std::chrono::milliseconds drain_delay_{0};
  /// Written only on the group's strand; /readyz and /metrics read it from any thread.
  relaxed<group_phase> phase_{group_phase::starting};
  bool last_servers_draining_ = false;
  bool sweeping_ = false;
  int sweeps_since_trim_ = 0;
  bool cut_report_pending_ = false;
  relaxed<std::chrono::steady_clock::time_point> deadline_at_{{}};
  int exit_code_ = 0;
};

}  // namespace triserve::server
