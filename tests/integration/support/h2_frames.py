#!/usr/bin/python3
"""A frame-level HTTP/2 client for the integration tests, on Debian's hyperframe and hpack.

It writes and reads raw frames, so it can do what a well-behaved client never would (keep a
window shut, open streams after GOAWAY, flood), and keeps only the bookkeeping a client must: it
acknowledges SETTINGS and PING, decodes every header block (the HPACK table stays in step), and
opens windows for the streams it reads. It runs one scenario against an h2c (prior knowledge) or
h2 (TLS, ALPN) server and prints what it saw: one line per event ("goaway 1 NO_ERROR", "reset 3
REFUSED_STREAM", "ping", "response 1 200", "end 1 2048", "closed", each after the seconds since
the start), then one flat JSON object of results; the C++ tests judge them. Every wait is bounded:
the run ends within --timeout seconds, saying "timed_out": true if it had to.

Scenarios:
  echo-streams   --count concurrent POSTs of --size bytes on one connection; counts exact echoes.
  stalled-reader one echo stream whose window the client never opens again, and a second on the
                 same connection, which must complete.
  drain          opens an echo stream and sends half its body, sends SIGTERM to --pid, then opens
                 one more stream after each GOAWAY (the first before answering the PING), and finishes the first body after the last
                 (never, with --hold: the stream stalls until the drain's deadline).
  rapid-reset    --count HEADERS each cancelled at once by RST_STREAM (CVE-2023-44487).
  continuation-flood  one HEADERS without END_HEADERS, then --count CONTINUATION frames
                 (CVE-2024-28182).
  large-headers  one GET with a header field of --size bytes.
  header-bomb    a field of --size bytes in the HPACK table, then one request naming it --count
                 times (with --trailers, as the trailers of a POST) (CVE-2016-6581).
  incomplete-headers  one HEADERS without END_HEADERS, then silence: the header timeout's.
  stalled-body   a POST of --size bytes that sends --sent of them, then silence: the body
                 timeout's.
  shut-window    a GET of --path with every window of ours shut (SETTINGS_INITIAL_WINDOW_SIZE 0;
                 with --hold-connection the connection's window as well, by a POST of --size
                 bytes): the write timeout's.
  no-read        --count GETs of --path (CONTINUATION frames past one frame) with every window
                 of ours open, whose answers are not read for --hold-seconds; then reads until
                 the close. With a long name, hello-name's answers outgrow the socket buffers:
                 header blocks need no window of the server's, as bodies would.
  held-bodies    --count POSTs of --size bytes, sent as fast as the server's windows allow while
                 its answers cannot leave (run it with --initial-window 0), until it grants no
                 more for a second: "held" is what it took. Then every stream is reset, and one
                 more POST of --size bytes, its answer let out, must complete.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import time

import hpack
import hyperframe.frame as frames

# RFC 9113 §7.
ERROR_NAMES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
               "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
               "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
               "HTTP_1_1_REQUIRED"]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 9113 §6.9.2: every stream and the connection start with this window.
INITIAL_WINDOW = 65535
MAX_FRAME = 16384


class Peer:
    """One connection: raw frames over a socket, a deadline for everything."""

    def __init__(self, args):
        self.args = args
        self.start = time.monotonic()
        self.deadline = self.start + args.timeout
        raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
        if args.tls:
            context = ssl.create_default_context(cafile=args.ca)
            context.set_alpn_protocols(["h2"])
            raw = context.wrap_socket(raw, server_hostname=args.server_name)
            if raw.selected_alpn_protocol() != "h2":
                raise SystemExit(f"ALPN chose {raw.selected_alpn_protocol()!r}, not h2")
        self.sock = raw
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        # The server's limits may be above the defaults; the decoder must accept what it sends.
        self.decoder.max_allowed_table_size = 1 << 20
        self.inbound = bytearray()
        self.closed = False
        self.timed_out = False
        self.next_stream = 1
        self.events = []
        self.status = {}
        self.body = {}
        self.ended = set()
        self.reset = {}
        self.goaways = []
        self.goaway_code = None  # the last GOAWAY's
        self.send_window = INITIAL_WINDOW  # the connection's, for our DATA
        self.stream_send_window = {}
        self.initial_send_window = INITIAL_WINDOW
        self.max_frame = MAX_FRAME
        self.held_shut = set()  # streams whose window we never reopen
        self.hold_connection_window = False  # never reopen the connection's window
        self.ack_settings = True
        self.pending_block = {}  # header blocks awaiting CONTINUATION
        self.defer_ping_acks = False  # hold PING acknowledgements until release_ping_acks()
        self.deferred_acks = []
        settings = frames.SettingsFrame(0)
        if args.initial_window is not None:
            settings.settings[frames.SettingsFrame.INITIAL_WINDOW_SIZE] = args.initial_window
        self.send(PREFACE + settings.serialize())

    # -- time and I/O ---------------------------------------------------------------------------
    def left(self):
        return self.deadline - time.monotonic()

    def now(self):
        return round(time.monotonic() - self.start, 3)

    def record(self, *words):
        self.events.append(" ".join(str(word) for word in words))
        print(f"{self.now():8.3f} " + self.events[-1])

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def pump(self, wait):
        """Reads what arrives within `wait` seconds (bounded by the deadline) and handles every
        complete frame in it."""
        if self.closed:
            return
        wait = min(wait, self.left())
        if wait <= 0:
            self.timed_out = True
            return
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            self.record("closed")
            return
        self.inbound += data
        while len(self.inbound) >= 9:
            frame, length = frames.Frame.parse_frame_header(memoryview(self.inbound[:9]))
            if len(self.inbound) < 9 + length:
                break
            frame.parse_body(memoryview(self.inbound[9:9 + length]))
            del self.inbound[:9 + length]
            self.handle(frame)

    # -- what the server sends ------------------------------------------------------------------
    def handle(self, frame):
        if isinstance(frame, frames.SettingsFrame):
            if "ACK" not in frame.flags:
                size = frame.settings.get(frames.SettingsFrame.INITIAL_WINDOW_SIZE)
                if size is not None:
                    for stream in self.stream_send_window:
                        self.stream_send_window[stream] += size - self.initial_send_window
                    self.initial_send_window = size
                self.max_frame = frame.settings.get(frames.SettingsFrame.MAX_FRAME_SIZE,
                                                    self.max_frame)
                self.record("settings", *(f"{k}={v}" for k, v in sorted(frame.settings.items())))
                if self.ack_settings:
                    ack = frames.SettingsFrame(0)
                    ack.flags.add("ACK")
                    self.send(ack.serialize())
        elif isinstance(frame, frames.PingFrame):
            if "ACK" not in frame.flags:
                self.record("ping")
                ack = frames.PingFrame(0)
                ack.opaque_data = frame.opaque_data
                ack.flags.add("ACK")
                if self.defer_ping_acks:
                    self.deferred_acks.append(ack.serialize())
                else:
                    self.send(ack.serialize())
        elif isinstance(frame, frames.GoAwayFrame):
            self.goaways.append(frame.last_stream_id)
            self.goaway_code = error_name(frame.error_code)
            self.record("goaway", frame.last_stream_id, error_name(frame.error_code))
        elif isinstance(frame, frames.RstStreamFrame):
            self.reset[frame.stream_id] = frame.error_code
            self.record("reset", frame.stream_id, error_name(frame.error_code))
        elif isinstance(frame, frames.WindowUpdateFrame):
            if frame.stream_id == 0:
                self.send_window += frame.window_increment
            else:
                self.stream_send_window[frame.stream_id] = (
                    self.stream_send_window.get(frame.stream_id, self.initial_send_window)
                    + frame.window_increment)
        elif isinstance(frame, (frames.HeadersFrame, frames.ContinuationFrame)):
            block = self.pending_block.pop(frame.stream_id, b"") + bytes(frame.data)
            if "END_HEADERS" not in frame.flags:
                self.pending_block[frame.stream_id] = block
                return
            headers = dict(self.decoder.decode(block, raw=False))
            if ":status" in headers and frame.stream_id not in self.status:
                self.status[frame.stream_id] = int(headers[":status"])
                self.record("response", frame.stream_id, headers[":status"])
            if "END_STREAM" in frame.flags:
                self.stream_ended(frame.stream_id)
        elif isinstance(frame, frames.DataFrame):
            self.body.setdefault(frame.stream_id, bytearray()).extend(frame.data)
            length = frame.flow_controlled_length
            if length:
                # The connection's window reopens unless held; a held stream's never does.
                if not self.hold_connection_window:
                    self.window_update(0, length)
                if frame.stream_id not in self.held_shut and "END_STREAM" not in frame.flags:
                    self.window_update(frame.stream_id, length)
            if "END_STREAM" in frame.flags:
                self.stream_ended(frame.stream_id)

    def release_ping_acks(self):
        self.defer_ping_acks = False
        for ack in self.deferred_acks:
            self.send(ack)
        self.deferred_acks.clear()

    def stream_ended(self, stream):
        self.ended.add(stream)
        self.record("end", stream, len(self.body.get(stream, b"")))

    def window_update(self, stream, increment):
        update = frames.WindowUpdateFrame(stream)
        update.window_increment = increment
        self.send(update.serialize())

    # -- what we send ---------------------------------------------------------------------------
    def header_block(self, method, path, extra=()):
        scheme = "https" if self.args.tls else "http"
        return self.encoder.encode([(":method", method), (":scheme", scheme),
                                    (":authority", "localhost"), (":path", path), *extra])

    def header_frames(self, stream, block, end_stream=True):
        """`block` as a HEADERS frame and the CONTINUATION frames its size needs, serialized."""
        pieces = [block[at:at + self.max_frame]
                  for at in range(0, max(len(block), 1), self.max_frame)]
        out = bytearray()
        for n, piece in enumerate(pieces):
            frame = frames.HeadersFrame(stream) if n == 0 else frames.ContinuationFrame(stream)
            frame.data = piece
            if n == 0 and end_stream:
                frame.flags.add("END_STREAM")
            if n == len(pieces) - 1:
                frame.flags.add("END_HEADERS")
            out += frame.serialize()
        return bytes(out)

    def request(self, method="GET", path=None, body_length=None, extra=()):
        """Opens a stream with HEADERS (END_STREAM when there is no body); returns its id."""
        stream = self.next_stream
        self.next_stream += 2
        extra = list(extra)
        if body_length is not None:
            extra.append(("content-length", str(body_length)))
        headers = frames.HeadersFrame(stream)
        headers.data = self.header_block(method, path or self.args.path, extra)
        headers.flags.add("END_HEADERS")
        if not body_length:
            headers.flags.add("END_STREAM")
        self.stream_send_window[stream] = self.initial_send_window
        self.send(headers.serialize())
        return stream

    def send_body(self, stream, data, end):
        """Sends as much of `data` as the windows allow; returns how much went."""
        room = min(self.send_window, self.stream_send_window.get(stream, 0), len(data))
        sent = 0
        while sent < room:
            piece = min(room - sent, self.max_frame)
            frame = frames.DataFrame(stream)
            frame.data = data[sent:sent + piece]
            sent += piece
            if end and sent == len(data):
                frame.flags.add("END_STREAM")
            self.send(frame.serialize())
        self.send_window -= sent
        self.stream_send_window[stream] -= sent
        return sent

    def settle(self, seconds):
        """Keeps reading for `seconds`, or until the server closes."""
        end = time.monotonic() + seconds
        while not self.closed and time.monotonic() < end and self.left() > 0:
            self.pump(0.05)


def error_name(code):
    return ERROR_NAMES[code] if code < len(ERROR_NAMES) else f"0x{code:x}"


def pattern(size, seed):
    block = bytes((seed * 31 + i * 7) & 0xFF for i in range(251))
    return (block * (size // len(block) + 1))[:size]


def echo_streams(peer, args):
    bodies = {}
    offsets = {}
    for n in range(args.count):
        body = pattern(args.size, n)
        stream = peer.request("POST", body_length=len(body))
        bodies[stream] = body
        offsets[stream] = 0
    while peer.left() > 0 and not peer.closed and len(peer.ended | set(peer.reset)) < len(bodies):
        for stream in bodies:
            if offsets[stream] < len(bodies[stream]) and stream not in peer.reset:
                offsets[stream] += peer.send_body(stream, bodies[stream][offsets[stream]:], True)
        peer.pump(0.05)
    exact = sum(1 for stream, body in bodies.items()
                if stream in peer.ended and peer.status.get(stream) == 200
                and bytes(peer.body.get(stream, b"")) == body)
    return {"streams": len(bodies), "completed": len(peer.ended), "exact": exact,
            "reset": len(peer.reset)}


def stalled_reader(peer, args):
    stalled_body = pattern(args.size, 1)
    stalled = peer.request("POST", body_length=len(stalled_body))
    peer.held_shut.add(stalled)
    offset = 0
    # Feed the stalled stream until the server stops taking it: its echo cannot leave.
    quiet_since = time.monotonic()
    while peer.left() > 1 and time.monotonic() - quiet_since < 1.0 and offset < len(stalled_body):
        sent = peer.send_body(stalled, stalled_body[offset:], True)
        offset += sent
        if sent:
            quiet_since = time.monotonic()
        peer.pump(0.05)
    other_body = pattern(64 * 1024, 2)
    other = peer.request("POST", body_length=len(other_body))
    other_offset = 0
    while peer.left() > 0 and not peer.closed and other not in peer.ended:
        other_offset += peer.send_body(other, other_body[other_offset:], True)
        peer.pump(0.05)
    return {"stalled_sent": offset, "stalled_received": len(peer.body.get(stalled, b"")),
            "stalled_ended": stalled in peer.ended,
            "other_exact": other in peer.ended
            and bytes(peer.body.get(other, b"")) == other_body}


def drain(peer, args):
    body = pattern(args.size, 3)
    first = peer.request("POST", body_length=len(body))
    half = len(body) // 2
    sent = peer.send_body(first, body[:half], False)
    peer.settle(0.2)
    peer.record("signal")
    # The PING sent with the first GOAWAY is answered only once the stream opened after that
    # GOAWAY is on its way: the server then sees that stream before the round trip ends.
    peer.defer_ping_acks = True
    os.kill(args.pid, signal.SIGTERM)
    after_first = after_last = None
    while peer.left() > 0 and not peer.closed:
        peer.pump(0.05)
        if peer.goaways and after_first is None:
            after_first = peer.request()
            peer.release_ping_acks()
        if len(peer.goaways) >= 2 and after_last is None:
            after_last = peer.request()
            # The rest of the first body (its stream is at or below the last id), unless it is
            # to stall until the drain's deadline.
            rest = b"" if args.hold else body[sent:]
            while rest and peer.left() > 0 and not peer.closed:
                went = peer.send_body(first, rest, True)
                rest = rest[went:]
                peer.pump(0.05)
        if first in peer.ended or first in peer.reset:
            peer.settle(2.0)  # the server must close, with no stream left
            break
    return {"first": first, "after_first_goaway": after_first, "after_last_goaway": after_last,
            "first_exact": first in peer.ended and bytes(peer.body.get(first, b"")) == body,
            "closed": peer.closed}


def until_goaway(peer):
    while peer.left() > 0 and not peer.closed and not peer.goaways:
        peer.pump(0.1)
    if peer.goaways:
        peer.settle(2.0)  # then the server must close
    return {"goaways": len(peer.goaways), "goaway_code": peer.goaway_code, "closed": peer.closed,
            "resets": len(peer.reset), "responses": len(peer.status)}


def rapid_reset(peer, args):
    # All at once, as an attacker sends them.
    burst = bytearray()
    for _ in range(args.count):
        stream = peer.request()
        del peer.stream_send_window[stream]
        reset = frames.RstStreamFrame(stream)
        reset.error_code = 8  # CANCEL
        burst += reset.serialize()
        if len(burst) > 65536:
            peer.send(bytes(burst))
            burst.clear()
    peer.send(bytes(burst))
    result = until_goaway(peer)
    result["sent"] = args.count
    return result


def continuation_flood(peer, args):
    headers = frames.HeadersFrame(1)
    headers.data = peer.header_block("GET", args.path)
    headers.flags.add("END_STREAM")
    burst = bytearray(headers.serialize())
    for n in range(args.count):
        continuation = frames.ContinuationFrame(1)
        continuation.data = peer.encoder.encode([(f"x-flood-{n % 10}", "a")])
        burst += continuation.serialize()
        if len(burst) > 65536:
            peer.send(bytes(burst))
            burst.clear()
    peer.send(bytes(burst))
    result = until_goaway(peer)
    result["sent"] = args.count
    return result


def header_bomb(peer, args):
    # One field of --size bytes enters the dynamic table with the first request (answered), then
    # a request names it --count times by its one-byte index (CVE-2016-6581). With --trailers
    # the bomb comes as the trailers of a POST instead.
    peer.request(extra=[("x-big", "b" * args.size)])
    while peer.left() > 0 and not peer.closed and not peer.status:
        peer.pump(0.1)
    index = bytes([0x80 | 62])  # the newest dynamic entry (RFC 7541 §2.3.3, §6.1)
    stream = peer.next_stream
    peer.next_stream += 2
    if args.trailers:
        peer.stream_send_window[stream] = peer.initial_send_window
        opening = frames.HeadersFrame(stream)
        opening.data = peer.header_block("POST", args.path)
        opening.flags.add("END_HEADERS")
        peer.send(opening.serialize())
        block = index * args.count
    else:
        block = peer.header_block("GET", args.path) + index * args.count
    peer.send(peer.header_frames(stream, block))
    return until_goaway(peer)


def large_headers(peer, args):
    stream = peer.next_stream
    peer.next_stream += 2
    block = peer.header_block("GET", args.path, [("x-large", "a" * args.size)])
    peer.send(peer.header_frames(stream, block))
    while peer.left() > 0 and not peer.closed and stream not in peer.ended \
            and stream not in peer.reset and not peer.goaways:
        peer.pump(0.1)
    # Then a normal request on the same connection, unless it was closed.
    follow = None
    if not peer.closed and not peer.goaways:
        follow = peer.request()
        while peer.left() > 0 and not peer.closed and follow not in peer.ended:
            peer.pump(0.1)
    return {"status": peer.status.get(stream),
            "reset": error_name(peer.reset[stream]) if stream in peer.reset else None,
            "goaways": len(peer.goaways),
            "next_status": peer.status.get(follow) if follow else None}


def incomplete_headers(peer, args):
    headers = frames.HeadersFrame(1)
    headers.data = peer.header_block("GET", args.path)
    headers.flags.add("END_STREAM")  # but not END_HEADERS: a CONTINUATION must follow
    peer.send(headers.serialize())
    # Nothing else may come before that CONTINUATION (RFC 9113 §6.10), not even the
    # acknowledgement of the server's SETTINGS.
    peer.ack_settings = False
    return until_goaway(peer)


def stalled_body(peer, args):
    stream = peer.request("POST", body_length=args.size)
    if args.sent:
        peer.send_body(stream, pattern(args.sent, 4), False)
    while peer.left() > 0 and not peer.closed and stream not in peer.ended \
            and stream not in peer.reset:
        peer.pump(0.1)
    peer.settle(0.3)  # what follows the answer: a reset ending the body we never finished
    return {"status": peer.status.get(stream), "ended": stream in peer.ended,
            "reset": error_name(peer.reset[stream]) if stream in peer.reset else None,
            "body": bytes(peer.body.get(stream, b"")).decode("latin-1"),
            "goaways": len(peer.goaways), "closed": peer.closed}


def shut_window(peer, args):
    if args.hold_connection:
        # The stream windows are ours to open; the connection's stays shut once the echo has
        # used it up.
        peer.hold_connection_window = True
        body = pattern(args.size, 5)
        stream = peer.request("POST", body_length=len(body))
        offset = 0
        while peer.left() > 0 and not peer.closed and stream not in peer.reset \
                and offset < len(body):
            offset += peer.send_body(stream, body[offset:], True)
            peer.pump(0.05)
    else:
        stream = peer.request()
    while peer.left() > 0 and not peer.closed and stream not in peer.ended \
            and stream not in peer.reset:
        peer.pump(0.1)
    peer.settle(0.5)
    return {"status": peer.status.get(stream), "ended": stream in peer.ended,
            "received": len(peer.body.get(stream, b"")),
            "reset": error_name(peer.reset[stream]) if stream in peer.reset else None,
            "goaways": len(peer.goaways), "closed": peer.closed}


def no_read(peer, args):
    # Every window of ours open, so that only the socket can hold the answers back; then the
    # server's SETTINGS and connection window are read, and nothing more.
    peer.window_update(0, (1 << 31) - 1 - INITIAL_WINDOW)
    peer.settle(0.3)
    pending = []
    # Encoded once: a path larger than the HPACK table empties it, so every request leaves the
    # table as the first did, and the same block decodes the same each time.
    block = peer.header_block("GET", args.path)
    for _ in range(args.count):
        pending.append(peer.header_frames(peer.next_stream, block))
        peer.next_stream += 2
    out = b"".join(pending)
    sent = 0
    held_until = time.monotonic() + args.hold_seconds
    peer.sock.setblocking(False)
    while time.monotonic() < held_until:
        if sent == len(out):
            time.sleep(0.05)
            continue
        try:
            sent += peer.sock.send(out[sent:])
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:
            break
    peer.sock.setblocking(True)
    peer.record("reading", sent)
    while peer.left() > 0 and not peer.closed and len(peer.ended) < args.count:
        peer.pump(0.2)
    return {"streams": args.count, "sent": sent, "ended": len(peer.ended),
            "received": sum(len(body) for body in peer.body.values()), "closed": peer.closed,
            "goaways": len(peer.goaways)}


def held_bodies(peer, args):
    bodies = {peer.request("POST", body_length=args.size): pattern(args.size, n)
              for n in range(args.count)}
    offsets = dict.fromkeys(bodies, 0)
    quiet_since = time.monotonic()
    while peer.left() > 1 and not peer.closed and time.monotonic() - quiet_since < 1.0:
        for stream, body in bodies.items():
            sent = peer.send_body(stream, body[offsets[stream]:], True)
            offsets[stream] += sent
            if sent:
                quiet_since = time.monotonic()
        peer.pump(0.05)
    held = sum(offsets.values())
    peer.record("held", held)
    # Nobody will read what the server holds for streams that are gone: their bytes must give
    # the connection's window back, or the next stream would wait for it forever.
    for stream in bodies:
        reset = frames.RstStreamFrame(stream)
        reset.error_code = 8  # CANCEL
        peer.send(reset.serialize())
    body = pattern(args.size, args.count)
    last = peer.request("POST", body_length=len(body))
    peer.window_update(last, (1 << 31) - 1)
    offset = 0
    while peer.left() > 0 and not peer.closed and last not in peer.ended and last not in peer.reset:
        offset += peer.send_body(last, body[offset:], True)
        peer.pump(0.05)
    return {"streams": len(bodies), "held": held, "sent_all": held == args.count * args.size,
            "last_status": peer.status.get(last), "last_ended": last in peer.ended,
            "last_exact": bytes(peer.body.get(last, b"")) == body, "closed": peer.closed}


SCENARIOS = {
    "incomplete-headers": incomplete_headers,
    "stalled-body": stalled_body,
    "shut-window": shut_window,
    "no-read": no_read,
    "held-bodies": held_bodies,
    "echo-streams": echo_streams,
    "stalled-reader": stalled_reader,
    "drain": drain,
    "rapid-reset": rapid_reset,
    "continuation-flood": continuation_flood,
    "large-headers": large_headers,
    "header-bomb": header_bomb,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca")
    parser.add_argument("--server-name", default="localhost")
    parser.add_argument("--path", default="/")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--hold-connection", action="store_true")
    parser.add_argument("--trailers", action="store_true")
    parser.add_argument("--sent", type=int, default=0)
    parser.add_argument("--hold-seconds", type=float, default=3.0)
    parser.add_argument("--initial-window", type=int)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    peer = Peer(args)
    result = SCENARIOS[args.scenario](peer, args)
    result["timed_out"] = peer.timed_out
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
