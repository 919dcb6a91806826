#include "triserve/server/request_workspace.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using triserve::server::request_workspace;

/// A workspace that served a request of `fields` header fields, an `output_bytes` response and
/// a `scratch_bytes` name.
request_workspace used_workspace(std::size_t fields, std::size_t output_bytes,
                                 std::size_t scratch_bytes) {
  request_workspace work{{}};
  work.request.headers.resize(fields);
  work.output.assign(output_bytes, 'o');
  work.scratch.assign(scratch_bytes, 's');
  return work;
}

}  // namespace

TEST_CASE("clear keeps what a usual request grew: the next one allocates nothing",
          "[request_workspace]") {
  auto work = used_workspace(20, 2048, 64);
  const auto* headers = work.request.headers.data();
  const auto* output = work.output.data();
  const auto* scratch = work.scratch.data();
  work.clear();
  CHECK(work.request.headers.empty());
  CHECK(work.output.empty());
  CHECK(work.scratch.empty());
  CHECK(work.request.headers.capacity() >= 20);
  CHECK(work.output.capacity() >= 2048);
  CHECK(work.scratch.capacity() >= 64);
  work.request.headers.resize(20);
  work.output.assign(2048, 'o');
  work.scratch.assign(64, 's');
  CHECK(work.request.headers.data() == headers);
  CHECK(work.output.data() == output);
  CHECK(work.scratch.data() == scratch);
}

TEST_CASE("clear frees what a large request grew, so that spares do not keep it",
          "[request_workspace]") {
  // A 64 KiB head of two-letter fields, a response to an 8 KiB name, the name itself.
  auto work = used_workspace(10000, 16 * 1024, 8 * 1024);
  work.clear();
  CHECK(work.request.headers.capacity() <= request_workspace::usual_header_fields);
  CHECK(work.output.capacity() <= request_workspace::usual_output_bytes);
  CHECK(work.scratch.capacity() <= request_workspace::usual_scratch_bytes);
}

TEST_CASE("the usual capacities themselves are kept", "[request_workspace]") {
  auto work =
      used_workspace(request_workspace::usual_header_fields, request_workspace::usual_output_bytes,
                     request_workspace::usual_scratch_bytes);
  work.request.headers.shrink_to_fit();
  work.output.shrink_to_fit();
  work.scratch.shrink_to_fit();
  work.clear();
  CHECK(work.request.headers.capacity() == request_workspace::usual_header_fields);
  CHECK(work.output.capacity() == request_workspace::usual_output_bytes);
  CHECK(work.scratch.capacity() == request_workspace::usual_scratch_bytes);
}
