// triserve with faults a test can trip: the product's handlers, each wrapped so that a request
// carrying `X-Test-Fault` fails the way the header names. Built for the integration tests
// (handler_fault_test.cpp) and never installed: no production flag or header can trip these.

#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <asio/awaitable.hpp>

#include "triserve/app/daemon.hpp"
#include "triserve/http/request.hpp"
#include "triserve/server/exchange.hpp"

namespace {

using triserve::server::exchange;
using triserve::server::handler;

/// `product`, except for a request with `X-Test-Fault`: `before-response` throws before anything
/// is queued; `after-queued` queues a complete response, then throws (nothing of it has left
/// yet); `after-body` does the same after reading the whole body (and so after any `100
/// Continue`); `mid-body` streams the first piece of the request body back, then throws (part of
/// the response has left). Any other value is answered by `product`.
handler with_faults(handler product) {
  return [product = std::move(product)](exchange& ex) -> asio::awaitable<void> {
    const std::optional<std::string_view> fault = ex.request().header("X-Test-Fault");
    if (fault == "before-response") throw std::bad_alloc();
    // All of the body first: reading it sends the `100 Continue` a client may be waiting for.
    if (fault == "after-body")
      while (!(co_await ex.read_body_some()).empty()) continue;
    if (fault == "after-queued" || fault == "after-body") {
      ex.respond(200, {"this response must never leave\n"});
      throw std::bad_alloc();
    }
    if (fault == "mid-body") {
      ex.begin_response(200, ex.body_length());
      co_await ex.write_body(co_await ex.read_body_some());
      throw std::bad_alloc();
    }
    co_await product(ex);
  };
}

/// `admin`, except that `/metrics` with `X-Test-Fault` fails as a rendering of the metrics could.
handler with_metrics_fault(handler admin) {
  return [admin = std::move(admin)](exchange& ex) -> asio::awaitable<void> {
    if (ex.request().path == "/metrics" && ex.request().header("X-Test-Fault"))
      throw std::runtime_error("rendering the metrics failed (test fault)");
    co_await admin(ex);
  };
}

}  // namespace

int main(int argc, char** argv) {
  triserve::app::product_handlers handlers;
  handlers.hello = with_faults(std::move(handlers.hello));
  handlers.hello_name = with_faults(std::move(handlers.hello_name));
  handlers.echo = with_faults(std::move(handlers.echo));
  handlers.admin = [make = std::move(handlers.admin)](const auto& group) {
    return with_metrics_fault(make(group));
  };
  return triserve::app::run_daemon(argc, argv, handlers);
}
