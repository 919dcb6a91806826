#!/usr/bin/env python3
"""Turns bench/results/latest.csv into the table of medians (stdout), docs/BENCHMARKS.md and
the connection-count plot. Called by bench/run.sh; can be rerun alone on a kept CSV:

  bench/report.py --csv bench/results/latest.csv --meta bench/results/logs/meta.env \
      --commands bench/results/logs/commands.txt --markdown docs/BENCHMARKS.md \
      --png docs/bench-connections.png --plot bench/plot.gp --workdir /tmp
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
    return f"{value:g}"


class Table:
    def __init__(self, values):
        self.values = values
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

    def row(self, label, workload, metric, kind, target=None, scale=1.0, servers=SERVERS):
        """target: (text, test(triserve, nginx, go) -> bool)."""
        marked = {s: self.median_marked(s, workload, metric) if s in servers else (None, "") for s in SERVERS}
        med = {s: None if v is None else v * scale for s, (v, _) in marked.items()}
        cells = {s: fmt(med[s], kind) + marked[s][1] for s in SERVERS}
        self.add(label, med, kind, target, cells)

    def add(self, label, med, kind, target=None, cells=None):
        def ratio(a, b):
            return None if a is None or b in (None, 0) else a / b

        r_nginx = ratio(med["triserve"], med["nginx"])
        r_go = ratio(med["triserve"], med["go"])
        met = ""
        if target:
            try:
                met = "yes" if target[1](med["triserve"], med["nginx"], med["go"]) else "**no**"
            except TypeError:  # a missing number
                met = "?"
        cells = cells or {s: fmt(med[s], kind) for s in SERVERS}
        self.rows.append([label] + [cells[s] for s in SERVERS] +
                         [fmt(r_nginx, "ratio"), fmt(r_go, "ratio"), target[0] if target else "", met])

    def matched(self, label, workload):
        cells, med = {}, {}
        for s in SERVERS:
            v = [x for _, x in self.values.get((s, workload, "matched"), [])]
            cells[s] = f"{sum(v):.0f}/{len(v)}" if v else "—"
            med[s] = (sum(v) / len(v)) if v else None
        framing = {s: next((m[len("response_"):] for (srv, w, m) in self.values
                            if srv == s and w == workload and m.startswith("response_")), None) for s in SERVERS}
        for s in SERVERS:
            if framing[s]:
                cells[s] += f" ({framing[s]})"
        self.add(label, med, "", ("all", lambda t, n, g: t == 1.0), cells)
        self.rows[-1][5] = self.rows[-1][6] = ""  # ratios of match rates mean nothing

    def markdown(self):
        head = ["measurement (median)", "triserve", "nginx", "Go", "canned", "triserve/nginx",
                "triserve/Go", "target", "met"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * 6 + ["---", "---"]) + "|"]
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ["csv", "meta", "commands", "markdown", "png", "plot", "workdir"]:
        ap.add_argument("--" + name, required=True)
    args = ap.parse_args()

    values = load(args.csv)
    meta = dict(line.rstrip("\n").split("=", 1) for line in open(args.meta) if "=" in line)
    commands = [line.rstrip("\n") for line in open(args.commands) if line.strip()]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commands = [re.sub(r"/tmp/triserve-bench\.\w+", "/tmp/triserve-bench.XXXXXX", c.replace(root + "/", ""))
                for c in commands]
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
it reads: the ceiling for the hello workloads). Regenerate with one command, as root on Debian 12:

```sh
bench/run.sh          # {'this run' if meta['mode'] == 'full' else 'full run'}: 3 rounds, 10 s per wrk run
bench/run.sh --quick  # 1 round, 3 s per wrk run
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
    with open(args.markdown, "w") as f:
        f.write(md)


if __name__ == "__main__":
    sys.exit(main())
