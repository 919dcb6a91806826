#!/usr/bin/env bash
# Replays the original article's session against a real triserve with the real curl and httpie,
# prints the transcript, and fails on any difference in status, Content-Length or body.
#
# usage: blog_transcript.sh /path/to/triserve
set -euo pipefail

binary=${1:?usage: blog_transcript.sh /path/to/triserve}
[[ -x $binary ]] || { echo "blog_transcript: $binary is not executable" >&2; exit 2; }
command -v curl >/dev/null || { echo "blog_transcript: curl not found" >&2; exit 2; }
command -v http >/dev/null || { echo "blog_transcript: httpie (http) not found" >&2; exit 2; }

# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

# httpie keeps its config and sessions under $HOME: keep it away from the real one.
export HOME="$workdir/home"
mkdir -p "$HOME"

log="$workdir/triserve.log"
failures=0

fail() {
  echo "MISMATCH: $*"
  failures=$((failures + 1))
}

# expect NAME GOT WANT
expect() {
  if [[ $2 == "$3" ]]; then
    echo "ok: $1 = $3"
  else
    fail "$1: got '$2', want '$3'"
  fi
}

# A response file as written by `curl -i` or `http --print=hb`: head with CRLF, blank line, body.
status_of() { head -n 1 "$1" | tr -d '\r' | cut -d ' ' -f 2; }
header_of() {
  sed -n '1,/^\r\{0,1\}$/p' "$1" | tr -d '\r' | grep -i "^$2:" | head -n 1 | cut -d ':' -f 2- |
    sed 's/^ *//' || true
}
body_of() { sed '1,/^\r\{0,1\}$/d' "$1"; }

# check_response FILE STATUS CONTENT_LENGTH EXPECTED_BODY_FILE
check_response() {
  expect "status" "$(status_of "$1")" "$2"
  expect "Content-Length" "$(header_of "$1" Content-Length)" "$3"
  if cmp -s <(body_of "$1") "$4"; then
    echo "ok: body = $(cat "$4")"
  else
    fail "body: got '$(body_of "$1")', want '$(cat "$4")'"
  fi
}

banner() { printf '\n=== $ %s\n' "$*"; }

# Start on ephemeral ports and read the bound ones from the log.
start_daemon "$log" "$binary" --hello 127.0.0.1:0 --hello-name 127.0.0.1:0 --echo 127.0.0.1:0
hello=$(port_of "$log" hello)
name=$(port_of "$log" hello-name)
echo_port=$(port_of "$log" echo)
echo "triserve (pid $daemon_pid): hello on $hello, hello-name on $name, echo on $echo_port"
[[ -n $hello && -n $name && -n $echo_port ]] || { echo "ports missing from the log:"; cat "$log"; exit 1; }

httpie=(http --ignore-stdin --pretty=none --timeout 5)

printf 'Hello, world!' >"$workdir/hello.want"
printf 'Hello, Alex!' >"$workdir/name.want"
printf '%s' '{"name": "Alex", "job": "Software Engineer", "coffee": "please"}' >"$workdir/echo.want"

# 1. curl against hello.
banner "curl -i 127.0.0.1:$hello"
curl -sS -i --max-time 5 "http://127.0.0.1:$hello" >"$workdir/1.out"
cat "$workdir/1.out"
echo
check_response "$workdir/1.out" 200 13 "$workdir/hello.want"

# 2. httpie against hello.
banner "http :$hello"
"${httpie[@]}" --print=hb ":$hello" >"$workdir/2.out"
cat "$workdir/2.out"
echo
check_response "$workdir/2.out" 200 13 "$workdir/hello.want"

# 3. httpie against hello-name with a query parameter.
banner "http :$name name==Alex"
"${httpie[@]}" --offline --print=H ":$name" name==Alex
"${httpie[@]}" --print=hb ":$name" name==Alex >"$workdir/3.out"
cat "$workdir/3.out"
echo
check_response "$workdir/3.out" 200 12 "$workdir/name.want"

# 4. httpie posting JSON to echo: the 64-byte body must come back byte for byte.
echo_args=(POST ":$echo_port" name=Alex job="Software Engineer" coffee=please)
banner "http POST :$echo_port name=Alex job=\"Software Engineer\" coffee=please"
"${httpie[@]}" --offline --print=HB "${echo_args[@]}"
echo
"${httpie[@]}" --offline --print=B "${echo_args[@]}" >"$workdir/4.sent"
if cmp -s "$workdir/4.sent" "$workdir/echo.want"; then
  echo "ok: httpie sent the expected 64-byte JSON"
else
  fail "httpie sent '$(cat "$workdir/4.sent")', not the expected JSON (different httpie version?)"
fi
"${httpie[@]}" --print=hb "${echo_args[@]}" >"$workdir/4.out"
cat "$workdir/4.out"
echo
check_response "$workdir/4.out" 200 64 "$workdir/echo.want"

# 5. SIGINT: a graceful drain with nothing in flight, exit 0.
banner "kill -INT $daemon_pid"
kill -INT "$daemon_pid"
for _ in $(seq 1 50); do
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$daemon_pid" 2>/dev/null; then
  fail "triserve still running 5 s after SIGINT"
  kill -KILL "$daemon_pid"
fi
exit_code=0
wait "$daemon_pid" || exit_code=$?
daemon_pid=""
expect "exit code" "$exit_code" 0
if grep -q 'everything closed successfully' "$log"; then
  echo "ok: log says everything closed successfully"
else
  fail "no 'everything closed successfully' line in the log"
fi

banner "triserve's log"
cat "$log"

echo
if ((failures > 0)); then
  echo "blog transcript: $failures mismatch(es)"
  exit 1
fi
echo "blog transcript: all responses match"
