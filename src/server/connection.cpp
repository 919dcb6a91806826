#include "triserve/server/connection.hpp"

#include <array>
#include <exception>
#include <optional>

#include <spdlog/spdlog.h>

#include "triserve/http/h2c_upgrade.hpp"
#include "triserve/http/response_head.hpp"
#include "triserve/http/status.hpp"
#include "triserve/server/access_log.hpp"
#include "triserve/server/body_pieces.hpp"
#include "triserve/server/h2_session.hpp"
#include "triserve/server/http1_exchange.hpp"
#include "triserve/server/server.hpp"

namespace triserve::server {

namespace {

/// Smallest read worth making; below it the buffer is compacted or grown first.
constexpr std::size_t minimum_read = 2048;
/// How long a closing connection keeps reading so the client sees our response, not a reset.
/// Go waits 500 ms for the same reason (rstAvoidanceDelay).
constexpr std::chrono::milliseconds linger_time{500};
/// Room for the largest head the parser accepts plus one read, so that it can see the excess.
std::size_t head_limit(const server_options& options) {
  return options.max_header_bytes + minimum_read;
}
/// Queued responses to pipelined requests are written once they reach this size.
constexpr std::size_t max_queued_output = 64 * 1024;
/// A connection waits for its next request holding its receive buffer once it has made this many
/// requests: it is likely to make more soon.
constexpr std::uint32_t requests_before_hot_wait = 2;
/// No more receive buffers are held by connections waiting for a next request beyond this many
/// lent in all (16 MiB): past it, waits go without one.
constexpr std::size_t max_buffers_for_hot_waits = 1024;

}  // namespace

connection::connection(server& owner, transport& stream)
    : server_(owner),
      transport_(stream),
      accepted_at_(stream.now()),
      input_(owner.input_buffers()) {}

connection::~connection() {
  return_workspace();
}

void connection::borrow_workspace() {
  if (!work_) work_ = server_.workspaces().acquire();
}

void connection::return_workspace() {
  if (!work_) return;
  work_->clear();
  server_.workspaces().release(std::move(work_));
}

bool connection::idle() const {
  if (speaks_h2_.load(std::memory_order_acquire)) return h2_->idle();
  const phase now = phase_;
  return now == phase::waiting || now == phase::waiting_hot;
}

bool connection::owes_answer() const {
  if (speaks_h2_.load(std::memory_order_acquire)) return h2_->owes_answer();
  return !closed_while_idle_ && phase_ != phase::lingering;
}

void connection::begin_drain() {
  if (ending_ == ending::none) ending_ = ending::drain;
  if (h2_) return h2_->begin_drain();
  const phase now = phase_;
  // Idle, not yet started, or lingering after its last answer: nobody is owed anything.
  closed_while_idle_ = idle() || now == phase::accepted;
  // An idle connection is only waiting for readability: cancelling ends it. A request that
  // already reached us is still served, because that wait has then completed.
  if (idle() || now == phase::lingering) transport_.cancel(cut_reason::closing);
}

void connection::force_close() {
  // Counted here, on the connection's strand, where whether it still owes an answer is exact.
  if (owes_answer() && !forced()) server_.count_cut();
  ending_ = ending::force;
  if (h2_) return h2_->force_close();
  transport_.cancel(cut_reason::closing);
}

void connection::set_deadline(clock::time_point deadline) {
  deadline_ = deadline;
  // A timeout that fired just as the previous operation completed must not cut this one.
  timed_out_ = false;
}

bool connection::deadline_due(clock::time_point now) const {
  if (speaks_h2_.load(std::memory_order_acquire)) return h2_->deadline_due(now);
  return now >= deadline_.load() || (writing_ && !delivery_sampled_) ||
         phase_ == phase::waiting_hot;
}

void connection::enforce_deadline(clock::time_point now) {
  if (h2_) return h2_->enforce_deadline(now);
  // A connection found waiting hot by two sweeps in a row has been idle a while: its buffer goes
  // back to the pool, and it waits on without one.
  if (phase_ == phase::waiting_hot && !shedding_) {
    if (shed_marked_) {
      shedding_ = true;
      transport_.cancel(cut_reason::shedding);
    } else {
      shed_marked_ = true;
    }
  }
  // Linux reports a socket writable again only once half its send buffer has drained, which can
  // take longer than the timeout for a client reading slowly but steadily: bytes it acknowledges
  // while our write waits are progress too. Only writes still waiting at a sweep are sampled.
  if (writing_ && !delivery_sampled_) {
    delivery_sampled_ = true;
    delivered_seen_ = delivered_bytes();
  }
  if (now < deadline_.load()) return;
  if (writing_ && delivery_sampled_) {
    // A blocked write is cut after a pause of the write timeout without progress, or once the
    // client has read slower than the minimum send rate for longer than the grace period.
    auto& work = *work_;
    const auto delivered = delivered_bytes();
    if (delivered > delivered_seen_) {
      delivered_seen_ = delivered;
      work.write_pause_deadline = now + server_.options().write_timeout;
    }
    account_write_wait(now);
    const auto too_slow_at = work.send_pace.too_slow_at(now);
    if (now < work.write_pause_deadline && now < too_slow_at) {
      deadline_ = std::min(work.write_pause_deadline, too_slow_at);
      return;
    }
    // Counted once the write is known to have been cut: it may have completed meanwhile.
    work.send_too_slow = now < work.write_pause_deadline;
  }
  timed_out_ = true;
  deadline_ = clock::time_point::max();
  transport_.cancel(cut_reason::deadline);
}

asio::awaitable<void> connection::run() {
  phase_ = phase::reading_head;
  set_deadline(accepted_at_ + server_.options().header_timeout);
  // Whether the next request is the connection's first: its head timeout runs from accept.
  bool first = true;
  for (;;) {
    const auto next = co_await prepare_for_request(first);
    if (next == next_request::none) co_return;
    if (next == next_request::awaited) {
      phase_ = phase::waiting;
      return_workspace();
      // An idle connection waits for readability without a buffer: its 16 KiB go back to the
      // pool for the connections that are reading. Waited for here rather than in a helper
      // coroutine: an idle connection then holds one coroutine frame, not two.
      bool request_arrived = false;
      while (!request_arrived) {
        input_.release_if_empty();
        auto [ec] = co_await transport_.wait_readable();
        const bool woken = finish_idle_wait(ec);
        if (!woken) {
          co_await close_idle(ec);
          co_return;
        }
        request_arrived = take_waiting_bytes();
        if (request_arrived) break;
        // Readiness can be stale: with several threads, an epoll event collected before our
        // last read may be handled after it. Nothing to read is no request: the connection is
        // still idle, under the same deadline, which may have passed meanwhile.
        if (timed_out_) co_return;
        if (draining()) {
          closed_while_idle_ = true;
          server_.count_idle_closed();
          co_await close_gracefully();
          co_return;
        }
        phase_ = phase::waiting;
      }
    }
    borrow_workspace();
    if (first && server_.options().http2 && co_await arrives_as_http2()) {
      co_await serve_http2(std::make_unique<h2_session>(server_, transport_, input_.data()));
      co_return;
    }
    http::parse_result head;
    const bool head_read = co_await read_head(head, first);
    first = false;
    if (!head_read) co_return;
    if (head.status == http::parse_status::error) {
      queue_error(head.error_status, head.error_reason);
      co_await finish_and_close();
      co_return;
    }
    if (server_.options().http2 && !draining() && transport_.security().version.empty()) {
      if (const auto settings = http::h2c_upgrade_settings(work_->request)) {
        auto session = std::make_unique<h2_session>(server_, transport_, input_.data());
        // nghttp2 refusing the client's settings leaves the request to HTTP/1.1, like any
        // upgrade a server declines (RFC 9110 §7.8).
        if (session->accept_upgrade(work_->request, *settings)) {
          // RFC 7540 §3.2: 101, then the server's preface; the response comes in HTTP/2.
          work_->output.append(
              "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
          if (co_await write()) co_await serve_http2(std::move(session));
          co_return;
        }
      }
    }
    bool keep_alive = false;
    const bool answered = co_await answer(keep_alive);
    if (!answered) co_return;
    ++requests_answered_;
    if (!keep_alive) {
      co_await finish_and_close();
      co_return;
    }
    // A response whose head left before the drain began promised keep-alive; its client may
    // already have sent the next request, which is then served. Otherwise, to its client this
    // is an idle connection closing.
    const bool closing_promised_connection = draining() && input_.empty() && !request_pending();
    if (closing_promised_connection) {
      const bool written = co_await finish_and_close();
      if (written) server_.count_idle_closed();
      co_return;
    }
  }
}

asio::awaitable<bool> connection::arrives_as_http2() {
  const auto deadline = accepted_at_ + server_.options().header_timeout;
  for (;;) {
    // Over TLS the handshake has happened in the first wait, and ALPN alone decides: a preface
    // without `h2` is not HTTP/2 (RFC 9113 §3.3 is for cleartext only).
    const auto security = transport_.security();
    if (!security.version.empty()) co_return security.protocol == "h2";
    if (transport_.established()) {
      const std::string_view received = input_.data();
      const auto compared = std::min(received.size(), h2_client_preface.size());
      if (received.substr(0, compared) != h2_client_preface.substr(0, compared)) co_return false;
      if (compared == h2_client_preface.size()) co_return true;
    }
    // The end, a timeout or a cut: read_head meets it again and answers as HTTP/1.1 would.
    if (co_await read_more(deadline, head_limit(server_.options())) == 0) co_return false;
  }
}

asio::awaitable<void> connection::serve_http2(std::unique_ptr<h2_session> session) {
  // The session has copied what it needs (the bytes received, an upgraded request): the
  // connection's buffers go back to their pools.
  h2_ = std::move(session);
  input_.consume(input_.size());
  input_.unpin();
  input_.release_if_empty();
  return_workspace();
  deadline_ = clock::time_point::max();
  speaks_h2_.store(true, std::memory_order_release);
  if (forced()) h2_->force_close();
  if (draining()) h2_->begin_drain();
  co_await h2_->run();
}

asio::awaitable<connection::next_request> connection::prepare_for_request(bool first) {
  if (!input_.empty()) {
    // Pipelined requests are answered in one write, but not without bound.
    if (work_->output.size() < max_queued_output) co_return next_request::buffered;
    const bool flushed = co_await write();
    co_return flushed ? next_request::buffered : next_request::none;
  }
  const bool written = co_await write();
  if (!written || forced()) co_return next_request::none;
  if (draining()) {
    // A connection accepted just before the drain may already hold its first request, and a
    // kept-alive one the next.
    if (request_pending()) {
      closed_while_idle_ = false;
      co_return next_request::buffered;
    }
    server_.count_idle_closed();
    co_await close_gracefully();
    co_return next_request::none;
  }
  // A new connection has the header timeout from accept on; a kept-alive one the idle timeout.
  if (!first) set_deadline(transport_.now() + server_.options().idle_timeout);
  if (!wait_hot()) co_return next_request::awaited;
  // A busy client's next request is likely near: wait with a read into the buffer we hold.
  // Unlike a readiness wait, which re-arms the socket (epoll_ctl) every time, a read on a drained
  // socket just waits for its next edge. The sweep takes the buffer back (shed) from a connection
  // left idle, which then waits in run() without it. Here rather than in run(), so that an idle
  // connection's one frame does not carry this wait too.
  phase_ = phase::waiting_hot;
  return_workspace();
  shed_marked_ = false;
  auto room = input_.prepare(minimum_read, head_limit(server_.options()));
  auto [ec, received] = co_await transport_.read_some(room);
  phase_ = phase::waiting;
  input_.commit(received);
  server_.traffic().count_received(received);
  if (ec == asio::error::eof) {
    peer_closed_ = true;
    ec.clear();
  }
  const bool shed =
      ec == asio::error::operation_aborted && shedding_ && ending_ == ending::none && !timed_out_;
  shedding_ = false;
  if (shed) co_return next_request::awaited;
  const bool woken = finish_idle_wait(ec);
  if (!woken) {
    co_await close_idle(ec);
    co_return next_request::none;
  }
  // Woken by the drain with a request already in the socket: read it now.
  const bool request_arrived = received > 0 || peer_closed_ || take_waiting_bytes();
  co_return request_arrived ? next_request::buffered : next_request::awaited;
}

bool connection::wait_hot() const {
  // Only a buffer of the pool's size: a grown one would hold up to 64 KiB outside the cap.
  return input_.capacity() == server_.input_buffers().block_size() && input_.empty() &&
         requests_answered_ >= requests_before_hot_wait && !draining() &&
         server_.input_buffers().lent_count() <= max_buffers_for_hot_waits;
}

bool connection::request_pending() const {
  return transport_.has_pending_input();
}

bool connection::take_waiting_bytes() {
  auto room = input_.prepare(minimum_read, head_limit(server_.options()));
  if (room.empty()) return true;
  std::error_code ec;
  const std::size_t received = transport_.read_now(room, ec);
  input_.commit(received);
  server_.traffic().count_received(received);
  if (ec == asio::error::eof) peer_closed_ = true;
  // A real error is met again, and reported, by the read that follows.
  return ec != asio::error::would_block;
}

bool connection::finish_idle_wait(std::error_code ec) {
  phase_ = phase::reading_head;
  const bool cancelled_by_drain = ec == asio::error::operation_aborted && ending_ == ending::drain;
  // The drain cancels an idle connection's wait, but news of a request that had already reached
  // the socket may still have been on its way (an epoll event another thread had yet to hand
  // over): that request arrived before we closed, and is served.
  if (cancelled_by_drain && request_pending()) ec = {};
  // A request that arrived just as the drain began is served, and owes its client an answer.
  if (!ec) closed_while_idle_ = false;
  // Counted here rather than when the drain began: a wait that had already completed then
  // serves its request instead.
  if (cancelled_by_drain && ec) server_.count_idle_closed();
  return !ec && !forced();
}

asio::awaitable<bool> connection::read_head(http::parse_result& result, bool first) {
  const auto& options = server_.options();
  const std::size_t limit = head_limit(options);
  work_->parser.reset();
  work_->request.clear();
  // One deadline for the whole head, however many reads it takes: a client trickling bytes
  // (slowloris) must not extend it.
  std::optional<clock::time_point> head_deadline;
  for (;;) {
    result = work_->parser.parse(input_.data(), work_->request);
    if (result.status != http::parse_status::need_more) break;
    // A new connection's first head has had its clock running since accept.
    if (!head_deadline)
      head_deadline = (first ? accepted_at_ : transport_.now()) + options.header_timeout;
    // Responses to earlier pipelined requests must not wait for this head to complete.
    const bool written = co_await write();
    if (!written) co_return false;
    const std::size_t received = co_await read_more(*head_deadline, limit);
    if (received > 0) continue;
    // A TLS handshake cut short has nothing to carry an answer: the close says it.
    if (timed_out_ && !forced() && transport_.established()) {
      queue_error(408, "timed out reading the request head");
      co_await finish_and_close();
    }
    co_return false;
  }
  if (result.status == http::parse_status::complete) {
    // The body streams through the room after the head; make sure there is some. Should that
    // move the bytes, the request's views must be taken again.
    const char* before = input_.data().data();
    input_.prepare(minimum_read, limit);
    if (input_.data().data() != before) {
      work_->parser.reset();
      work_->request.clear();
      result = work_->parser.parse(input_.data(), work_->request);
    }
    input_.consume_and_pin(result.consumed);
  }
  co_return true;
}

asio::awaitable<bool> connection::answer(bool& keep_alive) {
  const auto started = transport_.now();
  phase_ = phase::answering;
  // Each request's body and response start with full buckets: a kept-alive connection keeps its
  // workspace from one request to the next.
  work_->receive_pace.restart();
  work_->send_pace.restart();
  http1_exchange ex{*this, work_->request};
  const std::exception_ptr fault = co_await run_handler(server_.answer(), ex);
  if (fault) {
    // A 500 while nothing of the response has left; once some has, only the close tells.
    const bool answered = ex.withdraw_response();
    if (answered)
      queue_error(exchange::handler_fault.status, exchange::handler_fault.reason);
    else
      log_cut_short(ex, started);
    server_.handler_failed(work_->request, transport_.peer(), fault, answered);
    co_await finish_and_close();
    co_return false;
  }
  if (!ex.responded()) {
    // Once a response head has left, an error response would corrupt it: closing is all that is
    // left, and the truncated body tells the client.
    const auto error = exchange::answer_for(ex.failure_kind());
    if (error && !ex.head_queued()) queue_error(error->status, error->reason);
    // An answer that was cut short (its head already sent) would otherwise leave no trace.
    if (ex.head_queued()) log_cut_short(ex, started);
    co_await finish_and_close();
    co_return false;
  }
  server_.count_request();
  server_.traffic().count_response(ex.status(), wire_protocol::http1);
  server_.traffic().observe_duration(transport_.now() - started);
  if (server_.options().access_log)
    log_request(ex.status(), ex.body_bytes_sent(), started, ex.failed() ? "aborted" : "");
  if (ex.failed()) {
    co_await finish_and_close();
    co_return false;
  }
  keep_alive = !ex.closes_connection();
  if (keep_alive && !ex.body_complete()) {
    // Unread body bytes would be taken for the next request: drop them, or close when costly.
    // The response need not wait for that.
    const bool written = co_await write();
    if (!written) co_return false;
    const bool discarded = co_await ex.discard_body(server_.options().max_discard_bytes);
    keep_alive = discarded;
  }
  input_.unpin();
  co_return true;
}

bool connection::must_close() const {
  if (!work_->request.keep_alive || forced()) return true;
  // While draining, finish what the client already sent: keep the connection only for requests
  // that are already waiting in our buffer behind this one.
  if (draining()) return work_->request.has_body() || input_.empty();
  return false;
}

void connection::queue_error(int status, std::string_view reason) {
  const auto phrase = http::reason_phrase(status);
  http::response_head head;
  head.status = status;
  head.content_length = 3 + 1 + phrase.size() + 2 + reason.size();
  head.date = work_->dates.now();
  head.close = true;
  http::append_response_head(work_->output, head);
  // RFC 9110 §9.3.2: no content in a response to HEAD, errors included, once the head has shown
  // that it is one (a head that never completed may have been anything).
  if (!work_->request.is_head()) {
    std::array<char, 4> code{};
    code[0] = static_cast<char>('0' + status / 100);
    code[1] = static_cast<char>('0' + status / 10 % 10);
    code[2] = static_cast<char>('0' + status % 10);
    code[3] = ' ';
    work_->output.append(code.data(), code.size());
    work_->output.append(phrase);
    work_->output.append(": ");
    work_->output.append(reason);
  }
  server_.traffic().count_response(status, wire_protocol::http1);
  if (server_.options().access_log)
    log_request(status, head.content_length, transport_.now(), reason);
  else
    spdlog::debug("{} server: {} {} to {}: {}", server_.name(), status, phrase,
                  to_string(transport_.peer()), reason);
}

asio::awaitable<std::size_t> connection::read_more(clock::time_point deadline, std::size_t limit) {
  // A new operation: a timeout that cut nothing (it fired as the last one completed) is void.
  timed_out_ = false;
  if (forced() || peer_closed_) co_return 0;
  auto room = input_.prepare(minimum_read, limit);
  if (room.empty()) co_return 0;
  set_deadline(deadline);
  auto [ec, received] = co_await transport_.read_some(room);
  if (ec == asio::error::eof) peer_closed_ = true;
  if (ec) co_return 0;
  input_.commit(received);
  server_.traffic().count_received(received);
  co_return received;
}

asio::awaitable<bool> connection::write(const body_pieces* extra) {
  if (forced()) co_return false;
  const bool nothing_queued = !work_ || work_->output.empty();
  if (nothing_queued && extra == nullptr) co_return true;
  std::array<asio::const_buffer, 1 + body_pieces::capacity> pieces;
  std::size_t count = 0;
  if (!nothing_queued) pieces[count++] = asio::buffer(work_->output);
  if (extra != nullptr)
    for (const auto& piece : extra->buffers()) pieces[count++] = piece;
  std::size_t first = 0;
  const auto taken = [&](std::size_t written) {
    handed_to_kernel_ += written;
    server_.traffic().count_sent(written);
    for (; first < count && written >= pieces[first].size(); ++first)
      written -= pieces[first].size();
    if (first < count) pieces[first] += written;
  };
  // A new operation: a timeout that cut nothing (it fired as the last one completed) is void,
  // and must not, say, stop close_gracefully from lingering after this response.
  timed_out_ = false;
  // The kernel usually takes everything at once: offered without waiting, the response leaves
  // with no operation to allocate, no completion to post and no coroutine to resume; under load,
  // fewer connections are then mid-request at once.
  std::error_code ec;
  taken(transport_.write_now(std::span<const asio::const_buffer>(pieces.data(), count), ec));
  if (ec == asio::error::would_block) ec.clear();
  if (first < count && !ec) {
    auto& work = *work_;
    writing_ = true;
    delivery_sampled_ = false;
    while (first < count && !ec) {
      // The write timeout measures a pause: every part the kernel takes restarts it. The
      // minimum send rate measures the pace of all of this response's waits together.
      const auto began = transport_.now();
      work.write_wait_began = began;
      work.delivered_at_write_wait = delivered_bytes();
      work.write_pause_deadline = began + server_.options().write_timeout;
      work.send_too_slow = false;
      set_deadline(std::min(work.write_pause_deadline, work.send_pace.too_slow_at(began)));
      auto [failure, written] = co_await transport_.write_some(
          std::span<const asio::const_buffer>(pieces.data() + first, count - first));
      ec = failure;
      taken(written);
      account_write_wait(transport_.now());
      if (ec == asio::error::operation_aborted && timed_out_ && work.send_too_slow)
        count_too_slow(transfer_direction::send);
      // A deadline that passed just as the write completed cut nothing.
      if (!ec) timed_out_ = false;
    }
    writing_ = false;
  }
  if (work_) work_->output.clear();
  co_return !ec && !forced();
}

void connection::account_write_wait(clock::time_point now) {
  auto& work = *work_;
  const auto delivered = delivered_bytes();
  work.send_pace.add_wait(work.write_wait_began, now,
                          delivered - std::min(delivered, work.delivered_at_write_wait));
  work.write_wait_began = now;
  work.delivered_at_write_wait = delivered;
}

std::uint64_t connection::delivered_bytes() const {
  const std::uint64_t unacknowledged = transport_.unacknowledged_bytes();
  return unacknowledged < handed_to_kernel_ ? handed_to_kernel_ - unacknowledged : 0;
}

asio::awaitable<bool> connection::finish_and_close() {
  const bool written = co_await write();
  if (written) co_await close_gracefully();
  co_return written;
}

asio::awaitable<void> connection::close_idle(std::error_code ended_by) {
  // Only a wait we cut (drain, idle timeout) says goodbye: after the client's end or a reset
  // there is nobody to tell.
  if (ended_by != asio::error::operation_aborted || forced() || peer_closed_) co_return;
  // Bounded like a linger, though an idle connection's send buffer has room for close_notify.
  deadline_ = transport_.now() + linger_time;
  co_await transport_.shutdown_send();
}

asio::awaitable<void> connection::close_gracefully() {
  phase_ = phase::lingering;
  const auto until = transport_.now() + linger_time;
  // TLS's close_notify may wait for room in the send buffer: no longer than the linger. Not
  // set_deadline, which would forget a timeout that has just cut the connection.
  deadline_ = until;
  co_await transport_.shutdown_send();
  input_.unpin();
  while (!peer_closed_ && !forced() && !timed_out_ && transport_.now() < until) {
    input_.consume(input_.size());
    const std::size_t received = co_await read_more(until, 0);
    if (received == 0) break;
  }
}

void connection::count_too_slow(transfer_direction direction) {
  server_.traffic().count_too_slow(direction);
  const auto& options = server_.options();
  spdlog::debug(
      "{} server: {} {} slower than {} bytes/s after {:.1f}s of grace; connection cut",
      server_.name(), to_string(transport_.peer()),
      direction == transfer_direction::send ? "read the response" : "sent the body",
      direction == transfer_direction::send ? options.min_send_rate : options.min_receive_rate,
      std::chrono::duration<double>(options.min_rate_grace).count());
}

void connection::log_cut_short(const http1_exchange& ex, clock::time_point started) {
  server_.traffic().count_response(ex.status(), wire_protocol::http1);
  log_request(ex.status(), ex.body_bytes_sent(), started, "aborted");
}

void connection::log_request(int status, std::uint64_t body_bytes, clock::time_point started,
                             std::string_view note) const {
  const auto& request = work_->request;
  // HTTP/1.0's own name (RFC 9110 §2.5); everything else here is HTTP/1.1.
  const bool http10 = request.version_major == 1 && request.version_minor == 0;
  server_.log_request(transport_, request, http10 ? "http/1.0" : "http/1.1", status, body_bytes,
                      transport_.now() - started, note);
}

}  // namespace triserve::server
