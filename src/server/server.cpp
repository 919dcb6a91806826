#include "triserve/server/server.hpp"

#include <sys/socket.h>
#include <algorithm>

#include <cerrno>
#include <optional>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>

#include "triserve/http/request.hpp"
#include "triserve/server/access_log.hpp"
#include "triserve/server/connection.hpp"
#include "triserve/server/server_group.hpp"
#include "triserve/server/tcp_transport.hpp"
#include "triserve/server/tls_transport.hpp"

namespace triserve::server {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

// Go's http.Server backs off the same way when Accept fails (e.g. EMFILE).
constexpr std::chrono::milliseconds first_accept_backoff{5};
constexpr std::chrono::milliseconds max_accept_backoff{1000};
constexpr std::chrono::seconds accept_error_report_interval{5};
/// Room for 10,000 connections arriving at once; the kernel caps it at net.core.somaxconn.
constexpr int listen_backlog = 65535;
/// Most connections taken per readiness event of the listening socket.
constexpr int accept_batch = 64;

}  // namespace

std::string to_string(const asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

std::string to_string(const bound_address& address) {
  return address.tls ? "tls://" + to_string(address.endpoint) : to_string(address.endpoint);
}

std::string describe_exception(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

server::server(asio::io_context& io, asio::any_io_executor control, unsigned threads,
               std::string name, handler answer, const server_options& options, server_group& group,
               buffer_pool& input_buffers, workspace_pool& workspaces)
    : io_(io),
      threads_(threads),
      name_(std::move(name)),
      answer_(std::move(answer)),
      options_(options),
      group_(group),
      input_buffers_(input_buffers),
      workspaces_(workspaces),
      control_(std::move(control)) {
  // The sweep usually selects a few connections (those writing): room for them from the start.
  selected_.reserve(64);
}

server::~server() = default;

void server::bind(const asio::ip::tcp::endpoint& where, bool tls) {
  auto listening = std::make_unique<listening_socket>(
      listening_socket{asio::ip::tcp::acceptor{control_}, asio::steady_timer{control_}, tls});
  auto& acceptor = listening->acceptor;
  acceptor.open(where.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  if (where.address().is_v6() && where.address().is_unspecified()) {
    // "[::]" serves IPv4 clients too (dual stack), as Go's ":7000" does.
    std::error_code ignored;
    acceptor.set_option(asio::ip::v6_only(false), ignored);
  }
  acceptor.bind(where);
  listeners_.push_back(std::move(listening));
}

void server::adopt(int listening_fd, bool tls) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(listening_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::system_error(errno, std::generic_category());
  if (address.ss_family != AF_INET && address.ss_family != AF_INET6)
    throw std::system_error(std::make_error_code(std::errc::address_family_not_supported));
  auto listening = std::make_unique<listening_socket>(
      listening_socket{asio::ip::tcp::acceptor{control_}, asio::steady_timer{control_}, tls});
  listening->acceptor.assign(
      address.ss_family == AF_INET ? asio::ip::tcp::v4() : asio::ip::tcp::v6(), listening_fd);
  listeners_.push_back(std::move(listening));
}

void server::listen() {
  for (auto& listening : listeners_) {
    auto& acceptor = listening->acceptor;
    try {
      acceptor.listen(listen_backlog);
    } catch (const std::system_error& e) {
      std::error_code ignored;
      throw startup_error(
          fmt::format("{} server: cannot listen on {}: {}", name_,
                      to_string(bound_address{acceptor.local_endpoint(ignored), listening->tls}),
                      e.code().message()));
    }
    // Lets the accept loop take a burst without blocking once it is drained. A connection the
    // client aborted before we took it is reported rather than waited out: a synchronous accept
    // would otherwise block the thread until the next client arrives.
    acceptor.non_blocking(true);
    acceptor.set_option(asio::socket_base::enable_connection_aborted(true));
  }
}

void server::close_listeners() {
  accepting_ = false;
  for (auto& listening : listeners_) {
    std::error_code ignored;
    listening->acceptor.close(ignored);
    listening->backoff.cancel();
  }
}

std::vector<bound_address> server::local_endpoints() const {
  std::vector<bound_address> bound;
  for (const auto& listening : listeners_) {
    std::error_code ignored;
    bound.push_back({listening->acceptor.local_endpoint(ignored), listening->tls});
  }
  return bound;
}

void server::start_accepting() {
  accepting_ = true;
  for (auto& listening : listeners_)
    asio::co_spawn(control_, accept_loop(*listening), [this](std::exception_ptr failure) {
      if (failure) group_.server_failed(*this, failure);
    });
}

asio::awaitable<void> server::accept_loop(listening_socket& listening) {
  auto& acceptor = listening.acceptor;
  std::chrono::milliseconds backoff{0};
  // Failures come in bursts (out of file descriptors, say) that end and resume as descriptors
  // free up one by one: report one line per burst, with how many attempts it cost.
  std::optional<std::chrono::steady_clock::time_point> last_report;
  std::uint64_t unreported_failures = 0;
  while (accepting_) {
    auto [ec, socket] = co_await acceptor.async_accept(connection_executor(), as_result);
    if (!accepting_) break;
    // The client gave up before we took its connection (ECONNABORTED, or EPROTO on Linux):
    // nothing went wrong here, so no back-off and no log line.
    if (ec == asio::error::connection_aborted || ec.value() == EPROTO) continue;
    if (ec) {
      backoff =
          backoff.count() == 0 ? first_accept_backoff : std::min(backoff * 2, max_accept_backoff);
      const auto now = std::chrono::steady_clock::now();
      if (!last_report || now - *last_report >= accept_error_report_interval) {
        spdlog::error(
            "{} server: accept failed: {} ({} more failure(s) since the last report); "
            "backing off up to {}ms",
            name_, ec.message(), unreported_failures, max_accept_backoff.count());
        last_report = now;
        unreported_failures = 0;
      } else {
        ++unreported_failures;
      }
      listening.backoff.expires_after(backoff);
      co_await listening.backoff.async_wait(as_result);
      continue;
    }
    backoff = std::chrono::milliseconds{0};
    start_connection(std::move(socket), listening);
    // A burst of connections (a load balancer's pool, a benchmark) is taken in one go rather
    // than one readiness event each. A failure here is met again by the next async_accept.
    for (int taken = 1; taken < accept_batch && accepting_; ++taken) {
      asio::ip::tcp::socket next{connection_executor()};
      std::error_code none_waiting;
      acceptor.accept(next, none_waiting);
      if (none_waiting) break;
      start_connection(std::move(next), listening);
    }
  }
}

asio::any_io_executor server::connection_executor() {
  // A strand costs a lock per completion: not worth paying when only one thread runs anyway.
  if (threads_ > 1) return asio::make_strand(io_);
  return io_.get_executor();
}

void server::start_connection(asio::ip::tcp::socket socket, const listening_socket& from) {
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (from.tls) {
    // A session OpenSSL cannot make (out of memory) costs this connection only.
    std::shared_ptr<connection> secure;
    try {
      secure = std::make_shared<connection_over<tls_transport>>(
          *this, tls_transport{std::move(socket), group_.current_tls(), traffic_, name_});
    } catch (const std::exception& e) {
      traffic_.count_handshake(handshake_result::failed);
      spdlog::error("{} server: cannot start a TLS session: {}; connection closed", name_,
                    e.what());
      return;
    }
    serve(std::move(secure));
    return;
  }
  serve(std::make_shared<connection_over<tcp_transport>>(*this, tcp_transport{std::move(socket)}));
}

void server::serve(std::shared_ptr<connection> conn) {
  // Registered before its coroutine first runs, so a drain starting in between still sees it.
  registry::iterator registration;
  {
    std::lock_guard lock(registry_mutex_);
    registration = connections_.insert(connections_.end(), conn);
  }
  group_.connection_opened();
  auto& serving = *conn;
  asio::co_spawn(serving.executor(), serving.run(),
                 [this, registration](std::exception_ptr failure) {
                   connection_ended(registration, failure);
                 });
}

void server::connection_ended(registry::iterator registration, std::exception_ptr failure) {
  std::shared_ptr<connection> last;
  {
    std::lock_guard lock(registry_mutex_);
    last = std::move(*registration);
    connections_.erase(registration);
  }
  // Destroyed (socket closed, buffers returned) outside the lock, unless work sent to its strand
  // still holds it.
  last.reset();
  // A failure outside the handler (connection::answer keeps the handler's) still ends only this
  // connection: what one client's bytes can reach must not stop the servers for all the others.
  // Only the accept loop's failure stops the group.
  if (failure) {
    traffic_.count_connection_failure();
    // Describing it allocates: a failure that was a bad_alloc may well fail again, and must
    // neither escape into the event loop (which would stop every server) nor skip the count below.
    try {
      spdlog::error("{} server: a connection failed: {}; closed it", name_,
                    describe_exception(failure));
    } catch (...) {
    }
  }
  group_.connection_closed();
}

void server::handler_failed(const http::request& request, const asio::ip::tcp::endpoint& peer,
                            std::exception_ptr failure, bool answered) {
  traffic_.count_handler_failure();
  const auto version = request.version_major == 2 ? std::string{"HTTP/2"}
                                                  : fmt::format("HTTP/1.{}", request.version_minor);
  spdlog::error("{} server: handler failed on \"{} {} {}\" from {}: {}; {}", name_, request.method,
                request.target, version, to_string(peer), describe_exception(failure),
                answered                     ? "answered 500"
                : request.version_major == 2 ? "part of the response had left: stream reset"
                                             : "part of the response had left: connection closed");
}

template <typename Select, typename Action>
void server::for_each_connection(Select select, Action action) {
  {
    std::lock_guard lock(registry_mutex_);
    for (const auto& conn : connections_)
      if (select(*conn)) selected_.push_back(conn);
  }
  for (auto& conn : selected_) {
    auto where = conn->executor();
    asio::dispatch(where, [conn = std::move(conn), action] { action(*conn); });
  }
  selected_.clear();
}

void server::begin_drain() {
  close_listeners();
  for_each_connection([](const connection&) { return true; },
                      [](connection& conn) { conn.begin_drain(); });
}

void server::force_close() {
  close_listeners();
  for_each_connection([](const connection&) { return true; },
                      [](connection& conn) { conn.force_close(); });
}

void server::enforce_deadlines(std::chrono::steady_clock::time_point now) {
  // Only connections with something to do are visited on their strands: a sweep over 10,000
  // quiet connections posts nothing.
  for_each_connection([now](const connection& conn) { return conn.deadline_due(now); },
                      [now](connection& conn) { conn.enforce_deadline(now); });
}

std::size_t server::connection_count() const {
  std::lock_guard lock(registry_mutex_);
  return connections_.size();
}

std::size_t server::idle_connection_count() const {
  std::lock_guard lock(registry_mutex_);
  return static_cast<std::size_t>(std::count_if(connections_.begin(), connections_.end(),
                                                [](const auto& conn) { return conn->idle(); }));
}

std::size_t server::busy_connection_count() const {
  std::lock_guard lock(registry_mutex_);
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(),
                    [](const auto& conn) { return conn->owes_answer(); }));
}

server_stats server::stats() const {
  return {requests_served_.load(std::memory_order_relaxed),
          idle_closed_.load(std::memory_order_relaxed), cut_.load(std::memory_order_relaxed),
          streams_cut_.load(std::memory_order_relaxed)};
}

void server::log_request(const transport& stream, const http::request& request,
                         std::string_view protocol, int status, std::uint64_t body_bytes,
                         std::chrono::steady_clock::duration took, std::string_view note) const {
  const auto level = options_.access_log ? spdlog::level::info : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  const auto elapsed = std::chrono::duration<double, std::milli>(took);
  // A rejected request may not have a method or target worth the name.
  const auto method = request.method.empty() ? std::string_view{"-"} : request.method;
  const auto target = request.target.empty() ? std::string_view{"-"} : request.target;
  const auto peer = to_string(stream.peer());
  const auto security = stream.security();
  log_access({name(), peer, method, target, status, body_bytes, elapsed.count(), note,
              security.version, security.protocol, protocol},
             level, options_.log_json);
}

}  // namespace triserve::server
