#!/usr/bin/env python3
"""Memory per idle keep-alive connection.

Reads the server's resident memory (VmRSS, summed over --pid, e.g. nginx's master and worker),
makes one warm-up request, reads it again, then opens N keep-alive connections to the hello port,
makes one request on each (answers checked: 200 and a complete body), leaves them all open and
idle, waits a moment and reads VmRSS once more. With --tls CA_FILE every connection speaks TLS:
it completes a full handshake (no resumption: Python's ssl module resumes only when handed a
session), then makes its one request. With --h2c every connection speaks HTTP/2 by prior
knowledge: the preface, an empty SETTINGS, one GET / on stream 1 (its answer checked: :status 200
and the hello body), and the ACK of the server's SETTINGS; then it stays idle, as an idle HTTP/2
client would (no PING). Prints one line of key=value pairs:

  rss_start_kb   right after start (before any request)
  anon_start_kb  the anonymous part of it (RssAnon: heap, stacks; the rest is mapped files)
  rss_before_kb  after one request on one connection, now closed
  rss_with_kb    with N idle connections open
  per_conn_bytes (rss_with - rss_before) * 1024 / N
"""
import argparse
import resource
import socket
import ssl
import struct
import sys
import time

# RFC 9113 §3.4: the client's connection preface; §6.5: SETTINGS (type 4), ACK flag 0x1.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_SETTINGS, H2_GOAWAY = 0x0, 0x1, 0x4, 0x7
H2_END_STREAM, H2_ACK, H2_END_HEADERS = 0x1, 0x1, 0x4
HELLO_BODY = b"Hello, world!"


def rss_kb(pids, field="VmRSS"):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def read_http1_response(sock, buf=b""):
    """Reads one Content-Length response; returns (status, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("response without Content-Length: " + lines[0].decode())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside the response body")
        rest += chunk
    return status, rest[length:]


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def h2_request(authority):
    """The preface, an empty SETTINGS and GET / as stream 1. The header block uses HPACK's static
    table only (RFC 7541 Appendix A): :method GET (2), :scheme http (7), :path / (4) indexed, and
    :authority (1) as a literal with an indexed name, not added to the dynamic table."""
    block = bytes([0x82, 0x86, 0x84, 0x41, len(authority)]) + authority.encode()
    return (H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0) +
            h2_frame(H2_HEADERS, H2_END_STREAM | H2_END_HEADERS, 1, block))


def h2_read_response(sock, buf=b""):
    """Reads frames until stream 1 ends, ACKing the server's SETTINGS; returns (status, leftover
    bytes). The status is 200 when the response's header block begins with HPACK's indexed
    ":status 200" (static index 8), as nghttp2, nginx and Go encode it; else 0."""
    status, body = 0, b""
    while True:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before the end of stream 1")
            buf += chunk
        length, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
        stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        payload, buf = buf[9:9 + length], buf[9 + length:]
        if kind == H2_SETTINGS and not flags & H2_ACK:
            sock.sendall(h2_frame(H2_SETTINGS, H2_ACK, 0))
        elif kind == H2_GOAWAY:
            raise ConnectionError(f"GOAWAY before the end of stream 1: {payload.hex()}")
        elif kind == H2_HEADERS and stream == 1:
            status = 200 if payload[:1] == b"\x88" else 0
        elif kind == H2_DATA and stream == 1:
            body += payload
        if stream == 1 and kind in (H2_HEADERS, H2_DATA) and flags & H2_END_STREAM:
            return (status if body == HELLO_BODY else 0), buf


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", required=True, help="server process (repeat to sum)")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=250, help="connections opened before reading their answers")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading VmRSS")
    ap.add_argument("--tls", metavar="CA_FILE", help="speak TLS, verifying the server against CA_FILE")
    ap.add_argument("--h2c", action="store_true", help="speak HTTP/2 by prior knowledge")
    args = ap.parse_args()
    if args.tls and args.h2c:
        ap.error("--h2c is cleartext: not with --tls")
    context = ssl.create_default_context(cafile=args.tls) if args.tls else None

    def connect():
        s = socket.create_connection((args.host, args.port), timeout=10)
        return context.wrap_socket(s, server_hostname=args.host) if context else s

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 64:
        want = args.conns + 64
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            sys.exit(f"idle_conns: need {want} file descriptors, the hard limit is {hard}")

    request = f"GET / HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n\r\n".encode()
    if args.h2c:
        request, read_response = h2_request(f"{args.host}:{args.port}"), h2_read_response
    else:
        read_response = read_http1_response
    rss_start = rss_kb(args.pid)
    anon_start = rss_kb(args.pid, "RssAnon")

    with connect() as s:
        s.sendall(request)
        read_response(s)
    time.sleep(args.settle / 2)
    rss_before = rss_kb(args.pid)

    conns = []
    t0 = time.monotonic()
    for first in range(0, args.conns, args.batch):
        batch = []
        for _ in range(min(args.batch, args.conns - first)):
            s = connect()
            s.sendall(request)
            batch.append(s)
        for s in batch:
            status, extra = read_response(s)
            if status != 200 or (extra and not args.h2c):  # HTTP/2: frames may follow the answer
                sys.exit(f"idle_conns: unexpected answer: status {status}, {len(extra)} extra bytes")
        conns.extend(batch)
    opened_s = time.monotonic() - t0
    time.sleep(args.settle)
    rss_with = rss_kb(args.pid)
    per_conn = (rss_with - rss_before) * 1024 / len(conns)
    # Every connection must still be open: a server that dropped idle ones would look cheap.
    for s in conns:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                sys.exit("idle_conns: the server closed an idle connection during the measurement")
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
    for s in conns:
        s.close()
    print(f"conns={len(conns)} rss_start_kb={rss_start} anon_start_kb={anon_start} rss_before_kb={rss_before} "
          f"rss_with_kb={rss_with} per_conn_bytes={per_conn:.0f} open_s={opened_s:.2f}")


if __name__ == "__main__":
    main()
