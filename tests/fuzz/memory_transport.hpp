#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <asio/steady_timer.hpp>

#include "harness_clock.hpp"
#include "triserve/server/transport.hpp"

namespace triserve::fuzz {

/// A transport over bytes in memory, driven by a harness step by step on one thread, so that the
/// connection code the daemon runs can be fuzzed without sockets. The client's bytes arrive when
/// the harness delivers them; the kernel takes our output as far as the harness leaves room;
/// time passes when the harness says so (harness_clock.hpp: one transport at a time). An operation
/// that cannot complete waits, like one on a socket, until the harness delivers, makes room,
/// closes, or cancel() cuts it; a read (or a wait for readability) and a write may wait at the
/// same time, as an HTTP/2 session's reader and writer do.
class memory_transport final : public server::transport {
 public:
  /// Starts the harness's clock at the same time for every input.
  explicit memory_transport(asio::any_io_executor executor);

  // The connection's side.
  asio::any_io_executor executor() override { return tick_.get_executor(); }
  asio::ip::tcp::endpoint peer() const override;
  clock::time_point now() const override { return clock::now(); }
  asio::awaitable<server::transfer_result> read_some(std::span<char> room) override;
  std::size_t read_now(std::span<char> room, std::error_code& ec) override;
  asio::awaitable<std::tuple<std::error_code>> wait_readable() override;
  bool has_pending_input() const override { return !incoming_.empty(); }
  asio::awaitable<server::transfer_result> write_some(
      std::span<const asio::const_buffer> pieces) override;
  std::size_t write_now(std::span<const asio::const_buffer> pieces, std::error_code& ec) override;
  std::size_t unacknowledged_bytes() const override { return 0; }
  asio::awaitable<void> shutdown_send() override {
    send_shut_down_ = true;
    co_return;
  }
  void cancel(server::cut_reason why) override;

  // The harness's side.
  /// The client sends `bytes`: the next read takes them, at most one read's room at a time.
  void deliver(std::string_view bytes);
  /// The client has sent everything: reads end with end-of-stream once it is taken.
  void close_input();
  /// How many more bytes the kernel takes from us before writes wait; `unlimited` by default.
  void set_write_room(std::size_t bytes);
  /// Moves the clock on; timers the jump makes due fire at the next poll.
  void advance(clock::duration by);

  /// Whether a read, write or wait is in progress and cannot complete without the harness.
  bool blocked() const { return reading_.waiting || writing_.waiting; }
  /// Everything the connection sent, in order.
  const std::string& output() const { return output_; }
  /// Whether the connection wrote after it had said it would send nothing more.
  bool wrote_after_shutdown() const { return wrote_after_shutdown_; }
  /// Whether the connection has said it will send nothing more.
  bool send_shut_down() const { return send_shut_down_; }

  static constexpr std::size_t unlimited = static_cast<std::size_t>(-1);

 private:
  /// One direction's operation waiting for the harness (at most one each, as on a socket).
  struct direction {
    explicit direction(asio::any_io_executor executor) : wake(std::move(executor)) {}
    asio::steady_timer wake;
    bool waiting = false;
    bool cancelled = false;
  };

  /// Waits until the harness acts on `side` or cancel() is called; false when cancelled.
  static asio::awaitable<bool> wait_for_harness(direction& side);
  /// Takes as much of `pieces` as there is room for into the output.
  std::size_t take_output(std::span<const asio::const_buffer> pieces);
  /// Wakes the operation waiting on `side`, if there is one.
  static void wake(direction& side);

  /// Due at once whenever the clock moves: see advance().
  asio::steady_timer tick_;
  direction reading_;
  direction writing_;
  std::string incoming_;
  bool input_closed_ = false;
  std::size_t write_room_ = unlimited;
  std::string output_;
  bool send_shut_down_ = false;
  bool wrote_after_shutdown_ = false;
};

}  // namespace triserve::fuzz
