// libFuzzer harness: chunked_decoder fed whole, byte by byte and in planned reads must decode the
// same bytes, stop at the same place, never hand out more than it was given, and undo the encoder.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "read_plan.hpp"
#include "triserve/http/chunked_decoder.hpp"
#include "triserve/http/chunked_encoder.hpp"

namespace {

using namespace triserve::http;
using triserve::fuzz::read_plan;

/// What decoding a byte stream produced, and where in the stream it stopped.
struct outcome {
  chunked_status status = chunked_status::need_more;  ///< done, error, or need_more at the end
  std::string body;
  std::size_t stop = 0;  ///< bytes consumed at done; offset of the offending byte at error
  std::string_view error_reason;
};

bool inside(std::string_view view, std::string_view area) {
  return view.data() >= area.data() && view.data() + view.size() <= area.data() + area.size();
}

/// Decodes `stream` as exchange::read_body_some does: each call gets every byte received and not
/// yet consumed, and returns to the socket only once the decoder asks for more. With `copy`, each
/// call's input is its own allocation, so ASan catches a read past it.
outcome decode(std::string_view stream, const std::vector<std::size_t>& ends,
               const chunked_limits& limits, bool copy) {
  chunked_decoder decoder{limits};
  outcome out;
  std::size_t pos = 0;
  std::unique_ptr<char[]> storage;
  for (const std::size_t end : ends) {
    while (pos < end) {
      std::string_view input = stream.substr(pos, end - pos);
      if (copy) {
        storage = std::make_unique<char[]>(input.size());
        std::copy(input.begin(), input.end(), storage.get());
        input = {storage.get(), input.size()};
      }
      const chunked_result r = decoder.decode(input);
      FUZZ_CHECK(r.consumed <= input.size());
      switch (r.status) {
        case chunked_status::data:
          // The slice is the tail of what this call consumed: nothing skipped, nothing beyond.
          FUZZ_CHECK(!r.data.empty() && inside(r.data, input));
          FUZZ_CHECK(r.data.data() + r.data.size() == input.data() + r.consumed);
          out.body.append(r.data);
          pos += r.consumed;
          continue;
        case chunked_status::need_more:
          FUZZ_CHECK(r.consumed == input.size() && r.data.empty());
          pos += r.consumed;
          continue;
        case chunked_status::done:
          FUZZ_CHECK(decoder.done() && r.data.empty());
          out.status = chunked_status::done;
          out.stop = pos + r.consumed;
          return out;
        case chunked_status::error:
          FUZZ_CHECK(!decoder.done() && r.data.empty() && !r.error_reason.empty());
          out.status = chunked_status::error;
          out.stop = pos + r.consumed;
          out.error_reason = r.error_reason;
          // Errors are sticky and consume nothing more.
          const chunked_result again = decoder.decode(input);
          FUZZ_CHECK(again.status == chunked_status::error && again.consumed == 0);
          FUZZ_CHECK(again.error_reason == r.error_reason);
          return out;
      }
    }
  }
  FUZZ_CHECK(!decoder.done());
  return out;
}

void check_after_done(std::string_view stream, const outcome& o, const chunked_limits& limits) {
  if (o.status != chunked_status::done) return;
  // A decoder that is done never consumes the next message's bytes.
  chunked_decoder decoder{limits};
  const chunked_result first = decoder.decode(stream);
  std::size_t pos = first.consumed;
  for (chunked_result r = first; r.status == chunked_status::data;) {
    r = decoder.decode(stream.substr(pos));
    pos += r.consumed;
  }
  FUZZ_CHECK(decoder.done() && pos == o.stop);
  const chunked_result after = decoder.decode(stream.substr(pos));
  FUZZ_CHECK(after.status == chunked_status::done && after.consumed == 0);
  const chunked_result more = decoder.decode("0\r\n\r\nGET / HTTP/1.1\r\n");
  FUZZ_CHECK(more.status == chunked_status::done && more.consumed == 0);
}

void check_same(const outcome& a, const outcome& b) {
  FUZZ_CHECK(a.status == b.status);
  FUZZ_CHECK(a.body == b.body);
  if (a.status != chunked_status::need_more) FUZZ_CHECK(a.stop == b.stop);
  FUZZ_CHECK(a.error_reason == b.error_reason);
}

/// The payload as a body, chunked by the product's encoder at the plan's read sizes, decodes back
/// to itself and ends exactly where the encoding ends.
void check_round_trip(const read_plan& plan) {
  std::string encoded;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < plan.payload.size(); ++i) {
    const std::size_t n =
        std::min(plan.read_sizes[i % plan.read_sizes.size()], plan.payload.size() - pos);
    char header[max_chunk_header_size];
    encoded.append(header, write_chunk_header(n, header));
    encoded.append(plan.payload.substr(pos, n)).append(chunk_trailer);
    pos += n;
  }
  encoded.append(last_chunk);
  const std::size_t body_end = encoded.size();
  encoded.append("POST / HTTP/1.1\r\n");  // the next pipelined request
  const outcome o = decode(encoded, {encoded.size()}, {}, false);
  FUZZ_CHECK(o.status == chunked_status::done);
  FUZZ_CHECK(o.body == plan.payload);
  FUZZ_CHECK(o.stop == body_end);
}

/// The product's limits mostly; a quarter of inputs get tiny ones so the limit checks are reached.
chunked_limits limits_for(const read_plan& plan) {
  if (plan.draw(1) % 4 != 0) return {};
  return chunked_limits{static_cast<std::size_t>(1 + plan.draw(2) % 64),
                        static_cast<std::size_t>(plan.draw(3) % 256)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const read_plan plan = triserve::fuzz::make_read_plan(data, size);
  const chunked_limits limits = limits_for(plan);
  const std::string_view stream = plan.payload;

  const outcome whole = decode(stream, {stream.size()}, limits, false);
  FUZZ_CHECK(whole.body.size() <= stream.size());
  FUZZ_CHECK(whole.stop <= stream.size());
  check_after_done(stream, whole, limits);

  check_same(whole, decode(stream, plan.prefix_ends(256), limits, true));
  if (stream.size() <= 4096) {
    check_same(whole, decode(stream, triserve::fuzz::bytewise_ends(stream.size()), limits, false));
  }
  check_round_trip(plan);
  return 0;
}
