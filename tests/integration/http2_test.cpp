// HTTP/2: curl with prior knowledge and over TLS (ALPN), nghttp, h2load, 64 concurrent echo
// streams on one connection (python3-h2), malformed requests and limits, handler faults, the
// drain's GOAWAYs, the idle timeout, flow control and floods (support/h2_frames.py), --http2 off.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/commands.hpp"
#include "support/daemon.hpp"
#include "support/daemon_checks.hpp"
#include "support/json_object.hpp"
#include "support/raw_client.hpp"
#include "support/test_certificates.hpp"

using namespace triserve::integration;
using namespace std::chrono_literals;

namespace {

/// The cleartext client preface (RFC 9113 §3.4).
constexpr std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
constexpr std::string_view empty_settings{"\0\0\0\4\0\0\0\0\0", 9};

/// The port `server` logged for its TLS address, or 0.
std::uint16_t tls_port(const daemon_process& daemon, const std::string& server) {
  const std::string marker = server + " server listening on tls://";
  for (const auto& line : daemon.log_lines_with(marker)) {
    const auto colon = line.rfind(':');
    return static_cast<std::uint16_t>(std::stoul(line.substr(colon + 1)));
  }
  return 0;
}

/// The three servers on TLS as well, with the test CA's "server" certificate.
std::vector<std::string> with_tls(const test_certificates& certificates) {
  return {"--hello",      "tls://127.0.0.1:0",
          "--hello-name", "tls://127.0.0.1:0",
          "--echo",       "tls://127.0.0.1:0",
          "--tls-cert",   certificates.path("server.pem"),
          "--tls-key",    certificates.path("server.key")};
}

/// A temporary directory, removed with everything in it.
struct scratch_directory {
  std::filesystem::path path;
  scratch_directory() {
    std::string name = (std::filesystem::temp_directory_path() / "triserve-h2-XXXXXX").string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~scratch_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  /// Writes `bytes` to `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const auto file = (path / name).string();
    std::ofstream out(file, std::ios::binary);
    out << bytes;
    return file;
  }
};

/// `size` bytes that differ from one place to the next, so that a misplaced piece shows.
std::string patterned(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (auto& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<char>(state >> 24);
  }
  return bytes;
}

/// One HTTP/2 frame header read off the wire.
struct frame_header {
  std::uint32_t length;
  std::uint8_t type;
  std::uint8_t flags;
  std::uint32_t stream;
};

/// The frames in `bytes` (after the server's side, which has no preface), in order; stops at an
/// incomplete one.
std::vector<frame_header> frames_in(std::string_view bytes) {
  std::vector<frame_header> frames;
  while (bytes.size() >= 9) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
    frame_header header{(std::uint32_t{byte(0)} << 16) | (std::uint32_t{byte(1)} << 8) | byte(2),
                        byte(3), byte(4),
                        ((std::uint32_t{byte(5)} & 0x7f) << 24) | (std::uint32_t{byte(6)} << 16) |
                            (std::uint32_t{byte(7)} << 8) | byte(8)};
    if (bytes.size() < 9 + header.length) break;
    frames.push_back(header);
    bytes.remove_prefix(9 + header.length);
  }
  return frames;
}

constexpr std::uint8_t settings_frame = 0x4;
constexpr std::uint8_t goaway_frame = 0x7;

/// A python3-h2 client: `streams` POSTs of `size` patterned bytes each, all at once on one
/// connection to 127.0.0.1:PORT, each response checked byte for byte. Prints "ok" and the count.
constexpr std::string_view concurrent_echo_client = R"PY(
import socket, sys
import h2.config, h2.connection, h2.events

port, streams, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def patterned(seed):
    out = bytearray(size)
    state = (seed * 2654435761 + 1) & 0xffffffff
    for i in range(size):
        state = (state * 1664525 + 1013904223) & 0xffffffff
        out[i] = state >> 24
    return bytes(out)

sock = socket.create_connection(("127.0.0.1", port), timeout=30)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
conn.increment_flow_control_window(1 << 24)
sock.sendall(conn.data_to_send())
bodies, offsets, received, statuses, ended = {}, {}, {}, {}, set()
for n in range(streams):
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                            (":authority", "127.0.0.1"), (":path", "/stream/%d" % n),
                            ("content-length", str(size))])
    bodies[sid], offsets[sid], received[sid] = patterned(n), 0, bytearray()
sock.sendall(conn.data_to_send())

def send_what_windows_allow():
    for sid, body in bodies.items():
        offset = offsets[sid]
        while offset < len(body):
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                       len(body) - offset)
            if room <= 0:
                break
            conn.send_data(sid, body[offset:offset + room], end_stream=offset + room == len(body))
            offset += room
        offsets[sid] = offset
    pending = conn.data_to_send()
    if pending:
        sock.sendall(pending)

while len(ended) < streams:
    send_what_windows_allow()
    data = sock.recv(65536)
    if not data:
        sys.exit("the server closed the connection with %d of %d streams ended" % (len(ended), streams))
    for event in conn.receive_data(data):
        if isinstance(event, h2.events.ResponseReceived):
            statuses[event.stream_id] = dict(event.headers)[b":status"]
        elif isinstance(event, h2.events.DataReceived):
            received[event.stream_id] += event.data
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            ended.add(event.stream_id)
        elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
            sys.exit("unexpected %r" % event)
    pending = conn.data_to_send()
    if pending:
        sock.sendall(pending)

for sid, body in bodies.items():
    if statuses.get(sid) != b"200":
        sys.exit("stream %d: status %r" % (sid, statuses.get(sid)))
    if bytes(received[sid]) != body:
        sys.exit("stream %d: %d bytes back, not the %d sent" % (sid, len(received[sid]), len(body)))
conn.close_connection()
sock.sendall(conn.data_to_send())
print("ok", len(bodies))
)PY";

/// A python3-h2 client that sends requests nghttp2 and the session must judge, each on a fresh
/// connection and without the library's own checks, and prints one line per case: how it ended
/// ("status 200", "reset 1" for RST_STREAM(PROTOCOL_ERROR), "goaway 1", "closed").
constexpr std::string_view judged_requests_client = R"PY(
import socket, sys
import h2.config, h2.connection, h2.events

port = int(sys.argv[1])

def outcome(headers, body=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False,
        validate_inbound_headers=False))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers, end_stream=body is None)
    if body is not None:
        conn.send_data(sid, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    status = None
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return "closed"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"].decode()
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                    return "status " + status
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                    return ("status %s, " % status if status else "") + "reset %d" % event.error_code
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return "goaway %d" % event.error_code
            pending = conn.data_to_send()
            if pending:
                sock.sendall(pending)
    finally:
        sock.close()

def request(method="GET", path="/", authority="127.0.0.1", extra=()):
    fields = [(":method", method), (":scheme", "http")]
    if authority is not None:
        fields.append((":authority", authority))
    if path is not None:
        fields.append((":path", path))
    return fields + list(extra)

cases = [
    ("plain", request()),
    ("te trailers", request(extra=[("te", "trailers")])),
    ("host agrees", request(extra=[("host", "127.0.0.1")])),
    ("host only", request(authority=None, extra=[("host", "127.0.0.1")])),
    ("options asterisk", request("OPTIONS", "*")),
    ("short body", request("POST", extra=[("content-length", "10")]), b"hello"),
    ("long body", request("POST", extra=[("content-length", "3")]), b"hello"),
    ("connection", request(extra=[("connection", "keep-alive")])),
    ("transfer-encoding", request(extra=[("transfer-encoding", "chunked")])),
    ("upgrade", request(extra=[("upgrade", "h2c")])),
    ("te gzip", request(extra=[("te", "gzip")])),
    ("host differs", request(extra=[("host", "other.example")])),
    ("no authority", request(authority=None)),
    ("relative path", request(path="nopath")),
    ("asterisk get", request(path="*")),
    ("space in path", request(path="/a b")),
    ("upper-case name", request(extra=[("X-Upper", "1")])),
    ("space in name", request(extra=[("bad name", "1")])),
    ("LF in value", request(extra=[("x-value", "a\nb")])),
    ("NUL in value", request(extra=[("x-value", "a\0b")])),
    ("leading space", request(extra=[("x-value", " a")])),
    ("trailing tab", request(extra=[("x-value", "a\t")])),
    ("userinfo", request(authority="user@127.0.0.1")),
    ("pseudo after regular", request(path=None, extra=[("x-a", "1"), (":path", "/")])),
    ("bad method", request(method="GE T")),
    ("no path", request(path=None)),
    ("connect", [(":method", "CONNECT"), (":authority", "127.0.0.1:443")]),
    ("too many fields", request(extra=[("x-field-%d" % n, "v") for n in range(101)])),
    ("too large", request(extra=[("x-big-%d" % n, "v" * 4000) for n in range(17)])),
]
for case in cases:
    print("%s: %s" % (case[0], outcome(*case[1:])))
)PY";

/// What one scenario of support/h2_frames.py (a frame-level client) printed: its event lines,
/// then its results.
struct frames_run {
  std::string output;
  json_object result;
};

/// The command that runs h2_frames.py (beside make_certificates.sh) with `arguments`.
std::string frames_command(const std::string& arguments) {
  const auto script =
      std::filesystem::path(TRISERVE_MAKE_CERTIFICATES).parent_path() / "h2_frames.py";
  return std::string{system_python} + " " + script.string() + " " + arguments;
}

/// What h2_frames.py printed; fails the test unless it exited 0 with a result object on its last
/// line. On the test's thread: Catch2's assertions are not thread-safe.
frames_run frames_result(const command_result& ran) {
  INFO(ran.output);
  REQUIRE(ran.exit_code == 0);
  const auto lines = lines_of(ran.output);
  REQUIRE_FALSE(lines.empty());
  std::string error;
  auto result = parse_json_object(lines.back(), &error);
  INFO(error);
  REQUIRE(result.has_value());
  return {ran.output, *result};
}

/// The command that runs h2_conformance.py (beside make_certificates.sh, an h2spec-equivalent
/// runner) with `arguments`.
std::string conformance_command(const std::string& arguments) {
  const auto script =
      std::filesystem::path(TRISERVE_MAKE_CERTIFICATES).parent_path() / "h2_conformance.py";
  return std::string{system_python} + " " + script.string() + " " + arguments;
}

/// Runs h2_frames.py with `arguments` (see frames_result).
frames_run run_frames(const std::string& arguments, std::chrono::seconds limit = 30s) {
  return frames_result(run_command(frames_command(arguments), limit));
}

/// Asks hello, hello-name and echo with `curl` (a command line that prints the HTTP version after
/// the body) at the addresses `url` makes of a server and a path, and checks each body and that
/// it came over HTTP/2.
void check_three_handlers(const std::string& curl,
                          const std::function<std::string(const char*, const char*)>& url) {
  auto result = run_command(curl + url("hello", "/"));
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output == "Hello, world!\n2");
  result = run_command(curl + "\"" + url("hello-name", "/?name=Alex%20B") + "\"");
  CHECK(result.output == "Hello, Alex B!\n2");
  result = run_command(curl + "--data-binary h2-body " + url("echo", "/"));
  CHECK(result.output == "h2-body\n2");
}

/// Checks the results `expected` of a frame run, each a result's name and the value it must have.
void check_results(const frames_run& run,
                   std::initializer_list<std::pair<std::string, std::string>> expected) {
  INFO(run.output);
  for (const auto& [name, value] : expected) {
    INFO(name);
    CHECK(run.result.at(name) == value);
  }
}

}  // namespace

TEST_CASE("http2: curl with prior knowledge reaches hello, hello-name and echo", "[http2]") {
  auto daemon = daemon_process::start();
  const auto url = [&](const char* server, const char* path) {
    return "http://127.0.0.1:" + std::to_string(daemon->port(server)) + path;
  };
  const std::string curl = "curl -sS --http2-prior-knowledge -w \"\\n%{http_version}\" ";
  check_three_handlers(curl, url);

  // A body several times the stream window, both with a length and without one (chunked upload:
  // curl sends no content-length), comes back byte-exact.
  scratch_directory files;
  const auto body = patterned(1024 * 1024 + 17, 1);
  const auto sent = files.write("body", body);
  const auto back = (files.path / "back").string();
  auto result =
      run_command(curl + "-o " + back + " --data-binary @" + sent + " " + url("echo", "/"));
  CHECK(result.exit_code == 0);
  CHECK(result.output == "\n2");
  CHECK(std::filesystem::file_size(back) == body.size());
  CHECK(run_command("cmp " + sent + " " + back).exit_code == 0);
  result = run_command(curl + "-o " + back + " -H \"Transfer-Encoding: chunked\" --data-binary @" +
                       sent + " " + url("echo", "/"));
  CHECK(result.exit_code == 0);
  CHECK(run_command("cmp " + sent + " " + back).exit_code == 0);

  // HEAD: the head only, with the length a GET would have.
  result = run_command("curl -sS --http2-prior-knowledge -I " + url("hello", "/"));
  CHECK(result.output.find("HTTP/2 200") != std::string::npos);
  CHECK(result.output.find("content-length: 13") != std::string::npos);
  CHECK(result.output.find("date: ") != std::string::npos);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: curl over TLS negotiates h2 by ALPN with all three servers", "[http2][tls]") {
  test_certificates certificates;
  auto daemon = daemon_process::start(with_tls(certificates));
  const auto url = [&](const char* server, const char* path) {
    return "https://127.0.0.1:" + std::to_string(tls_port(*daemon, server)) + path;
  };
  check_three_handlers(
      "curl -sS --http2 --cacert " + certificates.path("ca.pem") + " -w \"\\n%{http_version}\" ",
      url);

  // Our own client sees the choice: h2 first, http/1.1 for those who offer only that.
  tls_options both;
  both.ca_file = certificates.path("ca.pem");
  both.alpn = {"h2", "http/1.1"};
  raw_client h2_client(tls_port(*daemon, "hello"));
  h2_client.start_tls(both);
  CHECK(h2_client.tls_protocol() == "h2");
  tls_options old;
  old.ca_file = certificates.path("ca.pem");
  old.alpn = {"http/1.1"};
  raw_client http11_client(tls_port(*daemon, "hello"));
  http11_client.start_tls(old);
  CHECK(http11_client.tls_protocol() == "http/1.1");
  CHECK(http11_client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == "Hello, world!");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: the access log and /metrics name the protocol, and count floods and refusals",
          "[http2][metrics]") {
  test_certificates certificates;
  auto arguments = with_tls(certificates);
  for (const char* more : {"--access-log", "--admin", "127.0.0.1:0", "--h2-max-streams", "2"})
    arguments.push_back(more);
  auto daemon = daemon_process::start(arguments);
  const auto hello = std::to_string(daemon->port("hello"));
  CHECK(run_command("curl -sS --http2-prior-knowledge http://127.0.0.1:" + hello + "/h2c")
            .exit_code == 0);
  CHECK(run_command("curl -sS --http1.1 http://127.0.0.1:" + hello + "/http1").exit_code == 0);
  CHECK(run_command("curl -sS --http1.0 http://127.0.0.1:" + hello + "/http10").exit_code == 0);
  CHECK(run_command("curl -sS --http2 --cacert " + certificates.path("ca.pem") +
                    " https://127.0.0.1:" + std::to_string(tls_port(*daemon, "hello")) + "/h2")
            .exit_code == 0);
  CHECK(daemon->wait_for_log("GET /h2c 200 13", 2s));
  INFO("stderr:\n" << daemon->log());
  CHECK(daemon->log_lines_with("GET /h2c 200 13 ").at(0).ends_with("ms h2c"));
  CHECK(daemon->log_lines_with("GET /http1 200 13 ").at(0).ends_with("ms http/1.1"));
  CHECK(daemon->log_lines_with("GET /http10 200 13 ").at(0).ends_with("ms http/1.0"));
  CHECK(daemon->log_lines_with("GET /h2 200 13 ").at(0).ends_with("ms TLSv1.3 h2"));
  const auto sample = [&](const std::string& name, const std::string& labels) {
    return scrape_metric(*daemon, name + "{server=\"hello\"" + labels + "}");
  };
  CHECK(sample("triserve_requests_by_protocol_total", ",protocol=\"h2c\"") == 1);
  CHECK(sample("triserve_requests_by_protocol_total", ",protocol=\"h2\"") == 1);
  CHECK(sample("triserve_requests_by_protocol_total", ",protocol=\"http/1.1\"") == 2);

  // Floods, each ended with GOAWAY and counted by kind and by the GOAWAY's code.
  auto run = run_frames("rapid-reset --port " + hello + " --count 3000 --timeout 15");
  INFO(run.output);
  CHECK(run.output.find("INTERNAL_ERROR") != std::string::npos);
  run = run_frames("continuation-flood --port " + hello + " --count 1000 --timeout 15");
  INFO(run.output);
  CHECK(run.output.find("ENHANCE_YOUR_CALM") != std::string::npos);
  CHECK(sample("triserve_http2_floods_stopped_total", ",kind=\"rapid_reset\"") == 1);
  CHECK(sample("triserve_http2_floods_stopped_total", ",kind=\"continuation\"") == 1);
  CHECK(sample("triserve_http2_floods_stopped_total", ",kind=\"control\"") == 0);
  CHECK(sample("triserve_http2_goaways_sent_total", ",code=\"INTERNAL_ERROR\"") == 1);
  CHECK(sample("triserve_http2_goaways_sent_total", ",code=\"ENHANCE_YOUR_CALM\"") == 1);
  CHECK(sample("triserve_http2_streams", "") == 0);
  // A third upload while two are open, over --h2-max-streams: refused, counted.
  run = run_frames("echo-streams --count 3 --size 100000 --port " +
                   std::to_string(daemon->port("echo")));
  check_results(run, {{"exact", "2"}, {"reset", "1"}});
  CHECK(run.output.find("reset 5 REFUSED_STREAM") != std::string::npos);
  CHECK(scrape_metric(*daemon, "triserve_http2_streams_refused_total{server=\"echo\"}") == 1);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: Upgrade: h2c switches a request without a body to HTTP/2", "[http2][upgrade]") {
  auto daemon = daemon_process::start({"--access-log"});
  const auto base = [&](const char* server) {
    return "http://127.0.0.1:" + std::to_string(daemon->port(server));
  };
  // curl --http2 on http:// asks with Upgrade: h2c and HTTP2-Settings; its request is answered
  // on stream 1 in HTTP/2, and the connection goes on in HTTP/2.
  const std::string curl = "curl -sS --http2 -w \"\\n%{http_version}\" ";
  auto result = run_command(curl + "\"" + base("hello-name") + "/?name=Alex%20B\"");
  INFO(result.output);
  CHECK(result.output == "Hello, Alex B!\n2");
  result = run_command(curl + base("hello") + "/ " + base("hello") + "/second");
  CHECK(result.output == "Hello, world!\n2Hello, world!\n2");
  // HEAD upgrades too: the head alone comes back.
  result = run_command("curl -sS --http2 -I " + base("hello") + "/");
  CHECK(result.output.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(result.output.find("HTTP/2 200") != std::string::npos);
  CHECK(result.output.find("content-length: 13") != std::string::npos);
  // A request with a body stays HTTP/1.1 (its body would have to come in HTTP/1.1 while the
  // response goes in HTTP/2).
  result = run_command(curl + "--data-binary upgrade-body " + base("echo") + "/");
  CHECK(result.output == "upgrade-body\n1.1");
  // nghttp's upgrade (-u) too.
  result = run_command("nghttp -u -v " + base("hello") + "/");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("HTTP Upgrade response") != std::string::npos);
  CHECK(result.output.find("Hello, world!") != std::string::npos);
  CHECK(daemon->wait_for_log("GET /?name=Alex%20B 200 14", 2s));
  CHECK(daemon->log_lines_with("GET /?name=Alex%20B 200 14").at(0).ends_with("ms h2c"));
  check_clean_exit(*daemon);
}

TEST_CASE("http2: an Upgrade: h2c that must not be honoured is served as HTTP/1.1",
          "[http2][upgrade]") {
  auto daemon = daemon_process::start();
  const auto port = daemon->port("hello");
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n";
  for (const std::string& fields : {
           // RFC 7540 §3.2.1: no HTTP2-Settings, or two.
           std::string{"Connection: Upgrade, HTTP2-Settings\r\n"},
           std::string{"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABk\r\n"
                       "HTTP2-Settings: AAMAAABk\r\n"},
           // Not base64url, not whole settings, Upgrade not a connection option.
           std::string{"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AA==\r\n"},
           std::string{"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAA\r\n"},
           std::string{"Connection: HTTP2-Settings\r\nHTTP2-Settings: AAMAAABk\r\n"},
       }) {
    INFO(fields);
    raw_client client(port);
    const auto response = client.round_trip(head + fields + "\r\n");
    CHECK(response.status == 200);
    CHECK(response.body == "Hello, world!");
    // The connection goes on in HTTP/1.1.
    CHECK(client.round_trip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
  }
  // Settings that are well-formed but invalid (ENABLE_PUSH 2; RFC 9113 §6.5.2 allows 0 or 1) are
  // taken as a SETTINGS frame would be (RFC 7540 §3.2.1): the upgrade happens, and the
  // connection ends with GOAWAY.
  raw_client invalid(port);
  invalid.send_all(head +
                   "Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAIAAAAC\r\n\r\n");
  const auto answer = invalid.read_until_eof(5s);
  CHECK(answer.closed);
  REQUIRE(answer.data.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  bool goaway = false;
  for (const auto& frame : frames_in(answer.data.substr(answer.data.find("\r\n\r\n") + 4)))
    if (frame.type == goaway_frame) goaway = true;
  CHECK(goaway);
  // With HTTP/2 off, a good upgrade is declined too.
  auto off = daemon_process::start({"--http2", "off"});
  const auto result = run_command("curl -sS --http2 -w \"\\n%{http_version}\" http://127.0.0.1:" +
                                  std::to_string(off->port("hello")) + "/");
  CHECK(result.output == "Hello, world!\n1.1");
  check_clean_exit(*off);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: nghttp speaks h2c with prior knowledge and sees our SETTINGS", "[http2]") {
  auto daemon = daemon_process::start();
  const auto result =
      run_command("nghttp -v http://127.0.0.1:" + std::to_string(daemon->port("hello")) + "/");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("Hello, world!") != std::string::npos);
  CHECK(result.output.find(":status: 200") != std::string::npos);
  CHECK(result.output.find("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):128]") != std::string::npos);
  CHECK(result.output.find("[SETTINGS_MAX_HEADER_LIST_SIZE(0x06):65536]") != std::string::npos);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: h2load sends 2000 requests on 4 connections, 10 streams each, none failing",
          "[http2][load]") {
  auto daemon = daemon_process::start();
  const auto result = run_command(
      "h2load -c 4 -m 10 -n 2000 http://127.0.0.1:" + std::to_string(daemon->port("hello")) + "/");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("2000 succeeded, 0 failed, 0 errored") != std::string::npos);
  CHECK(result.output.find("status codes: 2000 2xx") != std::string::npos);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a 1 GiB echo over h2c and over h2 is byte-exact in bounded memory",
          "[http2][echo][memory]") {
  test_certificates certificates;
  auto arguments = with_tls(certificates);
  arguments.push_back("--access-log");
  auto daemon = daemon_process::start(arguments);
  const auto start_kib = daemon->peak_rss_kib().value_or(0);
  // 1 GiB of random bytes in a file, streamed up by curl (-T reads as it sends, and names the
  // file in the path) and compared
  // with what comes back as it comes (cmp): neither side holds the body.
  const auto body = std::filesystem::path(certificates.path("ca.pem")).parent_path() / "gib.bin";
  {
    std::ofstream out(body, std::ios::binary);
    std::mt19937_64 generator(13);
    std::string block(1 << 20, '\0');
    for (int mib = 0; mib < 1024; ++mib) {
      for (std::size_t at = 0; at < block.size(); at += 8) {
        const auto word = generator();
        std::memcpy(block.data() + at, &word, 8);
      }
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    REQUIRE(out.good());
  }
  const auto limit = sanitized ? 600s : 120s;
  const std::string upload = "curl -sS -X POST -T " + body.string() + " ";
  auto result = run_command(
      upload + "--http2-prior-knowledge http://127.0.0.1:" + std::to_string(daemon->port("echo")) +
          "/ | cmp - " + body.string() + " && echo identical",
      limit);
  INFO(result.output);
  CHECK(result.output == "identical\n");
  result = run_command(upload + "--http2 --cacert " + certificates.path("ca.pem") +
                           " https://127.0.0.1:" + std::to_string(tls_port(*daemon, "echo")) +
                           "/ | cmp - " + body.string() + " && echo identical",
                       limit);
  INFO(result.output);
  CHECK(result.output == "identical\n");
  // Both went over HTTP/2: h2c, then h2.
  INFO("stderr:\n" << daemon->log());
  const auto logged = daemon->log_lines_with("POST /gib.bin 200 1073741824 ");
  REQUIRE(logged.size() == 2);
  CHECK(logged[0].ends_with("ms h2c"));
  CHECK(logged[1].ends_with("ms TLSv1.3 h2"));
  std::filesystem::remove(body);
  const auto peak_kib = daemon->peak_rss_kib();
  REQUIRE(peak_kib.has_value());
  INFO("daemon VmHWM: " << start_kib << " KiB after start, " << *peak_kib << " KiB at the end");
  if (!sanitized) CHECK(*peak_kib - start_kib < 16 * 1024);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: 64 concurrent echo streams on one connection are byte-exact", "[http2][echo]") {
  auto daemon = daemon_process::start();
  scratch_directory files;
  const auto script = files.write("client.py", std::string{concurrent_echo_client});
  const auto result = run_command(std::string{system_python} + " " + script + " " +
                                      std::to_string(daemon->port("echo")) + " 64 200000",
                                  60s);
  INFO(result.output);
  CHECK(result.exit_code == 0);
  CHECK(result.output == "ok 64\n");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: SIGTERM with an idle h2 connection sends GOAWAY and exits 0 promptly",
          "[http2][drain]") {
  auto daemon = daemon_process::start();
  raw_client client(daemon->port("hello"));
  client.send_all(std::string{preface} + std::string{empty_settings});
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (frames_in(received).empty() && std::chrono::steady_clock::now() < deadline)
    received += client.read_some(1s);
  const auto first = frames_in(received);
  REQUIRE_FALSE(first.empty());
  CHECK(first.front().type == settings_frame);  // the server's first frame (RFC 9113 §3.4)

  daemon->send_signal(SIGTERM);
  // The client answers nothing (not the drain's PING either): the final GOAWAY goes after the
  // round trip's limit, and the connection closes with no stream open.
  const auto rest = client.read_until_eof(5s);
  CHECK(rest.closed);
  received += rest.data;
  std::size_t goaways = 0;
  for (const auto& frame : frames_in(received))
    if (frame.type == goaway_frame) ++goaways;
  CHECK(goaways == 2);
  const auto status = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  INFO(status->describe());
  CHECK(status->code == 0);
  CHECK(status->elapsed_ms < 3000);
}

TEST_CASE("http2: a curl upload in flight finishes during the drain", "[http2][drain]") {
  auto daemon = daemon_process::start();
  scratch_directory files;
  // Sent slowly by curl (--limit-rate), so that the drain begins while it is in flight.
  const auto sent = files.write("body", patterned(256 * 1024, 2));
  const auto back = (files.path / "back").string();
  const std::string command = "curl -sS --http2-prior-knowledge --limit-rate 256K -o " + back +
                              " --data-binary @" + sent +
                              " http://127.0.0.1:" + std::to_string(daemon->port("echo")) + "/";
  FILE* pipe = ::popen(("timeout 20 " + command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  // The signal must find the upload's stream open: a connection that has not yet sent its
  // HEADERS is idle, and the drain rightly closes it at once.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  auto seen = daemon->status();
  while (!(seen.live == 1 && seen.idle == 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    seen = daemon->status();
  }
  REQUIRE(seen.live == 1);
  REQUIRE(seen.idle == 0);
  daemon->send_signal(SIGTERM);
  std::string output;
  std::array<char, 256> chunk;
  for (std::size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0;)
    output.append(chunk.data(), got);
  const int curl_status = ::pclose(pipe);
  INFO(output);
  CHECK(WIFEXITED(curl_status));
  CHECK(WEXITSTATUS(curl_status) == 0);
  CHECK(run_command("cmp " + sent + " " + back).exit_code == 0);
  const auto status = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}

TEST_CASE("http2: with --http2 off the preface is HTTP/1.1's to refuse and ALPN offers no h2",
          "[http2][tls]") {
  test_certificates certificates;
  auto args = with_tls(certificates);
  args.insert(args.end(), {"--http2", "off"});
  auto daemon = daemon_process::start(args);

  // "PRI * HTTP/2.0" is an HTTP/1.1 request line with a version we do not speak.
  raw_client cleartext(daemon->port("hello"));
  cleartext.send_all(std::string{preface} + std::string{empty_settings});
  const auto refused = cleartext.read_response();
  CHECK(refused.version == "HTTP/1.1");
  CHECK(refused.status == 505);

  tls_options both;
  both.ca_file = certificates.path("ca.pem");
  both.alpn = {"h2", "http/1.1"};
  raw_client secure(tls_port(*daemon, "hello"));
  secure.start_tls(both);
  CHECK(secure.tls_protocol() == "http/1.1");
  tls_options h2_only;
  h2_only.ca_file = certificates.path("ca.pem");
  h2_only.alpn = {"h2"};
  raw_client refused_tls(tls_port(*daemon, "hello"));
  CHECK_THROWS_WITH(refused_tls.start_tls(h2_only), Catch::Contains("no application protocol"));

  const auto curl = run_command("curl -sS --http2 --cacert " + certificates.path("ca.pem") +
                                " -w \"\\n%{http_version}\" https://127.0.0.1:" +
                                std::to_string(tls_port(*daemon, "hello")) + "/");
  CHECK(curl.output == "Hello, world!\n1.1");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: malformed requests are stream errors, limits and CONNECT are answered",
          "[http2][malformed]") {
  auto daemon = daemon_process::start();
  scratch_directory files;
  const auto script = files.write("judged.py", std::string{judged_requests_client});
  const auto result = run_command(
      std::string{system_python} + " " + script + " " + std::to_string(daemon->port("hello")), 60s);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  // RFC 9113 §8.1.1: malformed -> RST_STREAM(PROTOCOL_ERROR), which is error code 1.
  const std::vector<std::pair<std::string, std::string>> expected{
      {"plain", "status 200"},
      {"te trailers", "status 200"},
      {"host agrees", "status 200"},
      {"host only", "status 200"},
      {"options asterisk", "status 200"},
      {"short body", "reset 1"},            // §8.1.1: content-length above the DATA received
      {"long body", "reset 1"},             // and below it
      {"connection", "reset 1"},            // §8.2.2: connection-specific fields
      {"transfer-encoding", "reset 1"},     //
      {"upgrade", "reset 1"},               //
      {"te gzip", "reset 1"},               // §8.2.2: te other than "trailers"
      {"host differs", "reset 1"},          // §8.3.1: :authority and Host must agree
      {"no authority", "reset 1"},          // §8.3.1: http needs :authority or Host
      {"relative path", "reset 1"},         // §8.3.1: :path starts with '/'
      {"asterisk get", "reset 1"},          // "*" is for OPTIONS only
      {"space in path", "reset 1"},         //
      {"upper-case name", "reset 1"},       // §8.2.1: field names are lower case
      {"space in name", "reset 1"},         // §8.2.1: and tokens
      {"LF in value", "reset 1"},           // §8.2.1: no NUL, CR or LF in a value
      {"NUL in value", "reset 1"},          //
      {"leading space", "reset 1"},         // §8.2.1: nor whitespace at either end
      {"trailing tab", "reset 1"},          //
      {"userinfo", "reset 1"},              // §8.3.1: no userinfo in :authority
      {"pseudo after regular", "reset 1"},  // §8.3: pseudo-header fields come first
      {"bad method", "reset 1"},            // RFC 9110 §9.1: a method is a token
      {"no path", "reset 1"},               // §8.3.1: :path is required
      {"connect", "status 501"},            // as over HTTP/1.1: no server here tunnels
      {"too many fields", "status 431"},    // --max-header-fields (100)
      {"too large", "status 431"},          // --max-header-bytes, as HTTP/2 counts a header list
  };
  const auto lines = lines_of(result.output);
  REQUIRE(lines.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK(lines[i] == expected[i].first + ": " + expected[i].second);
  // The connection survives stream errors: a request after them is served.
  CHECK(run_command("curl -sS --http2-prior-knowledge http://127.0.0.1:" +
                    std::to_string(daemon->port("hello")) + "/")
            .output == "Hello, world!");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a handler that throws gets 500 before its head, a reset after",
          "[http2][fault]") {
  spawn_extras extras;
  extras.binary = TRISERVE_FAULT_DAEMON;
  auto daemon = daemon_process::start({}, 10s, extras);
  const auto url = "http://127.0.0.1:" + std::to_string(daemon->port("echo")) + "/";
  const std::string curl = "curl -sS --http2-prior-knowledge -w \"\\n%{http_code}\" ";
  auto result = run_command(curl + "-H \"X-Test-Fault: before-response\" " + url);
  INFO(result.output);
  CHECK(result.output == "500 Internal Server Error: the handler failed\n500");
  result = run_command(curl + "-H \"X-Test-Fault: after-queued\" " + url);
  CHECK(result.output == "500 Internal Server Error: the handler failed\n500");
  // Part of the response has left: the stream is reset, and curl says so. The body is larger
  // than a stream window, so that the one piece echoed before the fault cannot be all of it.
  scratch_directory files;
  const auto body = files.write("body", patterned(200 * 1000, 3));
  result = run_command(curl + "-o /dev/null -H \"X-Test-Fault: mid-body\" --data-binary @" + body +
                       " " + url);
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("INTERNAL_ERROR") != std::string::npos);
  REQUIRE(daemon->wait_for_log("stream reset", 2s));
  const auto lines = daemon->log_lines_with("handler failed on \"POST / HTTP/2\"");
  CHECK(lines.size() == 1);
  CHECK(daemon->log_lines_with("handler failed on \"GET / HTTP/2\"").size() == 2);
  check_clean_exit(*daemon, 3);
}

TEST_CASE("http2: garbage after the preface gets GOAWAY and a close at once", "[http2][hostile]") {
  auto daemon = daemon_process::start();
  const std::string garbage(64, '\xff');
  // A frame of an unknown type is ignored (RFC 9113 §4.1), but a first frame that is not SETTINGS
  // is a connection error (§3.4), and so is a DATA frame on stream 0 (§6.1).
  const std::vector<std::pair<std::string, std::string>> rows{
      {"a preface without SETTINGS", std::string{preface} + garbage},
      {"DATA on stream 0",
       std::string{preface} + std::string{empty_settings} + std::string("\0\0\0\0\0\0\0\0\0", 9)},
  };
  for (const auto& [name, bytes] : rows) {
    INFO(name);
    const auto started = std::chrono::steady_clock::now();
    raw_client client(daemon->port("echo"));
    client.try_send_all(bytes, 2s);
    const auto answer = client.read_until_eof(2s);
    CHECK(answer.closed);
    bool goaway = false;
    for (const auto& frame : frames_in(answer.data))
      if (frame.type == goaway_frame) goaway = true;
    CHECK(goaway);
    CHECK(std::chrono::steady_clock::now() - started < 1s);
  }
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a connection with no stream open for the idle timeout gets GOAWAY and closes",
          "[http2][timeout]") {
  auto daemon = daemon_process::start({"--idle-timeout", "1s"});
  raw_client client(daemon->port("hello"));
  const auto started = std::chrono::steady_clock::now();
  client.send_all(std::string{preface} + std::string{empty_settings});
  const auto answer = client.read_until_eof(5s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(answer.closed);
  std::size_t goaways = 0;
  for (const auto& frame : frames_in(answer.data))
    if (frame.type == goaway_frame) ++goaways;
  CHECK(goaways == 1);
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 3s);
  CHECK(daemon->wait_for_live_connections(0).live == 0);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a client that stops reading one stream stalls only that stream",
          "[http2][flow]") {
  auto daemon = daemon_process::start();
  const auto run = run_frames("stalled-reader --port " + std::to_string(daemon->port("echo")) +
                              " --size 4000000 --timeout 15");
  INFO(run.output);
  CHECK(run.result.at("timed_out") == "false");
  CHECK(run.result.at("other_exact") == "true");
  CHECK(run.result.at("stalled_ended") == "false");
  // What the server took of the stalled body is bounded by windows, not by its size: the client's
  // window for the echo (64 KiB) lets out pieces of at most the first window, and one taken
  // whole doubles the window (h2_session::widen_stream_window); the piece that then cannot leave
  // may double it once more, to 256 KiB. What the server holds of the stream, that piece and
  // what waits behind it, is at most its window.
  const auto sent = std::stoul(run.result.at("stalled_sent"));
  const auto echoed = std::stoul(run.result.at("stalled_received"));
  CHECK(echoed <= 65535);
  CHECK(sent - echoed <= 4 * 65536);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: one connection holds at most its 2 MiB window of request bodies",
          "[http2][flow][memory]") {
  auto daemon = daemon_process::start();
  // 128 echo streams of 64 KiB each (8 MiB in all, what the stream windows allow) whose answers
  // cannot leave: every window of the client's is shut. Each handler is stuck with the piece it
  // took, the rest waits for it, and the connection's window comes back for none of it: the
  // client can send 2 MiB, not 8.
  auto run =
      run_frames("held-bodies --initial-window 0 --count 128 --size 65535 --timeout 20 --port " +
                 std::to_string(daemon->port("echo")));
  // Then the client resets every stream: what was held is dropped and gives the window back, so
  // one more echo completes.
  check_results(run, {{"held", std::to_string(2 * 1024 * 1024)},
                      {"last_status", "200"},
                      {"last_ended", "true"},
                      {"last_exact", "true"},
                      {"closed", "false"},
                      {"timed_out", "false"}});
  // hello reads no body: what comes is dropped as it comes, and the window with it, so the whole
  // 8 MiB goes.
  run = run_frames("held-bodies --initial-window 0 --count 128 --size 65535 --timeout 20 --port " +
                   std::to_string(daemon->port("hello")));
  check_results(run, {{"sent_all", "true"},
                      {"last_status", "200"},
                      {"last_ended", "true"},
                      {"closed", "false"},
                      {"timed_out", "false"}});
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a preface whose SETTINGS never comes ends at the header timeout",
          "[http2][timeout]") {
  auto daemon = daemon_process::start({"--header-timeout", "1s"});
  // RFC 9113 §3.4: the client's preface is the magic and then a SETTINGS frame. With the magic
  // alone the connection is neither idle nor served: the header timeout ends it, not the idle
  // timeout a minute later.
  const auto started = std::chrono::steady_clock::now();
  raw_client client(daemon->port("hello"));
  client.send_all(std::string{preface});
  const auto answer = client.read_until_eof(5s);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(answer.closed);
  std::size_t goaways = 0;
  for (const auto& frame : frames_in(answer.data))
    if (frame.type == goaway_frame) ++goaways;
  CHECK(goaways == 1);
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 3s);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a header section left incomplete past the header timeout ends its connection",
          "[http2][timeout]") {
  auto daemon = daemon_process::start({"--header-timeout", "1s"});
  const auto port = std::to_string(daemon->port("hello"));
  const auto started = std::chrono::steady_clock::now();
  const auto run = run_frames("incomplete-headers --port " + port + " --timeout 10");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  INFO(run.output);
  // RFC 9113 §6.10: nothing else may come before its CONTINUATION, so the connection goes.
  CHECK(run.result.at("goaways") == "1");
  CHECK(run.result.at("closed") == "true");
  CHECK(run.result.at("responses") == "0");
  CHECK(run.output.find("goaway 1 NO_ERROR") != std::string::npos);
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 5s);
  // Others are served.
  const auto other = run_frames("echo-streams --port " + std::to_string(daemon->port("echo")));
  CHECK(other.result.at("exact") == "1");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a request body that stops coming is answered 408 on its stream alone",
          "[http2][timeout]") {
  auto daemon = daemon_process::start({"--body-timeout", "1s"});
  const auto port = std::to_string(daemon->port("echo"));
  auto run = run_frames("stalled-body --port " + port + " --size 100000");
  // The rest of the body is stopped (RFC 9113 §8.1); the connection goes on.
  check_results(run, {{"status", "408"},
                      {"ended", "true"},
                      {"reset", "NO_ERROR"},
                      {"goaways", "0"},
                      {"closed", "false"}});
  CHECK(run.result.at("body").rfind("408 Request Timeout: timed out reading", 0) == 0);

  // Once the echo's head has left, only a reset can end the response: CANCEL, the client's
  // doing.
  run = run_frames("stalled-body --sent 1000 --port " + port + " --size 100000");
  check_results(run, {{"status", "200"},
                      {"ended", "false"},
                      {"reset", "CANCEL"},
                      {"goaways", "0"},
                      {"closed", "false"}});

  // Below the minimum receive rate, long before the body timeout: the same 408, counted.
  auto slow = daemon_process::start(
      {"--min-receive-rate", "100000", "--min-rate-grace", "1s", "--admin", "127.0.0.1:0"});
  run = run_frames("stalled-body --port " + std::to_string(slow->port("echo")) + " --size 100000");
  INFO(run.output);
  CHECK(run.result.at("status") == "408");
  CHECK(run.result.at("body").find("minimum rate") != std::string::npos);
  CHECK(scrape_metric(
            *slow, "triserve_slow_clients_cut_total{server=\"echo\",direction=\"receive\"}") == 1);
  check_clean_exit(*slow);
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a client keeping its windows shut loses the stream, or the connection",
          "[http2][timeout][flow]") {
  auto daemon = daemon_process::start({"--write-timeout", "1s"});
  // Every stream window shut (SETTINGS_INITIAL_WINDOW_SIZE 0): hello's 13 bytes cannot leave.
  // The stream is cancelled after the write timeout; the connection, whose window is open,
  // stays.
  auto run =
      run_frames("shut-window --initial-window 0 --port " + std::to_string(daemon->port("hello")));
  check_results(run, {{"status", "200"},
                      {"ended", "false"},
                      {"received", "0"},
                      {"reset", "CANCEL"},
                      {"goaways", "0"},
                      {"closed", "false"}});

  // The connection's window shut (CVE-2019-9517's zero window): every stream is held, so the
  // connection is cut, with GOAWAY.
  run = run_frames("shut-window --hold-connection --size 200000 --port " +
                   std::to_string(daemon->port("echo")));
  check_results(run,
                {{"received", "65535"}, {"reset", "CANCEL"}, {"goaways", "1"}, {"closed", "true"}});
  check_clean_exit(*daemon);
}

TEST_CASE("http2: a client that stops reading the socket is cut at the write timeout",
          "[http2][timeout]") {
  auto daemon = daemon_process::start({"--write-timeout", "1s"});
  // 120 GETs to hello-name with a 50,000-byte name (6 MB of answers, more than the socket
  // buffers hold), nothing read for 4 s: the buffers fill, the write waits, and the connection is
  // cut after 1 s of it. Reading afterwards finds the close, not the rest of the answers. Header
  // blocks need no window of the server's: echo's bodies could not fill the buffers, a client
  // that never reads having no more than the connection's 2 MiB window to send.
  // Under a sanitizer the daemon decodes the 50 KB header blocks several times slower: it has
  // taken fewer requests, and so written fewer answers, when the hold ends.
  const std::string name(50000, 'a');
  const std::string hold = sanitized ? "12" : "4";
  const auto run = run_frames(
      "no-read --initial-window 2147483647 --count 120 --path /?name=" + name + " --hold-seconds " +
          hold + " --timeout 40 --port " + std::to_string(daemon->port("hello-name")),
      60s);
  INFO(run.output);
  CHECK(run.result.at("timed_out") == "false");
  CHECK(run.result.at("closed") == "true");
  CHECK(run.output.find("FLOW_CONTROL_ERROR") == std::string::npos);
  CHECK(std::stoul(run.result.at("ended")) < 120);
  CHECK(std::stoull(run.result.at("received")) < 120ULL * name.size());
  check_clean_exit(*daemon);
}

TEST_CASE(
    "http2: the drain's two GOAWAYs serve streams opened before the last one, and finish "
    "the one in flight",
    "[http2][drain]") {
  auto daemon = daemon_process::start();
  const auto run = run_frames("drain --port " + std::to_string(daemon->port("echo")) + " --pid " +
                              std::to_string(daemon->pid()) + " --size 200000 --timeout 15");
  INFO(run.output);
  CHECK(run.result.at("timed_out") == "false");
  CHECK(run.result.at("first_exact") == "true");
  CHECK(run.result.at("closed") == "true");
  // The first GOAWAY (last stream 2^31-1) and the final one (the last stream served).
  const auto goaways = lines_of(run.output);
  CHECK(std::count_if(goaways.begin(), goaways.end(), [](const std::string& line) {
          return line.find(" goaway ") != std::string::npos;
        }) == 2);
  CHECK(run.output.find("goaway 2147483647 NO_ERROR") != std::string::npos);
  // A stream opened after the first GOAWAY, before the PING's answer, is still served.
  const auto after_first = run.result.at("after_first_goaway");
  CHECK(run.output.find("response " + after_first + " 200") != std::string::npos);
  CHECK(run.output.find("goaway " + after_first + " NO_ERROR") != std::string::npos);
  // One opened after the final GOAWAY is not: it is refused, so the client may retry it
  // elsewhere (RFC 9113 §8.7).
  const auto after_last = run.result.at("after_last_goaway");
  CHECK(run.output.find("response " + after_last + " ") == std::string::npos);
  CHECK(run.output.find("reset " + after_last + " REFUSED_STREAM") != std::string::npos);
  const auto status = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}

TEST_CASE("http2: a stream stalled past the drain's deadline is reset with CANCEL, then closed",
          "[http2][drain]") {
  auto daemon = daemon_process::start({"--drain-timeout", "1500ms"});
  const auto run =
      run_frames("drain --hold --port " + std::to_string(daemon->port("echo")) + " --pid " +
                 std::to_string(daemon->pid()) + " --size 200000 --timeout 15");
  INFO(run.output);
  CHECK(run.result.at("timed_out") == "false");
  CHECK(run.result.at("first_exact") == "false");
  const auto cancel = run.output.find("reset 1 CANCEL");
  CHECK(cancel != std::string::npos);
  CHECK(cancel < run.output.find("closed"));
  const auto status = daemon->wait_for_exit(5s);
  INFO("stderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 1);
  // The report counts the connection, and the stream it carried.
  CHECK(daemon->log_lines_with("(1 HTTP/2 stream(s) open)").size() == 1);
  CHECK(daemon->log_lines_with("1 connection(s) cut (1 HTTP/2 stream(s) cancelled)").size() == 1);
}

TEST_CASE("http2: the drain delay serves HTTP/2 on while /readyz says 503", "[http2][drain]") {
  auto daemon = daemon_process::start({"--drain-delay", "30s", "--admin", "127.0.0.1:0"});
  daemon->send_signal(SIGTERM);
  REQUIRE(daemon->wait_for_log("draining in 30.0s"));
  const auto admin = std::to_string(daemon->port("admin"));
  auto result =
      run_command("curl -sS -o /dev/null -w %{http_code} http://127.0.0.1:" + admin + "/readyz");
  CHECK(result.output == "503");
  // New h2c connections and streams are served as before: no GOAWAY until the delay is over.
  // (nghttp, as Debian's curl 7.88 cannot reuse a prior-knowledge connection, with Go's server
  // as with ours.)
  result = run_command("nghttp -v http://127.0.0.1:" + std::to_string(daemon->port("hello")) +
                       "/ http://127.0.0.1:" + std::to_string(daemon->port("hello")) + "/again");
  INFO(result.output);
  CHECK(result.exit_code == 0);
  std::size_t served = 0;
  for (std::size_t at = 0; (at = result.output.find("Hello, world!", at)) != std::string::npos;
       ++at)
    ++served;
  CHECK(served == 2);
  CHECK(result.output.find("recv GOAWAY") == std::string::npos);
  daemon->send_signal(SIGTERM);  // a second signal drains at once
  const auto status = daemon->wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(status->code == 0);
}

TEST_CASE("http2: a second signal during the drain cancels the open streams at once",
          "[http2][drain]") {
  auto daemon = daemon_process::start({"--drain-timeout", "30s"});
  // The frame client sends the first SIGTERM itself, once its upload is half sent, and holds the
  // rest back; the second comes from here, after both GOAWAYs.
  const auto command =
      frames_command("drain --hold --port " + std::to_string(daemon->port("echo")) + " --pid " +
                     std::to_string(daemon->pid()) + " --size 200000 --timeout 20");
  auto frames = std::async(std::launch::async, [&] { return run_command(command, 30s); });
  REQUIRE(daemon->wait_for_log("draining (deadline 30.0s)"));
  std::this_thread::sleep_for(1500ms);
  const auto second = std::chrono::steady_clock::now();
  daemon->send_signal(SIGTERM);
  const auto status = daemon->wait_for_exit(5s);
  const auto run = frames_result(frames.get());
  INFO(run.output << "\nstderr:\n" << daemon->log());
  REQUIRE(status.has_value());
  CHECK(status->code == 1);
  CHECK(std::chrono::steady_clock::now() - second < 3s);
  CHECK(run.result.at("first_exact") == "false");
  const auto cancel = run.output.find("reset 1 CANCEL");
  CHECK(cancel != std::string::npos);
  CHECK(cancel < run.output.find("closed"));
  CHECK(daemon->log_lines_with("1 connection(s) cut (1 HTTP/2 stream(s) cancelled)").size() == 1);
}

TEST_CASE("http2: Rapid Reset and a CONTINUATION flood end the connection with GOAWAY",
          "[http2][hostile]") {
  auto daemon = daemon_process::start();
  const auto port = std::to_string(daemon->port("hello"));
  // CVE-2023-44487: far more resets at once than the bucket's 1000.
  auto run = run_frames("rapid-reset --port " + port + " --count 3000 --timeout 15");
  INFO(run.output);
  CHECK(run.result.at("goaways") != "0");
  CHECK(run.result.at("closed") == "true");
  // CVE-2024-28182: CONTINUATION frames without end.
  run = run_frames("continuation-flood --port " + port + " --count 1000 --timeout 15");
  INFO(run.output);
  CHECK(run.result.at("goaways") != "0");
  CHECK(run.result.at("closed") == "true");
  // The daemon serves on.
  CHECK(run_command("curl -sS --http2-prior-knowledge http://127.0.0.1:" + port + "/").output ==
        "Hello, world!");
  check_clean_exit(*daemon);
}

TEST_CASE("http2: an HPACK bomb ends its connection at once, in a request or in trailers",
          "[http2][hostile]") {
  auto daemon = daemon_process::start({"--admin", "127.0.0.1:0"});
  const auto port = std::to_string(daemon->port("hello"));
  // CVE-2016-6581: 20,000 one-byte references to a 3,000-byte field would decode to 60 MB; the
  // connection ends once the block passes 256 KiB, four times the 64 KiB we announce.
  for (const std::string trailers : {"", " --trailers"}) {
    const auto run =
        run_frames("header-bomb --port " + port + " --size 3000 --count 20000" + trailers);
    INFO(run.output);
    CHECK(run.result.at("goaway_code") == "ENHANCE_YOUR_CALM");
    CHECK(run.result.at("closed") == "true");
    CHECK(run.result.at("responses") == "1");  // the request that filled the table
  }
  CHECK(daemon
            ->log_lines_with("ended for a flood: a header block decoding to far more than the "
                             "header limit (HPACK bomb)")
            .size() == 2);
  const auto metrics = run_command(
      "curl -sS http://127.0.0.1:" + std::to_string(daemon->port("admin")) + "/metrics");
  CHECK_THAT(metrics.output,
             Catch::Contains(
                 "triserve_http2_floods_stopped_total{server=\"hello\",kind=\"header_bomb\"} 2"));
  CHECK(run_command("curl -sS --http2-prior-knowledge http://127.0.0.1:" + port + "/").output ==
        "Hello, world!");
  check_clean_exit(*daemon);
}

TEST_CASE(
    "http2: a header section past --max-header-bytes is answered 431, the connection "
    "serves on",
    "[http2][limits]") {
  auto daemon = daemon_process::start();
  const auto port = std::to_string(daemon->port("hello"));
  // RFC 9113 §6.5.2 counts each field as name + value + 32: the four pseudo-header fields the
  // client sends come to 174, and x-large to 39 + its size, so 65,323 bytes fill the 64 KiB.
  auto run = run_frames("large-headers --port " + port + " --size 65000");
  INFO(run.output);
  CHECK(run.result.at("status") == "200");
  run = run_frames("large-headers --port " + port + " --size 65400");
  INFO(run.output);
  CHECK(run.result.at("status") == "431");
  CHECK(run.result.at("goaways") == "0");
  CHECK(run.result.at("next_status") == "200");
  check_clean_exit(*daemon);
}

TEST_CASE(
    "http2: every case of h2spec's http2, hpack and generic groups and our own passes, over h2c "
    "and h2",
    "[http2][conformance]") {
  test_certificates certificates;
  auto daemon = daemon_process::start(with_tls(certificates));
  // The runner against hello and echo, each over h2c and over TLS, all at once, four cases at a
  // time each: every case opens its own connection, and each wait is bounded by its 2 s. The
  // flow-control cases that need a body in the answer to GET / are h2spec's to skip on echo.
  const auto tls = "--tls --ca " + certificates.path("ca.pem") + " --port ";
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"--port " + std::to_string(daemon->port("hello")), " 0 failed, 0 skipped"},
      {tls + std::to_string(tls_port(*daemon, "hello")), " 0 failed, 0 skipped"},
      {"--port " + std::to_string(daemon->port("echo")), " 0 failed, 4 skipped"},
      {tls + std::to_string(tls_port(*daemon, "echo")), " 0 failed, 4 skipped"}};
  std::vector<std::future<command_result>> results;
  for (const auto& run : runs)
    results.push_back(std::async(std::launch::async, [arguments = run.first] {
      return run_command(conformance_command("--jobs 4 " + arguments), 60s);
    }));
  for (std::size_t n = 0; n < runs.size(); ++n) {
    const auto result = results[n].get();
    INFO(runs[n].first);
    INFO(result.output);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find(runs[n].second) != std::string::npos);
  }
  check_clean_exit(*daemon);
}
