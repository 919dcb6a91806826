#include "connection_driver.hpp"

#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "fuzz_check.hpp"
#include "triserve/app/handlers.hpp"
#include "triserve/server/connection.hpp"
#include "triserve/server/exchange.hpp"

namespace triserve::fuzz {

namespace {

/// How far the clock jumps in one step: from within a timeout's sweep interval to past them all.
constexpr std::array<std::chrono::milliseconds, 8> clock_jumps{
    std::chrono::milliseconds{1},      std::chrono::milliseconds{120},
    std::chrono::milliseconds{600},    std::chrono::milliseconds{4'000},
    std::chrono::milliseconds{9'000},  std::chrono::milliseconds{11'000},
    std::chrono::milliseconds{31'000}, std::chrono::milliseconds{61'000}};

/// Most harness steps per input; each delivers a read's worth or acts once.
constexpr std::size_t max_steps = 4096;

/// Moves the clock on by `by` and runs the deadline sweep at the new time.
void jump(served_connection& served, driven_connection& record, std::chrono::milliseconds by) {
  served.client.advance(by);
  record.clock_moved += by;
  served.serving_server.enforce_deadlines(served.client.now());
}

/// Echo that throws as a handler with a bug would: before answering (`kind` 0), after queuing an
/// answer (1), or after echoing `pieces` pieces of the body (2).
server::handler faulty_echo(std::uint64_t kind, std::uint64_t pieces) {
  return [kind, pieces](server::exchange& ex) -> asio::awaitable<void> {
    if (kind == 0) throw std::runtime_error("injected before the response");
    if (kind == 1) {
      ex.respond(200, {"never sent"});
      throw std::runtime_error("injected after queuing the response");
    }
    ex.begin_response(200, ex.request().framing == http::body_framing::content_length
                               ? std::optional<std::uint64_t>{ex.request().content_length}
                           : ex.request().framing == http::body_framing::none
                               ? std::optional<std::uint64_t>{0}
                               : std::nullopt);
    for (std::uint64_t echoed = 0;; ++echoed) {
      if (echoed == pieces) throw std::runtime_error("injected in the middle of the body");
      const std::string_view piece = co_await ex.read_body_some();
      if (piece.empty()) break;
      co_await ex.write_body(piece);
    }
    ex.finish();
  };
}

/// The handler that serves for `serving`; the faulty echo's fault is drawn from `plan`.
server::handler handler_of(product serving, const read_plan& plan) {
  switch (serving) {
    case product::hello:
      return app::hello;
    case product::hello_name:
      return app::hello_name;
    case product::echo:
      return app::echo;
    case product::faulty_echo:
      break;
  }
  return faulty_echo(plan.draw(7) % 3, plan.draw(8) % 4);
}

}  // namespace

std::string expected_body(product serving, std::string_view name, std::string_view body) {
  switch (serving) {
    case product::hello:
      return "Hello, world!";
    case product::hello_name:
      return "Hello, " + std::string(name) + "!";
    case product::echo:
    case product::faulty_echo:
      return std::string(body);
  }
  return {};
}

server::server_options drawn_options(const read_plan& plan, bool http2) {
  server::server_options options;
  options.http2 = http2;
  options.access_log = plan.draw(5) % 2 == 0;
  return options;
}

served_connection::served_connection(const server::server_options& options, const read_plan& plan)
    : serving(static_cast<product>(plan.draw(6) % 4)),
      group(io, options, std::chrono::seconds{5}),
      input_buffers(16 * 1024, 4),
      workspaces([&options] { return std::make_unique<server::request_workspace>(options); }, 4),
      serving_server(io, io.get_executor(), 1, "fuzz", handler_of(serving, plan), options, group,
                     input_buffers, workspaces),
      client(io.get_executor()) {
  serving_server.serve(std::make_shared<server::connection>(serving_server, client));
}

void settle(asio::io_context& io) {
  io.restart();
  io.poll();
}

driven_connection drive_connection(served_connection& served, const read_plan& plan,
                                   std::string_view wire, const std::vector<std::size_t>& ends) {
  auto& serving = served.serving_server;
  auto& client = served.client;
  driven_connection record;
  std::size_t next_piece = 0;
  std::size_t sent = 0;
  // A quarter of clients never close: only the connection's timeouts can end it.
  const bool client_closes = plan.draw(12) % 4 != 0;
  for (std::size_t step = 0; step < max_steps; ++step) {
    settle(served.io);
    if (serving.connection_count() == 0) break;
    const std::uint64_t choice = plan.draw(1000 + step);
    const std::uint64_t detail = choice >> 8;
    const std::uint64_t act = choice % 100;
    if (act < 70 && sent < wire.size()) {
      client.deliver(wire.substr(sent, ends[next_piece] - sent));
      sent = ends[next_piece++];
    } else if (act < 82) {
      jump(served, record, clock_jumps[detail % clock_jumps.size()]);
    } else if (act < 90) {
      // The client stops reading (no room), reads a little, or reads everything.
      const std::uint64_t kind = detail % 4;
      record.writes_cut = record.writes_cut || kind < 2;
      client.set_write_room(kind == 0   ? 0
                            : kind == 1 ? static_cast<std::size_t>(1 + (detail >> 2) % 4096)
                                        : memory_transport::unlimited);
    } else if (act < 93 && !record.draining) {
      record.draining = true;
      serving.begin_drain();
    } else if (act == 93 && detail % 8 == 0) {
      record.writes_cut = true;
      record.forced = true;
      serving.force_close();
    } else if (sent == wire.size() && client_closes && !record.input_closed && detail % 2 == 0) {
      record.input_closed = true;
      client.close_input();
    }
  }
  return record;
}

void let_time_pass(served_connection& served, driven_connection& record) {
  for (int jumps = 0; jumps < 64; ++jumps) {
    settle(served.io);
    if (served.serving_server.connection_count() == 0) break;
    jump(served, record, std::chrono::seconds{7});
  }
  settle(served.io);
}

void check_connection_gone(const served_connection& served) {
  FUZZ_CHECK(served.serving_server.connection_count() == 0);
  FUZZ_CHECK(served.input_buffers.lent_count() == 0);
  FUZZ_CHECK(served.workspaces.lent_count() == 0);
  FUZZ_CHECK(!served.client.wrote_after_shutdown());
  // Nothing else in the connection code threw: only the faulty handler may.
  const auto traffic = served.serving_server.traffic().snapshot();
  FUZZ_CHECK(traffic.connection_failures == 0);
  if (served.serving != product::faulty_echo) FUZZ_CHECK(traffic.handler_failures == 0);
}

void silence_logs() {
  auto quiet =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  quiet->set_level(spdlog::level::trace);
  spdlog::set_default_logger(quiet);
}

}  // namespace triserve::fuzz
