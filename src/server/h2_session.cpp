#include "triserve/server/h2_session.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <new>

#include <spdlog/spdlog.h>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>

#include "triserve/server/h2_exchange.hpp"
#include "triserve/server/server.hpp"

namespace triserve::server {

namespace {

constexpr auto as_result = asio::experimental::as_tuple(asio::use_awaitable);

/// Each stream's receive window to begin with (SETTINGS_INITIAL_WINDOW_SIZE): the most of one
/// request body the server holds before its handler is done with some. HTTP/2's own default,
/// 64 KiB - 1 (RFC 9113 §6.9.2), and nginx's http2_body_preread_size.
constexpr std::uint32_t stream_window = 65535;
/// A stream whose handler takes a whole window at once is held back by the window, not by its
/// handler: its window doubles, up to Go's 1 MiB per stream (MaxUploadBufferPerStream), so that
/// one upload is not one round trip per 64 KiB. What all the streams hold together is bounded by
/// the connection's window, not by their sum. A stream that stops reading keeps the window it had.
constexpr std::uint32_t max_stream_window = 1024 * 1024;
/// The connection's receive window: the most request body one connection holds, whatever its
/// streams' windows add up to (128 streams of 64 KiB would be 8 MiB), since it comes back only
/// as bytes leave our hands (a handler is done with them, or they are dropped: h2_exchange). Go
/// bounds it too, with 1 MiB (MaxUploadBufferPerConnection), but there one stream at its 1 MiB
/// window can take all of it; twice that, a stream that stops reading at its widest leaves
/// room for the others (RFC 9113 §5.2.2). nginx gives its window back as bytes arrive, relying
/// on per-stream buffers spilled to disk, which we do not have.
constexpr std::int32_t connection_window = 2 * 1024 * 1024;
static_assert(connection_window >= std::int64_t{max_stream_window} + stream_window,
              "a stalled stream at its widest must leave a whole window to the others");
/// Reads into one borrowed receive buffer before the reader waits for readability again: a
/// client sending fast is read without a wait per read, and a quiet one holds no buffer.
constexpr std::size_t reads_per_wake = 16;
/// What mem_send yields is gathered up to this much for one write.
constexpr std::size_t write_gather = 64 * 1024;
/// CVE-2023-44487 (Rapid Reset): a client opening and resetting streams at once makes a server
/// start handlers without limit while never exceeding MAX_CONCURRENT_STREAMS. A token bucket of
/// RST_STREAMs received; past it the connection ends with GOAWAY. nghttp2's fix uses the same
/// 1000 and 33 per second: far above what a browser cancelling requests sends.
constexpr std::uint64_t reset_burst = 1000;
constexpr std::uint64_t reset_rate = 33;
/// CVE-2024-28182 (CONTINUATION flood): endless CONTINUATION frames keep HPACK decoding without a
/// header section ever completing. A header list of max_header_bytes fits in this many frames of
/// the default 16 KiB frame size; nghttp2's fix allows 8.
constexpr std::size_t default_frame_size = 16384;
constexpr std::size_t min_continuations = 8;
/// CVE-2016-6581 (HPACK bomb): one large field put in the dynamic table, then named by a one-byte
/// index thousands of times, makes a 16 KiB block decode to 64 MB, every byte of it checked by
/// nghttp2 before we see it, even past the header limit (we keep decoding, for HPACK's state, to
/// answer 431). A block decoding to this many times the limit we announce (and at least
/// min_header_bomb) ends the connection with ENHANCE_YOUR_CALM (RFC 9113 §10.5), and so no more
/// is decoded. An honest block over the limit gets its 431: one within nghttp2's CONTINUATION
/// limit decodes to at most 8/5 of its size (Huffman), unless it names the same entry many times.
constexpr std::size_t header_bomb_factor = 4;
constexpr std::size_t min_header_bomb = 256 * 1024;
/// What SETTINGS_MAX_HEADER_LIST_SIZE counts for each field beside its name and value (RFC 9113
/// §6.5.2).
constexpr std::size_t header_field_overhead = 32;
/// How long the drain's first GOAWAY waits for the answer to the PING sent with it (a round trip:
/// streams the client opened meanwhile are still served) before the final GOAWAY goes anyway.
/// Go waits one second too before closing a connection it has sent GOAWAY on.
constexpr std::chrono::milliseconds goaway_round_trip_limit{1000};
/// Frames nghttp2 may hold for us while a write waits on the client, before the reader stops
/// reading (and so stops the client from making more): its own limit on queued SETTINGS and PING
/// acknowledgements (1000, which ends the connection with ENHANCE_YOUR_CALM) fits under it, with
/// room for a response and a reset on every stream. A few hundred bytes each: well under a
/// megabyte per connection, until the write timeout cuts a client that does not read.
constexpr std::size_t max_output_backlog = 4096;
/// How long a closing connection keeps reading after its last GOAWAY, so that the client reads
/// our last frames rather than a reset (as connection::close_gracefully does for HTTP/1.1): the
/// lingering goes on while the client keeps sending, until it has been quiet this long (a
/// flooding client is usually still sending when its GOAWAY leaves), but no longer than
/// max_linger. nginx's lingering_timeout and lingering_time, far shorter.
constexpr std::chrono::milliseconds linger_time{500};
constexpr std::chrono::milliseconds max_linger{2000};
/// Ranges of stream ids a client skipped that are remembered (RFC 9113 §5.1.1: a HEADERS on one
/// is a connection error); a client skips none unless it means to.
constexpr std::size_t max_skipped_ranges = 16;
/// How long a request body a complete response leaves unread may still come, within the window
/// the client has, before RST_STREAM(NO_ERROR) stops it (h2_session::end_unread_body).
constexpr std::chrono::milliseconds unread_body_grace{500};

}  // namespace

/// nghttp2's callbacks: each finds the session in `user_data` and the exchange by stream id.
struct h2_callbacks {
  static h2_session& of(void* user_data) { return *static_cast<h2_session*>(user_data); }

  static int on_begin_frame(nghttp2_session* session, const nghttp2_frame_hd* header,
                            void* user_data) {
    // Once the final GOAWAY is on the wire, nghttp2 ignores a new stream above its last id
    // without a word. RFC 9113 §8.7: REFUSED_STREAM tells the client plainly that nothing of it
    // was processed, so it may retry it on another connection. Only a new stream (RFC 9113
    // §5.1.1: an id above every one before; a lower or repeated one opens nothing) is refused,
    // once. Sent once the frame has been taken (feed()): nghttp2 refuses to reset a stream it
    // has not seen yet.
    auto& self = of(user_data);
    // A header block is a HEADERS frame and the CONTINUATION frames that follow it, with nothing
    // between them (RFC 9113 §6.10): what it decodes to is counted from its first frame.
    if (header->type == NGHTTP2_HEADERS) self.block_decoded_ = 0;
    if (header->type != NGHTTP2_HEADERS || (header->stream_id & 1) == 0) return 0;
    if (header->stream_id <= self.highest_stream_seen_) {
      // RFC 9113 §5.1.1: an id the client skipped was closed unused by the higher one that
      // followed; a HEADERS on it is "an unexpected stream identifier", a connection error of
      // type PROTOCOL_ERROR. nghttp2 ignores it, unable to tell it from trailers sent after our
      // reset of a stream that was opened (which must be ignored, §5.1): the skipped ids tell.
      if (self.was_skipped(header->stream_id)) {
        self.goaway_submitted_ = true;
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
      }
      return 0;
    }
    if (header->stream_id > self.highest_stream_seen_ + 2)
      self.remember_skipped(self.highest_stream_seen_ + 2, header->stream_id - 2);
    self.highest_stream_seen_ = header->stream_id;
    if (self.final_goaway_on_wire_ && header->stream_id > self.last_stream_served_ &&
        nghttp2_session_find_stream(session, header->stream_id) == nullptr)
      self.to_refuse_.push_back(header->stream_id);
    return 0;
  }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto& self = of(user_data);
    const auto id = frame->hd.stream_id;
    if (self.final_goaway_sent_ && id > self.last_stream_served_) {
      // The final GOAWAY is submitted but not sent yet, and nghttp2 still opens new streams: this
      // one is above the last id it names, so it is refused rather than served behind the
      // client's back (it may retry it elsewhere). Without an exchange, its frames are dropped.
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    self.streams_.emplace(id, std::make_unique<h2_exchange>(self, id));
    self.open_streams_ = self.open_streams_.load() + 1;
    self.server_.traffic().count_h2_stream(+1);
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t name_length, const std::uint8_t* value, std::size_t value_length,
                       std::uint8_t, void* user_data) {
    auto& self = of(user_data);
    // Every block counts, trailers' and those of streams we refused too.
    self.block_decoded_ += name_length + value_length + header_field_overhead;
    if (self.block_decoded_ > self.header_bomb_limit_) {
      // Stops nghttp2 at once (feed() then ends the connection): not another field decoded.
      self.header_bomb_ = true;
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    // Trailer fields (a second HEADERS) are not kept: the request's views are final by then.
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto* ex = self.find(frame->hd.stream_id);
    if (ex == nullptr) return 0;
    // Past the header limits the rest of the section is decoded (HPACK's state must follow it)
    // but not kept; the request is answered 431 once the section is complete.
    ex->add_field({reinterpret_cast<const char*>(name), name_length},
                  {reinterpret_cast<const char*>(value), value_length});
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = of(user_data);
    const auto id = frame->hd.stream_id;
    const bool ends_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        auto* ex = self.find(id);
        if (ex == nullptr) break;
        if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
          // Trailers: they end the body (nghttp2 refuses them without END_STREAM).
          if (ends_stream) ex->body_ended();
          break;
        }
        self.start_stream(*ex, ex->complete_head(ends_stream));
        break;
      }
      case NGHTTP2_DATA:
        if (ends_stream)
          if (auto* ex = self.find(id)) ex->body_ended();
        break;
      case NGHTTP2_SETTINGS:
        // The client's preface is complete (RFC 9113 §3.4): the header timeout no longer runs.
        self.preface_due_ = transport::clock::time_point::max();
        break;
      case NGHTTP2_PING:
        // The answer to the PING sent with the drain's first GOAWAY: a round trip has passed.
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 && self.draining_) self.send_final_goaway();
        break;
      default:
        break;
    }
    return 0;
  }

  static int on_data_chunk_recv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t length, void* user_data) {
    auto& self = of(user_data);
    auto* ex = self.find(stream_id);
    if (ex != nullptr && ex->handler_running()) {
      // Held for the handler: both windows come back as it is done with them (h2_exchange).
      ex->body_arrived({reinterpret_cast<const char*>(data), length});
    } else if (ex != nullptr && ex->leaves_body_unread()) {
      // Dropped, and only the connection's window given back: the client may end the body
      // within the stream window it has (end_unread_body), no further; once that is used up, it
      // is stopped now.
      nghttp2_session_consume_connection(session, length);
      if (nghttp2_session_get_stream_local_window_size(session, stream_id) <= 0)
        ex->stop_unread_body();
    } else {
      // Nobody will read it (answered without a handler, or the handler has returned): dropped,
      // and both windows given back until the response has ended.
      nghttp2_session_consume(session, stream_id, length);
    }
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& self = of(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      self.count_goaway(frame->goaway.error_code);
      // The final GOAWAY is on the wire: from now on nghttp2 ignores new streams (on_begin_frame).
      if (self.final_goaway_sent_ && frame->goaway.last_stream_id == self.last_stream_served_)
        self.final_goaway_on_wire_ = true;
      return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      // Over MAX_CONCURRENT_STREAMS (nghttp2's) or after the drain's last GOAWAY (ours).
      if (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM)
        self.server_.traffic().count_h2_refused();
      return 0;
    }
    const bool ends_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (!ends_stream || (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
      return 0;
    auto* ex = self.find(frame->hd.stream_id);
    if (ex == nullptr) return 0;
    ex->response_sent();
    if (!ex->handler_running() && ex->leaves_body_unread()) self.end_unread_body(*ex);
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                             void* user_data) {
    auto& self = of(user_data);
    auto* ex = self.find(stream_id);
    if (ex == nullptr) return 0;
    if (!ex->closed()) {
      self.open_streams_ = self.open_streams_.load() - 1;
      self.server_.traffic().count_h2_stream(-1);
      if (self.idle()) self.idle_since_ = self.now();
    }
    ex->stream_closed(error_code);
    self.forget_if_done(*ex);
    return 0;
  }
};

void h2_session::session_free::operator()(nghttp2_session* session) const {
  nghttp2_session_del(session);
}
void h2_session::callbacks_free::operator()(nghttp2_session_callbacks* callbacks) const {
  nghttp2_session_callbacks_del(callbacks);
}
void h2_session::option_free::operator()(nghttp2_option* option) const {
  nghttp2_option_del(option);
}

h2_session::h2_session(server& owner, transport& stream, std::string_view received)
    : server_(owner),
      transport_(stream),
      initial_(received),
      writer_wake_(stream.executor(), transport::clock::time_point::max()),
      reader_wake_(stream.executor(), transport::clock::time_point::max()),
      handlers_done_(stream.executor(), transport::clock::time_point::max()),
      idle_since_(stream.now()),
      protocol_(stream.security().version.empty() ? wire_protocol::h2c : wire_protocol::h2),
      write_wait_(owner.options().write_timeout, owner.options().min_send_rate,
                  owner.options().min_rate_grace) {
  header_bomb_limit_ =
      std::max(header_bomb_factor * owner.options().max_header_bytes, min_header_bomb);
  preface_due_ = stream.now() + owner.options().header_timeout;
  arm_deadline(preface_due_);
  nghttp2_session_callbacks* made_callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&made_callbacks) != 0) throw std::bad_alloc();
  const std::unique_ptr<nghttp2_session_callbacks, callbacks_free> callbacks{made_callbacks};
  nghttp2_session_callbacks_set_on_begin_frame_callback(made_callbacks,
                                                        &h2_callbacks::on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(made_callbacks,
                                                          &h2_callbacks::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(made_callbacks, &h2_callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(made_callbacks,
                                                       &h2_callbacks::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(made_callbacks,
                                                            &h2_callbacks::on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_frame_send_callback(made_callbacks,
                                                       &h2_callbacks::on_frame_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(made_callbacks,
                                                         &h2_callbacks::on_stream_close);
  // No on_invalid_header callback: nghttp2 then treats a field with a bad name or value as a
  // stream error (RFC 9113 §8.2.1: such a request is malformed) rather than dropping the field.

  nghttp2_option* made_option = nullptr;
  if (nghttp2_option_new(&made_option) != 0) throw std::bad_alloc();
  const std::unique_ptr<nghttp2_option, option_free> option{made_option};
  // Flow control follows the handlers: a stream's window reopens only for body bytes its handler
  // has taken (h2_exchange::read_body_some), so no stream's body piles up here.
  nghttp2_option_set_no_auto_window_update(made_option, 1);
  nghttp2_option_set_stream_reset_rate_limit(made_option, reset_burst, reset_rate);
  const auto& options = server_.options();
  nghttp2_option_set_max_continuations(
      made_option, std::max(min_continuations, options.max_header_bytes / default_frame_size + 1));

  nghttp2_session* made_session = nullptr;
  if (nghttp2_session_server_new2(&made_session, made_callbacks, this, made_option) != 0)
    throw std::bad_alloc();
  session_.reset(made_session);

  // The server's first frame (RFC 9113 §3.4): our SETTINGS, before anything is received.
  const std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.h2_max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX))},
  }};
  if (nghttp2_submit_settings(made_session, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) !=
          0 ||
      nghttp2_session_set_local_window_size(made_session, NGHTTP2_FLAG_NONE, 0,
                                            connection_window) != 0)
    throw std::bad_alloc();
}

h2_session::~h2_session() = default;

asio::awaitable<void> h2_session::run() {
  using namespace asio::experimental::awaitable_operators;
  if (upgraded_) start_stream(*upgraded_->first, upgraded_->second);
  co_await (read_loop() && write_loop());
  // Handlers still running refer to the session: each is told, and returns.
  close_now();
  while (handlers_running_ > 0) {
    handlers_done_.expires_at(transport::clock::time_point::max());
    co_await handlers_done_.async_wait(as_result);
  }
}

asio::awaitable<void> h2_session::read_loop() {
  bool fatal = false;
  if (!initial_.empty() && !closed_) {
    fatal = !feed(initial_);
    std::string{}.swap(initial_);
    wake_writer();
  }
  auto& pool = server_.input_buffers();
  bool ended = false;
  while (!closed_ && !ended) {
    co_await wait_for_backlog();
    if (closed_) break;
    // A connection waits for its client's next bytes without a receive buffer, as HTTP/1.1's
    // does: one is borrowed from the pool for as long as bytes keep coming.
    if (!transport_.has_pending_input()) {
      auto [waited] = co_await transport_.wait_readable();
      if (waited || closed_) break;
    }
    auto block = pool.acquire();
    const std::span<char> room{block.get(), pool.block_size()};
    for (std::size_t reads = 0; reads < reads_per_wake && !closed_; ++reads) {
      std::error_code ec;
      std::size_t received = transport_.read_now(room, ec);
      // Nothing yet (stale readiness, or the rest of a TLS record to come): wait again.
      if (ec == asio::error::would_block) break;
      if (!ec && received == 0) {
        // TLS cannot tell without reading the record: read it, holding the buffer meanwhile.
        auto [failure, count] = co_await transport_.read_some(room);
        ec = failure;
        received = count;
      }
      if (received > 0) {
        server_.traffic().count_received(received);
        last_received_at_ = now();
        // After a connection error, or the last GOAWAY with no stream left, what still comes is
        // dropped while the writer sends our last frames and lingers: closing with it unread
        // would reset the connection, and the reset could destroy our GOAWAY before the client
        // reads it.
        if (!fatal && nghttp2_session_want_read(session_.get()) != 0) {
          fatal = !feed({room.data(), received});
          wake_writer();
        }
      }
      if (ec) {
        ended = true;
        break;
      }
      // Answers pile up while our write waits: read no more until it has gone.
      if (backlog_full()) break;
    }
    pool.release(std::move(block));
  }
  reader_done_ = true;
  // The client left (or the transport failed): nobody will read our frames. After a fatal error
  // the writer still sends nghttp2's GOAWAY; after a graceful end it stops lingering.
  if (!fatal && !writer_done_)
    close_now();
  else
    wake_writer();
}

bool h2_session::feed(std::string_view bytes) {
  const auto taken = nghttp2_session_mem_recv(
      session_.get(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  // Not after a connection error in these bytes: nothing may follow its GOAWAY.
  if (nghttp2_session_want_read(session_.get()) != 0)
    for (const auto stream_id : to_refuse_)
      nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream_id,
                                NGHTTP2_REFUSED_STREAM);
  to_refuse_.clear();
  if (taken >= 0) return true;
  // A bad preface, a flood, or no memory. Protocol errors do not come here: nghttp2 answers
  // them with GOAWAY itself and then wants nothing more.
  spdlog::debug("{} server: HTTP/2 connection from {} ended: {}", server_.name(),
                to_string(transport_.peer()), nghttp2_strerror(static_cast<int>(taken)));
  std::uint32_t code = NGHTTP2_PROTOCOL_ERROR;
  if (taken == NGHTTP2_ERR_FLOODED || taken == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || header_bomb_) {
    // RFC 9113 §11.1 names ENHANCE_YOUR_CALM for a peer "exhibiting a behavior that might be
    // generating excessive load".
    code = NGHTTP2_ENHANCE_YOUR_CALM;
    note_flood(header_bomb_                                  ? h2_flood::header_bomb
               : taken == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ? h2_flood::continuation
                                                             : h2_flood::control);
  } else if (taken == NGHTTP2_ERR_NOMEM) {
    code = NGHTTP2_INTERNAL_ERROR;
  }
  goaway_submitted_ = true;
  connection_error_ = true;
  nghttp2_session_terminate_session(session_.get(), code);
  return false;
}

asio::awaitable<void> h2_session::write_loop() {
  auto* session = session_.get();
  while (!closed_) {
    output_.clear();
    while (output_.size() < write_gather) {
      const std::uint8_t* data = nullptr;
      const auto produced = nghttp2_session_mem_send(session, &data);
      if (produced < 0) {
        spdlog::debug("{} server: HTTP/2 connection from {} failed: {}", server_.name(),
                      to_string(transport_.peer()), nghttp2_strerror(static_cast<int>(produced)));
        close_now();
        break;
      }
      if (produced == 0) break;
      output_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(produced));
    }
    if (closed_) break;
    if (output_.empty()) {
      // Both ends are done: GOAWAY sent or received and no stream left, or a connection error.
      if (nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0)
        break;
      if (reader_done_ || connection_error_) break;
      const auto goaway_at = next_goaway_at();
      if (now() >= goaway_at) {
        send_final_goaway();
        continue;
      }
      // A connection with no stream open keeps no output buffer while it waits.
      if (idle()) std::string{}.swap(output_);
      writer_wake_.expires_at(goaway_at);
      co_await writer_wake_.async_wait(as_result);
      continue;
    }
    std::size_t sent = 0;
    writing_ = true;
    // The client owes us room until the kernel has taken it all: every part taken restarts the
    // pause, and what the client acknowledges meanwhile is its pace (enforce_deadline).
    delivered_seen_ = delivered_bytes();
    write_wait_.begin(now());
    arm_deadline(write_wait_.deadline());
    while (sent < output_.size()) {
      const std::array<asio::const_buffer, 1> rest{
          asio::const_buffer(output_.data() + sent, output_.size() - sent)};
      auto [ec, written] = co_await transport_.write_some(rest);
      sent += written;
      handed_to_kernel_ += written;
      server_.traffic().count_sent(written);
      const auto delivered = delivered_bytes();
      write_wait_.progress(now(), delivered - std::min(delivered, delivered_seen_));
      delivered_seen_ = delivered;
      if (ec) {
        close_now();
        break;
      }
    }
    write_wait_.end(now());
    writing_ = false;
    reader_wake_.cancel();
  }
  writer_done_ = true;
  if (closed_) co_return;
  // A graceful end: close_notify and FIN, then a moment for the client to read our last frames.
  co_await transport_.shutdown_send();
  const auto linger_began = now();
  const auto give_up_at = linger_began + max_linger;
  while (!reader_done_ && !closed_) {
    const auto until =
        std::min(std::max(linger_began, last_received_at_) + linger_time, give_up_at);
    if (now() >= until) break;
    writer_wake_.expires_at(until);
    co_await writer_wake_.async_wait(as_result);
  }
  closed_ = true;
  transport_.cancel(cut_reason::closing);
}

transport::clock::time_point h2_session::next_goaway_at() const {
  if (final_goaway_sent_) return transport::clock::time_point::max();
  auto at = draining_ ? final_goaway_due_ : transport::clock::time_point::max();
  // A connection with no stream open for the idle timeout is closed with GOAWAY (RFC 9113 §6.8:
  // "a server might send GOAWAY after a period of inactivity"), as Go and nginx do.
  if (idle()) at = std::min(at, idle_since_ + server_.options().idle_timeout);
  return at;
}

std::uint32_t h2_session::initial_stream_window() {
  return stream_window;
}

std::uint32_t h2_session::widen_stream_window(std::int32_t stream_id, std::uint32_t window) {
  const auto wider = std::min(window * 2, max_stream_window);
  // nghttp2 sends the WINDOW_UPDATE for the difference.
  if (wider <= window ||
      nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, stream_id,
                                            static_cast<std::int32_t>(wider)) != 0)
    return window;
  wake_writer();
  return wider;
}

void h2_session::remember_skipped(std::int32_t first, std::int32_t last) {
  // A client skips no id unless it means to: the oldest ranges are forgotten (their HEADERS
  // then ignored, as nghttp2 would) rather than kept without bound.
  if (skipped_ids_.size() == max_skipped_ranges) skipped_ids_.erase(skipped_ids_.begin());
  skipped_ids_.emplace_back(first, last);
}

bool h2_session::was_skipped(std::int32_t stream_id) const {
  return std::any_of(skipped_ids_.begin(), skipped_ids_.end(), [stream_id](const auto& range) {
    return stream_id >= range.first && stream_id <= range.second;
  });
}

void h2_session::wake_writer() {
  writer_wake_.cancel();
}

void h2_session::begin_drain() {
  // A connection lingering after its last GOAWAY and FIN is closing already: nothing to say.
  if (draining_ || closed_ || writer_done_) return;
  draining_ = true;
  if (idle()) server_.count_idle_closed();
  // RFC 9113 §6.8: a GOAWAY with the largest stream id first, so that streams the client is
  // opening meanwhile are not refused, then after a round trip (a PING's answer) the final one
  // with the last stream that will be served. Open streams finish; the connection closes when
  // none is left.
  goaway_submitted_ = true;
  nghttp2_submit_shutdown_notice(session_.get());
  nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr);
  final_goaway_due_ = now() + goaway_round_trip_limit;
  wake_writer();
}

void h2_session::count_goaway(std::uint32_t error_code) {
  server_.traffic().count_h2_goaway(error_code);
  // nghttp2 ends a connection over its reset rate limit (CVE-2023-44487) with a GOAWAY of
  // INTERNAL_ERROR of its own; every GOAWAY of ours is submitted with goaway_submitted_ set.
  if (error_code == NGHTTP2_INTERNAL_ERROR && !goaway_submitted_) note_flood(h2_flood::rapid_reset);
}

void h2_session::note_flood(h2_flood flood) {
  server_.traffic().count_h2_flood(flood);
  // An operator sees an attack in the log too, once per connection it ends.
  constexpr std::array<std::string_view, h2_flood_count> what{
      "streams opened and reset too fast (Rapid Reset)", "too many CONTINUATION frames",
      "a flood of frames whose answers pile up",
      "a header block decoding to far more than the "
      "header limit (HPACK bomb)"};
  spdlog::info("{} server: HTTP/2 connection from {} ended for a flood: {}", server_.name(),
               to_string(transport_.peer()), what[static_cast<std::size_t>(flood)]);
}

void h2_session::send_final_goaway() {
  if (final_goaway_sent_ || closed_) return;
  final_goaway_sent_ = true;
  goaway_submitted_ = true;
  last_stream_served_ = nghttp2_session_get_last_proc_stream_id(session_.get());
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last_stream_served_, NGHTTP2_NO_ERROR,
                        nullptr, 0);
  wake_writer();
}

void h2_session::force_close() {
  std::uint64_t open = 0;
  for (const auto& [id, ex] : streams_)
    if (!ex->closed()) ++open;
  if (!closed_ && open > 0) server_.count_streams_cut(open);
  cut(NGHTTP2_NO_ERROR, {});
}

void h2_session::cut(std::uint32_t error_code, std::string_view why) {
  if (!why.empty())
    spdlog::debug("{} server: HTTP/2 connection from {} cut: {}", server_.name(),
                  to_string(transport_.peer()), why);
  // Once the writer has ended (gracefully: FIN sent, lingering) nothing more may be written.
  if (!closed_ && !writing_ && !writer_done_) {
    // The streams still open are cancelled (RFC 9113 §8.7: CANCEL, "the stream is no longer
    // needed"), so that their clients know them cut rather than complete, and the final GOAWAY
    // says which were served, and why (its debug data). Best effort, without waiting: the
    // connection closes now.
    for (const auto& [id, ex] : streams_)
      if (!ex->closed())
        nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    if (!final_goaway_sent_) {
      final_goaway_sent_ = true;
      goaway_submitted_ = true;
      last_stream_served_ = nghttp2_session_get_last_proc_stream_id(session_.get());
      nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last_stream_served_, error_code,
                            reinterpret_cast<const std::uint8_t*>(why.data()), why.size());
    }
    std::error_code ignored;
    for (;;) {
      const std::uint8_t* data = nullptr;
      const auto produced = nghttp2_session_mem_send(session_.get(), &data);
      if (produced <= 0) break;
      const std::array<asio::const_buffer, 1> frames{
          asio::const_buffer(data, static_cast<std::size_t>(produced))};
      const auto written = transport_.write_now(frames, ignored);
      handed_to_kernel_ += written;
      server_.traffic().count_sent(written);
      if (written < static_cast<std::size_t>(produced)) break;
    }
  }
  close_now();
}

void h2_session::close_now() {
  if (!closed_) {
    closed_ = true;
    transport_.cancel(cut_reason::closing);
  }
  open_streams_ = 0;
  next_check_ = transport::clock::time_point::max();
  for (auto& [id, ex] : streams_) {
    if (!ex->closed()) server_.traffic().count_h2_stream(-1);
    ex->abandon();
  }
  wake_writer();
  reader_wake_.cancel();
}

void h2_session::enforce_deadline(transport::clock::time_point now) {
  if (closed_) return;
  // Go waits 2 s for it (firstSettingsTimeout); a partial preface has HTTP/1.1's header timeout.
  if (now >= preface_due_)
    return cut(NGHTTP2_NO_ERROR, "header timeout: the client's preface did not end with SETTINGS");
  auto next = preface_due_;
  if (writing_) {
    // Linux reports a socket writable only once much of its send buffer has drained: bytes the
    // client acknowledges while the write waits are progress too (as for HTTP/1.1).
    const auto delivered = delivered_bytes();
    if (delivered > delivered_seen_) {
      write_wait_.progress(now, delivered - delivered_seen_);
      delivered_seen_ = delivered;
    }
    if (now >= write_wait_.deadline()) {
      if (write_wait_.too_slow(now)) server_.traffic().count_too_slow(transfer_direction::send);
      // Nothing more can be written: the socket is full.
      return cut(NGHTTP2_NO_ERROR, "the client stopped reading (write timeout)");
    }
    next = std::min(next, write_wait_.deadline());
  }
  for (const auto& [id, ex] : streams_) {
    switch (ex->overdue_at(now)) {
      case h2_exchange::overdue::nothing:
        break;
      case h2_exchange::overdue::head:
        // RFC 9113 §6.10: until the header section ends, no other frame may come.
        return cut(NGHTTP2_NO_ERROR, "header timeout: a header section was left incomplete");
      case h2_exchange::overdue::body:
        if (ex->cut_body_wait(now)) server_.traffic().count_too_slow(transfer_direction::receive);
        break;
      case h2_exchange::overdue::unread_body:
        ex->stop_unread_body();
        break;
      case h2_exchange::overdue::window:
        // While our write waits, the socket is the client's to drain first (above); the stream
        // is looked at again at the next sweep.
        if (writing_) {
          next = std::min(next, now);
          continue;
        }
        if (nghttp2_session_get_remote_window_size(session_.get()) <= 0) {
          // The connection's window is shut: every stream is held, the connection is cut.
          if (ex->cut_window_wait(now)) server_.traffic().count_too_slow(transfer_direction::send);
          return cut(NGHTTP2_NO_ERROR, "the client kept the connection's window shut");
        }
        if (ex->cut_window_wait(now)) server_.traffic().count_too_slow(transfer_direction::send);
        break;
    }
    next = std::min(next, ex->deadline());
  }
  next_check_ = next;
  wake_writer();
}

std::uint64_t h2_session::delivered_bytes() const {
  const std::uint64_t unacknowledged = transport_.unacknowledged_bytes();
  return handed_to_kernel_ - std::min(handed_to_kernel_, unacknowledged);
}

bool h2_session::backlog_full() const {
  return writing_ && nghttp2_session_get_outbound_queue_size(session_.get()) > max_output_backlog;
}

asio::awaitable<void> h2_session::wait_for_backlog() {
  // CVE-2019-9517: a client that sends requests, PINGs or SETTINGS but does not read makes the
  // server queue answers without end; this bounds the queue, and the write timeout ends it.
  while (!closed_ && backlog_full()) {
    reader_wake_.expires_at(transport::clock::time_point::max());
    co_await reader_wake_.async_wait(as_result);
  }
}

h2_exchange* h2_session::find(std::int32_t stream_id) {
  const auto found = streams_.find(stream_id);
  return found == streams_.end() ? nullptr : found->second.get();
}

void h2_session::start_stream(h2_exchange& ex, h2_exchange::head_verdict verdict) {
  switch (verdict) {
    case h2_exchange::head_verdict::serve:
      spawn_handler(ex);
      break;
    case h2_exchange::head_verdict::malformed:
      // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
      nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, ex.stream_id(),
                                NGHTTP2_PROTOCOL_ERROR);
      break;
    case h2_exchange::head_verdict::too_large:
      send_error(ex, 431, "request header fields too large");
      break;
    case h2_exchange::head_verdict::not_supported:
      send_error(ex, 501, "CONNECT is not supported: no server here tunnels");
      break;
  }
}

bool h2_session::accept_upgrade(const http::request& request, std::string_view settings) {
  // RFC 7540 §3.2: the request that asked for the upgrade becomes stream 1, half-closed on the
  // client's side (it has no body); its response comes in HTTP/2. nghttp2 takes the client's
  // settings from HTTP2-Settings and refuses those that are invalid.
  if (nghttp2_session_upgrade2(session_.get(),
                               reinterpret_cast<const std::uint8_t*>(settings.data()),
                               settings.size(), request.is_head() ? 1 : 0, nullptr) != 0)
    return false;
  constexpr std::int32_t upgraded_stream = 1;
  highest_stream_seen_ = upgraded_stream;
  auto& ex =
      *streams_.emplace(upgraded_stream, std::make_unique<h2_exchange>(*this, upgraded_stream))
           .first->second;
  open_streams_ = open_streams_.load() + 1;
  server_.traffic().count_h2_stream(+1);
  // The HTTP/1.1 head as an HTTP/2 header list (RFC 9113 §8.3.1): Host becomes :authority, and
  // the fields that only concern the HTTP/1.1 connection are left behind (§8.2.2).
  ex.add_field(":method", request.method);
  ex.add_field(":scheme", "http");
  ex.add_field(":path", request.target);
  if (const auto host = request.header("Host")) ex.add_field(":authority", *host);
  std::string name;
  for (const auto& field : request.headers) {
    name.assign(field.name);
    std::transform(name.begin(), name.end(), name.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    if (name == "host" || name == "connection" || name == "upgrade" || name == "http2-settings" ||
        name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
        name == "te")
      continue;
    ex.add_field(name, field.value);
  }
  upgraded_ = {&ex, ex.complete_head(true)};
  return true;
}

void h2_session::spawn_handler(h2_exchange& ex) {
  ex.set_handler_running(true);
  ++handlers_running_;
  asio::co_spawn(executor(), serve_stream(ex), [this, &ex](std::exception_ptr failure) {
    // serve_stream keeps the handler's own exceptions; anything else (no memory) ends this
    // stream only, as connection_ended does for a connection.
    if (failure) {
      try {
        spdlog::error("{} server: an HTTP/2 stream failed: {}", server_.name(),
                      describe_exception(failure));
      } catch (...) {
      }
      ex.reset(NGHTTP2_INTERNAL_ERROR);
    }
    handler_returned(ex);
  });
}

asio::awaitable<void> h2_session::serve_stream(h2_exchange& ex) {
  // A handler's exception fails its stream, not the connection.
  const std::exception_ptr fault = co_await run_handler(server_.answer(), ex);
  if (fault) {
    // A 500 while its head has not been submitted; once it has, only a reset can tell.
    const bool answered = ex.withdraw_response();
    if (answered) {
      send_error(ex, exchange::handler_fault.status, exchange::handler_fault.reason);
    } else {
      ex.reset(NGHTTP2_INTERNAL_ERROR);
      log_cut_short(ex);
    }
    server_.handler_failed(ex.request(), transport_.peer(), fault, answered);
    co_return;
  }
  if (!ex.responded()) {
    const auto error = exchange::answer_for(ex.failure_kind());
    if (ex.head_submitted()) {
      // RFC 9113 §8.1: a response cut short is reset, so the client cannot take it as complete:
      // CANCEL when the client failed it (a body too slow, gone), INTERNAL_ERROR when we did.
      const auto why = ex.failure_kind();
      const bool client_failed =
          why == exchange::failure::body_timeout || why == exchange::failure::body_too_slow ||
          why == exchange::failure::disconnected || why == exchange::failure::write_failed;
      ex.reset(client_failed ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
      log_cut_short(ex);
    } else if (error) {
      send_error(ex, error->status, error->reason);
    } else {
      ex.reset(NGHTTP2_CANCEL);
    }
    co_return;
  }
  ex.submit_head();
  server_.count_request();
  server_.traffic().count_response(ex.status(), protocol_);
  server_.traffic().observe_duration(now() - ex.started());
  if (server_.options().access_log)
    log_request(ex, ex.status(), ex.body_bytes_sent(), ex.failed() ? "aborted" : "");
}

void h2_session::handler_returned(h2_exchange& ex) {
  ex.set_handler_running(false);
  ex.drop_body();
  if (ex.leaves_body_unread()) end_unread_body(ex);
  --handlers_running_;
  forget_if_done(ex);
  if (handlers_running_ == 0) handlers_done_.cancel();
}

void h2_session::end_unread_body(h2_exchange& ex) {
  // RFC 9113 §8.1: with the response complete, a request body nobody will read may be stopped
  // with RST_STREAM(NO_ERROR), as Go's server does. Not at once, unless the client has no window
  // left or failed the body already: a body about to end (a short one, trailers) ends as it
  // should, and its frames are judged as the protocol wants (a malformed one is an error, not a
  // frame on a stream we reset, which must be ignored, §5.1).
  if (ex.failed() ||
      nghttp2_session_get_stream_local_window_size(session_.get(), ex.stream_id()) <= 0)
    return ex.stop_unread_body();
  ex.await_unread_body(now() + unread_body_grace);
}

void h2_session::forget_if_done(h2_exchange& ex) {
  if (ex.closed() && !ex.handler_running()) streams_.erase(ex.stream_id());
}

void h2_session::send_error(h2_exchange& ex, int status, std::string_view reason) {
  ex.answer_error(status, reason);
  server_.traffic().count_response(status, protocol_);
  if (server_.options().access_log)
    log_request(ex, status, ex.body_bytes_sent(), reason);
  else
    spdlog::debug("{} server: {} to {} (HTTP/2 stream {}): {}", server_.name(), status,
                  to_string(transport_.peer()), ex.stream_id(), reason);
}

void h2_session::log_cut_short(const h2_exchange& ex) {
  server_.traffic().count_response(ex.status(), protocol_);
  log_request(ex, ex.status(), ex.body_bytes_sent(), "aborted");
}

void h2_session::log_request(const h2_exchange& ex, int status, std::uint64_t body_bytes,
                             std::string_view note) const {
  server_.log_request(transport_, ex.request(), protocol_name(protocol_), status, body_bytes,
                      transport_.now() - ex.started(), note);
}

}  // namespace triserve::server
