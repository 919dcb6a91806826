#pragma once

#include <string>

#include "triserve/http/date.hpp"
#include "triserve/http/request.hpp"
#include "triserve/http/request_parser.hpp"
#include "triserve/server/spare_pool.hpp"

namespace triserve::server {

/// What a connection needs only while it handles requests. Borrowed from a pool when a request
/// begins to arrive and given back when the connection falls idle, with its capacities intact:
/// an idle connection holds none of it, and a busy one allocates nothing.
struct request_workspace {
  explicit request_workspace(http::parser_limits limits) : parser(limits) {}

  /// Empties everything, keeping the memory.
  void clear() {
    parser.reset();
    request.clear();
    output.clear();
    scratch.clear();
  }

  http::request_parser parser;
  http::request request;  ///< views into the connection's input buffer
  std::string output;     ///< responses queued for the next write
  std::string scratch;    ///< a handler's working text (hello-name's decoded name)
  /// One per workspace rather than one per process: threads never share it, and a workspace is
  /// reused across many requests, so it still formats about once a second.
  http::date_cache dates;
};

using workspace_pool = spare_pool<request_workspace>;

}  // namespace triserve::server
