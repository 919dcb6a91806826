#!/usr/bin/python3
"""An HTTP/2 conformance runner in the manner of h2spec, on Debian's hpack.

It runs the cases of h2spec's three groups against one server: "http2" (RFC 9113 §3.5 to §8,
each case named by its RFC 7540 section as h2spec names it), "hpack" (RFC 7541) and "generic"
(frames and requests every server must accept). Each case opens its own connection (h2c with
prior knowledge, or h2 over TLS by ALPN), does what h2spec's case of the same id does, and judges
the answer as h2spec does:

  connection error X  GOAWAY with X, or the connection closed (a GOAWAY with another code does
                      not pass, but a close after it does: h2spec's own leniency, noted here)
  stream error X      RST_STREAM or GOAWAY with X, or the connection closed
  connection close    the connection closed
  a frame             the first frame of that type, as the case wants it

Every wait is bounded: an answer must come within --timeout seconds of the last frame (h2spec's
default, 2 s), and the whole run within --deadline. It prints one line per case,
"PASS|FAIL|SKIP <id> <description> [what was seen]", then a summary; the exit status is 0 only
if no case failed. SKIP is h2spec's: a case about flow control of a response body when the
server's response to GET --path has none (the echo server's).

Where RFC 9113 changed RFC 7540 the RFC 9113 reading is taken:
  - §5.3.2 deprecates the priority signals but keeps the frames and "some of the mandatory
    handling": a PRIORITY frame is still accepted in any stream state (generic/2, generic/3.3),
    one on stream 0 or of a length other than 5 is still an error (§6.3). The self-dependency
    cases (http2/5.3.1) are kept as h2spec has them: a server may answer with a stream error or
    a connection error, or close.
  - h2spec's "strict" cases run too (marked so): a GOAWAY before the close (§5.4.1 "SHOULD first
    send a GOAWAY"), a PRIORITY for an idle stream not opening it (§5.1.1, §6.3).
Cases of our own beside h2spec's are named "triserve/" and the section they check.
--no-strict leaves the strict cases out. The cases' frames are written one per write, with
TCP_NODELAY, as h2spec's Go client writes them: a server must cope with a request arriving
frame by frame.
"""

import argparse
import socket
import ssl
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §6: frame types and flags.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
FRAME_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING",
               "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# RFC 9113 §6.5.2.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, \
    MAX_HEADER_LIST_SIZE = range(1, 7)

# RFC 9113 §7.
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL, COMPRESSION_ERROR = range(10)
ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
               "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
               "HTTP_1_1_REQUIRED"]

DEFAULT_WINDOW = 65535
DEFAULT_FRAME_SIZE = 16384
# h2spec's --max-header-length default: the value of each dummy header field.
DUMMY_LENGTH = 4000


def error_name(code):
    return ERROR_NAMES[code] if code < len(ERROR_NAMES) else f"0x{code:x}"


# -- frames we send -----------------------------------------------------------------------------
def frame(kind, flags, stream, payload=b""):
    """One frame, exactly as given: nothing is checked, so that a case can send a bad one."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream) + payload


def settings_frame(*pairs, ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", key, value) for key, value in pairs))


def ping_frame(data, ack=False):
    return frame(PING, ACK if ack else 0, 0, data)


def window_update_frame(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def rst_stream_frame(stream, code):
    return frame(RST_STREAM, 0, stream, struct.pack(">I", code))


def goaway_frame(last_stream, code, debug=b""):
    return frame(GOAWAY, 0, 0, struct.pack(">II", last_stream, code) + debug)


def priority_fields(depends_on, weight, exclusive=False):
    return struct.pack(">IB", depends_on | (0x80000000 if exclusive else 0), weight)


def priority_frame(stream, depends_on=0, weight=255, exclusive=False):
    return frame(PRIORITY, 0, stream, priority_fields(depends_on, weight, exclusive))


def headers_frame(stream, block, end_stream=True, end_headers=True, pad=None, priority=None):
    flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
    payload = block
    if priority is not None:
        flags |= PRIORITY_FLAG
        payload = priority_fields(*priority) + payload
    if pad is not None:
        flags |= PADDED
        payload = bytes([pad]) + payload + b"\0" * pad
    return frame(HEADERS, flags, stream, payload)


def continuation_frame(stream, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream, block)


def data_frame(stream, payload, end_stream=True, pad=None):
    flags = END_STREAM if end_stream else 0
    if pad is not None:
        flags |= PADDED
        payload = bytes([len(pad)]) + payload + pad
    return frame(DATA, flags, stream, payload)


# -- what the server sends ----------------------------------------------------------------------
class Event:
    """A frame received, or "closed" (EOF or reset), or "timeout" (nothing within --timeout)."""

    def __init__(self, kind, frame_type=None, flags=0, stream=0, payload=b""):
        self.kind = kind
        self.type = frame_type
        self.flags = flags
        self.stream = stream
        self.payload = payload

    def is_frame(self, frame_type):
        return self.kind == "frame" and self.type == frame_type

    @property
    def error_code(self):
        if self.type == RST_STREAM:
            return struct.unpack(">I", self.payload[:4])[0]
        if self.type == GOAWAY:
            return struct.unpack(">I", self.payload[4:8])[0]
        return None

    def __str__(self):
        if self.kind != "frame":
            return self.kind
        name = FRAME_NAMES[self.type] if self.type < len(FRAME_NAMES) else f"type 0x{self.type:x}"
        if self.type == GOAWAY:
            return f"GOAWAY {error_name(self.error_code)}"
        if self.type == RST_STREAM:
            return f"RST_STREAM {self.stream} {error_name(self.error_code)}"
        if self.type == SETTINGS:
            return "SETTINGS ACK" if self.flags & ACK else "SETTINGS"
        if self.type == PING:
            return "PING ACK" if self.flags & ACK else "PING"
        if self.type in (DATA, HEADERS):
            end = " END_STREAM" if self.flags & END_STREAM else ""
            return f"{name} {self.stream} length {len(self.payload)}{end}"
        return f"{name} {self.stream}"


class Skipped(Exception):
    """The case does not apply to this server (h2spec's ErrSkipped)."""


class Verdict(Exception):
    """A case's outcome decided before its last check (a failed handshake, a wrong first frame)."""

    def __init__(self, passed, seen):
        super().__init__(seen)
        self.passed = passed
        self.seen = seen


class Connection:
    """One connection of one case: raw frames out, events in, every read bounded."""

    def __init__(self, args):
        self.args = args
        self.timeout = args.timeout
        raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
        # Each frame its own segment, as h2spec's Go client writes them (TCP_NODELAY is Go's
        # default): a server must cope with a request arriving frame by frame.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if args.tls:
            context = ssl.create_default_context(cafile=args.ca)
            context.set_alpn_protocols(["h2"])
            raw = context.wrap_socket(raw, server_hostname=args.server_name)
            if raw.selected_alpn_protocol() != "h2":
                raise Verdict(False, f"ALPN chose {raw.selected_alpn_protocol()!r}, not h2")
        self.sock = raw
        self.encoder = hpack.Encoder()
        self.inbound = bytearray()
        self.closed = False
        self.settings = {}
        self.seen = []  # what each wait saw, for the report
        # What we have received on each stream and the connection since the last WINDOW_UPDATE:
        # windows are reopened once used up, as h2spec does.
        self.window = {0: DEFAULT_WINDOW}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *frames):
        """Sends each frame in its own write."""
        for data in frames:
            try:
                self.sock.sendall(data)
            except OSError:
                # The server may have closed already; what it said before is still to be read.
                return

    def common_headers(self, method="GET"):
        """h2spec's request: :method, :scheme, :path, :authority (host:port)."""
        return [(":method", method), (":scheme", "https" if self.args.tls else "http"),
                (":path", self.args.path), (":authority", f"{self.args.host}:{self.args.port}")]

    def encode(self, fields):
        return self.encoder.encode(fields)

    def dummy_headers(self, count):
        return [(f"x-dummy{n}", "x" * DUMMY_LENGTH) for n in range(count)]

    def max_frame_size(self):
        return self.settings.get(MAX_FRAME_SIZE, DEFAULT_FRAME_SIZE)

    def handshake(self):
        """Preface and SETTINGS, then both SETTINGS exchanged and acknowledged (h2spec's)."""
        self.send(PREFACE + settings_frame((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)))
        local = remote = False
        while not (local and remote):
            event = self.next_event()
            if event.kind != "frame":
                raise Verdict(False, f"handshake: {event}")
            if event.type != SETTINGS:
                continue
            if event.flags & ACK:
                local = True
            else:
                remote = True
                for at in range(0, len(event.payload) - 5, 6):
                    key, value = struct.unpack(">HI", event.payload[at:at + 6])
                    self.settings[key] = value
                self.send(settings_frame(ack=True))
        self.seen.clear()

    def next_event(self):
        """The next frame, or "closed", or "timeout" after --timeout without one."""
        if self.closed:
            return Event("closed")
        deadline = time.monotonic() + self.timeout
        while True:
            if len(self.inbound) >= 9:
                length = int.from_bytes(self.inbound[:3], "big")
                if len(self.inbound) >= 9 + length:
                    header = bytes(self.inbound[:9])
                    payload = bytes(self.inbound[9:9 + length])
                    del self.inbound[:9 + length]
                    event = Event("frame", header[3], header[4],
                                  struct.unpack(">I", header[5:9])[0] & 0x7FFFFFFF, payload)
                    self.note(event)
                    if event.type == DATA:
                        self.reopen_windows(event)
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                return self.note(Event("timeout"))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return self.note(Event("closed"))
            self.inbound += data

    def note(self, event):
        self.seen.append(str(event))
        return event

    def reopen_windows(self, event):
        for stream in (event.stream, 0):
            left = self.window.get(stream, DEFAULT_WINDOW) - len(event.payload)
            if left <= 0:
                self.send(window_update_frame(stream, DEFAULT_WINDOW - left))
                left = DEFAULT_WINDOW
            self.window[stream] = left

    def report(self):
        """What was seen, the last few events first-to-last."""
        seen = self.seen[-4:]
        return ("... " if len(self.seen) > 4 else "") + ", ".join(seen) if seen else "nothing"


# -- verdicts (h2spec's verifiers) --------------------------------------------------------------
def connection_error(conn, *codes):
    """GOAWAY with one of `codes`, or the connection closed."""
    wrong = None
    while True:
        event = conn.next_event()
        if event.kind == "closed":
            note = f" (h2spec passes it; RFC wants {error_name(codes[0])})" if wrong else ""
            return True, conn.report() + note
        if event.kind == "timeout":
            return False, conn.report()
        if event.is_frame(GOAWAY):
            if event.error_code in codes:
                return True, conn.report()
            wrong = event


def stream_error(conn, *codes):
    """RST_STREAM or GOAWAY with one of `codes`, or the connection closed."""
    while True:
        event = conn.next_event()
        if event.kind == "closed":
            return True, conn.report()
        if event.kind == "timeout":
            return False, conn.report()
        if (event.is_frame(GOAWAY) or event.is_frame(RST_STREAM)) and event.error_code in codes:
            return True, conn.report()


def connection_close(conn):
    while True:
        event = conn.next_event()
        if event.kind == "closed":
            return True, conn.report()
        if event.kind == "timeout":
            return False, conn.report()


def stream_close(conn):
    """A frame ending a stream (DATA or HEADERS with END_STREAM, or RST_STREAM NO_ERROR)."""
    while True:
        event = conn.next_event()
        if event.kind != "frame":
            return False, conn.report()
        if event.type in (DATA, HEADERS) and event.flags & END_STREAM:
            return True, conn.report()
        if event.is_frame(RST_STREAM) and event.error_code == NO_ERROR:
            return True, conn.report()


def first_frame(conn, frame_type, check=lambda event: True):
    """The first frame of `frame_type` must come, and pass `check`."""
    while True:
        event = conn.next_event()
        if event.kind != "frame":
            return False, conn.report()
        if event.type == frame_type:
            return bool(check(event)), conn.report()


def require(result):
    """Ends the case unless an intermediate verdict passed."""
    passed, seen = result
    if not passed:
        raise Verdict(False, seen)


def headers_on(conn, stream):
    return first_frame(conn, HEADERS, lambda event: event.stream == stream)


def ping_ack(conn, data):
    return first_frame(conn, PING, lambda event: event.flags & ACK and event.payload == data)


def settings_ack(conn):
    return first_frame(conn, SETTINGS, lambda event: event.flags & ACK)


def data_of_length(conn, length):
    return first_frame(conn, DATA, lambda event: len(event.payload) == length)


def server_data_length(args):
    """The length of the body the server answers a GET of --path with, on a connection of its
    own (h2spec's ServerDataLength)."""
    conn = Connection(args)
    try:
        conn.handshake()
        conn.send(headers_frame(1, conn.encode(conn.common_headers())))
        total = 0
        while True:
            event = conn.next_event()
            if event.kind != "frame":
                raise Verdict(False, f"no complete response to GET {args.path}: {event}")
            if event.type == DATA:
                total += len(event.payload)
            if event.type in (DATA, HEADERS) and event.flags & END_STREAM:
                return total
    finally:
        conn.close()


# -- the cases ----------------------------------------------------------------------------------
CASES = []


def case(case_id, description, strict=False):
    """Registers a case: `case_id` is h2spec's group/section/number."""
    def register(run):
        CASES.append((case_id, description, run, strict))
        return run
    return register


def post_headers(conn, extra=()):
    fields = conn.common_headers("POST")
    fields.extend(extra)
    return conn.encode(fields)


# http2/3.5: HTTP/2 Connection Preface
@case("http2/3.5/1", "Sends client connection preface")
def _(conn):
    conn.send(PREFACE + settings_frame((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)))
    return first_frame(conn, SETTINGS, lambda event: not event.flags & ACK)


@case("http2/3.5/2", "Sends invalid connection preface")
def _(conn):
    conn.send(b"INVALID CONNECTION PREFACE\r\n\r\n")
    return connection_close(conn)


# http2/4.1: Frame Format
UNKNOWN_FRAME = frame(0x16, 0, 0, b"\0" * 8)


@case("http2/4.1/1", "Sends a frame with unknown type")
def _(conn):
    conn.handshake()
    conn.send(UNKNOWN_FRAME, ping_frame(b"\0" * 8))
    return first_frame(conn, PING)


@case("http2/4.1/2", "Sends a frame with undefined flag")
def _(conn):
    conn.handshake()
    conn.send(frame(PING, 0x16, 0, b"\0" * 8))
    return first_frame(conn, PING)


@case("http2/4.1/3", "Sends a frame with reserved field bit")
def _(conn):
    conn.handshake()
    conn.send(frame(PING, 0x16, 0x80000000, b"\0" * 8))
    return first_frame(conn, PING)


# http2/4.2: Frame Size
@case("http2/4.2/1", "Sends a DATA frame with 2^14 octets in length")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"x" * conn.max_frame_size()))
    return first_frame(conn, HEADERS)


@case("http2/4.2/2", "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"x" * (conn.max_frame_size() + 1)))
    return stream_error(conn, FRAME_SIZE_ERROR)


@case("http2/4.2/3", "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE")
def _(conn):
    conn.handshake()
    block = conn.encode(conn.common_headers() + conn.dummy_headers(5))
    conn.send(headers_frame(1, block))
    return connection_error(conn, FRAME_SIZE_ERROR)


# http2/4.3: Header Compression and Decompression
@case("http2/4.3/1", "Sends invalid header block fragment")
def _(conn):
    conn.handshake()
    # A literal field with incremental indexing, without its name's length or anything after.
    conn.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x40"))
    return connection_error(conn, COMPRESSION_ERROR)


def headers_then(conn, interloper, end_stream=False):
    """A header block left open by HEADERS, the frame `interloper(conn)` makes, then the
    CONTINUATION that ends the block. Each block is encoded in the order it is sent: HPACK's
    dynamic table is the decoder's in that order."""
    opening = headers_frame(1, conn.encode(conn.common_headers()), end_stream=end_stream,
                            end_headers=False)
    conn.send(opening, interloper(conn), continuation_frame(1, conn.encode(conn.dummy_headers(1))))


@case("http2/4.3/2", "Sends a PRIORITY frame while sending the header blocks")
def _(conn):
    conn.handshake()
    headers_then(conn, lambda c: priority_frame(1))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/4.3/3", "Sends a HEADERS frame to another stream while sending the header blocks")
def _(conn):
    conn.handshake()
    headers_then(conn, lambda c: headers_frame(3, c.encode(c.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/5.1: Stream States
@case("http2/5.1/1", "idle: Sends a DATA frame")
def _(conn):
    conn.handshake()
    conn.send(data_frame(1, b"test"))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/5.1/2", "idle: Sends a RST_STREAM frame")
def _(conn):
    conn.handshake()
    conn.send(rst_stream_frame(1, CANCEL))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/5.1/3", "idle: Sends a WINDOW_UPDATE frame")
def _(conn):
    conn.handshake()
    conn.send(window_update_frame(1, 100))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/5.1/4", "idle: Sends a CONTINUATION frame")
def _(conn):
    conn.handshake()
    conn.send(continuation_frame(1, conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/5.1/5", "half closed (remote): Sends a DATA frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())), data_frame(1, b"test"))
    return stream_error(conn, STREAM_CLOSED)


@case("http2/5.1/6", "half closed (remote): Sends a HEADERS frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())),
              headers_frame(1, conn.encode(conn.common_headers())))
    return stream_error(conn, STREAM_CLOSED)


@case("http2/5.1/7", "half closed (remote): Sends a CONTINUATION frame")
def _(conn):
    conn.handshake()
    block = conn.encode(conn.common_headers())
    conn.send(headers_frame(1, block), continuation_frame(1, block))
    return stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


@case("http2/5.1/8", "closed: Sends a DATA frame after sending RST_STREAM frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              rst_stream_frame(1, CANCEL), data_frame(1, b"test"))
    return stream_error(conn, STREAM_CLOSED)


@case("http2/5.1/9", "closed: Sends a HEADERS frame after sending RST_STREAM frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              rst_stream_frame(1, CANCEL), headers_frame(1, conn.encode(conn.common_headers())))
    return stream_error(conn, STREAM_CLOSED)


@case("http2/5.1/10", "closed: Sends a CONTINUATION frame after sending RST_STREAM frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              rst_stream_frame(1, CANCEL),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))))
    return stream_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


def after_stream_closed(conn, then):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    require(stream_close(conn))
    conn.send(then(conn))


@case("http2/5.1/11", "closed: Sends a DATA frame")
def _(conn):
    after_stream_closed(conn, lambda c: data_frame(1, b"test"))
    return connection_error(conn, STREAM_CLOSED)


@case("http2/5.1/12", "closed: Sends a HEADERS frame")
def _(conn):
    after_stream_closed(conn, lambda c: headers_frame(1, c.encode(c.common_headers())))
    return connection_error(conn, STREAM_CLOSED)


@case("http2/5.1/13", "closed: Sends a CONTINUATION frame")
def _(conn):
    after_stream_closed(conn, lambda c: continuation_frame(1, c.encode(c.dummy_headers(1))))
    return connection_error(conn, STREAM_CLOSED, PROTOCOL_ERROR)


# http2/5.1.1: Stream Identifiers
@case("http2/5.1.1/1", "Sends even-numbered stream identifier")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(2, conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/5.1.1/2", "Sends stream identifier that is numerically smaller than previous")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(5, conn.encode(conn.common_headers())),
              headers_frame(3, conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


@case("triserve/5.1.1/1", "Sends HEADERS on stream 1 after stream 3 (the first id skipped)")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(3, conn.encode(conn.common_headers())),
              headers_frame(1, conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/5.1.2: Stream Concurrency
@case("http2/5.1.2/1",
      "Sends HEADERS frames that causes their advertised concurrent stream limit to be exceeded")
def _(conn):
    conn.handshake()
    if MAX_CONCURRENT_STREAMS not in conn.settings:
        raise Skipped("no SETTINGS_MAX_CONCURRENT_STREAMS: unlimited")
    # A window of 0 keeps every response from ending its stream.
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 0)))
    block = conn.encode(conn.common_headers())
    conn.send(*(headers_frame(1 + 2 * n, block)
                for n in range(conn.settings[MAX_CONCURRENT_STREAMS] + 1)))
    return stream_error(conn, PROTOCOL_ERROR, REFUSED_STREAM)


# http2/5.3.1: Stream Dependencies
@case("http2/5.3.1/1", "Sends HEADERS frame that depends on itself")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), priority=(1, 255)))
    return stream_error(conn, PROTOCOL_ERROR)


@case("http2/5.3.1/2", "Sends PRIORITY frame that depend on itself")
def _(conn):
    conn.handshake()
    conn.send(priority_frame(1, depends_on=1))
    return stream_error(conn, PROTOCOL_ERROR)


# http2/5.4.1: Connection Error Handling
BAD_PING = frame(PING, 0, 3, b"\0" * 8)


@case("http2/5.4.1/1", "Sends an invalid PING frame for connection close")
def _(conn):
    conn.handshake()
    conn.send(BAD_PING)
    return connection_close(conn)


@case("http2/5.4.1/2", "Sends an invalid PING frame to receive GOAWAY frame", strict=True)
def _(conn):
    conn.handshake()
    conn.send(BAD_PING)
    while True:
        event = conn.next_event()
        if event.is_frame(GOAWAY):
            return True, conn.report()
        if event.kind != "frame":
            return False, conn.report()


# http2/5.5: Extending HTTP/2
@case("http2/5.5/1", "Sends an unknown extension frame")
def _(conn):
    conn.handshake()
    conn.send(UNKNOWN_FRAME, ping_frame(b"\0" * 8))
    return first_frame(conn, PING)


@case("http2/5.5/2", "Sends an unknown extension frame in the middle of a header block")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_headers=False),
              UNKNOWN_FRAME)
    return connection_error(conn, PROTOCOL_ERROR)


# http2/6.1: DATA
@case("http2/6.1/1", "Sends a DATA frame with 0x0 stream identifier")
def _(conn):
    conn.handshake()
    conn.send(data_frame(0, b"test"))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.1/2",
      "Sends a DATA frame on the stream that is not in \"open\" or \"half-closed (local)\" state")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn)), data_frame(1, b"test"))
    return stream_error(conn, STREAM_CLOSED)


@case("http2/6.1/3", "Sends a DATA frame with invalid pad length")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn, [("content-length", "4")]), end_stream=False),
              # Length 5: a pad length of 6, then "Test".
              frame(DATA, PADDED | END_STREAM, 1, b"\x06Test"))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/6.2: HEADERS
@case("http2/6.2/1", "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame")
def _(conn):
    conn.handshake()
    headers_then(conn, lambda c: priority_frame(1))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.2/2", "Sends a HEADERS frame to another stream while sending a HEADERS frame")
def _(conn):
    conn.handshake()
    headers_then(conn, lambda c: headers_frame(3, c.encode(c.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.2/3", "Sends a HEADERS frame with 0x0 stream identifier")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(0, conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.2/4", "Sends a HEADERS frame with invalid pad length")
def _(conn):
    conn.handshake()
    block = conn.encode(conn.common_headers())
    # A pad length one more than what follows it.
    conn.send(frame(HEADERS, PADDED | END_HEADERS | END_STREAM, 1,
                    bytes([len(block) + 2]) + block))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/6.3: PRIORITY
@case("http2/6.3/1", "Sends a PRIORITY frame with 0x0 stream identifier")
def _(conn):
    conn.handshake()
    conn.send(priority_frame(0))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.3/2", "Sends a PRIORITY frame with a length other than 5 octets")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())),
              frame(PRIORITY, 0, 1, b"\x80\x00\x00\x01"))
    return stream_error(conn, FRAME_SIZE_ERROR)


@case("http2/6.3/3",
      "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID",
      strict=True)
def _(conn):
    conn.handshake()
    conn.send(priority_frame(3), headers_frame(1, conn.encode(conn.common_headers())))
    return first_frame(conn, HEADERS)


# http2/6.4: RST_STREAM
@case("http2/6.4/1", "Sends a RST_STREAM frame with 0x0 stream identifier")
def _(conn):
    conn.handshake()
    conn.send(rst_stream_frame(0, CANCEL))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.4/2", "Sends a RST_STREAM frame on a idle stream")
def _(conn):
    conn.handshake()
    conn.send(rst_stream_frame(1, CANCEL))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.4/3", "Sends a RST_STREAM frame with a length other than 4 octets")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())),
              frame(RST_STREAM, 0, 1, b"\0\0\0"))
    return stream_error(conn, FRAME_SIZE_ERROR)


# http2/6.5: SETTINGS
@case("http2/6.5/1", "Sends a SETTINGS frame with ACK flag and payload")
def _(conn):
    conn.handshake()
    conn.send(frame(SETTINGS, ACK, 0, b"\0"))
    return connection_error(conn, FRAME_SIZE_ERROR)


@case("http2/6.5/2", "Sends a SETTINGS frame with a stream identifier other than 0x0")
def _(conn):
    conn.handshake()
    conn.send(frame(SETTINGS, 0, 1, struct.pack(">HI", MAX_CONCURRENT_STREAMS, 100)))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.5/3", "Sends a SETTINGS frame with a length other than a multiple of 6 octets")
def _(conn):
    conn.handshake()
    conn.send(frame(SETTINGS, 0, 0, struct.pack(">HI", MAX_CONCURRENT_STREAMS, 100) + b"\0\2"))
    return connection_error(conn, FRAME_SIZE_ERROR)


# http2/6.5.2: Defined SETTINGS Parameters
@case("http2/6.5.2/1", "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((ENABLE_PUSH, 2)))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.5.2/2",
      "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum flow control window "
      "size")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 1 << 31)))
    return connection_error(conn, FLOW_CONTROL_ERROR)


@case("http2/6.5.2/3", "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((MAX_FRAME_SIZE, DEFAULT_FRAME_SIZE - 1)))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.5.2/4",
      "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((MAX_FRAME_SIZE, 1 << 24)))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.5.2/5", "Sends a SETTINGS frame with unknown identifier")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((0xFF, 1)), ping_frame(b"\0" * 8))
    return first_frame(conn, PING)


# http2/6.5.3: Settings Synchronization
@case("http2/6.5.3/1", "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE")
def _(conn):
    if server_data_length(conn.args) < 1:
        raise Skipped(f"the response to GET {conn.args.path} has no body")
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 100), (INITIAL_WINDOW_SIZE, 1)))
    require(first_frame(conn, SETTINGS))
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    return data_of_length(conn, 1)


@case("http2/6.5.3/2", "Sends a SETTINGS frame without ACK flag")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((ENABLE_PUSH, 0)))
    return settings_ack(conn)


# http2/6.7: PING
@case("http2/6.7/1", "Sends a PING frame")
def _(conn):
    conn.handshake()
    conn.send(ping_frame(b"h2spec\0\0"))
    while True:
        event = conn.next_event()
        if event.kind != "frame":
            return False, conn.report()
        if event.is_frame(PING) and event.flags & ACK and event.payload == b"h2spec\0\0":
            return True, conn.report()


@case("http2/6.7/2", "Sends a PING frame with ACK")
def _(conn):
    conn.handshake()
    conn.send(ping_frame(b"invalid\0", ack=True), ping_frame(b"h2spec\0\0"))
    while True:
        event = conn.next_event()
        if event.kind != "frame":
            return False, conn.report()
        if event.is_frame(PING):
            if event.payload == b"invalid\0":
                return False, conn.report() + " (answered a PING ACK)"
            if event.flags & ACK and event.payload == b"h2spec\0\0":
                return True, conn.report()


@case("http2/6.7/3", "Sends a PING frame with a stream identifier field value other than 0x0")
def _(conn):
    conn.handshake()
    conn.send(frame(PING, 0, 1, b"\0" * 8))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.7/4", "Sends a PING frame with a length field value other than 8")
def _(conn):
    conn.handshake()
    # h2spec sends it on stream 1 and accepts PROTOCOL_ERROR, the code that stream id earns;
    # RFC 9113 §6.7 names FRAME_SIZE_ERROR for the length: either is right.
    conn.send(frame(PING, 0, 1, b"\0" * 6))
    return connection_error(conn, PROTOCOL_ERROR, FRAME_SIZE_ERROR)


# http2/6.8: GOAWAY
@case("http2/6.8/1", "Sends a GOAWAY frame with a stream identifier other than 0x0")
def _(conn):
    conn.handshake()
    conn.send(frame(GOAWAY, 0, 1, b"\0" * 8))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/6.9: WINDOW_UPDATE
@case("http2/6.9/1", "Sends a WINDOW_UPDATE frame with a flow control window increment of 0")
def _(conn):
    conn.handshake()
    conn.send(window_update_frame(0, 0))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.9/2",
      "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              window_update_frame(1, 0))
    return stream_error(conn, PROTOCOL_ERROR)


@case("http2/6.9/3", "Sends a WINDOW_UPDATE frame with a length other than 4 octets")
def _(conn):
    conn.handshake()
    conn.send(frame(WINDOW_UPDATE, 0, 0, b"\0\0\1"))
    return connection_error(conn, FRAME_SIZE_ERROR)


# http2/6.9.1: The Flow-Control Window
@case("http2/6.9.1/1",
      "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame")
def _(conn):
    if server_data_length(conn.args) < 1:
        raise Skipped(f"the response to GET {conn.args.path} has no body")
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 1)))
    require(first_frame(conn, SETTINGS))
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    return data_of_length(conn, 1)


@case("http2/6.9.1/2",
      "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1")
def _(conn):
    conn.handshake()
    conn.send(window_update_frame(0, (1 << 31) - 1), window_update_frame(0, (1 << 31) - 1))
    return first_frame(conn, GOAWAY, lambda event: event.error_code == FLOW_CONTROL_ERROR)


@case("http2/6.9.1/3",
      "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1 on "
      "a stream")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              window_update_frame(1, (1 << 31) - 1), window_update_frame(1, (1 << 31) - 1))
    return first_frame(conn, RST_STREAM,
                       lambda event: event.stream == 1 and event.error_code == FLOW_CONTROL_ERROR)


# http2/6.9.2: Initial Flow-Control Window Size
@case("http2/6.9.2/1", "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame")
def _(conn):
    if server_data_length(conn.args) < 1:
        raise Skipped(f"the response to GET {conn.args.path} has no body")
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 0)))
    require(first_frame(conn, SETTINGS))
    conn.send(headers_frame(1, conn.encode(conn.common_headers())),
              settings_frame((INITIAL_WINDOW_SIZE, 1)))
    require(first_frame(conn, SETTINGS))
    return data_of_length(conn, 1)


@case("http2/6.9.2/2", "Sends a SETTINGS frame for window size to be negative")
def _(conn):
    if server_data_length(conn.args) < 5:
        raise Skipped(f"the response to GET {conn.args.path} has fewer than 5 bytes")
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 3)))
    require(first_frame(conn, SETTINGS))
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    require(first_frame(conn, DATA))
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 2)))
    require(first_frame(conn, SETTINGS))
    # The window is now 2 - 3 = -1: an increment of 2 leaves room for 1 byte.
    conn.send(window_update_frame(1, 2))
    return data_of_length(conn, 1)


@case("http2/6.9.2/3",
      "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window size value")
def _(conn):
    conn.handshake()
    conn.send(frame(SETTINGS, 0, 0, b"\x00\x04\x80\x00\x00\x00"))
    return connection_error(conn, FLOW_CONTROL_ERROR)


# http2/6.10: CONTINUATION
@case("http2/6.10/1", "Sends multiple CONTINUATION frames preceded by a HEADERS frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_headers=False),
              continuation_frame(1, conn.encode(conn.dummy_headers(1)), end_headers=False),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))))
    return first_frame(conn, HEADERS)


@case("http2/6.10/2", "Sends a CONTINUATION frame followed by any frame other than CONTINUATION")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False, end_headers=False),
              continuation_frame(1, conn.encode(conn.dummy_headers(1)), end_headers=False),
              data_frame(1, b"test"))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.10/3", "Sends a CONTINUATION frame with 0x0 stream identifier")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_headers=False),
              continuation_frame(0, conn.encode(conn.dummy_headers(1))))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.10/4",
      "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.10/5",
      "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_headers=False),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))))
    return connection_error(conn, PROTOCOL_ERROR)


@case("http2/6.10/6", "Sends a CONTINUATION frame preceded by a DATA frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"test"),
              continuation_frame(1, conn.encode(conn.dummy_headers(1))))
    return connection_error(conn, PROTOCOL_ERROR)


# http2/7: Error Codes
@case("http2/7/1", "Sends a GOAWAY frame with unknown error code")
def _(conn):
    conn.handshake()
    conn.send(goaway_frame(0, 0xFF))
    return connection_close(conn)


@case("http2/7/2", "Sends a RST_STREAM frame with unknown error code")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              rst_stream_frame(1, 0xFF), ping_frame(b"\0" * 8))
    return first_frame(conn, PING)


# http2/8.1: HTTP Request/Response Exchange
@case("http2/8.1/1", "Sends a second HEADERS frame without the END_STREAM flag")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"test", end_stream=False),
              headers_frame(1, conn.encode([("x-test", "ok")]), end_stream=False))
    return stream_error(conn, PROTOCOL_ERROR)


def malformed(conn, fields):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(fields)))
    return stream_error(conn, PROTOCOL_ERROR)


# http2/8.1.2: HTTP Header Fields
@case("http2/8.1.2/1",
      "Sends a HEADERS frame that contains the header field name in uppercase letters")
def _(conn):
    return malformed(conn, conn.common_headers() + [("X-TEST", "ok")])


# http2/8.1.2.1: Pseudo-Header Fields
@case("http2/8.1.2.1/1", "Sends a HEADERS frame that contains a unknown pseudo-header field")
def _(conn):
    return malformed(conn, conn.common_headers() + [(":test", "ok")])


@case("http2/8.1.2.1/2",
      "Sends a HEADERS frame that contains the pseudo-header field defined for response")
def _(conn):
    return malformed(conn, conn.common_headers() + [(":status", "200")])


@case("http2/8.1.2.1/3", "Sends a HEADERS frame that contains a pseudo-header field as trailers")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"test", end_stream=False),
              headers_frame(1, conn.encode([(":method", "POST")]), end_stream=False))
    return stream_error(conn, PROTOCOL_ERROR)


@case("http2/8.1.2.1/4",
      "Sends a HEADERS frame that contains a pseudo-header field that appears in a header block "
      "after a regular header field")
def _(conn):
    return malformed(conn, [("x-test", "ok")] + conn.common_headers())


# http2/8.1.2.2: Connection-Specific Header Fields
@case("http2/8.1.2.2/1",
      "Sends a HEADERS frame that contains the connection-specific header field")
def _(conn):
    return malformed(conn, conn.common_headers() + [("connection", "keep-alive")])


@case("http2/8.1.2.2/2",
      "Sends a HEADERS frame that contains the TE header field with any value other than "
      "\"trailers\"")
def _(conn):
    return malformed(conn, conn.common_headers() + [("trailers", "test"),
                                                    ("te", "trailers, deflate")])


# http2/8.1.2.3: Request Pseudo-Header Fields
def without(fields, name):
    return [field for field in fields if field[0] != name]


def with_value(fields, name, value):
    return [(key, value if key == name else old) for key, old in fields]


@case("http2/8.1.2.3/1", "Sends a HEADERS frame with empty \":path\" pseudo-header field")
def _(conn):
    return malformed(conn, with_value(conn.common_headers(), ":path", ""))


@case("http2/8.1.2.3/2", "Sends a HEADERS frame that omits \":method\" pseudo-header field")
def _(conn):
    return malformed(conn, without(conn.common_headers(), ":method"))


@case("http2/8.1.2.3/3", "Sends a HEADERS frame that omits \":scheme\" pseudo-header field")
def _(conn):
    return malformed(conn, without(conn.common_headers(), ":scheme"))


@case("http2/8.1.2.3/4", "Sends a HEADERS frame that omits \":path\" pseudo-header field")
def _(conn):
    return malformed(conn, without(conn.common_headers(), ":path"))


@case("http2/8.1.2.3/5", "Sends a HEADERS frame with duplicated \":method\" pseudo-header field")
def _(conn):
    return malformed(conn, conn.common_headers() + [(":method", "GET")])


@case("http2/8.1.2.3/6", "Sends a HEADERS frame with duplicated \":scheme\" pseudo-header field")
def _(conn):
    fields = conn.common_headers()
    return malformed(conn, fields + [(":scheme", fields[1][1])])


@case("http2/8.1.2.3/7", "Sends a HEADERS frame with duplicated \":path\" pseudo-header field")
def _(conn):
    fields = conn.common_headers()
    return malformed(conn, fields + [(":path", fields[2][1])])


# http2/8.1.2.6: Malformed Requests and Responses
@case("http2/8.1.2.6/1",
      "Sends a HEADERS frame with the \"content-length\" header field which does not equal the "
      "DATA frame payload length")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn, [("content-length", "1")]), end_stream=False),
              data_frame(1, b"test"))
    return stream_error(conn, PROTOCOL_ERROR)


@case("http2/8.1.2.6/2",
      "Sends a HEADERS frame with the \"content-length\" header field which does not equal the "
      "sum of the multiple DATA frames payload length")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn, [("content-length", "1")]), end_stream=False),
              data_frame(1, b"test", end_stream=False), data_frame(1, b"test"))
    return stream_error(conn, PROTOCOL_ERROR)


# http2/8.2: Server Push
@case("http2/8.2/1", "Sends a PUSH_PROMISE frame")
def _(conn):
    conn.handshake()
    conn.send(frame(PUSH_PROMISE, END_HEADERS, 1,
                    struct.pack(">I", 3) + conn.encode(conn.common_headers())))
    return connection_error(conn, PROTOCOL_ERROR)


# hpack/2.3.3: Index Address Space
@case("hpack/2.3.3/1", "Sends a indexed header field representation with invalid index")
def _(conn):
    conn.handshake()
    # Index 70: past the 61 static entries and the few the request's fields add.
    block = conn.encode(conn.common_headers()) + b"\xc6"
    conn.send(headers_frame(1, block))
    return connection_error(conn, COMPRESSION_ERROR)


@case("hpack/2.3.3/2", "Sends a literal header field representation with invalid index")
def _(conn):
    conn.handshake()
    # A literal with incremental indexing whose name is index 70, and an empty value.
    block = conn.encode(conn.common_headers()) + b"\x7f\x07\x00"
    conn.send(headers_frame(1, block))
    return connection_error(conn, COMPRESSION_ERROR)


# hpack/4.2: Maximum Table Size
@case("hpack/4.2/1", "Sends a dynamic table size update at the end of header block")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + b"\x21"))
    return connection_error(conn, COMPRESSION_ERROR)


# hpack/5.2: String Literal Representation
# "x-test" Huffman-encoded, as each case's literal field name (without indexing, new name).
X_TEST = b"\x00\x85\xf2\xb2\x4a\x84\xff"


@case("hpack/5.2/1",
      "Sends a Huffman-encoded string literal representation with padding longer than 7 bits")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + X_TEST +
                            b"\x84\x49\x50\x9f\xff"))
    return connection_error(conn, COMPRESSION_ERROR)


@case("hpack/5.2/2", "Sends a Huffman-encoded string literal representation padded by zero")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + X_TEST + b"\x83\x49\x50\x90"))
    return connection_error(conn, COMPRESSION_ERROR)


@case("hpack/5.2/3",
      "Sends a Huffman-encoded string literal representation containing the EOS symbol")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + X_TEST +
                            b"\x87\xff\xff\xff\xfd\x25\x42\x7f"))
    return connection_error(conn, COMPRESSION_ERROR)


# hpack/6.1: Indexed Header Field Representation
@case("hpack/6.1/1", "Sends a indexed header field representation with index 0")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + b"\x80"))
    return connection_error(conn, COMPRESSION_ERROR)


# hpack/6.3: Dynamic Table Size Update
def table_size_update(size):
    """RFC 7541 §6.3: 001, then the size as a 5-bit-prefix integer (§5.1)."""
    if size < 31:
        return bytes([0x20 | size])
    out = bytearray([0x20 | 31])
    size -= 31
    while size >= 128:
        out.append(0x80 | (size & 0x7F))
        size >>= 7
    out.append(size)
    return bytes(out)


@case("hpack/6.3/1",
      "Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE")
def _(conn):
    conn.handshake()
    limit = conn.settings.get(HEADER_TABLE_SIZE, 4096)
    conn.send(headers_frame(1, table_size_update(limit + 1) +
                            conn.encode(conn.common_headers())))
    return connection_error(conn, COMPRESSION_ERROR)


# generic/1: Starting HTTP/2
@case("generic/1/1", "Sends a client connection preface")
def _(conn):
    conn.send(PREFACE + settings_frame((INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)))
    event = conn.next_event()
    return event.is_frame(SETTINGS) and not event.flags & ACK, conn.report()


# generic/2: Streams and Multiplexing
@case("generic/2/1", "Sends a PRIORITY frame on idle stream")
def _(conn):
    conn.handshake()
    conn.send(priority_frame(1), ping_frame(b"\0" * 8))
    return ping_ack(conn, b"\0" * 8)


@case("generic/2/2", "Sends a WINDOW_UPDATE frame on half-closed (remote) stream")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 0)),
              headers_frame(1, conn.encode(conn.common_headers())),
              window_update_frame(1, 1))
    return first_frame(conn, DATA)


@case("generic/2/3", "Sends a PRIORITY frame on half-closed (remote) stream")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((INITIAL_WINDOW_SIZE, 0)),
              headers_frame(1, conn.encode(conn.common_headers())),
              priority_frame(1), window_update_frame(1, 1))
    return first_frame(conn, DATA)


def ping_or_close(conn, data):
    while True:
        event = conn.next_event()
        if event.kind == "closed":
            return True, conn.report()
        if event.kind == "timeout":
            return False, conn.report()
        if event.is_frame(PING) and event.flags & ACK and event.payload == data:
            return True, conn.report()


@case("generic/2/4", "Sends a RST_STREAM frame on half-closed (remote) stream")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())), rst_stream_frame(1, CANCEL),
              ping_frame(b"\0" * 8))
    return ping_or_close(conn, b"\0" * 8)


@case("generic/2/5", "Sends a PRIORITY frame on closed stream")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    require(stream_close(conn))
    conn.send(priority_frame(1), ping_frame(b"\0" * 8))
    return ping_ack(conn, b"\0" * 8)


# generic/3.1: DATA
@case("generic/3.1/1", "Sends a DATA frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False), data_frame(1, b"test"))
    return headers_on(conn, 1)


@case("generic/3.1/2", "Sends multiple DATA frames")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"test", end_stream=False), data_frame(1, b"test"))
    return headers_on(conn, 1)


@case("generic/3.1/3", "Sends a DATA frame with padding")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False),
              data_frame(1, b"test", pad=b"padded"))
    return headers_on(conn, 1)


# generic/3.2: HEADERS
@case("generic/3.2/1", "Sends a HEADERS frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    return headers_on(conn, 1)


@case("generic/3.2/2", "Sends a HEADERS frame with padding")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), pad=8))
    return headers_on(conn, 1)


@case("generic/3.2/3", "Sends a HEADERS frame with priority")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), priority=(0, 255)))
    return headers_on(conn, 1)


# generic/3.3: PRIORITY
def priority_then_request(conn, priority):
    conn.handshake()
    conn.send(priority, headers_frame(1, conn.encode(conn.common_headers())))
    return headers_on(conn, 1)


@case("generic/3.3/1", "Sends a PRIORITY frame with priority 1")
def _(conn):
    return priority_then_request(conn, priority_frame(1, weight=0))


@case("generic/3.3/2", "Sends a PRIORITY frame with priority 256")
def _(conn):
    return priority_then_request(conn, priority_frame(1, weight=255))


@case("generic/3.3/3", "Sends a PRIORITY frame with stream dependency")
def _(conn):
    return priority_then_request(conn, priority_frame(3, depends_on=1, weight=0))


@case("generic/3.3/4", "Sends a PRIORITY frame with exclusive")
def _(conn):
    return priority_then_request(conn, priority_frame(1, weight=0, exclusive=True))


@case("generic/3.3/5",
      "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID")
def _(conn):
    return priority_then_request(conn, priority_frame(3))


# generic/3.4: RST_STREAM
@case("generic/3.4/1", "Sends a RST_STREAM frame")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()), end_stream=False),
              rst_stream_frame(1, CANCEL), ping_frame(b"\0" * 8))
    return ping_or_close(conn, b"\0" * 8)


# generic/3.5: SETTINGS
@case("generic/3.5/1", "Sends a SETTINGS frame")
def _(conn):
    conn.handshake()
    conn.send(settings_frame((HEADER_TABLE_SIZE, 4096), (ENABLE_PUSH, 1),
                             (MAX_CONCURRENT_STREAMS, 100), (INITIAL_WINDOW_SIZE, DEFAULT_WINDOW),
                             (MAX_FRAME_SIZE, DEFAULT_FRAME_SIZE), (MAX_HEADER_LIST_SIZE, 100)))
    return settings_ack(conn)


# generic/3.7: PING
@case("generic/3.7/1", "Sends a PING frame")
def _(conn):
    conn.handshake()
    conn.send(ping_frame(b"h2spec\0\0"))
    return ping_ack(conn, b"h2spec\0\0")


# generic/3.8: GOAWAY
@case("generic/3.8/1", "Sends a GOAWAY frame")
def _(conn):
    conn.handshake()
    conn.send(goaway_frame(0, NO_ERROR, b"h2spec"))
    return connection_close(conn)


# generic/3.9: WINDOW_UPDATE
@case("generic/3.9/1", "Sends a WINDOW_UPDATE frame with stream ID 0")
def _(conn):
    conn.handshake()
    conn.send(window_update_frame(0, 1), ping_frame(b"\0" * 8))
    return first_frame(conn, PING)


@case("generic/3.9/2", "Sends a WINDOW_UPDATE frame with stream ID 1")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())), window_update_frame(1, 1))
    return first_frame(conn, HEADERS)


# generic/3.10: CONTINUATION
@case("generic/3.10/1", "Sends a CONTINUATION frame")
def _(conn):
    conn.handshake()
    block = conn.encode(conn.common_headers())
    conn.send(headers_frame(1, block[:5], end_headers=False), continuation_frame(1, block[5:]))
    return headers_on(conn, 1)


@case("generic/3.10/2", "Sends multiple CONTINUATION frames")
def _(conn):
    conn.handshake()
    block = conn.encode(conn.common_headers())
    conn.send(headers_frame(1, block[:5], end_headers=False),
              continuation_frame(1, block[5:10], end_headers=False),
              continuation_frame(1, block[10:]))
    return headers_on(conn, 1)


# generic/4: HTTP Message Exchanges
@case("generic/4/1", "Sends a GET request")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers())))
    return headers_on(conn, 1)


@case("generic/4/2", "Sends a HEAD request")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers("HEAD"))))
    return headers_on(conn, 1)


@case("generic/4/3", "Sends a POST request")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn), end_stream=False), data_frame(1, b"test"))
    return headers_on(conn, 1)


@case("generic/4/4", "Sends a POST request with trailers")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, post_headers(conn, [("trailer", "x-test")]), end_stream=False),
              data_frame(1, b"test", end_stream=False),
              headers_frame(1, conn.encode([("x-test", "ok")])))
    return headers_on(conn, 1)


# generic/5: HPACK. Each field is appended to the request's block in its own representation
# (RFC 7541 §6): user-agent is static index 58; "h2spec" and "x-test" as literals, raw or
# Huffman-encoded (§5.2).
H2SPEC_RAW = b"\x06h2spec"
H2SPEC_HUFFMAN = b"\x84\x9c\x48\xac\xa4"
X_TEST_RAW = b"\x06x-test"
X_TEST_HUFFMAN = b"\x85\xf2\xb2\x4a\x84\xff"
USER_AGENT_INDEX = 58


def hpack_case(conn, representation):
    conn.handshake()
    conn.send(headers_frame(1, conn.encode(conn.common_headers()) + representation))
    return headers_on(conn, 1)


def indexed_name(prefix_bits, pattern, index):
    """A literal's first octet(s) naming `index` with an N-bit prefix (RFC 7541 §5.1)."""
    limit = (1 << prefix_bits) - 1
    if index < limit:
        return bytes([pattern | index])
    return bytes([pattern | limit, index - limit])


GENERIC_HPACK = [
    ("Sends a indexed header field representation", bytes([0x80 | USER_AGENT_INDEX])),
]
for kind, pattern, bits in (("with incremental indexing", 0x40, 6),
                            ("without indexing", 0x00, 4), ("never indexed", 0x10, 4)):
    GENERIC_HPACK += [
        (f"Sends a literal header field {kind} - indexed name",
         indexed_name(bits, pattern, USER_AGENT_INDEX) + H2SPEC_RAW),
        (f"Sends a literal header field {kind} - indexed name (with Huffman coding)",
         indexed_name(bits, pattern, USER_AGENT_INDEX) + H2SPEC_HUFFMAN),
        (f"Sends a literal header field {kind} - new name",
         bytes([pattern]) + X_TEST_RAW + H2SPEC_RAW),
        (f"Sends a literal header field {kind} - new name (with Huffman coding)",
         bytes([pattern]) + X_TEST_HUFFMAN + H2SPEC_HUFFMAN),
    ]
for number, (description, representation) in enumerate(GENERIC_HPACK, 1):
    case(f"generic/5/{number}", description)(
        lambda conn, representation=representation: hpack_case(conn, representation))


@case(f"generic/5/{len(GENERIC_HPACK) + 1}", "Sends a dynamic table size update")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, table_size_update(0) + conn.encode(conn.common_headers())))
    return headers_on(conn, 1)


@case(f"generic/5/{len(GENERIC_HPACK) + 2}", "Sends multiple dynamic table size update")
def _(conn):
    conn.handshake()
    conn.send(headers_frame(1, table_size_update(0) + table_size_update(4096) +
                            conn.encode(conn.common_headers())))
    return headers_on(conn, 1)


# -- the run ------------------------------------------------------------------------------------
def run_case(args, case_id, run, run_deadline):
    """One case on its own connection: ("PASS"|"FAIL"|"SKIP", what was seen)."""
    if time.monotonic() > run_deadline:
        return "FAIL", "not run: the whole run's --deadline passed"
    conn = None
    try:
        conn = Connection(args)
        passed, seen = run(conn)
        return ("PASS" if passed else "FAIL"), seen
    except Skipped as skipped:
        return "SKIP", str(skipped)
    except Verdict as verdict:
        return ("PASS" if verdict.passed else "FAIL"), verdict.seen
    except (OSError, ValueError) as error:
        return "FAIL", f"{type(error).__name__}: {error}"
    finally:
        if conn is not None:
            conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true", help="h2 over TLS (ALPN) instead of h2c")
    parser.add_argument("--ca", help="CA file that signed the server's certificate (--tls)")
    parser.add_argument("--server-name", default="localhost", help="SNI and name checked (--tls)")
    parser.add_argument("--path", default="/", help="the :path of every request")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="seconds to wait for each answer (h2spec's default: 2)")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="seconds the whole run may take")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each case: a case passes only if every run does")
    parser.add_argument("--no-strict", action="store_true", help="skip h2spec's strict cases")
    parser.add_argument("--list", action="store_true", help="list the cases selected, run none")
    parser.add_argument("cases", nargs="*",
                        help="ids or id prefixes to run (\"http2/5.1\", \"hpack\"); all if none")
    args = parser.parse_args()
    if not args.list and not args.port:
        parser.error("--port is required")

    selected = [(case_id, description, run, strict) for case_id, description, run, strict in CASES
                if (not args.cases or any(case_id == want or case_id.startswith(want + "/")
                                          or case_id.startswith(want + ".")
                                          for want in args.cases))
                and not (strict and args.no_strict)]
    if args.list:
        for case_id, description, _, strict in selected:
            print(f"{case_id} {description}{' (strict)' if strict else ''}")
        return
    run_deadline = time.monotonic() + args.deadline
    print_lock = threading.Lock()
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}

    def judge(entry):
        case_id, description, run, strict = entry
        outcomes = [run_case(args, case_id, run, run_deadline) for _ in range(args.repeat)]
        failed = [outcome for outcome in outcomes if outcome[0] == "FAIL"]
        status, seen = failed[0] if failed else outcomes[0]
        if failed and len(failed) < len(outcomes):
            seen += f" (failed {len(failed)} of {len(outcomes)} runs)"
        label = " (strict)" if strict else ""
        return status, f"{status} {case_id} {description}{label} [{seen}]"

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # In catalogue order, whatever order they finish in.
        for status, line in pool.map(judge, selected):
            with print_lock:
                counts[status] += 1
                print(line, flush=True)
    transport = "h2 (TLS)" if args.tls else "h2c"
    print(f"{len(selected)} cases against {args.host}:{args.port} over {transport}: "
          f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    sys.exit(1 if counts["FAIL"] else 0)


if __name__ == "__main__":
    main()
