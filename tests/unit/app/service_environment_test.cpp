#include "triserve/app/service_environment.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using triserve::app::assign_passed_sockets;
using triserve::app::assigned_socket;
using triserve::app::passed_socket;

namespace {

/// A server's assigned sockets as (fd, tls) pairs, which Catch can print.
std::vector<std::pair<int, bool>> pairs(const std::vector<assigned_socket>& sockets) {
  std::vector<std::pair<int, bool>> result;
  for (const auto& socket : sockets) result.emplace_back(socket.fd, socket.tls);
  return result;
}

}  // namespace

TEST_CASE("passed sockets are matched by name, in any order", "[service]") {
  const auto assigned =
      assign_passed_sockets({{3, "echo"}, {4, "admin"}, {5, "hello"}, {6, "hello-name"}});
  CHECK(pairs(assigned.at("hello")) == std::vector<std::pair<int, bool>>{{5, false}});
  CHECK(pairs(assigned.at("hello-name")) == std::vector<std::pair<int, bool>>{{6, false}});
  CHECK(pairs(assigned.at("echo")) == std::vector<std::pair<int, bool>>{{3, false}});
  CHECK(pairs(assigned.at("admin")) == std::vector<std::pair<int, bool>>{{4, false}});
  CHECK(assigned.size() == 4);
}

TEST_CASE("a passed socket named NAME.tls speaks TLS, and one server may get several",
          "[service]") {
  struct row {
    std::vector<passed_socket> sockets;
    std::vector<std::pair<int, bool>> hello;
    std::vector<std::pair<int, bool>> echo;
    std::vector<std::pair<int, bool>> admin;
  };
  const row rows[] = {
      {{{3, "hello.tls"}, {4, "hello-name"}, {5, "echo"}}, {{3, true}}, {{5, false}}, {}},
      {{{3, "hello"}, {4, "hello.tls"}, {5, "hello-name"}, {6, "echo.tls"}},
       {{3, false}, {4, true}},
       {{6, true}},
       {}},
      {{{3, "hello"}, {4, "hello"}, {5, "hello-name"}, {6, "echo"}, {7, "admin.tls"}},
       {{3, false}, {4, false}},
       {{6, false}},
       {{7, true}}},
      {{{3, "echo.tls"}, {4, "hello.tls"}, {5, "hello-name.tls"}, {6, "echo"}, {7, "hello.tls"}},
       {{4, true}, {7, true}},
       {{3, true}, {6, false}},
       {}},
  };
  for (const auto& r : rows) {
    std::string names;
    for (const auto& socket : r.sockets) names += socket.name + " ";
    INFO("names: " << names);
    const auto assigned = assign_passed_sockets(r.sockets);
    CHECK(pairs(assigned.at("hello")) == r.hello);
    CHECK(pairs(assigned.at("echo")) == r.echo);
    CHECK(assigned.contains("admin") == !r.admin.empty());
    if (!r.admin.empty()) CHECK(pairs(assigned.at("admin")) == r.admin);
  }
}

TEST_CASE("passed sockets without our names are matched by order, all cleartext", "[service]") {
  for (const std::string name : {"", "unknown", "triserve.socket", "tls"}) {
    INFO("name \"" << name << "\"");
    const auto assigned = assign_passed_sockets({{3, name}, {4, name}, {5, name}});
    CHECK(pairs(assigned.at("hello")) == std::vector<std::pair<int, bool>>{{3, false}});
    CHECK(pairs(assigned.at("hello-name")) == std::vector<std::pair<int, bool>>{{4, false}});
    CHECK(pairs(assigned.at("echo")) == std::vector<std::pair<int, bool>>{{5, false}});
    CHECK_FALSE(assigned.contains("admin"));
  }
}

TEST_CASE("nothing passed: nothing assigned", "[service]") {
  CHECK(assign_passed_sockets({}).empty());
}

TEST_CASE("a missing, extra or unknown passed socket is refused", "[service]") {
  struct row {
    std::vector<passed_socket> sockets;
    std::string message;
  };
  const row rows[] = {
      {{{3, ""}, {4, ""}}, "2 socket(s) passed without our names; expected 3"},
      {{{3, ""}, {4, ""}, {5, ""}, {6, ""}}, "4 socket(s) passed without our names"},
      {{{3, "hello"}, {4, "echo"}},
       "no socket named \"hello-name\" or \"hello-name.tls\" was passed"},
      {{{3, "hello.tls"}, {4, "hello-name.tls"}}, "no socket named \"echo\" or \"echo.tls\""},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, ""}},
       "the socket named \"\" (file descriptor 6) is for no server"},
      {{{3, "admin"}, {4, "hello"}, {5, "echo"}}, "no socket named \"hello-name\""},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, "hello.TLS"}},
       "the socket named \"hello.TLS\" (file descriptor 6) is for no server: expected hello, "
       "hello-name, echo or admin, each optionally ending .tls"},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, "hello.tls.tls"}},
       "the socket named \"hello.tls.tls\" (file descriptor 6) is for no server"},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, ".tls"}},
       "the socket named \".tls\" (file descriptor 6) is for no server"},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, "tls://hello"}},
       "the socket named \"tls://hello\" (file descriptor 6) is for no server"},
  };
  for (const auto& r : rows) {
    INFO(r.message);
    try {
      assign_passed_sockets(r.sockets);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains(r.message));
    }
  }
}
