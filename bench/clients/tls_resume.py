#!/usr/bin/env python3
"""The resumption check's control: a client that does resume its TLS session.

Makes one request on a TLS connection, keeps the session (with TLS 1.3, the ticket the server
sent after the handshake), then makes a second request on a new connection offering it. Prints
one line: what Python saw of the second handshake (resumed=1 or 0), and the first's version and
suite. bench/run.sh runs it against nginx's check server before ab: the check's log must then
show one full handshake and one resumed ("." then "r"), or the log cannot tell ab's apart.
"""
import argparse
import socket
import ssl
import sys


def one_request(context, host, port, session=None):
    with socket.create_connection((host, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host, session=session) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
            if not answer.startswith(b"HTTP/1.1 200"):
                sys.exit(f"tls_resume: unexpected answer: {answer[:60]!r}")
            return s.session, s.session_reused, s.version(), s.cipher()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", metavar="CA_FILE", required=True)
    args = ap.parse_args()
    context = ssl.create_default_context(cafile=args.tls)
    session, _, version, cipher = one_request(context, args.host, args.port)
    _, reused, _, _ = one_request(context, args.host, args.port, session)
    print(f"resumed={int(reused)} version={version} cipher={cipher}")


if __name__ == "__main__":
    main()
