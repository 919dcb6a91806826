# Sourced by the smoke scripts (bash): a temporary directory, the daemon a script starts, and
# their cleanup on exit, the daemon by its PID only.

workdir=$(mktemp -d)
daemon_pid=""
smoke_cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap smoke_cleanup EXIT

# start_daemon LOG BINARY ARGS...: starts the daemon in the background, its log into LOG, and
# waits up to 10 s for "all servers are started" (exit 1 with the log otherwise). SIGINT is reset
# to its default disposition because a non-interactive bash starts background jobs with SIGINT
# ignored.
start_daemon() {
  local log=$1
  shift
  env --default-signal=INT "$@" 2>"$log" &
  daemon_pid=$!
  for _ in $(seq 1 100); do
    grep -q 'all servers are started' "$log" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "triserve did not start within 10 s; its log:"
  cat "$log"
  exit 1
}

# port_of LOG SERVER [SCHEME]: the port SERVER logged listening on at 127.0.0.1 (SCHEME "tls://"
# for its TLS address).
port_of() {
  sed -n "s|.* $2 server listening on ${3:-}127\.0\.0\.1:\([0-9][0-9]*\)\r\{0,1\}$|\1|p" "$1" |
    head -n 1
}
