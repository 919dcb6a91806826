#include "support/daemon.hpp"
#include "support/raw_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#ifndef TRISERVE_BINARY
#error "TRISERVE_BINARY must name the triserve executable (CMake defines it)"
#endif

extern char** environ;

namespace triserve::integration {

using namespace std::chrono_literals;
namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Parses "... hello-name server listening on 127.0.0.1:41234" (or "on tls://127.0.0.1:41234")
/// into name and address.
std::optional<std::pair<std::string, std::string>> parse_listening_line(std::string_view line) {
  constexpr std::string_view marker = " server listening on ";
  const auto at = line.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  const auto name_start = line.find_last_of(" ]", at == 0 ? 0 : at - 1);
  const auto name = line.substr(name_start == std::string_view::npos ? 0 : name_start + 1,
                                at - (name_start == std::string_view::npos ? 0 : name_start + 1));
  auto address = line.substr(at + marker.size());
  while (!address.empty() && (address.back() == '\r' || address.back() == ' ')) {
    address.remove_suffix(1);
  }
  if (name.empty() || address.empty()) return std::nullopt;
  return std::pair{std::string(name), std::string(address)};
}

}  // namespace

std::string exit_status::describe() const {
  return (exited ? "exit " + std::to_string(code) : "killed by signal " + std::to_string(signal)) +
         " after " + std::to_string(elapsed_ms) + " ms";
}

spawn_extras with_environment(std::vector<std::pair<std::string, std::string>> variables) {
  spawn_extras extras;
  extras.environment = std::move(variables);
  return extras;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::optional<std::uint64_t> scrape_metric(daemon_process& daemon, std::string_view sample) {
  raw_client scraper(daemon.port("admin"));
  const auto response = scraper.round_trip("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto value = metric_sample(response.body, sample);
  if (value.empty()) return std::nullopt;
  return std::stoull(value);
}

std::string metric_sample(const std::string& metrics, std::string_view name) {
  for (const auto& line : lines_of(metrics))
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ' ')
      return line.substr(name.size() + 1);
  return {};
}

std::vector<std::string> default_daemon_args() {
  return {"--hello", "127.0.0.1:0", "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"};
}

daemon_process::daemon_process(std::vector<std::string> args, const spawn_extras& extras) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int saved = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    errno = saved;
    throw_errno("pipe2");
  }

  std::vector<std::string> argv_storage;
  argv_storage.reserve(args.size() + 4);
  const std::string binary = extras.binary.empty() ? TRISERVE_BINARY : extras.binary;
  const char* program = binary.c_str();
  if (extras.listen_pid) {
    program = "/bin/sh";
    argv_storage.emplace_back("sh");
    argv_storage.emplace_back("-c");
    argv_storage.emplace_back("export LISTEN_PID=$$; exec \"$0\" \"$@\"");
  }
  argv_storage.emplace_back(binary);
  for (auto& arg : args) argv_storage.push_back(std::move(arg));
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::vector<std::string> environment_storage;
  const auto overridden = [&extras](std::string_view variable) {
    return std::any_of(extras.environment.begin(), extras.environment.end(), [&](const auto& set) {
      return variable.size() > set.first.size() && variable.starts_with(set.first) &&
             variable[set.first.size()] == '=';
    });
  };
  // What the daemon reads from its environment comes from the test alone: a TRISERVE_LOG_FORMAT
  // in a developer's shell, or a CI runner's own service manager, must not reach it.
  const auto read_by_daemon = [](std::string_view variable) {
    for (const std::string_view prefix : {"TRISERVE_", "NOTIFY_SOCKET=", "WATCHDOG_",
                                          "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES="})
      if (variable.starts_with(prefix)) return true;
    return false;
  };
  for (char** variable = environ; *variable != nullptr; ++variable)
    if (!overridden(*variable) && !read_by_daemon(*variable))
      environment_storage.emplace_back(*variable);
  for (const auto& [name, value] : extras.environment)
    environment_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& variable : environment_storage) envp.push_back(variable.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears FD_CLOEXEC on the target, so only these two ends survive the exec.
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // Passed sockets go to 3, 4, ...: from copies above that range, so no dup2 overwrites a
  // source still to be copied.
  std::vector<int> high_copies;
  for (std::size_t i = 0; i < extras.passed_fds.size(); ++i) {
    const int copy = ::fcntl(extras.passed_fds[i], F_DUPFD_CLOEXEC, 100);
    if (copy < 0) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
    high_copies.push_back(copy);
    posix_spawn_file_actions_adddup2(&actions, copy, 3 + static_cast<int>(i));
  }

  // Catch2 installs handlers and a test may block signals: the child starts with a clean slate.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const int rc = ::posix_spawn(&pid_, program, &actions, &attr, argv.data(), envp.data());
  for (const int copy : high_copies) ::close(copy);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    pid_ = -1;
    status_ = exit_status{};
    throw std::system_error(rc, std::generic_category(), "posix_spawn " + binary);
  }
  reader_ = std::thread([this, out = out_pipe[0], err = err_pipe[0]] { collect_output(out, err); });
}

daemon_process::~daemon_process() {
  if (running() && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
    }
    status_ = exit_status{};
  }
  {
    std::unique_lock lock(mutex_);
    output_changed_.wait_for(lock, 2s, [this] { return output_closed_; });
    stop_reading_ = true;
  }
  if (reader_.joinable()) reader_.join();
}

std::unique_ptr<daemon_process> daemon_process::start(std::vector<std::string> extra_args,
                                                      std::chrono::milliseconds timeout,
                                                      const spawn_extras& extras) {
  auto args = default_daemon_args();
  // The ThreadSanitizer run serves every test's daemon from several threads.
  const char* threads = std::getenv("TRISERVE_TEST_THREADS");
  const bool threads_given =
      std::find(extra_args.begin(), extra_args.end(), "--threads") != extra_args.end();
  if (threads != nullptr && *threads != '\0' && !threads_given) {
    args.emplace_back("--threads");
    args.emplace_back(threads);
  }
  for (auto& arg : extra_args) args.push_back(std::move(arg));
  auto daemon = std::make_unique<daemon_process>(std::move(args), extras);
  const auto deadline = steady::now() + timeout;
  if (!daemon->wait_for_log("all servers are started", timeout) ||
      !daemon->wait_for_ports(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - steady::now() + 100ms))) {
    throw std::runtime_error("triserve did not start within " + std::to_string(timeout.count()) +
                             " ms; stderr:\n" + daemon->log() + "\nstdout:\n" + daemon->out());
  }
  return daemon;
}

void daemon_process::collect_output(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out_, &err_};
  char chunk[4096];
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stop_reading_) break;
    }
    if (fds[0].fd < 0 && fds[1].fd < 0) break;
    const int ready = ::poll(fds, 2, 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const auto got = ::read(fds[i].fd, chunk, sizeof chunk);
      if (got > 0) {
        std::lock_guard lock(mutex_);
        sinks[i]->append(chunk, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
    output_changed_.notify_all();
  }
  for (const auto& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  {
    std::lock_guard lock(mutex_);
    output_closed_ = true;
  }
  output_changed_.notify_all();
}

bool daemon_process::wait_for_log(std::string_view needle,
                                  std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return output_changed_.wait_for(lock, timeout, [&] {
    return err_.find(needle) != std::string::npos || output_closed_;
  }) && err_.find(needle) != std::string::npos;
}

std::string daemon_process::log() const {
  std::lock_guard lock(mutex_);
  return err_;
}

std::string daemon_process::out() const {
  std::lock_guard lock(mutex_);
  return out_;
}

std::vector<std::string> daemon_process::log_lines_with(std::string_view needle) const {
  const auto text = log();
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const auto line = std::string_view(text).substr(start, end - start);
    if (line.find(needle) != std::string_view::npos) lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

bool daemon_process::wait_for_ports(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (int attempt = 0; attempt < 10000; ++attempt) {
    // Parsed afresh each time: a server logs one line per address.
    addresses_.clear();
    for (const auto& line : log_lines_with(" server listening on ")) {
      if (auto parsed = parse_listening_line(line))
        addresses_[parsed->first].push_back(std::move(parsed->second));
    }
    if (addresses_.count("hello") && addresses_.count("hello-name") && addresses_.count("echo")) {
      return true;
    }
    if (steady::now() >= deadline) return false;
    std::unique_lock lock(mutex_);
    if (output_closed_) return false;
    output_changed_.wait_for(lock, 20ms);
  }
  return false;
}

std::uint16_t daemon_process::port(const std::string& server) const {
  for (const auto& endpoint : endpoints(server))
    if (!endpoint.tls) return endpoint.port;
  throw std::runtime_error("no cleartext port logged for the " + server + " server; stderr:\n" +
                           log());
}

std::vector<logged_endpoint> daemon_process::endpoints(const std::string& server) const {
  constexpr std::string_view tls_prefix = "tls://";
  std::vector<logged_endpoint> endpoints;
  const auto found = addresses_.find(server);
  if (found == addresses_.end()) return endpoints;
  for (const std::string_view address : found->second) {
    const auto colon = address.rfind(':');
    const auto port =
        colon == std::string_view::npos ? 0UL : std::stoul(std::string(address.substr(colon + 1)));
    if (port == 0 || port > 65535)
      throw std::runtime_error("bad port logged for the " + server +
                               " server: " + std::string(address));
    endpoints.push_back({static_cast<std::uint16_t>(port), address.starts_with(tls_prefix)});
  }
  return endpoints;
}

std::string daemon_process::logged_address(const std::string& server) const {
  const auto it = addresses_.find(server);
  return it == addresses_.end() || it->second.empty() ? std::string() : it->second.front();
}

void daemon_process::send_signal(int sig) {
  if (!running() || pid_ <= 0) throw std::logic_error("signal to a daemon that was already reaped");
  if (::kill(pid_, sig) != 0) throw_errno("kill");
}

std::optional<exit_status> daemon_process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  const auto start = steady::now();
  const auto deadline = start + timeout;
  for (long attempt = 0; attempt < 1'000'000; ++attempt) {
    int raw = 0;
    const pid_t reaped = ::waitpid(pid_, &raw, WNOHANG);
    if (reaped == pid_) {
      exit_status s;
      s.exited = WIFEXITED(raw);
      s.code = s.exited ? WEXITSTATUS(raw) : -1;
      s.signal = WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
      s.elapsed_ms = static_cast<long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
      status_ = s;
      std::unique_lock lock(mutex_);
      output_changed_.wait_for(lock, 1s, [this] { return output_closed_; });
      return status_;
    }
    if (reaped < 0 && errno != EINTR) throw_errno("waitpid");
    if (steady::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(2ms);
  }
  return std::nullopt;
}

std::optional<std::size_t> daemon_process::proc_status_number(std::string_view field) const {
  if (!running()) return std::nullopt;
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  for (int count = 0; count < 200 && std::getline(status, line); ++count) {
    if (line.rfind(field, 0) == 0) return std::stoul(line.substr(field.size()));
  }
  return std::nullopt;
}

std::optional<std::size_t> daemon_process::peak_rss_kib() const {
  return proc_status_number("VmHWM:");
}

std::optional<std::size_t> daemon_process::rss_kib() const {
  return proc_status_number("VmRSS:");
}

std::optional<std::size_t> daemon_process::thread_count() const {
  return proc_status_number("Threads:");
}

std::optional<std::size_t> daemon_process::open_descriptors() const {
  if (!running()) return std::nullopt;
  std::error_code ec;
  std::size_t count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++count;
  }
  if (ec) return std::nullopt;
  return count;
}

std::string daemon_process::describe_signal_state() const {
  if (!running()) return "the daemon has exited";
  const auto proc = "/proc/" + std::to_string(pid_);
  std::string described = "signals:";
  std::ifstream status(proc + "/status");
  std::string line;
  for (int count = 0; count < 200 && std::getline(status, line); ++count) {
    for (const std::string_view field : {"SigPnd:", "ShdPnd:", "SigBlk:", "SigCgt:"})
      if (line.rfind(field, 0) == 0) described += " " + line;
  }
  // Each thread's state letter and the kernel function it sleeps in.
  described += "; threads:";
  std::error_code ec;
  for (std::filesystem::directory_iterator it(proc + "/task", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::ifstream stat(it->path() / "stat");
    std::string text;
    std::getline(stat, text);
    const auto after_name = text.rfind(") ");
    std::ifstream wchan(it->path() / "wchan");
    std::string sleeping_in;
    std::getline(wchan, sleeping_in);
    described += " " + it->path().filename().string() + "=" +
                 (after_name == std::string::npos ? "?" : text.substr(after_name + 2, 1)) + "/" +
                 sleeping_in;
  }
  return described;
}

daemon_status daemon_process::status(std::chrono::milliseconds timeout) {
  constexpr std::string_view marker = "status: ";
  const auto before = log_lines_with(marker).size();
  send_signal(SIGUSR1);
  const auto deadline = steady::now() + timeout;
  // Asked again after a long silence: under ThreadSanitizer a signal that reaches a thread
  // outside an intercepted call waits, inside the sanitizer, for that thread's next one.
  auto ask_again = steady::now() + 1500ms;
  int signals_sent = 1;
  std::vector<std::string> lines;
  for (;;) {
    lines = log_lines_with(marker);
    if (lines.size() > before) break;
    if (steady::now() >= deadline)
      throw std::runtime_error("no status line within " + std::to_string(timeout.count()) +
                               " ms of " + std::to_string(signals_sent) + " SIGUSR1; " +
                               describe_signal_state() + "\nstderr:\n" + log());
    if (steady::now() >= ask_again) {
      send_signal(SIGUSR1);
      ++signals_sent;
      ask_again = steady::now() + 1500ms;
    }
    std::unique_lock lock(mutex_);
    output_changed_.wait_for(lock, 20ms);
  }
  // "status: serving, 3 live connection(s) (hello 2, hello-name 0, echo 1), 2 idle, 15
  // request(s) served, 1 receive buffer(s) in use"
  const std::string& line = lines[before];
  std::istringstream in(line.substr(line.find(marker) + marker.size()));
  daemon_status parsed;
  std::string word;
  std::getline(in, parsed.state, ',');
  in >> parsed.live >> word >> word;  // "live" "connection(s)"
  in.ignore(2);                       // " ("
  std::string per_server;
  std::getline(in, per_server, ')');
  std::istringstream servers(per_server);
  std::string name;
  std::size_t count = 0;
  while (servers >> name >> count) {
    parsed.live_by_server[name] = count;
    servers.ignore(1);  // ","
  }
  in.ignore(1);  // ","
  in >> parsed.idle >> word;
  in.ignore(1);
  in >> parsed.served >> word;  // "request(s)"
  in >> word;                   // "served,"
  in >> parsed.buffers_in_use;
  if (!in || parsed.live_by_server.size() < 3)
    throw std::runtime_error("cannot parse the status line: " + line);
  return parsed;
}

daemon_status daemon_process::wait_for_live_connections(std::size_t expected,
                                                        std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  for (;;) {
    auto current = status();
    if (current.live == expected || steady::now() >= deadline) return current;
    std::this_thread::sleep_for(50ms);
  }
}

bool all_ports_refuse(const daemon_process& daemon) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (!port_accepts(daemon.port("hello"), 200ms) &&
        !port_accepts(daemon.port("hello-name"), 200ms) &&
        !port_accepts(daemon.port("echo"), 200ms))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace triserve::integration
