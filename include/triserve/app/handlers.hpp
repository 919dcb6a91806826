#pragma once

#include <asio/awaitable.hpp>

namespace triserve::server {
class exchange;
}

namespace triserve::app {

/// hello: every request gets `200 Hello, world!`.
asio::awaitable<void> hello(server::exchange& ex);

/// hello-name: `200 Hello, <name>!` with the first `name` query parameter, decoded as Go does.
asio::awaitable<void> hello_name(server::exchange& ex);

/// echo: `200` with the request body streamed straight back, at the pace the client reads.
asio::awaitable<void> echo(server::exchange& ex);

}  // namespace triserve::app
