#!/usr/bin/env python3
"""Resident memory of a daemon across bursts of hostile requests.

  hostile_bursts.py [--bursts 20] [--requests 2000] [--concurrency 100] -- BINARY [ARGS...]

Starts BINARY (triserve) on three ephemeral loopback ports, reads its VmRSS once it listens, then
runs --bursts bursts. A burst is --requests connections, --concurrency of them in flight at a time,
spread over hello, hello-name and echo, each carrying one mutated request made from --seed (the
same seed makes the same bytes): random garbage, valid requests truncated at a random point then
closed, oversized heads (over the 64 KiB limit) and large heads just under it, oversized request
lines and long names just under the limit, bad chunked bodies, invalid methods, bodies half sent
then closed, and pipelined mixes of valid and bad requests. Every socket has a short timeout, so a
burst ends by itself. After each burst it asks the daemon for its status (SIGUSR1) until no
connection is left, waits --settle seconds for the pools to be trimmed, and reads VmRSS again.

Prints one line per burst and a summary; exits 1 when RSS after the last burst exceeds RSS after
the first by more than --max-growth-mib, or start-up RSS by more than --max-over-start-mib; 2 when
the daemon could not be run or died.
"""
import argparse
import collections
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SERVERS = ("hello", "hello-name", "echo")
# The daemon's defaults (server_options.hpp): mutations aim just under and just over them.
MAX_HEADER_BYTES = 64 * 1024
MAX_REQUEST_LINE = 8 * 1024
TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Map any byte to a tchar, or to a name's letters: random text from random bytes in one call.
TCHAR_TABLE = bytes(TCHARS[i % len(TCHARS)] for i in range(256))
NAME_TABLE = bytes(b"abZ+-EU"[i % 7] for i in range(256))  # E and U become escapes
# Everything a response may need is read; beyond it the client just closes.
MAX_READ_BYTES = 1 << 20


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def random_token(rng, low, high):
    return rng.randbytes(rng.randint(low, high)).translate(TCHAR_TABLE)


def random_name(rng, length):
    """A hello-name value of `length` characters or a few less: letters and percent-escapes, so
    that the decoded name is shorter than the query."""
    letters = rng.randbytes(length).translate(NAME_TABLE)
    name = letters.replace(b"E", b"%41").replace(b"U", b"%e2%9c%93").decode()[:length]
    # An escape cut short ("%", "%e") is a 400, not a name: drop it.
    cut = name.rfind("%", max(0, len(name) - 2))
    return name[:cut] if cut != -1 else name


def target_for(server, rng, name_length=None):
    if server == "hello-name":
        return f"/?name={random_name(rng, name_length or rng.randint(0, 40))}".encode()
    return rng.choice((b"/", b"/index", b"/a/b?c=d"))


def padding_headers(rng, size):
    """Header lines adding up to about `size` bytes, in sizes from tiny to a few KiB."""
    if rng.random() < 0.5:
        # Many two-letter fields: the most header entries per byte.
        count = size // 6
        lines = bytearray(b"..:1\r\n" * count)
        names = random_token(rng, 2 * count, 2 * count)
        lines[0::6] = names[0::2]
        lines[1::6] = names[1::2]
        return bytes(lines)
    lines = []
    total = 0
    while total < size:
        line = b"X-Pad-%d: %s\r\n" % (len(lines), b"v" * rng.randint(1, 4000))
        lines.append(line)
        total += len(line)
    return b"".join(lines)


def valid_request(server, rng, close=False, extra_headers=b"", name_length=None):
    """One well-formed request for `server`, with a small body for echo."""
    method = b"GET"
    body = b""
    framing = b""
    if server == "echo" and rng.random() < 0.8:
        method = b"POST"
        body = rng.randbytes(rng.randint(0, 2048))
        if rng.random() < 0.5:
            framing = b"Content-Length: %d\r\n" % len(body)
        else:
            framing = b"Transfer-Encoding: chunked\r\n"
            chunks = []
            rest = body
            while rest:
                size = rng.randint(1, 700)
                chunks.append(b"%x\r\n%s\r\n" % (len(rest[:size]), rest[:size]))
                rest = rest[size:]
            body = b"".join(chunks) + b"0\r\n\r\n"
    elif rng.random() < 0.1:
        method = b"HEAD"
    head = b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n" % (
        method,
        target_for(server, rng, name_length),
        framing,
        b"Connection: close\r\n" if close else b"",
        extra_headers,
    )
    return head + body


# Each mutation returns (server, what to send, how the client ends): "close" closes right after
# sending, "read" half-closes and reads what the daemon answers, "wait" reads without half-closing
# (until the daemon closes or the socket times out).


def garbage(rng):
    data = rng.randbytes(rng.randint(1, 8192))
    if rng.random() < 0.3:
        data = random_token(rng, 1, 8) + b" " + data  # passes the method check at first
    if rng.random() < 0.5:
        data += b"\r\n\r\n"
    return rng.choice(SERVERS), data, rng.choice(("read", "wait", "close"))


def truncated(rng):
    server = rng.choice(SERVERS)
    request = valid_request(server, rng, extra_headers=padding_headers(rng, rng.randint(0, 3000)))
    return server, request[: rng.randint(1, len(request) - 1)], "close"


def oversized_head(rng):
    server = rng.choice(SERVERS)
    size = MAX_HEADER_BYTES + rng.randint(1, 64 * 1024)
    head = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % target_for(server, rng)
    head += padding_headers(rng, size - len(head))
    return server, head + b"\r\n", rng.choice(("read", "close"))


def large_head(rng):
    """A valid head just under the limit, answered: the largest head a workspace ever parses."""
    server = rng.choice(SERVERS)
    extra = padding_headers(rng, rng.randint(16 * 1024, MAX_HEADER_BYTES - 5 * 1024))
    return server, valid_request(server, rng, close=True, extra_headers=extra), "read"


def long_request_line(rng):
    if rng.random() < 0.5:
        # Just under the limit on hello-name: the longest name a handler ever decodes.
        server = "hello-name"
        # "GET /?name=" and " HTTP/1.1" take 20 of the line's bytes.
        length = MAX_REQUEST_LINE - 20 - rng.randint(0, 256)
        return server, valid_request(server, rng, close=True, name_length=length), "read"
    server = rng.choice(SERVERS)
    target = b"/" + b"x" * (MAX_REQUEST_LINE + rng.randint(1, 16 * 1024))
    return server, b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % target, "read"


def bad_chunked(rng):
    body = rng.choice(
        (
            b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
            b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
            b"ffffffffffffffffffff\r\n",  # size overflow
            b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n",  # endless extension
            b"3\r\nabc\r\n0\r\n" + b"X-T: 1\r\n" * 2000 + b"\r\n",  # endless trailers
            b"-1\r\n\r\n",
        )
    )
    if rng.random() < 0.5:
        body = b"4\r\nfine\r\n" * rng.randint(1, 200) + body
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    return "echo", head + body, "read"


def invalid_method(rng):
    server = rng.choice(SERVERS)
    method = rng.choice(
        (
            b"G@T",
            b"GE T",
            b"\x16\x03\x01\x02\x00",  # a TLS handshake
            b"PRI * HTTP/2.0\r\n\r\nSM",  # an HTTP/2 preface
            b"get",  # valid token, unknown: answered as a GET-like request by the handler
            random_token(rng, MAX_REQUEST_LINE, MAX_REQUEST_LINE + 4096),
            b"\x00\x01",
        )
    )
    return server, method + b" / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "read"


def half_body(rng):
    length = rng.randint(1024, 1 << 20)
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % length
    sent = rng.randbytes(rng.randint(0, min(length - 1, 32 * 1024)))
    return "echo", head + sent, "close"


def pipelined(rng):
    server = rng.choice(SERVERS)
    requests = []
    for _ in range(rng.randint(2, 8)):
        roll = rng.random()
        if roll < 0.6:
            requests.append(valid_request(server, rng))
        elif roll < 0.7:
            requests.append(valid_request(server, rng, extra_headers=padding_headers(rng, 8192)))
        elif roll < 0.8:
            requests.append(invalid_method(rng)[1])
        elif roll < 0.9:
            requests.append(garbage(rng)[1])
        else:
            requests.append(truncated(rng)[1])
    return server, b"".join(requests), rng.choice(("read", "close"))


MUTATIONS = (
    garbage,
    truncated,
    oversized_head,
    large_head,
    long_request_line,
    bad_chunked,
    invalid_method,
    half_body,
    pipelined,
)


def plan_burst(seed, burst, count):
    """The burst's cases, each from its own generator: the bytes do not depend on scheduling."""
    cases = []
    for index in range(count):
        rng = random.Random(f"{seed}:{burst}:{index}")
        mutation = MUTATIONS[index % len(MUTATIONS)]
        server, data, ending = mutation(rng)
        # Sent in a few pieces, so that the daemon also meets heads split across reads.
        cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 3)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        cases.append((mutation.__name__, server, [p for p in pieces if p], ending))
    return cases


def run_case(case, ports, timeout):
    """Plays one case; returns the status code of the first response, or what happened instead."""
    _, server, pieces, ending = case
    try:
        with socket.create_connection(("127.0.0.1", ports[server]), timeout=timeout) as sock:
            try:
                for piece in pieces:
                    sock.sendall(piece)
            except OSError:
                pass  # the daemon answered and closed before taking everything: read its answer
            if ending == "close":
                return "closed"
            if ending == "read":
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            received = b""
            while len(received) < MAX_READ_BYTES:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            match = re.match(rb"HTTP/1\.[01] (\d{3})", received)
            return match.group(1).decode() if match else "no answer"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return type(e).__name__


class daemon:
    """The daemon under test, its log lines read by a thread."""

    def __init__(self, command, log_path):
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.lines = queue.Queue()
        self.log = open(log_path, "w") if log_path else None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if self.log:
                self.log.write(line + "\n")
                self.log.flush()
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, deadline):
        """The next log line, or None when the daemon closed its log or `deadline` passed."""
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def wait_for_ports(self, timeout):
        ports = {}
        deadline = time.monotonic() + timeout
        while len(ports) < len(SERVERS):
            line = self.next_line(deadline)
            if line is None:
                raise RuntimeError("the daemon did not report three listening servers")
            match = re.search(r"(\S+) server listening on .*:(\d+)$", line)
            if match and match.group(1) in SERVERS:
                ports[match.group(1)] = int(match.group(2))
        return ports

    def live_connections(self, timeout):
        """Asks for a status line (SIGUSR1) and returns its count of live connections."""
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while True:
            line = self.next_line(deadline)
            if line is None:
                raise RuntimeError("the daemon did not answer SIGUSR1 with a status line")
            match = re.search(r"status: .*?, (\d+) live connection", line)
            if match:
                return int(match.group(1))

    def wait_until_idle(self, timeout):
        deadline = time.monotonic() + timeout
        while self.live_connections(timeout) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"connections still open {timeout} s after the burst")
            time.sleep(0.1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def mib(kb):
    return kb / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bursts", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000, help="connections per burst, one mutated request each")
    ap.add_argument("--concurrency", type=int, default=100, help="connections in flight at a time")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--timeout", type=float, default=1.0, help="seconds each socket operation may wait")
    ap.add_argument("--settle", type=float, default=0.5, help="seconds between the last connection and VmRSS")
    ap.add_argument("--max-growth-mib", type=float, default=2.0, help="bound on last burst's RSS over the first's")
    ap.add_argument("--max-over-start-mib", type=float, default=4.0, help="bound on last burst's RSS over start-up")
    ap.add_argument("--daemon-log", help="file to copy the daemon's log lines to")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- BINARY [ARGS...]")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command")
    if args.bursts < 1 or args.requests < 1 or args.concurrency < 1:
        ap.error("--bursts, --requests and --concurrency must be positive")

    command += ["--hello", "127.0.0.1:0", "--hello-name", "127.0.0.1:0", "--echo", "127.0.0.1:0"]
    server = daemon(command, args.daemon_log)
    failed = False
    try:
        ports = server.wait_for_ports(timeout=10)
        time.sleep(args.settle)
        start_kb = vm_rss_kb(server.process.pid)
        print(f"start-up: rss {start_kb} KiB ({mib(start_kb):.1f} MiB)", flush=True)
        after = []
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            for burst in range(1, args.bursts + 1):
                cases = plan_burst(args.seed, burst, args.requests)
                t0 = time.monotonic()
                outcomes = collections.Counter(pool.map(lambda case: run_case(case, ports, args.timeout), cases))
                elapsed = time.monotonic() - t0
                if server.process.poll() is not None:
                    raise RuntimeError(f"the daemon exited during burst {burst} (status {server.process.returncode})")
                server.wait_until_idle(timeout=30)
                time.sleep(args.settle)
                rss = vm_rss_kb(server.process.pid)
                after.append(rss)
                outcome_text = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
                print(
                    f"burst {burst}: {len(cases)} connections in {elapsed:.1f} s ({outcome_text}); "
                    f"rss {rss} KiB ({mib(rss):.1f} MiB, {mib(rss - start_kb):+.1f} over start-up)",
                    flush=True,
                )
        growth = after[-1] - after[0]
        over_start = after[-1] - start_kb
        print(
            f"summary: start-up {mib(start_kb):.1f} MiB, after burst 1 {mib(after[0]):.1f} MiB, "
            f"after burst {len(after)} {mib(after[-1]):.1f} MiB, peak {mib(max(after)):.1f} MiB; "
            f"last over first {mib(growth):+.1f} MiB (bound {args.max_growth_mib}), "
            f"last over start-up {mib(over_start):+.1f} MiB (bound {args.max_over_start_mib})",
            flush=True,
        )
        if mib(growth) > args.max_growth_mib:
            print("FAIL: memory kept growing from burst to burst", file=sys.stderr)
            failed = True
        if mib(over_start) > args.max_over_start_mib:
            print("FAIL: memory stayed far above start-up after the bursts", file=sys.stderr)
            failed = True
    except RuntimeError as e:
        print(f"hostile_bursts: {e}", file=sys.stderr)
        server.stop()
        return 2
    status = server.stop()
    if status != 0:
        print(f"hostile_bursts: the daemon exited with status {status} after SIGTERM", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
