#include "triserve/app/handlers.hpp"

#include "triserve/http/query.hpp"
#include "triserve/server/exchange.hpp"

namespace triserve::app {

asio::awaitable<void> hello(server::exchange& ex) {
  ex.respond(200, {"Hello, world!"});
  co_return;
}

asio::awaitable<void> hello_name(server::exchange& ex) {
  auto& name = ex.scratch();
  http::first_query_value(ex.request().query, "name", name);
  ex.respond(200, {"Hello, ", name, "!"});
  co_return;
}

asio::awaitable<void> echo(server::exchange& ex) {
  const auto& request = ex.request();
  std::optional<std::uint64_t> length;
  if (request.framing == http::body_framing::content_length) length = request.content_length;
  if (request.framing == http::body_framing::none) length = 0;
  ex.begin_response(200, length);
  for (;;) {
    const std::string_view piece = co_await ex.read_body_some();
    if (piece.empty()) break;
    co_await ex.write_body(piece);
  }
  ex.finish();
}

}  // namespace triserve::app
