#!/usr/bin/env python3
"""Memory per idle keep-alive connection.

Reads the server's resident memory (VmRSS, summed over --pid, e.g. nginx's master and worker),
makes one warm-up request, reads it again, then opens N keep-alive connections to the hello port,
makes one request on each (answers checked: 200 and a complete body), leaves them all open and
idle, waits a moment and reads VmRSS once more. With --tls CA_FILE every connection speaks TLS:
it completes a full handshake (no resumption: Python's ssl module resumes only when handed a
session), then makes its one request. Prints one line of key=value pairs:

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
import sys
import time


def rss_kb(pids, field="VmRSS"):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def read_response(sock, buf=b""):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", required=True, help="server process (repeat to sum)")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=250, help="connections opened before reading their answers")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds to wait before reading VmRSS")
    ap.add_argument("--tls", metavar="CA_FILE", help="speak TLS, verifying the server against CA_FILE")
    args = ap.parse_args()
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
            if status != 200 or extra:
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
