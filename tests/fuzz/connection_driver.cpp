#include "connection_driver.hpp"

#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

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
void jump(server::server& serving, memory_transport& client, driven_connection& record,
          std::chrono::milliseconds by) {
  client.advance(by);
  record.clock_moved += by;
  serving.enforce_deadlines(client.now());
}

}  // namespace

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

void settle(asio::io_context& io) {
  io.restart();
  io.poll();
}

driven_connection drive_connection(asio::io_context& io, server::server& serving,
                                   memory_transport& client, const read_plan& plan,
                                   std::string_view wire, const std::vector<std::size_t>& ends) {
  driven_connection record;
  std::size_t next_piece = 0;
  std::size_t sent = 0;
  for (std::size_t step = 0; step < max_steps; ++step) {
    settle(io);
    if (serving.connection_count() == 0) break;
    const std::uint64_t choice = plan.draw(1000 + step);
    const std::uint64_t detail = choice >> 8;
    const std::uint64_t act = choice % 100;
    if (act < 70 && sent < wire.size()) {
      client.deliver(wire.substr(sent, ends[next_piece] - sent));
      sent = ends[next_piece++];
    } else if (act < 82) {
      jump(serving, client, record, clock_jumps[detail % clock_jumps.size()]);
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
    } else if (sent == wire.size() && !record.input_closed && detail % 2 == 0) {
      record.input_closed = true;
      client.close_input();
    }
  }
  return record;
}

void let_time_pass(asio::io_context& io, server::server& serving, memory_transport& client,
                   driven_connection& record) {
  for (int jumps = 0; jumps < 64; ++jumps) {
    settle(io);
    if (serving.connection_count() == 0) break;
    jump(serving, client, record, std::chrono::seconds{7});
  }
  settle(io);
}

void silence_logs() {
  auto quiet =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  quiet->set_level(spdlog::level::trace);
  spdlog::set_default_logger(quiet);
}

}  // namespace triserve::fuzz
