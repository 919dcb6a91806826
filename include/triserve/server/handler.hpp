#pragma once

#include <exception>
#include <functional>

#include <asio/awaitable.hpp>

namespace triserve::server {

class exchange;

/// Answers one request: reads its body if it wants to and writes exactly one response.
using handler = std::function<asio::awaitable<void>(exchange&)>;

/// Runs `answer` on `ex` and returns what it threw, null when it returned: a handler's exception
/// fails its own request, not the server, as Go's net/http recovers a handler's panic.
asio::awaitable<std::exception_ptr> run_handler(const handler& answer, exchange& ex);

}  // namespace triserve::server
