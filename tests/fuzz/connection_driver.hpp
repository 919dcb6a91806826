#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <asio/io_context.hpp>

#include "memory_transport.hpp"
#include "read_plan.hpp"
#include "triserve/server/server.hpp"
#include "triserve/server/server_group.hpp"
#include "triserve/server/server_options.hpp"

namespace triserve::fuzz {

/// Which handler serves the connection: one of the product's, or echo with a bug that throws.
enum class product { hello, hello_name, echo, faulty_echo };

/// The body a product answers a request with: `name` is hello-name's decoded `name` query
/// value, `body` the request's body.
std::string expected_body(product serving, std::string_view name, std::string_view body);

/// The options a connection harness starts from: the product's defaults, HTTP/2 on or off, and
/// the access log on for half the inputs.
server::server_options drawn_options(const read_plan& plan, bool http2);

/// A real server (with its group, buffer and workspace pools) serving one connection over a
/// memory_transport, handed to it with server::serve as the accept loop hands it a TCP one. The
/// handler is the product's or the faulty echo, as `plan` draws; `options` must outlive it.
struct served_connection {
  served_connection(const server::server_options& options, const read_plan& plan);

  product serving;
  asio::io_context io;
  server::server_group group;
  server::buffer_pool input_buffers;
  server::workspace_pool workspaces;
  server::server serving_server;
  memory_transport client;
};

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

/// Runs every handler that is ready, as io_context::run() would between two events.
void settle(asio::io_context& io);

/// Drives the connection as the network, the clock and the group would: step by step, the client
/// sends the next piece of `wire` (cut at `ends`), and draws from `plan` decide what else happens
/// between steps: the clock jumps and the deadline sweep runs, the kernel's send room shrinks or
/// grows, the drain begins, the connection is forced closed, the client closes. Stops when the
/// connection has ended, or after a bounded number of steps.
driven_connection drive_connection(served_connection& served, const read_plan& plan,
                                   std::string_view wire, const std::vector<std::size_t>& ends);

/// The client falls silent (and may have stopped reading): time passes in jumps, with the deadline
/// sweep, until the connection ends or the jumps are used up (a few minutes of it).
void let_time_pass(served_connection& served, driven_connection& record);

/// The connection has ended and left nothing behind: every pooled buffer and workspace is back,
/// nothing was written after the FIN, and nothing threw but the faulty handler.
void check_connection_gone(const served_connection& served);

/// Log lines are formatted (the access log among them) but go nowhere.
void silence_logs();

}  // namespace triserve::fuzz
