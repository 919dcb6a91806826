#pragma once

#include <cstddef>
#include <string>

#include "triserve/http/date.hpp"
#include "triserve/http/request.hpp"
#include "triserve/http/request_parser.hpp"
#include "triserve/server/server_options.hpp"
#include "triserve/server/spare_pool.hpp"
#include "triserve/server/transfer_pace.hpp"

namespace triserve::server {

/// What a connection needs only while it handles requests. Borrowed from a pool when a request
/// begins to arrive and given back when the connection falls idle, with the capacities a usual
/// request needs intact: an idle connection holds none of it, and a busy one allocates nothing.
struct request_workspace {
  // The most a workspace keeps when it goes back to the pool; what grew past it is freed. The
  // pool's spares are any workspaces, so without a cap they would all end up as large as the
  // largest request each ever served (a 64 KiB head of two-letter fields grows the header vector
  // to 512 KiB), and stay so: hostile bursts made an idle daemon's memory creep up for good.
  /// Header fields: browsers send about twenty; a head of thousands is abuse or a test.
  static constexpr std::size_t usual_header_fields = 64;
  /// Queued responses: sixteen pipelined hellos take 2 KiB.
  static constexpr std::size_t usual_output_bytes = 8 * 1024;
  /// A handler's working text: a name in a greeting.
  static constexpr std::size_t usual_scratch_bytes = 1024;

  explicit request_workspace(const server_options& options)
      : parser(http::parser_limits{options.max_request_line, options.max_header_bytes,
                                   options.max_header_fields}),
        receive_pace(options.min_receive_rate, options.min_rate_grace),
        send_pace(options.min_send_rate, options.min_rate_grace) {}

  /// Empties everything, keeping the memory a usual request needs and freeing what grew past it.
  void clear() {
    parser.reset();
    request.clear();
    output.clear();
    scratch.clear();
    // The next connection to borrow this workspace starts with full buckets.
    receive_pace.restart();
    send_pace.restart();
    free_if_grown(request.headers, usual_header_fields);
    free_if_grown(output, usual_output_bytes);
    free_if_grown(scratch, usual_scratch_bytes);
  }

  http::request_parser parser;
  http::request request;  ///< views into the connection's input buffer
  std::string output;     ///< responses queued for the next write
  std::string scratch;    ///< a handler's working text (hello-name's decoded name)
  /// One per workspace rather than one per process: threads never share it, and a workspace is
  /// reused across many requests, so it still formats about once a second.
  http::date_cache dates;
  /// How fast the request body in progress arrives, against the minimum receive rate.
  transfer_pace receive_pace;
  /// How fast the client reads the response in progress, against the minimum send rate.
  transfer_pace send_pace;
  // The write waiting on the client, if any: since when and from how much of our output the
  // client had acknowledged its pace is still to be accounted, when it is cut unless the client
  // acknowledges more, and whether the sweep cut it for its pace.
  transfer_pace::clock::time_point write_wait_began{};
  std::uint64_t delivered_at_write_wait = 0;
  transfer_pace::clock::time_point write_pause_deadline{};
  bool send_too_slow = false;

 private:
  /// Frees an emptied container's storage when its capacity grew past `usual` elements.
  template <typename Container>
  static void free_if_grown(Container& emptied, std::size_t usual) {
    if (emptied.capacity() > usual) Container{}.swap(emptied);
  }
};

using workspace_pool = spare_pool<request_workspace>;

}  // namespace triserve::server
