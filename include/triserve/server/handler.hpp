#pragma once

#include <functional>

#include <asio/awaitable.hpp>

namespace triserve::server {

class exchange;

/// Answers one request: reads its body if it wants to and writes exactly one response.
using handler = std::function<asio::awaitable<void>(exchange&)>;

}  // namespace triserve::server
