#include "triserve/server/server_group.hpp"

#include <malloc.h>

#include <csignal>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <asio/dispatch.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>

#include "triserve/server/server.hpp"
#include "triserve/server/tls_context.hpp"

namespace triserve::server {

namespace {

constexpr std::chrono::seconds progress_interval{1};
constexpr std::chrono::milliseconds idle_unwind_recheck{10};
/// How often connection deadlines are checked: every timeout fires up to this much late.
constexpr std::chrono::milliseconds deadline_sweep_interval{100};
/// A connection's receive buffer: most heads fit, and bodies stream through it.
constexpr std::size_t input_buffer_size = 16 * 1024;
/// Most spare buffers and request workspaces kept: at high concurrency (an epoll batch of ready
/// connections each holding one mid-request) a smaller cap would send every request to the heap.
constexpr std::size_t max_spares = 4096;
/// Spares kept however quiet the daemon gets, so that the next request does not go to the heap.
constexpr std::size_t kept_spares = 64;
/// Spares unused for this many sweeps (one second) are freed.
constexpr int sweeps_per_trim = 10;
/// Freeing this many receive buffers (1 MiB) while connections remain is worth returning the
/// memory to the system.
constexpr std::size_t buffers_worth_returning = 64;

std::string describe(const listen_address& where) {
  const std::string_view scheme = where.tls ? "tls://" : "";
  if (where.host.empty()) return fmt::format("{}:{}", scheme, where.port);
  if (where.host.find(':') != std::string::npos)
    return fmt::format("{}[{}]:{}", scheme, where.host, where.port);
  return fmt::format("{}{}:{}", scheme, where.host, where.port);
}

std::string describe(const listener& where) {
  if (const auto* adopted = std::get_if<adopted_socket>(&where))
    return fmt::format("the {}socket passed as file descriptor {}", adopted->tls ? "TLS " : "",
                       adopted->fd);
  return describe(std::get<listen_address>(where));
}

std::string_view signal_name(int signal_number) {
  return signal_number == SIGINT ? "SIGINT" : "SIGTERM";
}

std::string format_seconds(std::chrono::steady_clock::duration left) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(left).count());
}

/// The endpoints to try for an address, best first. "All interfaces" is IPv6 dual stack where
/// the host has IPv6, else IPv4.
std::vector<asio::ip::tcp::endpoint> candidate_endpoints(asio::io_context& io,
                                                         const listen_address& where) {
  if (where.host.empty())
    return {{asio::ip::tcp::v6(), where.port}, {asio::ip::tcp::v4(), where.port}};
  std::error_code ec;
  const auto literal = asio::ip::make_address(where.host, ec);
  if (!ec) return {{literal, where.port}};
  asio::ip::tcp::resolver resolver{io};
  const auto results = resolver.resolve(where.host, std::to_string(where.port),
                                        asio::ip::tcp::resolver::numeric_service, ec);
  if (ec) throw std::system_error(ec);
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  return endpoints;
}

}  // namespace

server_group::server_group(asio::io_context& io, server_options options,
                           std::chrono::milliseconds drain_timeout, unsigned threads)
    : io_(io),
      control_(asio::make_strand(io)),
      options_(options),
      drain_timeout_(drain_timeout),
      threads_(threads),
      input_buffers_(input_buffer_size, max_spares),
      workspaces_([this] { return std::make_unique<request_workspace>(options_); }, max_spares),
      signals_(control_),
      status_signal_(control_),
      // Registered from construction on: a SIGHUP while the group starts (loading certificates,
      // binding) must not take the default action, which ends the process.
      reload_signal_(control_, SIGHUP),
      drain_deadline_(control_),
      progress_timer_(control_),
      deadline_sweep_(control_),
      drain_delay_timer_(control_),
      watchdog_timer_(control_) {}

server_group::~server_group() = default;

bool speaks_tls(const listener& where) {
  return std::visit([](const auto& place) { return place.tls; }, where);
}

void server_group::add(std::string name, std::vector<listener> where, handler answer,
                       drain_order order) {
  servers_.push_back(
      {std::make_unique<server>(io_, control_, threads_, std::move(name), std::move(answer),
                                options_, *this, input_buffers_, workspaces_),
       std::move(where), order});
}

void server_group::report_to(service_notifier notifier,
                             std::chrono::microseconds watchdog_interval) {
  notifier_ = std::move(notifier);
  watchdog_interval_ = watchdog_interval;
}

void server_group::load_tls() {
  const server* needing_tls = nullptr;
  for (const auto& planned : servers_)
    for (const auto& where : planned.where)
      if (speaks_tls(where) && needing_tls == nullptr) needing_tls = planned.instance.get();
  // Settings no listener needs are not loaded (the daemon has warned), nor reloaded by SIGHUP.
  if (needing_tls == nullptr) {
    tls_settings_.reset();
    return;
  }
  if (!tls_settings_)
    throw startup_error(fmt::format("{} server: a TLS address needs --tls-cert and --tls-key",
                                    needing_tls->name()));
  try {
    put_in_service(std::make_shared<const tls_context>(*tls_settings_));
  } catch (const tls_setup_error& e) {
    throw startup_error(e.what());
  }
}

void server_group::put_in_service(std::shared_ptr<const tls_context> loaded) {
  tls_context_ = std::move(loaded);
  certificate_not_after_ =
      std::chrono::duration_cast<std::chrono::seconds>(tls_context_->not_after().time_since_epoch())
          .count();
  if (tls_context_->not_after() - std::chrono::system_clock::now() < expiry_warning_window)
    spdlog::warn("the TLS certificate {} {}: renew it soon", tls_context_->subject(),
                 tls_context_->describe_expiry());
}

void server_group::wait_for_reload_request() {
  reload_signal_.async_wait([this](std::error_code ec, int) {
    if (ec || phase_ == group_phase::stopped) return;
    reload_tls();
    wait_for_reload_request();
  });
}

void server_group::reload_tls() {
  if (!tls_settings_) {
    spdlog::info("received SIGHUP: no address speaks TLS, nothing to reload");
    return;
  }
  try {
    // Connections open keep the context they started with; only new handshakes see this one.
    put_in_service(std::make_shared<const tls_context>(*tls_settings_));
    spdlog::info("received SIGHUP: TLS certificate reloaded: {}, {}; new connections use it",
                 tls_context_->subject(), tls_context_->describe_expiry());
  } catch (const std::exception& e) {
    spdlog::error("received SIGHUP: cannot reload the TLS certificate: {}; still serving {}, {}",
                  e.what(), tls_context_->subject(), tls_context_->describe_expiry());
  }
}

void server_group::bind_all() {
  for (auto& planned : servers_) {
    for (const auto& where : planned.where) {
      if (const auto* adopted = std::get_if<adopted_socket>(&where)) {
        try {
          planned.instance->adopt(adopted->fd, adopted->tls);
        } catch (const std::system_error& e) {
          throw startup_error(fmt::format("{} server: cannot use {}: {}", planned.instance->name(),
                                          describe(where), e.code().message()));
        }
        continue;
      }
      const auto& address = std::get<listen_address>(where);
      std::error_code failure;
      try {
        for (const auto& endpoint : candidate_endpoints(io_, address)) {
          try {
            planned.instance->bind(endpoint, address.tls);
            failure.clear();
            break;
          } catch (const std::system_error& e) {
            failure = e.code();
            // Only a missing address family makes the next candidate worth a try.
            if (failure != asio::error::address_family_not_supported) break;
          }
        }
      } catch (const std::system_error& e) {
        failure = e.code();
      }
      if (failure)
        throw startup_error(fmt::format("{} server: cannot listen on {}: {}",
                                        planned.instance->name(), describe(where),
                                        failure.message()));
    }
  }
}

void server_group::start() {
  // Bind everything before listening anywhere: a group that cannot start never accepts a
  // single connection on any port.
  load_tls();
  if (tls_context_)
    spdlog::info("TLS certificate {}, {}", tls_context_->subject(),
                 tls_context_->describe_expiry());
  try {
    bind_all();
    for (auto& planned : servers_) planned.instance->listen();
  } catch (...) {
    for (auto& planned : servers_) planned.instance->close_listeners();
    throw;
  }
  for (auto& planned : servers_)
    for (const auto& bound : planned.instance->local_endpoints())
      spdlog::info("{} server listening on {}", planned.instance->name(), to_string(bound));
  for (auto& planned : servers_) planned.instance->start_accepting();
  phase_ = group_phase::serving;
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  status_signal_.add(SIGUSR1);
  wait_for_signal();
  wait_for_status_request();
  wait_for_reload_request();
  spdlog::info("all servers are started");
  std::string serving;
  for (const auto& planned : servers_) {
    std::string addresses;
    for (const auto& bound : planned.instance->local_endpoints())
      addresses += fmt::format("{}{}", addresses.empty() ? "" : " and ", to_string(bound));
    serving +=
        fmt::format("{}{} on {}", serving.empty() ? "" : ", ", planned.instance->name(), addresses);
  }
  notifier_.notify(fmt::format("READY=1\nSTATUS=serving: {}", serving));
  if (notifier_.enabled() && watchdog_interval_.count() > 0) schedule_watchdog();
}

void server_group::schedule_watchdog() {
  notifier_.notify("WATCHDOG=1");
  watchdog_timer_.expires_after(watchdog_interval_);
  watchdog_timer_.async_wait([this](std::error_code ec) {
    // A wait that completed just as the group stopped must not re-arm: run() would never return.
    if (!ec && phase_ != group_phase::stopped) schedule_watchdog();
  });
}

void server_group::wait_for_signal() {
  signals_.async_wait([this](std::error_code ec, int signal_number) {
    if (ec) return;
    const auto name = signal_name(signal_number);
    if (phase_ == group_phase::serving && drain_delay_.count() > 0) {
      delay_drain(name);
    } else if (phase_ == group_phase::serving || phase_ == group_phase::delaying_drain) {
      spdlog::info("received {}: draining (deadline {:.1f}s)", name,
                   std::chrono::duration<double>(drain_timeout_).count());
      begin_drain(name);
    } else if (phase_ == group_phase::draining) {
      force_close(fmt::format("received {} again", name));
    }
    if (phase_ == group_phase::delaying_drain || phase_ == group_phase::draining) wait_for_signal();
  });
}

void server_group::delay_drain(std::string_view why) {
  phase_ = group_phase::delaying_drain;
  const auto delay = std::chrono::duration<double>(drain_delay_).count();
  spdlog::info(
      "received {}: reporting not ready, still serving; draining in {:.1f}s (a second "
      "signal drains now)",
      why, delay);
  notifier_.notify(fmt::format("STATUS=not ready, still serving: draining in {:.1f}s", delay));
  drain_delay_timer_.expires_after(drain_delay_);
  drain_delay_timer_.async_wait([this, why = std::string{why}](std::error_code ec) {
    if (ec || phase_ != group_phase::delaying_drain) return;
    spdlog::info("drain delay over: draining (deadline {:.1f}s)",
                 std::chrono::duration<double>(drain_timeout_).count());
    begin_drain(why);
  });
}

void server_group::wait_for_status_request() {
  status_signal_.async_wait([this](std::error_code ec, int) {
    // A request queued just before the group stopped must not keep io_context::run() going.
    if (ec || phase_ == group_phase::stopped) return;
    log_status();
    wait_for_status_request();
  });
}

std::string server_group::connections_by_server() const {
  std::string counts;
  for (const auto& planned : servers_)
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", planned.instance->name(),
                          planned.instance->connection_count());
  return counts;
}

void server_group::log_status() const {
  std::size_t idle = 0;
  for (const auto& planned : servers_) idle += planned.instance->idle_connection_count();
  const std::string_view state_name = phase_ == group_phase::serving          ? "serving"
                                      : phase_ == group_phase::delaying_drain ? "serving, not ready"
                                      : phase_ == group_phase::draining       ? "draining"
                                                                              : "stopping";
  spdlog::info(
      "status: {}, {} live connection(s) ({}), {} idle, {} request(s) served, {} receive "
      "buffer(s) in use",
      state_name, connection_count(), connections_by_server(), idle, totals().requests_served,
      input_buffers_.lent_count());
}

void server_group::begin_drain(std::string_view why) {
  if (phase_ != group_phase::serving && phase_ != group_phase::delaying_drain) return;
  drain_delay_timer_.cancel();
  // Before the phase, so that a scrape seeing "draining" also sees the deadline.
  deadline_at_ = std::chrono::steady_clock::now() + drain_timeout_;
  phase_ = group_phase::draining;
  spdlog::debug("drain started: {}", why);
  for (auto& planned : servers_)
    if (planned.order == drain_order::with_the_group) planned.instance->begin_drain();
  notifier_.notify(fmt::format("STOPPING=1\nSTATUS={}", drain_progress()));
  drain_deadline_.expires_at(deadline_at_);
  wait_for_deadline();
  schedule_progress_log();
  finish_if_drained();
}

std::string server_group::drain_progress() const {
  // HTTP/2 connections count as connections; the streams they still carry are said apart.
  std::uint64_t streams = 0;
  for (const auto& planned : servers_)
    if (planned.order == drain_order::with_the_group)
      streams += planned.instance->traffic().snapshot().h2_streams_open;
  return fmt::format(
      "draining: {} connection(s) left{}; {} to deadline", connections_by_server(),
      streams == 0 ? std::string{} : fmt::format(" ({} HTTP/2 stream(s) open)", streams),
      format_seconds(deadline_at_.load() - std::chrono::steady_clock::now()));
}

void server_group::wait_for_deadline() {
  drain_deadline_.async_wait([this](std::error_code ec) {
    if (ec || phase_ != group_phase::draining) return;
    // Idle connections were closed when the drain began and only have to unwind: a deadline
    // (even 0s) reached before they are gone cuts nothing. Look again in a moment.
    if (busy_connection_count() == 0) {
      drain_deadline_.expires_after(idle_unwind_recheck);
      wait_for_deadline();
      return;
    }
    force_close("drain deadline reached", true);
  });
}

void server_group::schedule_progress_log() {
  progress_timer_.expires_after(progress_interval);
  progress_timer_.async_wait([this](std::error_code ec) {
    if (ec || phase_ != group_phase::draining) return;
    const auto progress = drain_progress();
    spdlog::info("{}", progress);
    notifier_.notify(fmt::format("STATUS={}", progress));
    schedule_progress_log();
  });
}

void server_group::force_close(std::string_view why, bool at_deadline) {
  if (phase_ == group_phase::stopped) return;
  phase_ = group_phase::stopped;
  // At the deadline, the exit code says whether anything was cut, which only the connections
  // know for sure (with several threads, one counted busy here may be finishing right now). A
  // second signal or a failure is a failure whatever was open.
  if (!at_deadline) exit_code_ = 1;
  // What the connections were doing a moment ago: with several threads, some may finish
  // before their strands see the close.
  std::string left;
  for (auto& planned : servers_) {
    if (!counts_as_busy(planned)) continue;
    const auto count = planned.instance->busy_connection_count();
    if (count > 0)
      left += fmt::format("{}{} server still had {} connection(s)", left.empty() ? "" : ", ",
                          planned.instance->name(), count);
  }
  spdlog::warn("{}: {}; closing them now", why, left.empty() ? "no connections left" : left);
  // A server that drains last first marks its idle connections (a scraper's keep-alive one) as
  // owing nothing, so that closing them now is not counted as cutting them.
  if (!last_servers_draining_) {
    last_servers_draining_ = true;
    for (auto& planned : servers_)
      if (planned.order == drain_order::after_the_others) planned.instance->begin_drain();
  }
  for (auto& planned : servers_) planned.instance->force_close();
  stop_watching();
  // Each connection counts itself cut on its own strand: the account is final once all are gone.
  cut_report_pending_ = true;
  report_cut_if_closed();
}

void server_group::report_cut_if_closed() {
  if (!cut_report_pending_ || connection_count() != 0) return;
  cut_report_pending_ = false;
  if (totals().cut > 0) exit_code_ = 1;
  log_outcome();
}

void server_group::connection_opened() {
  if (sweeping_) return;
  sweeping_ = true;
  schedule_deadline_sweep();
}

void server_group::schedule_deadline_sweep() {
  deadline_sweep_.expires_after(deadline_sweep_interval);
  deadline_sweep_.async_wait([this](std::error_code ec) {
    if (ec) return;
    // With no connection left the timer stops, so an idle daemon never wakes up; what its pools
    // hold beyond a few spares goes back first.
    if (connection_count() == 0) {
      sweeping_ = false;
      trim_spares(true);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& planned : servers_) planned.instance->enforce_deadlines(now);
    if (++sweeps_since_trim_ >= sweeps_per_trim) trim_spares(false);
    schedule_deadline_sweep();
  });
}

void server_group::trim_spares(bool all_unused) {
  sweeps_since_trim_ = 0;
  const std::size_t freed_buffers =
      all_unused ? input_buffers_.trim_to(kept_spares) : input_buffers_.trim_unused(kept_spares);
  if (all_unused)
    workspaces_.trim_to(kept_spares);
  else
    workspaces_.trim_unused(kept_spares);
  // glibc keeps freed heap memory for reuse, and what a burst freed lies mostly in holes between
  // blocks still in use (the spares kept, the sockets' state), which only malloc_trim gives back.
  // Once the last connection is gone, trim whether or not the pools freed anything: a burst that
  // never needed more than the kept spares frees none, yet its grown buffers and workspaces left
  // 2.5 MiB resident in such holes (2000 hostile connections, 50 at a time). A trim then takes
  // 0.3 ms, and 20 us when there is little to return; quiet moments come at most once a sweep.
  if (all_unused || freed_buffers >= buffers_worth_returning) ::malloc_trim(0);
}

void server_group::connection_closed() {
  asio::dispatch(control_, [this] {
    finish_if_drained();
    report_cut_if_closed();
  });
}

void server_group::finish_if_drained() {
  if (phase_ != group_phase::draining) return;
  drain_last_servers_if_due();
  // Counted twice, and a connection may end on another thread in between: one that counted in
  // the first wave and not in the total would end the drain with the last servers (admin) still
  // listening, and io_context::run() would never return. The connection's own connection_closed
  // brings us back here.
  if (!last_servers_draining_ || connection_count() != 0) return;
  phase_ = group_phase::stopped;
  stop_watching();
  log_outcome();
}

void server_group::drain_last_servers_if_due() {
  if (last_servers_draining_ || first_wave_connection_count() != 0) return;
  last_servers_draining_ = true;
  for (auto& planned : servers_)
    if (planned.order == drain_order::after_the_others) planned.instance->begin_drain();
}

std::size_t server_group::first_wave_connection_count() const {
  std::size_t total = 0;
  for (const auto& planned : servers_)
    if (planned.order == drain_order::with_the_group) total += planned.instance->connection_count();
  return total;
}

server_stats server_group::totals() const {
  server_stats total;
  for (const auto& planned : servers_) {
    const auto stats = planned.instance->stats();
    total.requests_served += stats.requests_served;
    total.idle_closed += stats.idle_closed;
    total.cut += stats.cut;
    total.streams_cut += stats.streams_cut;
  }
  return total;
}

void server_group::log_outcome() {
  const auto total = totals();
  if (exit_code_ != 0) {
    // A cut HTTP/2 connection may have carried several requests: they are said too.
    spdlog::error("shutdown incomplete: {} connection(s) cut{}, {} request(s) served", total.cut,
                  total.streams_cut == 0
                      ? std::string{}
                      : fmt::format(" ({} HTTP/2 stream(s) cancelled)", total.streams_cut),
                  total.requests_served);
    notifier_.notify(fmt::format("STATUS=stopped: {} connection(s) cut, {} request(s) served",
                                 total.cut, total.requests_served));
    return;
  }
  for (const auto& planned : servers_) spdlog::info("{} server closed", planned.instance->name());
  spdlog::info(
      "everything closed successfully: {} request(s) served, {} idle connection(s) closed, 0 cut "
      "at the deadline",
      total.requests_served, total.idle_closed);
  notifier_.notify(
      fmt::format("STATUS=stopped: {} request(s) served, 0 cut", total.requests_served));
}

void server_group::stop_watching() {
  drain_deadline_.cancel();
  progress_timer_.cancel();
  deadline_sweep_.cancel();
  drain_delay_timer_.cancel();
  watchdog_timer_.cancel();
  std::error_code ignored;
  signals_.cancel(ignored);
  signals_.clear(ignored);
  // Cancelled but still registered: io_context::run() may return, and SIGUSR1 and SIGHUP stay
  // harmless.
  status_signal_.cancel(ignored);
  reload_signal_.cancel(ignored);
}

void server_group::server_failed(const server& failed, std::exception_ptr failure) {
  asio::dispatch(control_, [this, &failed, what = describe_exception(failure)] {
    spdlog::error("{} server failed: {}; stopping all servers", failed.name(), what);
    exit_code_ = 1;
    begin_drain("server failure");
  });
}

void server_group::abort(std::string why) {
  asio::post(control_, [this, why = std::move(why)] { force_close(why); });
}

group_report server_group::report() const {
  group_report result;
  result.phase = phase_.load();
  result.certificate_not_after = certificate_not_after_.load();
  if (result.phase == group_phase::draining)
    result.seconds_to_deadline = std::max(
        0.0, std::chrono::duration<double>(deadline_at_.load() - std::chrono::steady_clock::now())
                 .count());
  for (const auto& planned : servers_) {
    const auto& instance = *planned.instance;
    const auto stats = instance.stats();
    result.servers.push_back({instance.name(), instance.connection_count(),
                              instance.idle_connection_count(), stats.requests_served,
                              stats.idle_closed, stats.cut, instance.traffic().snapshot()});
  }
  return result;
}

asio::ip::tcp::endpoint server_group::local_endpoint(std::string_view name) const {
  for (const auto& planned : servers_)
    if (planned.instance->name() == name) return planned.instance->local_endpoints().at(0).endpoint;
  throw std::out_of_range(fmt::format("no server named {}", name));
}

bool server_group::counts_as_busy(const planned_server& planned) const {
  // Until it drains, a server that drains last has connections that are merely not told to
  // finish yet: an idle one there owes nobody an answer the drain waits for.
  return planned.order == drain_order::with_the_group || last_servers_draining_;
}

std::size_t server_group::busy_connection_count() const {
  std::size_t total = 0;
  for (const auto& planned : servers_)
    if (counts_as_busy(planned)) total += planned.instance->busy_connection_count();
  return total;
}

std::size_t server_group::connection_count() const {
  std::size_t total = 0;
  for (const auto& planned : servers_) total += planned.instance->connection_count();
  return total;
}

}  // namespace triserve::server
