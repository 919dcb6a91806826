#!/usr/bin/env python3
"""Turns bench/results/latest.csv into the table of medians (stdout), docs/BENCHMARKS.md and
the connection-count plot, bench/results/tls.csv into the TLS section of docs/BENCHMARKS.md, and
bench/results/http2.csv into its HTTP/2 section. Called by bench/run.sh; can be rerun alone on
kept CSVs:

  bench/report.py --csv bench/results/latest.csv --meta bench/results/logs/meta.env \
      --commands bench/results/logs/commands.txt --markdown docs/BENCHMARKS.md \
      --png docs/bench-connections.png --plot bench/plot.gp --workdir /tmp \
      --tls-csv bench/results/tls.csv --tls-commands bench/results/logs/tls-commands.txt \
      --tls-facts bench/results/logs/tls-facts.env --http2-csv bench/results/http2.csv \
      --http2-commands bench/results/logs/http2-commands.txt --http2-facts bench/results/logs/tls-facts.env

Without --csv, the cleartext part of the existing docs/BENCHMARKS.md stays as it is; without
--tls-csv, its TLS section (between the "tls: begin" and "tls: end" markers) does; without
--http2-csv, its HTTP/2 section (between "http2: begin" and "http2: end").
"""
import argparse
import collections
import csv
import os
import re
import statistics
import subprocess
import sys

SERVERS = ["triserve", "nginx", "go", "canned"]
TLS_SERVERS = ["triserve", "nginx", "go"]
TITLES = {"triserve": "triserve", "nginx": "nginx", "go": "Go", "canned": "canned"}
CONNECTIONS = [1, 16, 64, 256, 1024]
# A run during which other processes used more than this share of CPU 0 or CPU 1 is "disturbed":
# medians leave it out as long as the same measurement has an undisturbed run.
CLEAN_PCT = 10.0


def load(path):
    """(server, workload, metric) -> list of (round, value) over rounds (and repetitions)."""
    values = collections.defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f):
            values[(row["server"], row["workload"], row["metric"])].append((row["round"], float(row["value"])))
    return values


def fmt(value, kind):
    if value is None:
        return "—"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "ms":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if kind == "us":
        return f"{value:.2f}"
    if kind == "mib":
        return f"{value / 1024:.1f}"
    if kind == "gbps":
        return f"{value:.2f}"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "pct":
        return f"{value:.0f}"
    return f"{value:g}"


class Table:
    def __init__(self, values, servers=SERVERS):
        self.values = values
        self.servers = servers
        self.rows = []

    def disturbed(self, server, workload, round_):
        """True/False when the run's contention was measured, None when it was not."""
        if workload.startswith("threads2-"):
            return None  # triserve itself runs on CPU 0 there: others cannot be told apart
        shares = [v for m in ("cpu0_other_pct", "cpu1_other_pct")
                  for r, v in self.values.get((server, workload, m), []) if r == round_]
        return max(shares) > CLEAN_PCT if shares else None

    def median_marked(self, server, workload, metric):
        """(median, mark): over the undisturbed runs if there are any ("†" when some were left
        out), else over all of them ("‡")."""
        runs = self.values.get((server, workload, metric))
        if not runs:
            return None, ""
        clean = [v for r, v in runs if self.disturbed(server, workload, r) is not True]
        if not clean:
            return statistics.median(v for _, v in runs), "‡"
        return statistics.median(clean), "" if len(clean) == len(runs) else "†"

    def median(self, server, workload, metric):
        return self.median_marked(server, workload, metric)[0]

    def row(self, label, workload, metric, kind, target=None, scale=1.0, servers=None):
        """target: (text, test(triserve, nginx, go) -> bool)."""
        servers = servers or self.servers
        marked = {s: self.median_marked(s, workload, metric) if s in servers else (None, "") for s in self.servers}
        med = {s: None if v is None else v * scale for s, (v, _) in marked.items()}
        cells = {s: fmt(med[s], kind) + marked[s][1] for s in self.servers}
        self.add(label, med, kind, target, cells)

    def add(self, label, med, kind, target=None, cells=None):
        def ratio(a, b):
            return None if a is None or b in (None, 0) else a / b

        r_nginx = ratio(med.get("triserve"), med.get("nginx"))
        r_go = ratio(med.get("triserve"), med.get("go"))
        met = ""
        if target:
            try:
                met = "yes" if target[1](med.get("triserve"), med.get("nginx"), med.get("go")) else "**no**"
            except TypeError:  # a missing number
                met = "?"
        cells = cells or {s: fmt(med.get(s), kind) for s in self.servers}
        self.rows.append([label] + [cells[s] for s in self.servers] +
                         [fmt(r_nginx, "ratio"), fmt(r_go, "ratio"), target[0] if target else "", met])

    def matched(self, label, workload):
        cells, med = {}, {}
        for s in self.servers:
            v = [x for _, x in self.values.get((s, workload, "matched"), [])]
            cells[s] = f"{sum(v):.0f}/{len(v)}" if v else "—"
            med[s] = (sum(v) / len(v)) if v else None
        framing = {s: next((m[len("response_"):] for (srv, w, m) in self.values
                            if srv == s and w == workload and m.startswith("response_")), None) for s in self.servers}
        for s in self.servers:
            if framing[s]:
                cells[s] += f" ({framing[s]})"
        self.add(label, med, "", ("all", lambda t, n, g: t == 1.0), cells)
        n = len(self.servers)
        self.rows[-1][n + 1] = self.rows[-1][n + 2] = ""  # ratios of match rates mean nothing

    def markdown(self):
        head = (["measurement (median)"] + [TITLES[s] for s in self.servers] +
                ["triserve/nginx", "triserve/Go", "target", "met"])
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(self.servers) + 2) + ["---", "---"]) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def build_table(values):
    t = Table(values)
    ge_nginx = ("≥ nginx", lambda tr, n, g: tr >= n)
    le_nginx = ("≤ nginx", lambda tr, n, g: tr <= n)
    t.row("hello keep-alive, 64 conns: req/s", "hello-c64", "rps", "int", ge_nginx)
    t.row("hello keep-alive, 64 conns: p99 latency (ms)", "hello-c64", "p99_ms", "ms", le_nginx)
    t.row("hello keep-alive, 64 conns: server CPU per request (µs)", "hello-c64", "cpu_us_per_req", "us", le_nginx)
    t.row("hello pipelined ×16, 64 conns: req/s", "hello-pipe16-c64", "rps", "int",
          ("≥ 4× nginx", lambda tr, n, g: tr >= 4 * n))
    t.row("hello pipelined ×16, 64 conns: server CPU per request (µs)", "hello-pipe16-c64", "cpu_us_per_req", "us")
    t.row("hello-name `/?name=Alex`, 64 conns: req/s", "name-c64", "rps", "int")
    t.row("hello-name `/?name=Alex`, 64 conns: p99 latency (ms)", "name-c64", "p99_ms", "ms")
    t.row("hello-name `/?name=Alex`, 64 conns: server CPU per request (µs)", "name-c64", "cpu_us_per_req", "us")
    for c in [1, 16, 256, 1024]:
        t.row(f"hello keep-alive, {c} conn{'s' if c > 1 else ''}: req/s", f"hello-c{c}", "rps", "int")
        t.row(f"hello keep-alive, {c} conn{'s' if c > 1 else ''}: p99 latency (ms)", f"hello-c{c}", "p99_ms", "ms")
    t.row("hello keep-alive, 1024 conns: server CPU per request (µs)", "hello-c1024", "cpu_us_per_req", "us")
    scaling = {}
    for s in SERVERS:
        a, b = t.median(s, "hello-c1024", "rps"), t.median(s, "hello-c16", "rps")
        scaling[s] = a / b if a is not None and b else None
    t.add("req/s at 1024 conns ÷ req/s at 16 conns", scaling, "ratio",
          ("triserve ≥ 0.90", lambda tr, n, g: tr >= 0.9))
    for c in [64, 1024]:
        t.row(f"hello keep-alive, {c} conns, `--threads 2` on both CPUs: req/s", f"threads2-hello-c{c}",
              "rps", "int", servers=["triserve"])
        one, two = t.median("triserve", f"hello-c{c}", "rps"), t.median("triserve", f"threads2-hello-c{c}", "rps")
        t.add(f"… ÷ req/s of one thread on CPU 1, {c} conns", {s: (two / one if s == "triserve" and one and two else None)
                                                             for s in SERVERS}, "ratio")
    t.row("idle RSS right after start (MiB)", "idle", "rss_start_kb", "mib",
          ("< 4 MiB", lambda tr, n, g: tr < 4096))
    t.row("… of which anonymous memory, RssAnon (MiB)", "idle", "anon_start_kb", "mib")
    t.row("memory per idle keep-alive connection (bytes)", "idle", "per_conn_bytes", "int",
          ("≤ 2048", lambda tr, n, g: tr <= 2048))
    three = ["triserve", "nginx", "go"]
    for upload, title in [("cl", "Content-Length"), ("chunked", "chunked")]:
        w = f"echo-{upload}"
        t.row(f"echo 1 GiB, {title} upload: GB/s", w, "gbps", "gbps",
              ("≥ 1.5× Go", lambda tr, n, g: tr >= 1.5 * g), servers=three)
        t.row(f"echo 1 GiB, {title} upload: server CPU (s per GiB)", w, "server_cpu_s_per_gib", "us", servers=three)
        t.row(f"echo 1 GiB, {title} upload: server peak RSS (MiB)", w, "peak_rss_kb", "mib",
              ("< 8 MiB", lambda tr, n, g: tr < 8192), servers=three)
        t.matched(f"echo 1 GiB, {title} upload: bytes matched (response framing)", w)
    t.row("start-up to 3 ports listening (ms)", "lifecycle", "start_ms", "ms",
          ("< 10 ms", lambda tr, n, g: tr < 10), servers=three)
    t.row("exit after SIGTERM, idle (ms)", "lifecycle", "exit_ms", "ms",
          ("< 5 ms", lambda tr, n, g: tr < 5), servers=three)
    return t


def build_tls_table(values, meta):
    t = Table(values, TLS_SERVERS)
    c = meta.get("handshake_conns", "16")
    t.row("TLS keep-alive hello, 64 conns: req/s", "tls-hello-c64", "rps", "int",
          ("≥ nginx", lambda tr, n, g: tr >= n))
    t.row("TLS keep-alive hello, 64 conns: p99 latency (ms)", "tls-hello-c64", "p99_ms", "ms")
    t.row("TLS keep-alive hello, 64 conns: server CPU per request (µs)", "tls-hello-c64", "cpu_us_per_req", "us",
          ("≤ nginx", lambda tr, n, g: tr <= n))
    t.row("… server CPU busy (% of one CPU)", "tls-hello-c64", "server_cpu_pct", "pct")
    t.row("… wrk's CPU busy (% of one CPU)", "tls-hello-c64", "client_cpu_pct", "pct")
    t.row(f"full TLS handshakes (ab, a new connection per request, {c} at once): per second", "tls-handshake",
          "handshakes_per_s", "int", ("≥ 0.9× nginx", lambda tr, n, g: tr >= 0.9 * n))
    t.row("… server CPU per handshake and request (µs)", "tls-handshake", "cpu_us_per_handshake", "us")
    t.row("… server CPU busy (% of one CPU)", "tls-handshake", "server_cpu_pct", "pct")
    t.row("… ab's CPU busy (% of one CPU)", "tls-handshake", "client_cpu_pct", "pct")
    counted, requests = t.median("triserve", "tls-handshake", "handshakes_counted"), t.median(
        "triserve", "tls-handshake", "requests")
    t.add("… handshakes triserve counted ÷ requests ab completed", {
        "triserve": counted / requests if counted is not None and requests else None}, "ratio")
    mib = int(meta.get("echo_mib", "1024"))
    size = "1 GiB" if mib == 1024 else f"{mib} MiB"
    for w, title in [("tls-echo", "OpenSSL's default offer"), ("tls-echo-aes128", "AES-128-GCM for all")]:
        t.row(f"echo {size} over TLS, {title}: MB/s", w, "gbps", "int", ("≥ Go", lambda tr, n, g: tr >= g),
              scale=1000)
        t.row(f"echo {size} over TLS, {title}: server CPU (s per GiB)", w, "server_cpu_s_per_gib", "us")
        t.row(f"echo {size} over TLS, {title}: echo client's CPU (s)", w, "client_cpu_s", "us")
        t.row(f"echo {size} over TLS, {title}: server peak RSS (MiB)", w, "peak_rss_kb", "mib",
              ("< 16 MiB", lambda tr, n, g: tr < 16384))
        t.matched(f"echo {size} over TLS, {title}: bytes matched (response framing)", w)
    t.row("idle RSS right after start, TLS addresses (MiB)", "tls-idle", "rss_start_kb", "mib")
    t.row(f"memory per idle TLS keep-alive connection, {meta.get('idle_conns', '10000')} conns (bytes)",
          "tls-idle", "per_conn_bytes", "int", ("≤ nginx", lambda tr, n, g: tr <= n))
    return t


def contention_text(values, t):
    """The sentence on how much others used the CPUs during a part's measured runs."""
    other = sorted(x for (s, w, m), v in values.items() if m == "cpu1_other_pct" for _, x in v)
    runs = {(s, w, r) for (s, w, m), v in values.items() if m.endswith("_other_pct") for r, _ in v}
    disturbed = sum(1 for s, w, r in runs if t.disturbed(s, w, r))
    return (f"Other processes used a median {statistics.median(other):.1f}% of CPU 1 during the measured "
            f"runs, {other[-1]:.1f}% at worst; {disturbed} of {len(runs)} runs were disturbed (more than "
            f"{CLEAN_PCT:.0f}% of CPU 0 or CPU 1): † and ‡ as above." if other else "")


def load_part(csv_path, commands_path, facts_path, build, meta):
    """(values, commands, facts, table) of one part (TLS, HTTP/2) from its CSV; prints the table."""
    values = load(csv_path)
    t = build(values, meta)
    print(t.markdown())
    facts = dict(line.rstrip("\n").split("=", 1) for line in open(facts_path) if "=" in line)
    return values, read_commands(commands_path), facts, t


def tls_markdown(args, meta):
    values, commands, facts, t = load_part(args.tls_csv, args.tls_commands, args.tls_facts, build_tls_table, meta)
    table = t.markdown()
    rounds = int(meta["rounds"])
    elapsed = int(meta.get("tls_elapsed_s", "0"))
    contention = contention_text(values, t)

    def negotiated(prefix):
        return "; ".join(f"{TITLES[s]} {facts[f'{prefix}.{s}']}" for s in TLS_SERVERS if f"{prefix}.{s}" in facts)

    def echo_cipher(w):
        return "; ".join(f"{TITLES[s]} {facts.get(f'{w}.{s}.tls', '?')} {facts.get(f'{w}.{s}.cipher', '?')} "
                         f"{facts.get(f'{w}.{s}.group', '?')}" for s in TLS_SERVERS)

    full = sum(x for _, x in values.get(("nginx", "resumption-check", "ab_full_handshakes"), []))
    resumed = sum(x for _, x in values.get(("nginx", "resumption-check", "ab_resumed"), []))
    control = facts.get("resumption.control", "?")
    return f"""{TLS_BEGIN}
## TLS

<!-- Generated by bench/run.sh's TLS part ({meta['mode']} run): do not edit by hand, rerun it
     (bench/run.sh --only tls regenerates this section alone). -->

The same three servers with every address speaking TLS, one certificate for all: triserve
(`tls://` addresses, `--tls-cert`/`--tls-key`), nginx (`listen ... ssl`, one worker) and Go
(`ListenAndServeTLS`), measured in the same run, interleaved as above; the ratios are
triserve's median over the other's. {contention}

- **Run**: {meta.get('tls_date', '?')}, {meta['mode']} ({rounds} round{'s' if rounds > 1 else ''},
  {meta['duration']} s per wrk and ab run), took {elapsed // 60} min {elapsed % 60} s.
  Command: `{('bench/run.sh ' + meta.get('args', '')).strip()}`.
- **Certificate**: made for the run with the `openssl` CLI in a private temp dir (no key is kept):
  an ECDSA P-256 CA and a P-256 leaf for `IP:127.0.0.1` that it signed (ecdsa-with-SHA256); every
  server sends the leaf alone, clients that verify trust the CA.
- **Software**: {meta['triserve']} (release preset), {meta.get('openssl', 'OpenSSL')} (triserve
  and nginx link Debian's libssl3), Go's
  own crypto/tls ({meta['go'].split()[2]}), ApacheBench {meta.get('ab', '?')}, wrk (OpenSSL too).
- **Negotiated** with an OpenSSL client's defaults (`openssl s_client`; wrk, ab and echo_bytes
  offer the same): {negotiated('negotiated')}.

{table}

### How each row is measured

- **Keep-alive hello**: `wrk -t1 -c64 -d{meta['duration']}s --latency` over `https://`, as the
  cleartext rows (wrk does not verify the certificate; each of its 64 connections makes one full
  handshake, then only requests). Server CPU per request: utime + stime from `/proc/PID/stat`
  (nginx: master + worker) over the requests wrk completed.
- **Full handshakes**: `ab -q -r -c {meta.get('handshake_conns', '16')} -t {meta['duration']}`:
  ab sends HTTP/1.0 requests without keep-alive, so every request is a new TCP connection, a new
  TLS handshake and one response; per second = completed requests over ab's time. ab negotiated:
  {negotiated('tls-handshake') or '?'}.
  **No resumption**, checked two ways. (1) nginx's fourth server (a check port,
  not measured) logs `$ssl_session_reused` per request: first a control, `bench/clients/tls_resume.py`,
  which offers its first connection's session on its second, must show `.` then `r` (it saw
  `{control}`); then `ab -n 200 -c 4` against it logged {full:.0f} full handshakes and
  {resumed:.0f} resumed. (2) triserve's `/metrics` counter
  `triserve_tls_handshakes_total{{server="hello",result="ok"}}` (its admin server, cleartext, on
  BENCH_PORT_BASE+13) grew by one per request ab completed, in every round (the row "handshakes
  triserve counted ÷ requests"; it may exceed 1 by the connections ab had open when its time ran
  out). ab's source agrees: it makes a new `SSL` object per connection
  (`SSL_new` in `start_connect`) and never offers a session (no `SSL_set_session`). Whether the server or ab was the limit shows in the two "CPU busy"
  rows: ab makes the client's half of every handshake on CPU 0 alone.
- **Echo**: `echo_bytes --tls CA`: one connection, a {size_text(meta)} Content-Length upload and
  its echo, every byte verified, certificate verified; MB/s = 10⁶ bytes of body per second from
  connect to the last byte checked. OpenSSL's default offer puts TLS_AES_256_GCM_SHA384 first, and
  the suites came out as: {echo_cipher('tls-echo')}. "AES-128-GCM for all" offers
  TLS_AES_128_GCM_SHA256 alone, the same cipher for the three: {echo_cipher('tls-echo-aes128')}.
  Peak RSS: the server's VmHWM after the echo (a fresh server for each). The client encrypts and
  decrypts as much as the server does, on its own CPU: near 100% busy it is the limit, and the
  server's CPU per GiB is the fairer comparison.
- **Idle connections**: `idle_conns.py --tls CA`: as the cleartext row, but each of the
  {meta.get('idle_conns', '10000')} connections completes a verified full handshake (Python's `ssl`,
  no session offered) and one request, then stays idle; (VmRSS with − VmRSS before) / connections.
- **The peers' settings**: nginx (`bench/nginx/nginx-tls.conf.in`) sets `ssl_certificate`,
  `ssl_certificate_key` and `ssl_protocols TLSv1.2 TLSv1.3` beyond the cleartext config's settings
  (one worker, `access_log off`, `keepalive_timeout 60s`, `keepalive_requests` lifted, backlog
  4096): nginx 1.22's default protocols stop at TLS 1.2 (1.3 joined them in 1.23.4), and every
  client here would have compared its TLS 1.2 with the others' 1.3. Its other TLS defaults stay:
  `HIGH:!aNULL:!MD5`, the client's order of suites, tickets on, no session cache, 16 KiB
  records, `SSL_MODE_RELEASE_BUFFERS`. Go (`bench/go/main.go --tls-cert --tls-key`) is
  `ListenAndServeTLS` with Go's defaults (it also offers `h2` by ALPN; none of these clients asks
  for it). triserve runs its defaults (TLS 1.2 and 1.3, ECDHE with AEAD, tickets, the server's
  order of suites, which for TLS 1.3 is OpenSSL's: AES-256-GCM first). triserve is started with
  SIGPIPE ignored (`trap '' PIPE` before `exec`, inherited), as nginx and Go ignore it themselves:
  builds up to ed552ee let OpenSSL write with write(2) without ignoring SIGPIPE, and a TLS client
  resetting its connection (wrk and ab do at their end) killed the daemon (fixed by 9718588).

### Commands

```sh
{chr(10).join(commands)}
```
{TLS_END}"""


def build_http2_table(values, meta):
    t = Table(values, TLS_SERVERS)
    load = f"{meta.get('h2_conns', '64')} conns × {meta.get('h2_streams', '10')} streams"
    ge_nginx = ("≥ nginx", lambda tr, n, g: tr >= n)
    t.row(f"hello over h2c, {load}: req/s", "h2c-hello", "rps", "int", ge_nginx)
    t.row(f"hello over h2c, {load}: server CPU per request (µs)", "h2c-hello", "cpu_us_per_req", "us",
          ("≤ nginx", lambda tr, n, g: tr <= n))
    t.row("… server CPU busy (% of one CPU)", "h2c-hello", "server_cpu_pct", "pct")
    t.row("… h2load's CPU busy (% of one CPU)", "h2c-hello", "client_cpu_pct", "pct")
    t.row(f"hello-name `/?name=Alex` over h2c, {load}: req/s", "h2c-name", "rps", "int")
    t.row(f"hello-name `/?name=Alex` over h2c, {load}: server CPU per request (µs)", "h2c-name",
          "cpu_us_per_req", "us")
    t.row(f"hello over h2 (TLS, ALPN), {load}: req/s", "h2-hello", "rps", "int", ge_nginx)
    t.row(f"hello over h2 (TLS, ALPN), {load}: server CPU per request (µs)", "h2-hello", "cpu_us_per_req", "us")
    t.row("… server CPU busy (% of one CPU)", "h2-hello", "server_cpu_pct", "pct")
    t.row("… h2load's CPU busy (% of one CPU)", "h2-hello", "client_cpu_pct", "pct")
    size = f"{meta.get('h2_echo_mib', '256')} MiB"
    t.row(f"echo {size} over h2c, one stream: MB/s", "h2c-echo", "gbps", "int", ("≥ Go", lambda tr, n, g: tr >= g),
          scale=1000)
    t.row(f"echo {size} over h2c: server CPU (s per GiB)", "h2c-echo", "server_cpu_s_per_gib", "us")
    t.row(f"echo {size} over h2c: client's CPU, nghttp + cmp (s)", "h2c-echo", "client_cpu_s", "us")
    t.row(f"echo {size} over h2c: server peak RSS (MiB)", "h2c-echo", "peak_rss_kb", "mib",
          ("< 16 MiB", lambda tr, n, g: tr < 16384))
    t.matched(f"echo {size} over h2c: bytes matched", "h2c-echo")
    t.row("idle RSS right after start, h2c addresses (MiB)", "h2c-idle", "rss_start_kb", "mib")
    t.row(f"memory per idle h2c connection, {meta.get('idle_conns', '10000')} conns (bytes)",
          "h2c-idle", "per_conn_bytes", "int", ("≤ nginx", lambda tr, n, g: tr <= n))
    return t


def http2_markdown(args, meta):
    values, commands, facts, t = load_part(args.http2_csv, args.http2_commands, args.http2_facts,
                                           build_http2_table, meta)
    table = t.markdown()
    rounds = int(meta["rounds"])
    elapsed = int(meta.get("http2_elapsed_s", "0"))
    protocols = "; ".join(f"{TITLES[s]} {facts.get(f'{w}.{s}.protocol', '?')}" for w in ("h2c-hello", "h2-hello")
                          for s in TLS_SERVERS)
    errors = sum(x for (s, w, m), v in values.items() if m == "errors" for _, x in v)
    mib = meta.get("h2_echo_mib", "256")
    return f"""{HTTP2_BEGIN}
## HTTP/2

<!-- Generated by bench/run.sh's http2 part ({meta['mode']} run): do not edit by hand, rerun it
     (bench/run.sh --only http2 regenerates this section alone). -->

The same three servers over HTTP/2: h2c by prior knowledge on cleartext addresses, and h2 chosen
by ALPN over TLS (the TLS section's certificate). triserve runs its defaults (`--http2 on`);
nginx listens with `http2` (one worker, `bench/nginx/nginx-h2c.conf.in` and `nginx-h2.conf.in`;
Debian's nginx-light has the `http_v2` module); Go wraps its handlers in
`h2c.NewHandler(h, &http2.Server{{}})` (`bench/go/main.go --h2c`, golang.org/x/net
{meta.get('x_net', '?')} from Debian's golang-golang-x-net-dev, built offline in GOPATH mode),
and over TLS is `ListenAndServeTLS`, which offers h2 by ALPN. Measured in the same run,
interleaved as above; the ratios are triserve's median over the other's. h2load reported
{errors:.0f} failed, errored or timed-out requests in all. {contention_text(values, t)}

- **Run**: {meta.get('http2_date', '?')}, {meta['mode']} ({rounds} round{'s' if rounds > 1 else ''},
  {meta['duration']} s per h2load run), took {elapsed // 60} min {elapsed % 60} s.
  Command: `{('bench/run.sh ' + meta.get('args', '')).strip()}`.
- **Software**: {meta['triserve']} (release preset, libnghttp2 {meta.get('libnghttp2', '?')}),
  {meta['nginx'].replace('nginx version: ', '')}, {meta['go'].split()[2]} with x/net's http2,
  {meta.get('h2load', 'h2load')} and nghttp from nghttp2-client.
- **Protocol** h2load reported: {protocols}.

{table}

### How each row is measured

- **Request rates**: `h2load -t1 -c {meta.get('h2_conns', '64')} -m {meta.get('h2_streams', '10')} -D {meta['duration']}`
  (one thread on CPU 0, {meta.get('h2_conns', '64')} connections, at most {meta.get('h2_streams', '10')}
  streams in flight on each), after a 1 s warm-up run per server (not counted), all servers
  of the round started fresh. req/s = succeeded requests over h2load's measured period. Server
  CPU per request: utime + stime of the server (nginx: master + worker) across the h2load run,
  over the requests that succeeded; that CPU includes h2load's connecting before its period.
  h2load gives no latency percentiles comparable to wrk's: none are reported.
- **Echo**: a fresh server; `nghttp -w 24 -W 24 -d FILE` posts a {mib} MiB file of random bytes
  (made with `head -c` from /dev/urandom for the run) on one h2c stream with Content-Length, and
  writes the answer's body to a pipe into `cmp - FILE`, which checks every byte ("bytes matched"
  counts runs where both exited 0). The client's receive windows are 2^24-1 (stream and
  connection), so its reading is not what paces the server; the server's own windows pace the
  upload. MB/s = 10⁶ bytes of body per second from starting nghttp to cmp's exit. Peak RSS:
  the server's VmHWM after the echo (nginx: master + worker). nginx's echo module reads the
  whole body first (to a temp file on disk beyond its buffers), then sends it; Go's `io.Copy`
  and triserve stream it back while it arrives.
- **Idle connections**: `idle_conns.py --h2c`: as the cleartext row, but each of the
  {meta.get('idle_conns', '10000')} connections sends the preface and an empty SETTINGS, makes one
  GET / on stream 1 (answer checked: `:status 200` and the hello body), ACKs the server's
  SETTINGS, then stays idle; (VmRSS with − VmRSS before) / connections. Kernel socket buffers
  are not in VmRSS. An idle triserve HTTP/2 connection holds no receive buffer (one is
  borrowed from a pool while bytes come) nor output buffer; most of what it holds is
  libnghttp2's session.

### Commands

```sh
{chr(10).join(commands)}
```
{HTTP2_END}"""


def size_text(meta):
    mib = int(meta.get("echo_mib", "1024"))
    return "1 GiB" if mib == 1024 else f"{mib} MiB"


def plot(values, t, gp, png, workdir):
    data = os.path.join(workdir, "connections.dat")
    with open(data, "w") as f:
        f.write("# conns " + " ".join(f"{s}_rps {s}_p99ms" for s in SERVERS) + "\n")
        for c in CONNECTIONS:
            cols = []
            for s in SERVERS:
                rps, p99 = t.median(s, f"hello-c{c}", "rps"), t.median(s, f"hello-c{c}", "p99_ms")
                cols += ["NaN" if rps is None else f"{rps:.0f}", "NaN" if p99 is None else f"{p99:.4f}"]
            f.write(f"{c} " + " ".join(cols) + "\n")
    subprocess.run(["gnuplot", "-e", f"datafile='{data}'; outfile='{png}'", gp], check=True)


def read_commands(path):
    """The commands as run, with the checkout's path and the temp dir's random name taken out."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return [re.sub(r"/tmp/triserve-bench\.\w+", "/tmp/triserve-bench.XXXXXX", line.rstrip("\n").replace(root + "/", ""))
            for line in open(path) if line.strip()]


TLS_BEGIN = "<!-- tls: begin -->"
TLS_END = "<!-- tls: end -->"
HTTP2_BEGIN = "<!-- http2: begin -->"
HTTP2_END = "<!-- http2: end -->"
SECTIONS = [(TLS_BEGIN, TLS_END), (HTTP2_BEGIN, HTTP2_END)]


def split_markdown(path):
    """[the cleartext part, the TLS section, the HTTP/2 section] of an existing docs/BENCHMARKS.md
    ("" when missing): the cleartext part is what precedes the first section."""
    try:
        text = open(path).read()
    except FileNotFoundError:
        return ["", "", ""]
    parts, first = [], len(text)
    for begin_marker, end_marker in SECTIONS:
        begin, end = text.find(begin_marker), text.find(end_marker)
        if begin < 0 or end < begin:
            parts.append("")
            continue
        parts.append(text[begin:end + len(end_marker)] + "\n")
        first = min(first, begin)
    return [text[:first].rstrip("\n") + "\n"] + parts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ["meta", "markdown", "workdir"]:
        ap.add_argument("--" + name, required=True)
    for name in ["csv", "commands", "png", "plot", "tls-csv", "tls-commands", "tls-facts",
                 "http2-csv", "http2-commands", "http2-facts"]:
        ap.add_argument("--" + name)
    args = ap.parse_args()
    if args.csv and not (args.commands and args.png and args.plot):
        ap.error("--csv needs --commands, --png and --plot")
    if args.tls_csv and not (args.tls_commands and args.tls_facts):
        ap.error("--tls-csv needs --tls-commands and --tls-facts")
    if args.http2_csv and not (args.http2_commands and args.http2_facts):
        ap.error("--http2-csv needs --http2-commands and --http2-facts")

    meta = dict(line.rstrip("\n").split("=", 1) for line in open(args.meta) if "=" in line)
    cleartext, tls, http2 = split_markdown(args.markdown)
    if args.csv:
        cleartext = cleartext_markdown(args, meta)
    if args.tls_csv:
        tls = tls_markdown(args, meta)
    if args.http2_csv:
        http2 = http2_markdown(args, meta)
    with open(args.markdown, "w") as f:
        f.write(cleartext + "".join("\n" + section for section in (tls, http2) if section))


def cleartext_markdown(args, meta):
    values = load(args.csv)
    commands = read_commands(args.commands)
    software = ", ".join([
        meta["triserve"] + " (release preset)",
        meta["nginx"].replace("nginx version: ", ""),
        meta["go"].replace("go version ", "").replace("go", "Go ", 1),
        "wrk " + meta["wrk"].split()[1] if len(meta["wrk"].split()) > 1 else meta["wrk"],
    ])

    t = build_table(values)
    table = t.markdown()
    print(table)
    plot(values, t, args.plot, args.png, args.workdir)

    errors = sum(x for (s, w, m), v in values.items() if m == "errors" for _, x in v)
    other = sorted(x for (s, w, m), v in values.items() if m == "cpu1_other_pct" for _, x in v)
    steal = sorted(x for (s, w, m), v in values.items() if m == "cpu1_steal_pct" for _, x in v)
    runs = {(s, w, r) for (s, w, m), v in values.items() if m.endswith("_other_pct") for r, _ in v}
    disturbed = sum(1 for s, w, r in runs if t.disturbed(s, w, r))
    busy = [c / w for (s, wl, m), v in values.items() if m == "client_cpu_s"
            for (_, c), (_, w) in zip(v, values.get((s, wl, "seconds"), []))]
    client = (f"The echo client's CPU time was at most {max(busy) * 100:.0f}% of its wall time "
              f"(median {statistics.median(busy) * 100:.0f}%)." if busy else "")
    contention = (f"Other processes used a median {statistics.median(other):.1f}% of CPU 1 (the servers' CPU) "
                  f"during the measured runs, {other[-1]:.1f}% at worst; the hypervisor stole "
                  f"{statistics.median(steal):.1f}% (worst {steal[-1]:.1f}%). "
                  f"{disturbed} of {len(runs)} wrk and echo runs were disturbed (others used more than "
                  f"{CLEAN_PCT:.0f}% of CPU 0 or CPU 1): a median marked † leaves those out, one marked ‡ "
                  f"had no undisturbed run and uses them all." if other else "")
    rounds = int(meta["rounds"])
    md = f"""# Benchmarks

<!-- Generated by bench/run.sh ({meta['mode']} run): do not edit by hand, rerun it. -->

triserve against **nginx** ({meta['nginx'].replace('nginx version: ', '')}, one worker), **Go**
(the program triserve re-creates, `bench/go/main.go`, {meta['go'].split()[2]}) and **canned**
(`bench/peers/canned.c`, a bare epoll loop that writes canned bytes for every `\\r\\n\\r\\n`
it reads: the ceiling for the hello workloads); the same servers over TLS are in [their own
section](#tls), measured in a run of their own or of both parts. Regenerate with one command, as
root on Debian 12:

```sh
bench/run.sh                   # {'this run: ' if meta['mode'] == 'full' else ''}3 rounds, 10 s per wrk run, both parts
bench/run.sh --quick           # 1 round, 3 s per wrk run
bench/run.sh --only cleartext  # this part alone (--only tls: the TLS section alone)
```

- **Run**: {meta['date']}, {meta['mode']} ({rounds} round{'s' if rounds > 1 else ''}, {meta['duration']} s per wrk
  run), took {int(meta['elapsed_s']) // 60} min {int(meta['elapsed_s']) % 60} s.
- **Command**: `{('bench/run.sh ' + meta.get('args', '')).strip()}`
  (processes at niceness {meta.get('niceness', '0')}).
- **Machine**: {meta['cpu']}, {meta['nproc']} CPUs (`nproc`), {meta['mem']}, {meta['os']}, Linux {meta['kernel']}.
  Shared with other engineers' builds and tests: absolute numbers are noisy, ratios of
  interleaved runs less so.
- **Software**: {software}.

![req/s and p99 latency against connection count](bench-connections.png)

## Results

Medians over {rounds} round{'s' if rounds > 1 else ''}; ratios are triserve's median over the
other's (for latency, CPU and memory lower is better). "—": not measured (canned only answers
hello; start-up and echo are for the three real servers). Targets are triserve's.
wrk reported {errors:.0f} socket or status errors in all. {contention}

{table}

Raw numbers, every round: `bench/results/latest.csv`; wrk's and the servers' output:
`bench/results/logs/` (not committed).

## Method

- **Interleaved rounds.** Each measurement runs against triserve, nginx, Go, canned in turn, and
  the whole sequence repeats {rounds} time{'s' if rounds > 1 else ''}; the table reports medians. Servers
  run pinned to CPU 1 (`taskset -c 1`), wrk and the clients to CPU 0 (`taskset -c 0`). Go's
  runtime sees one CPU (GOMAXPROCS 1), nginx runs one worker, triserve one `io_context` thread.
- **`--threads 2`**: triserve alone, on both CPUs (`taskset -c 0,1`), wrk still on CPU 0, at 64
  and 1024 connections; compared with triserve's one-thread runs of the same round. It says
  whether a second thread helps on this two-CPU box, where it can only take CPU from the load
  generator.
- **Request rates**: `wrk -t1 -c N -d {meta['duration']}s --latency` with `bench/wrk/report.lua`, which prints wrk's
  own summary (requests, duration, p50/p99 latency, errors) in machine-readable form. Each round
  starts fresh servers and warms each up with a 1 s run at 64 connections (not counted).
  Pipelining: `bench/wrk/pipeline.lua` writes 16 requests at once; wrk counts each response.
  Its latency percentiles are left out: wrk 4.1 "corrects" latencies for coordinated omission
  with an interval computed per response rather than per batch, and then reports p99 as 0 or
  garbage. (That correction also adds synthetic samples to every run's p99 when a response
  takes more than twice the average interval: p99 is wrk's, with its correction.) wrk's one
  thread on one core is itself a limit: where triserve, nginx and canned come close, the number
  is wrk's, not the server's.
- **Contention**: for each wrk and echo run, the share of CPU 1 used by anything but the server
  and of CPU 0 by anything but the load generator (user + nice + system time from `/proc/stat`,
  minus the server's from `/proc/PID/stat` and the generator's from bash's `times`) are in the
  CSV (`cpu1_other_pct`, `cpu0_other_pct`, and the hypervisor's `cpu1_steal_pct`). Runs where
  either share exceeds {CLEAN_PCT:.0f}% are left out of the medians when the same measurement has
  an undisturbed run in another round (marked †); all runs stay in the CSV.
- **Server CPU per request**: utime + stime of the server (nginx: master + worker) from
  `/proc/PID/stat` before and after the wrk run, divided by the requests wrk completed.
- **Memory per idle connection** (`bench/clients/idle_conns.py`): a fresh server; VmRSS right
  after start (the "idle RSS" row; VmRSS includes the pages of the binary and of the shared
  libraries it touched, which other processes share: the RssAnon row is the private part),
  then after one request, then with {meta['idle_conns']} keep-alive
  connections open, each having made one request; (with − before) / {meta['idle_conns']}. Kernel socket
  buffers are not in VmRSS. nginx: master + worker summed (shared pages, such as its libraries,
  count twice in its idle RSS; not in the per-connection difference, which is the worker's).
  nginx allocates its connection and event structures for all `worker_connections`
  ({meta.get('nginx_worker_connections', '?')} here: what this test needs) at start: they are in its idle RSS
  (anonymous), not in its per-connection difference (add about 0.4 KiB per connection).
- **Echo** (`bench/clients/echo_bytes.c`): a fresh server; one connection uploads a deterministic
  pseudo-random 1 GiB body (256 KiB blocks, Content-Length or 256 KiB chunks) from one thread
  while another reads the response and checks every byte; GB/s = 10⁹ bytes of body per second
  from connect to the last byte verified. Peak RSS = the server's VmHWM afterwards (nginx: master
  + worker). nginx's echo module reads the whole body first, spooling it to a temp file on disk
  (beyond `client_body_buffer_size`), then answers chunked; Go answers chunked too (it cannot
  know the length); triserve mirrors the request's framing. {client} The client runs on one
  core, like the server, and mirrors its copies (it sends with `sendfile` from a memfd and
  checks with `memcmp`, but receiving costs what the server's sending does): near 100% it is
  the limit, and the server's CPU time per GiB echoed (utime + stime, as above) is the fairer
  comparison.
- **Start-up and exit** (`bench/clients/lifecycle.py`, 5 repetitions per round): from spawning the
  server to all three ports accepting a connection (poll connect), and from SIGTERM to the
  process having exited, with no connection open.
- **Peers' differences**: nginx's hello-name uses `return 200 "Hello, $arg_name!"`, and
  `$arg_name` is **not url-decoded** (`Ren%C3%A9e` comes back as is; triserve and Go decode it);
  the benchmark sends `name=Alex`, where it makes no difference. nginx runs with `access_log off`
  and `keepalive_requests` lifted (its default 1000 would close wrk's connections), listen
  backlog 4096 like the others. Go's echo is the original `io.Copy(w, r.Body)`: Go's HTTP/1
  server consumes up to 256 KiB of an unread body of unknown length when the handler first
  flushes its response, so a chunked upload does not come back intact (see the matched row).

## Commands

The servers (ports from `BENCH_PORT_BASE`, default 17100), then every client command, as run:

```sh
{chr(10).join(commands)}
```
"""
    return md


if __name__ == "__main__":
    sys.exit(main())
