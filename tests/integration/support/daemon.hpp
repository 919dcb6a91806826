#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace triserve::integration {

/// How a daemon process ended, and how long wait_for_exit waited for it.
struct exit_status {
  bool exited = false;           ///< ended through exit(); otherwise killed by `signal`
  int code = -1;                 ///< exit code when `exited`
  int signal = 0;                ///< terminating signal when not `exited`
  long elapsed_ms = 0;           ///< from the call to wait_for_exit until the process was reaped
  std::string describe() const;  ///< "exit 0 after 12 ms" / "killed by signal 9 after 3 ms"
};

/// What the daemon's status line (logged on SIGUSR1) reported.
struct daemon_status {
  std::string state;     ///< "serving", "draining", "stopping"
  std::size_t live = 0;  ///< live connections over all servers
  std::map<std::string, std::size_t, std::less<>> live_by_server;  ///< "hello" -> count
  std::size_t idle = 0;            ///< live connections waiting for a next request
  std::uint64_t served = 0;        ///< requests answered so far
  std::size_t buffers_in_use = 0;  ///< receive buffers lent to connections
};

/// One address a server logged it listens on: `... hello server listening on tls://[::1]:7443`.
struct logged_endpoint {
  std::uint16_t port = 0;
  bool tls = false;  ///< logged with the tls:// prefix
  bool operator==(const logged_endpoint&) const = default;
};

/// The address arguments every test starts from: the three servers on ephemeral loopback ports.
std::vector<std::string> default_daemon_args();

/// What a daemon inherits beyond its arguments, as a service manager would hand it over.
struct spawn_extras {
  /// Set in the child's environment, on top of the test's own.
  std::vector<std::pair<std::string, std::string>> environment;
  /// Become file descriptors 3, 4, ... in the child (socket activation's LISTEN_FDS).
  std::vector<int> passed_fds;
  /// Sets LISTEN_PID to the child's own pid, which only the child can know: the daemon is then
  /// started through `/bin/sh -c 'export LISTEN_PID=$$; exec ...'`, which keeps the pid.
  bool listen_pid = false;
  /// The executable to run instead of TRISERVE_BINARY, e.g. TRISERVE_FAULT_DAEMON.
  std::string binary;
};

/// A daemon's inheritance: these environment variables, nothing else.
spawn_extras with_environment(std::vector<std::pair<std::string, std::string>> variables);

/// The lines of `text`, without their newlines; a trailing newline adds no empty line.
std::vector<std::string> lines_of(const std::string& text);

/// The value of the sample `name` (labels included) in a Prometheus text exposition (/metrics);
/// empty when there is none.
std::string metric_sample(const std::string& metrics, std::string_view name);

class daemon_process;
/// The value of one sample of the daemon's admin /metrics (it must have --admin), or nullopt when
/// it is not there.
std::optional<std::uint64_t> scrape_metric(daemon_process& daemon, std::string_view sample);

/// The real triserve binary run as a child process. It owns the process and a background thread
/// that collects the child's stdout and stderr, so a test can wait for a log line with a timeout.
/// The destructor SIGKILLs and reaps the child if it is still running; it never kills by name.
class daemon_process {
 public:
  /// Spawns TRISERVE_BINARY (or `extras.binary`) with exactly `args` (no defaults added); throws
  /// if spawning fails.
  explicit daemon_process(std::vector<std::string> args, const spawn_extras& extras = {});
  ~daemon_process();
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  /// Spawns with default_daemon_args() plus `extra_args` (and `--threads $TRISERVE_TEST_THREADS`
  /// when that is set and `extra_args` has no --threads), waits for `all servers are started` and
  /// for the three listening ports; throws with the captured log if that does not happen in time.
  static std::unique_ptr<daemon_process> start(
      std::vector<std::string> extra_args = {},
      std::chrono::milliseconds timeout = std::chrono::seconds{10},
      const spawn_extras& extras = {});

  /// The child's process id.
  pid_t pid() const { return pid_; }
  /// Whether the child has not been reaped yet (it may be a zombie a few ms after exiting).
  bool running() const { return !status_.has_value(); }

  /// Waits until the stderr log contains `needle`; false on timeout or once the child is gone
  /// and the text never came.
  bool wait_for_log(std::string_view needle,
                    std::chrono::milliseconds timeout = std::chrono::seconds{5}) const;
  /// Everything the child wrote to stderr so far.
  std::string log() const;
  /// Everything the child wrote to stdout so far.
  std::string out() const;
  /// The stderr lines containing `needle`, in order.
  std::vector<std::string> log_lines_with(std::string_view needle) const;

  /// Waits for the `listening on` lines of the three servers and parses their ports.
  bool wait_for_ports(std::chrono::milliseconds timeout = std::chrono::seconds{10});
  /// The first cleartext port a server logged it listens on ("hello", "hello-name", "echo");
  /// throws if there is none.
  std::uint16_t port(const std::string& server) const;
  /// Every address a server logged it listens on, in the order logged; empty if none.
  std::vector<logged_endpoint> endpoints(const std::string& server) const;
  /// The first address a server logged, as printed ("127.0.0.1:41234", "[::1]:41234",
  /// "tls://127.0.0.1:41235"); empty if none.
  std::string logged_address(const std::string& server) const;

  /// Sends `sig` to the child by its pid (only while it has not been reaped).
  void send_signal(int sig);

  /// Sends SIGUSR1 and parses the status line the daemon logs in answer; throws when none comes
  /// within `timeout` or it cannot be parsed.
  daemon_status status(std::chrono::milliseconds timeout = std::chrono::seconds{5});
  /// Asks for the status until its live connection count is `expected` or `timeout` passes;
  /// returns the last status seen.
  daemon_status wait_for_live_connections(std::size_t expected,
                                          std::chrono::milliseconds timeout = std::chrono::seconds{
                                              5});

  /// Polls waitpid(WNOHANG) until the child exits or `timeout` passes; nullopt on timeout.
  /// After an exit, further calls return the same status. Once it has reaped the child it waits
  /// (up to a second) for the last output, so log() is complete when this returns.
  std::optional<exit_status> wait_for_exit(std::chrono::milliseconds timeout = std::chrono::seconds{
                                               5});

  /// The child's peak resident set (VmHWM in /proc/<pid>/status) in KiB; nullopt once reaped.
  std::optional<std::size_t> peak_rss_kib() const;
  /// The child's current resident set (VmRSS) in KiB; nullopt once reaped.
  std::optional<std::size_t> rss_kib() const;
  /// How many threads the child runs (Threads: in /proc/<pid>/status); nullopt once reaped.
  std::optional<std::size_t> thread_count() const;
  /// How many file descriptors the child has open (entries of /proc/<pid>/fd); nullopt once
  /// reaped.
  std::optional<std::size_t> open_descriptors() const;

 private:
  /// A numeric field of /proc/<pid>/status ("VmHWM:" in KiB, "Threads:").
  std::optional<std::size_t> proc_status_number(std::string_view field) const;
  /// The child's pending and caught signals and each thread's state, for a status that never came.
  std::string describe_signal_state() const;
  /// Reads the child's two pipes until both reach EOF or the destructor asks it to stop.
  void collect_output(int out_fd, int err_fd);

  pid_t pid_ = -1;
  std::optional<exit_status> status_;
  /// Server name -> each address it logged, as printed ("host:port", "tls://host:port").
  std::map<std::string, std::vector<std::string>, std::less<>> addresses_;

  mutable std::mutex mutex_;
  mutable std::condition_variable output_changed_;
  std::string out_;             ///< guarded by mutex_
  std::string err_;             ///< guarded by mutex_
  bool output_closed_ = false;  ///< both pipes reached EOF; guarded by mutex_
  bool stop_reading_ = false;   ///< the destructor gave up on the pipes; guarded by mutex_
  std::thread reader_;
};

/// Waits until none of the daemon's three ports accepts a connection, within about a second.
bool all_ports_refuse(const daemon_process& daemon);

}  // namespace triserve::integration
