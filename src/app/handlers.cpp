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
  ex.begin_response(200, ex.body_length());
  for (;;) {
    const std::string_view piece = co_await ex.read_body_some();
    if (piece.empty()) break;
    co_await ex.write_body(piece);
  }
  ex.finish();
}

}  // namespace triserve::app
