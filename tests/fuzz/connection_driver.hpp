#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include "memory_transport.hpp"
#include "read_plan.hpp"
#include "triserve/server/handler.hpp"
#include "triserve/server/server.hpp"

namespace triserve::fuzz {

/// What happened to a connection while it was driven, for a harness's checks.
struct driven_connection {
  bool draining = false;      ///< the drain began
  bool forced = false;        ///< the connection was forced closed
  bool input_closed = false;  ///< the client closed its side
  /// A write may have been cut short (the client stopped reading until the connection gave up,
  /// or it was forced closed), so the output may end anywhere.
  bool writes_cut = false;
  std::chrono::milliseconds clock_moved{0};  ///< how far the clock went
};

/// Echo that throws as a handler with a bug would: before answering (`kind` 0), after queuing an
/// answer (1), or after echoing `pieces` pieces of the body (2).
server::handler faulty_echo(std::uint64_t kind, std::uint64_t pieces);

/// Runs every handler that is ready, as io_context::run() would between two events.
void settle(asio::io_context& io);

/// Drives the one connection `serving` serves over `client` as the network, the clock and the
/// group would: step by step, the client sends the next piece of `wire` (cut at `ends`), and
/// draws from `plan` decide what else happens between steps: the clock jumps and the deadline
/// sweep runs, the kernel's send room shrinks or grows, the drain begins, the connection is forced
/// closed, the client closes. Stops when the connection has ended, or after a bounded number of
/// steps.
driven_connection drive_connection(asio::io_context& io, server::server& serving,
                                   memory_transport& client, const read_plan& plan,
                                   std::string_view wire, const std::vector<std::size_t>& ends);

/// The client falls silent (and may have stopped reading): time passes in jumps, with the deadline
/// sweep, until the connection ends or the jumps are used up (a few minutes of it).
void let_time_pass(asio::io_context& io, server::server& serving, memory_transport& client,
                   driven_connection& record);

/// Log lines are formatted (the access log among them) but go nowhere.
void silence_logs();

}  // namespace triserve::fuzz
