#include "triserve/app/service_environment.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using triserve::app::assign_passed_sockets;
using triserve::app::passed_socket;

TEST_CASE("passed sockets are matched by name, in any order", "[service]") {
  const auto assigned =
      assign_passed_sockets({{3, "echo"}, {4, "admin"}, {5, "hello"}, {6, "hello-name"}});
  CHECK(assigned.at("hello") == 5);
  CHECK(assigned.at("hello-name") == 6);
  CHECK(assigned.at("echo") == 3);
  CHECK(assigned.at("admin") == 4);
  CHECK(assigned.size() == 4);
}

TEST_CASE("passed sockets without our names are matched by order", "[service]") {
  for (const std::string name : {"", "unknown", "triserve.socket"}) {
    INFO("name \"" << name << "\"");
    const auto assigned = assign_passed_sockets({{3, name}, {4, name}, {5, name}});
    CHECK(assigned.at("hello") == 3);
    CHECK(assigned.at("hello-name") == 4);
    CHECK(assigned.at("echo") == 5);
    CHECK_FALSE(assigned.contains("admin"));
  }
}

TEST_CASE("nothing passed: nothing assigned", "[service]") {
  CHECK(assign_passed_sockets({}).empty());
}

TEST_CASE("a missing, extra, duplicate or unknown passed socket is refused", "[service]") {
  struct row {
    std::vector<passed_socket> sockets;
    std::string message;
  };
  const row rows[] = {
      {{{3, ""}, {4, ""}}, "2 socket(s) passed without our names; expected 3"},
      {{{3, ""}, {4, ""}, {5, ""}, {6, ""}}, "4 socket(s) passed without our names"},
      {{{3, "hello"}, {4, "echo"}}, "no socket named \"hello-name\""},
      {{{3, "hello"}, {4, "hello-name"}, {5, "echo"}, {6, ""}},
       "the socket named \"\" (file descriptor 6) is for no server"},
      {{{3, "hello"}, {4, "hello"}, {5, "echo"}, {6, "hello-name"}},
       "two sockets are named \"hello\""},
      {{{3, "admin"}, {4, "hello"}, {5, "echo"}}, "no socket named \"hello-name\""},
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
