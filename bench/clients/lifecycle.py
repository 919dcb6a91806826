#!/usr/bin/env python3
"""Start-up and exit times of a server, measured from outside.

  lifecycle.py --cpu 1 --reps 5 --ports 17100,17101,17102 -- COMMAND...

For each repetition: spawn COMMAND pinned to --cpu (the spawn itself included in the time),
poll-connect every port until all three accept (start_ms), wait --settle seconds with no traffic,
read its VmRSS (idle_rss_kb), send SIGTERM and time until the process has exited (exit_ms).
The poll loop runs on the CPUs this helper was started on (bench/run.sh pins it to CPU 0).
Prints one line of key=value pairs per repetition.
"""
import argparse
import errno
import os
import signal
import socket
import sys
import time


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def connectable(port, host):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        return s.connect_ex((host, port)) == 0
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", type=int, default=1, help="CPU the server runs on")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ports", required=True, help="comma-separated ports that must all accept")
    ap.add_argument("--settle", type=float, default=0.5, help="idle seconds between start-up and SIGTERM")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command")
    ports = [int(p) for p in args.ports.split(",")]
    for port in ports:
        if connectable(port, args.host):
            sys.exit(f"lifecycle: port {port} is already taken")

    own_cpus = os.sched_getaffinity(0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    devnull = os.open(os.devnull, os.O_RDWR)
    for rep in range(args.reps):
        pid = None
        try:
            # The child inherits the affinity posix_spawn sees: switch to the server's CPU for the
            # spawn only, so that no extra exec (taskset) lands inside the measured time.
            os.sched_setaffinity(0, {args.cpu})
            t0 = time.perf_counter()
            pid = os.posix_spawnp(command[0], command, os.environ,
                                  file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
            os.sched_setaffinity(0, own_cpus)
            pending = list(ports)
            while pending:
                if time.perf_counter() - t0 > args.timeout:
                    raise RuntimeError(f"ports {pending} not listening after {args.timeout} s")
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    pid = None
                    raise RuntimeError(f"{command[0]} exited during start-up (status {status})")
                pending = [p for p in pending if not connectable(p, args.host)]
            start_ms = (time.perf_counter() - t0) * 1000
            time.sleep(args.settle)
            rss = vm_rss_kb(pid)
            t1 = time.perf_counter()
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            exit_ms = (time.perf_counter() - t1) * 1000
            pid = None
            code = os.waitstatus_to_exitcode(status)
            print(f"rep={rep} start_ms={start_ms:.3f} idle_rss_kb={rss} exit_ms={exit_ms:.3f} exit_code={code}", flush=True)
        finally:
            os.sched_setaffinity(0, own_cpus)
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        sys.exit(f"lifecycle: {e}")
