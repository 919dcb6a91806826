#!/usr/bin/python3
"""Writes the seed corpus of h2_connection_fuzz: what HTTP/2 clients send after the connection
preface (which the harness sends itself), one file per conversation, framed with Debian's
hyperframe and hpack (python3-hyperframe, python3-hpack; run with /usr/bin/python3).

Usage: tests/fuzz/h2_seeds.py [directory, default tests/fuzz/corpus/h2_connection_fuzz]
"""

import os
import sys

import hpack
import hyperframe.frame as frames


class Conversation:
    """A client's frames, in order, with one HPACK encoder for the connection."""

    def __init__(self, settings=None):
        self.encoder = hpack.Encoder()
        self.wire = bytearray()
        self.settings(settings or {})

    def add(self, frame, *flags):
        for flag in flags:
            frame.flags.add(flag)
        self.wire += frame.serialize()
        return self

    def settings(self, values, *flags):
        frame = frames.SettingsFrame(0)
        frame.settings = values
        return self.add(frame, *flags)

    def headers(self, stream, fields, *flags):
        frame = frames.HeadersFrame(stream)
        frame.data = self.encoder.encode(fields)
        return self.add(frame, "END_HEADERS", *flags)

    def request(self, stream, method, path, extra=(), *flags):
        fields = [(":method", method), (":scheme", "http"), (":path", path),
                  (":authority", "localhost")] + list(extra)
        return self.headers(stream, fields, *flags)

    def data(self, stream, payload, *flags, pad=0):
        frame = frames.DataFrame(stream)
        frame.data = payload
        if pad:
            frame.pad_length = pad
            flags += ("PADDED",)
        return self.add(frame, *flags)

    def window_update(self, stream, increment):
        frame = frames.WindowUpdateFrame(stream)
        frame.window_increment = increment
        return self.add(frame)

    def reset(self, stream, code):
        frame = frames.RstStreamFrame(stream)
        frame.error_code = code
        return self.add(frame)

    def ping(self, opaque=b"12345678"):
        frame = frames.PingFrame(0)
        frame.opaque_data = opaque
        return self.add(frame)

    def goaway(self, last, code=0):
        frame = frames.GoAwayFrame(0)
        frame.last_stream_id = last
        frame.error_code = code
        return self.add(frame)

    def priority(self, stream, depends_on, weight=16):
        frame = frames.PriorityFrame(stream)
        frame.depends_on = depends_on
        frame.stream_weight = weight
        return self.add(frame)


def settings_ack(conversation):
    return conversation.settings({}, "ACK")


def seeds():
    # The product's three paths, each as a plain GET, as curl --http2-prior-knowledge sends it.
    curl = [("user-agent", "curl/7.88.1"), ("accept", "*/*")]
    yield "get-hello", settings_ack(Conversation()).request(1, "GET", "/", curl, "END_STREAM")
    yield "get-name", Conversation().request(1, "GET", "/?name=Alex%20B", curl, "END_STREAM")
    yield "head", Conversation().request(1, "HEAD", "/", (), "END_STREAM")
    yield "post-echo", (Conversation().request(1, "POST", "/echo", [("content-length", "11")])
                        .data(1, b"hello world", "END_STREAM"))
    yield "post-echo-no-length", (Conversation().request(1, "POST", "/echo")
                                  .data(1, b"first ").data(1, b"second", "END_STREAM"))
    yield "post-padded", (Conversation().request(1, "PUT", "/", [("content-length", "4")])
                          .data(1, b"abcd", "END_STREAM", pad=7))
    yield "post-empty-end", Conversation().request(1, "POST", "/").data(1, b"", "END_STREAM")
    yield "expect-continue", (Conversation()
                              .request(1, "POST", "/", [("content-length", "3"),
                                                        ("expect", "100-continue")])
                              .data(1, b"abc", "END_STREAM"))
    yield "trailers", (Conversation().request(1, "POST", "/", [("te", "trailers")])
                       .data(1, b"body")
                       .headers(1, [("x-checksum", "1234")], "END_STREAM"))
    # nghttp -v: a SETTINGS with its window and a PRIORITY tree, then the request.
    nghttp = Conversation({frames.SettingsFrame.MAX_CONCURRENT_STREAMS: 100,
                           frames.SettingsFrame.INITIAL_WINDOW_SIZE: 65535})
    for stream, weight in ((3, 201), (5, 101), (7, 1), (9, 1), (11, 1)):
        nghttp.priority(stream, 0, weight)
    yield "nghttp-priorities", nghttp.request(13, "GET", "/", [("accept", "*/*")], "END_STREAM")
    # A header block in three frames.
    split = Conversation()
    block = split.encoder.encode([(":method", "GET"), (":scheme", "http"), (":path", "/?name=x"),
                                  (":authority", "localhost"), ("accept", "*/*")])
    first = frames.HeadersFrame(1)
    first.data = block[:5]
    split.add(first, "END_STREAM")
    middle = frames.ContinuationFrame(1)
    middle.data = block[5:9]
    split.add(middle)
    last = frames.ContinuationFrame(1)
    last.data = block[9:]
    yield "continuation", split.add(last, "END_HEADERS")
    yield "rst-stream", (Conversation().request(1, "POST", "/", [("content-length", "100")])
                         .data(1, b"part").reset(1, 8).request(3, "GET", "/", (), "END_STREAM"))
    yield "ping", Conversation().ping().request(1, "GET", "/", (), "END_STREAM").ping(b"abcdefgh")
    yield "goaway", Conversation().request(1, "GET", "/", (), "END_STREAM").goaway(1)
    # A small stream window: the echo flows only as the client reopens it.
    small = Conversation({frames.SettingsFrame.INITIAL_WINDOW_SIZE: 4})
    small.request(1, "POST", "/", [("content-length", "20")]).data(1, b"0123456789")
    small.window_update(1, 8).data(1, b"abcdefghij", "END_STREAM").window_update(0, 100)
    yield "window-updates", small.window_update(1, 100)
    many = Conversation()
    for stream in range(1, 42, 2):
        many.request(stream, "GET" if stream % 3 else "POST", f"/?name=s{stream}", (),
                     "END_STREAM")
    yield "many-streams", many
    interleaved = Conversation()
    for stream in (1, 3, 5):
        interleaved.request(stream, "POST", "/echo")
    for stream in (5, 3, 1):
        interleaved.data(stream, f"body of {stream}".encode(), "END_STREAM")
    yield "interleaved-bodies", interleaved
    reset_flood = Conversation()
    for stream in range(1, 40, 2):
        reset_flood.request(stream, "GET", "/").reset(stream, 8)
    yield "rapid-reset", reset_flood
    yield "table-size-zero", (Conversation({frames.SettingsFrame.HEADER_TABLE_SIZE: 0})
                              .request(1, "GET", "/", [("cookie", "a=b")], "END_STREAM")
                              .request(3, "GET", "/", [("cookie", "a=b")], "END_STREAM"))
    yield "large-header", Conversation().request(1, "GET", "/", [("x-big", "v" * 2000)],
                                                 "END_STREAM")
    yield "connect", (Conversation().headers(1, [(":method", "CONNECT"),
                                                 (":authority", "example.com:443")]))
    yield "malformed-fields", (Conversation()
                               .request(1, "GET", "/", [("connection", "close")], "END_STREAM")
                               .request(3, "GET", "no-slash", (), "END_STREAM")
                               .request(5, "G T", "/", (), "END_STREAM")
                               .request(7, "GET", "/", [("host", "other")], "END_STREAM"))
    yield "content-length-mismatch", (Conversation()
                                      .request(1, "POST", "/", [("content-length", "2")])
                                      .data(1, b"abcd", "END_STREAM"))
    # Two whose draws (a hash of the bytes) begin the drain while streams keep coming: the PING's
    # acknowledgement brings the final GOAWAY and the streams after it are refused; and a forced
    # close that cancels an upload in flight.
    drain = Conversation()
    for stream in range(1, 30, 2):
        drain.request(stream, "GET", "/", (), "END_STREAM")
        if stream == 9:
            drain.ping(bytes(8))
            acknowledgement = frames.PingFrame(0)
            acknowledgement.opaque_data = bytes(8)
            drain.add(acknowledgement, "ACK")
    yield "drain-refuses-late-streams", drain
    yield "forced-close-cancels", (Conversation()
                                   .request(1, "POST", "/", [("content-length", "100")])
                                   .data(1, b"part" * 3)
                                   .request(3, "GET", "/", (), "END_STREAM")
                                   .ping((5).to_bytes(8, "big")).data(1, b"more" * 5))
    yield "data-on-idle-stream", Conversation().data(1, b"nobody asked", "END_STREAM")
    yield "decreasing-stream-id", (Conversation().request(5, "GET", "/", (), "END_STREAM")
                                   .request(3, "GET", "/", (), "END_STREAM"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "h2_connection_fuzz")
    os.makedirs(out, exist_ok=True)
    for name, conversation in seeds():
        with open(os.path.join(out, name), "wb") as seed:
            seed.write(bytes(conversation.wire))


if __name__ == "__main__":
    main()
