#include "triserve/server/input_buffer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

namespace {

using triserve::server::buffer_pool;
using triserve::server::input_buffer;

/// Copies `bytes` into the buffer the way a socket read would.
void receive(input_buffer& buffer, std::string_view bytes, std::size_t limit = 1 << 20) {
  auto room = buffer.prepare(bytes.size(), limit);
  REQUIRE(room.size() >= bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

}  // namespace

TEST_CASE("received bytes are consumed from the front", "[input_buffer]") {
  buffer_pool pool{64, 4};
  input_buffer buffer{pool};
  CHECK(buffer.empty());
  receive(buffer, "GET / HTTP/1.1\r\n");
  CHECK(buffer.data() == "GET / HTTP/1.1\r\n");
  buffer.consume(4);
  CHECK(buffer.data() == "/ HTTP/1.1\r\n");
  buffer.consume(100);
  CHECK(buffer.empty());
}

TEST_CASE("the buffer grows up to its limit and no further", "[input_buffer]") {
  buffer_pool pool{16, 4};
  input_buffer buffer{pool};
  for (int reads = 0; reads < 10; ++reads) {
    auto room = buffer.prepare(8, 40);
    if (room.empty()) break;
    receive(buffer, std::string(room.size(), 'a'), 40);
  }
  CHECK(buffer.capacity() == 40);
  CHECK(buffer.size() == 40);
  CHECK(buffer.prepare(8, 40).empty());
}

TEST_CASE("compaction keeps a pinned head where it is", "[input_buffer]") {
  buffer_pool pool{32, 4};
  input_buffer buffer{pool};
  receive(buffer, "HEAD:body-bytes-that-fill-it-up");
  const std::string_view head{buffer.data().data(), 5};
  buffer.consume_and_pin(5);
  buffer.consume(buffer.size() - 2);  // the handler took all but the last two body bytes
  auto room = buffer.prepare(20, 1 << 20);
  // Unread body bytes moved down to just after the head; the head's bytes did not move.
  CHECK(head == "HEAD:");
  CHECK(buffer.data() == "up");
  CHECK(buffer.data().data() == head.data() + 5);
  CHECK(room.size() >= 20);
  CHECK(buffer.capacity() == 32);
}

TEST_CASE("a head pinned with nothing after it is not overwritten", "[input_buffer]") {
  buffer_pool pool{16, 4};
  input_buffer buffer{pool};
  receive(buffer, "0123456789abcdef");
  const std::string_view head{buffer.data().data(), 16};
  buffer.consume_and_pin(16);
  CHECK(buffer.empty());
  // Full and pinned: no room, and above all no reuse of the head's bytes.
  CHECK(buffer.prepare(8, 1 << 20).empty());
  CHECK(head == "0123456789abcdef");
  buffer.unpin();
  CHECK(buffer.prepare(8, 1 << 20).size() == 16);
}

TEST_CASE("body bytes stream after a pinned head", "[input_buffer]") {
  buffer_pool pool{32, 4};
  input_buffer buffer{pool};
  receive(buffer, "HEAD");
  const std::string_view head{buffer.data().data(), 4};
  buffer.consume_and_pin(4);
  for (int piece = 0; piece < 10; ++piece) {
    receive(buffer, "body-piece");
    CHECK(buffer.data() == "body-piece");
    buffer.consume(buffer.size());
  }
  CHECK(head == "HEAD");
}

TEST_CASE("an empty buffer can give its storage back", "[input_buffer]") {
  buffer_pool pool{16, 4};
  input_buffer buffer{pool};
  receive(buffer, "abc");
  buffer.release_if_empty();
  CHECK(buffer.capacity() == 16);
  buffer.consume(3);
  buffer.release_if_empty();
  CHECK(buffer.capacity() == 0);
  CHECK(pool.spare_count() == 1);
  receive(buffer, "again");
  CHECK(buffer.data() == "again");
  CHECK(pool.spare_count() == 0);
}

TEST_CASE("a grown buffer is freed, not pooled, and the block it grew from goes back",
          "[input_buffer]") {
  buffer_pool pool{16, 4};
  {
    input_buffer buffer{pool};
    receive(buffer, std::string(40, 'x'));
    CHECK(buffer.capacity() > 16);
    // The pool counts what it lends: growing returned the block.
    CHECK(pool.lent_count() == 0);
    CHECK(pool.spare_count() == 1);
    buffer.consume(40);
    buffer.release_if_empty();
    CHECK(buffer.capacity() == 0);
    CHECK(pool.spare_count() == 1);
    receive(buffer, "abc");
    CHECK(pool.lent_count() == 1);
    CHECK(pool.spare_count() == 0);
  }
  // The destructor gives a block-sized buffer back.
  CHECK(pool.spare_count() == 1);
  CHECK(pool.lent_count() == 0);
}

TEST_CASE("the pool keeps no more spare blocks than it was told", "[buffer_pool]") {
  buffer_pool pool{8, 2};
  auto first = pool.acquire();
  auto second = pool.acquire();
  auto third = pool.acquire();
  const char* first_address = first.get();
  pool.release(std::move(first));
  pool.release(std::move(second));
  pool.release(std::move(third));
  CHECK(pool.spare_count() == 2);
  auto again = pool.acquire();
  CHECK(pool.spare_count() == 1);
  // The most recently released comes back first: it is the likeliest to be in cache.
  CHECK(again.get() != first_address);
}
