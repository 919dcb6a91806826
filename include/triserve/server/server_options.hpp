#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace triserve::server {

/// Limits and timeouts a server applies to each connection. The defaults are the product's.
struct server_options {
  /// Request line bytes before 414; long URLs beyond this are almost always abuse.
  std::size_t max_request_line = 8 * 1024;
  /// Head bytes before 431. Go allows 1 MB; 64 KiB is nginx's order of magnitude and plenty.
  std::size_t max_header_bytes = 64 * 1024;
  /// Header fields before 431. Browsers send about twenty; Apache's LimitRequestFields is 100.
  /// Each parsed field takes 32 bytes however short it is, so without a count a 64 KiB head of
  /// tiny fields would cost 512 KiB per request in flight.
  std::size_t max_header_fields = 100;
  /// From the first byte of a request to the end of its head, then 408. Go has no default,
  /// which invites slowloris.
  std::chrono::milliseconds header_timeout{10000};
  /// How long a keep-alive connection may wait for its next request. nginx uses 75 s, Go 3 min.
  std::chrono::milliseconds idle_timeout{60000};
  /// Longest pause while reading a request body.
  std::chrono::milliseconds body_read_timeout{30000};
  /// Longest pause while the client does not drain what we write.
  std::chrono::milliseconds write_timeout{30000};
  /// Slowest pace a request body may arrive at, in bytes per second, once the grace period of
  /// waiting for it is over; slower is cut (408). 0: no minimum. Kestrel's MinRequestBodyDataRate
  /// (240 bytes/s after 5 s); Go and nginx only time each read out, which a client sending a byte
  /// just before every timeout defeats.
  std::uint64_t min_receive_rate = 240;
  /// Slowest pace a client may read a response at, in bytes per second, once the grace period of
  /// waiting for it is over; slower is cut. 0: no minimum. Kestrel's MinResponseDataRate: 240
  /// bytes/s after 5 s. Without it a client reading a byte every 29 s holds a response and its
  /// buffers as long as it likes.
  std::uint64_t min_send_rate = 240;
  /// How far behind the minimum rates a transfer may fall, in time spent waiting on its client:
  /// its first round trips, a pause. Kestrel's grace period, 5 s.
  std::chrono::milliseconds min_rate_grace{5000};
  /// Unread request body we discard to keep the connection; beyond this we close instead.
  /// Go's server uses the same 256 KiB.
  std::size_t max_discard_bytes = 256 * 1024;
  /// Serve HTTP/2 as well as HTTP/1.1: by the h2c preface on cleartext listeners and by ALPN
  /// (`h2`) on TLS ones. Go's net/http and nginx (`http2 on`) both do.
  bool http2 = true;
  /// Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
  /// RFC 9113 §6.5.2 recommends no fewer than 100; nginx and nghttpx use 128, Go 250.
  std::uint32_t h2_max_streams = 128;
  /// Log one line per request.
  bool access_log = false;
  /// Logs are JSON lines: access-log lines go to the access logger as members (access_log.hpp).
  bool log_json = false;
};

}  // namespace triserve::server
