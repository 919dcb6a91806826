#!/usr/bin/env bash
# triserve's benchmark, in one command: triserve against nginx 1.22 (one worker), the Go program
# it re-creates, and a canned-bytes epoll loop (the ceiling), each on its own loopback ports; then
# the same three servers over TLS (one ECDSA P-256 certificate made for the run); then the three
# over HTTP/2, h2c and h2 by ALPN (h2load, nghttp).
#
#   bench/run.sh              full run: 3 rounds, 10 s per wrk run (~33 minutes: TLS ~10, HTTP/2 ~6)
#   bench/run.sh --quick      1 round, 3 s per wrk run (~6 minutes), for development
#   bench/run.sh --only tls   the TLS part alone (--only cleartext, --only http2: that part alone)
#
# Every measurement runs for every server in turn (round 1: triserve, nginx, go, canned; round 2:
# ...), the servers pinned to CPU 1 and the load generators to CPU 0; the report gives medians
# over the rounds and triserve's ratio to nginx and to Go, because on a shared machine the ratio
# of interleaved runs is steadier than any absolute number.
#
# Writes bench/results/latest.csv (every raw number of the cleartext part), bench/results/tls.csv
# (the TLS part's), bench/results/http2.csv (the HTTP/2 part's), bench/results/logs/ (wrk and server output of the last run), docs/BENCHMARKS.md
# and docs/bench-connections.png, and prints the tables. A run of one part leaves the others' CSVs
# and their sections of docs/BENCHMARKS.md as they were. Installs its Debian packages when some are missing (run as root, or with sudo at hand).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--quick] [--only cleartext|tls|http2] [--rounds N] [--duration SECONDS] [--nice N]
                    [--idle-conns N] [--echo-mib N] [--rebuild] [--no-install]

  --quick            1 round, 3 s per wrk run (the default is 3 rounds, 10 s per run)
  --only PART        run one part: cleartext (the original benchmark), tls (the three servers
                     over TLS) or http2 (the three over h2c and h2); the other parts' CSVs and
                     report sections stay as they were
  --rounds N         rounds of every measurement (median reported)
  --duration S       seconds per wrk (and ab) run
  --idle-conns N     idle connections to measure memory with (default 10000; fewer for a smoke test)
  --echo-mib N       MiB echoed (default 1024, over HTTP/2 256; less for a smoke test)
  --nice N           run servers and load generators at this niceness (e.g. -10, as root): on
                     a machine others are using, they then take less of the benchmark's CPUs
                     (and the benchmark more of theirs); off by default
  --rebuild          rebuild triserve's release preset even if the binary exists
  --no-install       never call apt-get; fail if a tool is missing

environment: BENCH_PORT_BASE (default 17100): triserve listens on BASE..BASE+2, nginx on
BASE+100.., Go on BASE+200.., canned on BASE+300; over TLS, triserve on BASE+10..BASE+12 (its
admin server on BASE+13), nginx on BASE+110..BASE+113, Go on BASE+210..BASE+212; over h2c,
BASE+20..22, BASE+120..122, BASE+220..222; over h2 (TLS), BASE+30..32, BASE+130, BASE+230..232.
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
args="$*"
root=$(dirname "$here")
rounds=3
duration=10
mode=full
rebuild=0
install=1
niceness=""
parts="cleartext tls http2"
idle_conns_wanted=10000
echo_mib=1024
while (($#)); do
  case $1 in
    --quick) mode=quick rounds=1 duration=3 ;;
    --only)
      case ${2:-} in
        cleartext | tls | http2) parts=$2 ;;
        *) echo "bench/run.sh: --only takes cleartext, tls or http2" >&2; exit 2 ;;
      esac
      shift ;;
    --idle-conns) idle_conns_wanted=${2:?--idle-conns needs a number}; shift ;;
    --echo-mib) echo_mib=${2:?--echo-mib needs a number}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --nice) niceness=${2:?--nice needs a number}; shift ;;
    --rebuild) rebuild=1 ;;
    --no-install) install=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench/run.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --rounds must be a positive integer" >&2; exit 2; }
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --duration must be whole seconds" >&2; exit 2; }
[[ -z $niceness || $niceness =~ ^-?[0-9]+$ ]] || { echo "bench/run.sh: --nice must be an integer" >&2; exit 2; }
[[ $idle_conns_wanted =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --idle-conns must be a positive integer" >&2; exit 2; }
[[ $echo_mib =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: --echo-mib must be a positive integer" >&2; exit 2; }
runs() { [[ " $parts " == *" $1 "* ]]; } # PART: whether this run measures it

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench/run.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
# ab (apache2-utils) makes a full TLS handshake per request; openssl makes the certificate;
# libssl-dev lets echo_bytes speak TLS. nghttp2-client has h2load and nghttp; Go's h2c comes
# from golang-golang-x-net-dev (nginx-light has http_v2: `nginx -V`).
packages=(wrk nginx-light libnginx-mod-http-echo golang-go gnuplot-nox python3 apache2-utils openssl libssl-dev
  nghttp2-client golang-golang-x-net-dev)
gopath=/usr/share/gocode # Debian's Go libraries, in GOPATH layout
have_all_tools() {
  command -v wrk && command -v nginx && [[ -f $echo_module ]] && command -v go &&
    command -v gnuplot && command -v python3 && command -v cc && command -v taskset &&
    command -v ab && command -v openssl && [[ -f /usr/include/openssl/ssl.h ]] &&
    command -v h2load && command -v nghttp && [[ -d $gopath/src/golang.org/x/net/http2/h2c ]]
} >/dev/null
if ! have_all_tools; then
  ((install)) || die "missing tools (wrk, nginx, its echo module, go, gnuplot, python3, cc, taskset, ab, openssl, libssl-dev, h2load, nghttp, Go's x/net) and --no-install was given"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  extra=()
  command -v cc >/dev/null || extra+=(gcc libc6-dev)
  command -v taskset >/dev/null || extra+=(util-linux)
  log "installing ${packages[*]} ${extra[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" "${extra[@]}"
  have_all_tools || die "tools still missing after apt-get install"
fi
# Debian's python3 starts faster than a pyenv shim and is the one the packages above provide.
python=$(command -v /usr/bin/python3 || command -v python3)

triserve=$root/build/release/triserve
if ((rebuild)) || [[ ! -x $triserve ]]; then
  if ! command -v cmake >/dev/null || ! command -v ninja >/dev/null; then
    ((install)) || die "cmake/ninja missing and --no-install was given"
    log "installing triserve's build dependencies (.ci/install-deps)"
    bash "$root/.ci/install-deps"
  fi
  log "building triserve (cmake --workflow --preset release)"
  (cd "$root" && cmake --workflow --preset release) >&2 || die "triserve's release build failed"
fi
[[ -x $triserve ]] || die "no triserve binary at $triserve"

cache=$here/.cache
bin=$cache/bin
mkdir -p "$bin"
build_c() { # NAME SOURCE [FLAGS...]: rebuild when the source is newer
  local out=$bin/$1 src=$2
  shift 2
  if [[ ! -x $out || $src -nt $out ]]; then
    log "building $out"
    cc -O2 -Wall -Wextra -o "$out" "$src" "$@" || die "cannot build $src"
  fi
}
build_c canned "$here/peers/canned.c"
build_c echo_bytes "$here/clients/echo_bytes.c" -pthread -lssl -lcrypto
goserver=$bin/goserver
if [[ ! -x $goserver || $here/go/main.go -nt $goserver ]]; then
  # GOPATH mode on Debian's packaged libraries (x/net for h2c): offline, no go.sum to keep.
  log "building $goserver (standard library and Debian's golang.org/x/net, offline)"
  (cd "$here/go" && GOCACHE=$cache/go-build GO111MODULE=off GOPATH=$gopath GOPROXY=off \
    GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$goserver" .) || die "cannot build bench/go"
fi

# Everything started from here on (servers, wrk, clients) inherits this shell's niceness.
if [[ -n $niceness ]]; then
  "$python" -c 'import os, sys; os.setpriority(os.PRIO_PROCESS, int(sys.argv[1]), int(sys.argv[2]))' $$ "$niceness" ||
    die "cannot set niceness $niceness (negative needs root)"
fi

# ---------------------------------------------------------------------------------------------
# Limits, ports, output
# ---------------------------------------------------------------------------------------------
# 10,000 idle connections and wrk's 1024 need descriptors: raise the hard limit if we may
# (root on a normal machine), then the soft one to it. Servers and clients inherit it.
ulimit -Hn 65536 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
nofile=$(ulimit -n)
[[ $nofile == unlimited ]] && nofile=1048576
idle_conns=$idle_conns_wanted
if ((nofile < idle_conns + 200)); then
  idle_conns=$((nofile - 200))
  log "warning: only $nofile file descriptors: measuring $idle_conns idle connections, not $idle_conns_wanted"
fi
((nofile >= 1100)) || die "need at least 1100 file descriptors for wrk's 1024 connections (ulimit -n is $nofile)"
(($(nproc) >= 2)) || die "need 2 CPUs (server on CPU 1, load on CPU 0); nproc says $(nproc)"

base=${BENCH_PORT_BASE:-17100}
[[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base <= 65000)) || die "BENCH_PORT_BASE must be a port number in 1024..65000"
servers=(triserve nginx go canned)
# The TLS part's servers: the same programs on their own ports, every address speaking TLS.
# In the CSV they are triserve, nginx and go again (bench/results/tls.csv holds only them).
tls_servers=(triserve-tls nginx-tls go-tls)
# The HTTP/2 part's: over h2c (prior knowledge), all three handlers; over h2 (TLS, ALPN), hello
# (nginx's h2 peer serves nothing else). Recorded by their program's name in http2.csv.
h2c_servers=(triserve-h2c nginx-h2c go-h2c)
h2_servers=(triserve-h2 nginx-h2 go-h2)
declare -A hello_port=([triserve]=$base [nginx]=$((base + 100)) [go]=$((base + 200)) [canned]=$((base + 300))
  [triserve-tls]=$((base + 10)) [nginx-tls]=$((base + 110)) [go-tls]=$((base + 210))
  [triserve-h2c]=$((base + 20)) [nginx-h2c]=$((base + 120)) [go-h2c]=$((base + 220))
  [triserve-h2]=$((base + 30)) [nginx-h2]=$((base + 130)) [go-h2]=$((base + 230)))
declare -A name_port=([triserve]=$((base + 1)) [nginx]=$((base + 101)) [go]=$((base + 201))
  [triserve-tls]=$((base + 11)) [nginx-tls]=$((base + 111)) [go-tls]=$((base + 211))
  [triserve-h2c]=$((base + 21)) [nginx-h2c]=$((base + 121)) [go-h2c]=$((base + 221))
  [triserve-h2]=$((base + 31)) [go-h2]=$((base + 231)))
declare -A echo_port=([triserve]=$((base + 2)) [nginx]=$((base + 102)) [go]=$((base + 202))
  [triserve-tls]=$((base + 12)) [nginx-tls]=$((base + 112)) [go-tls]=$((base + 212))
  [triserve-h2c]=$((base + 22)) [nginx-h2c]=$((base + 122)) [go-h2c]=$((base + 222))
  [triserve-h2]=$((base + 32)) [go-h2]=$((base + 232)))
admin_port=$((base + 13))       # triserve's admin server (cleartext): its handshake counter
check_port=$((base + 113))      # nginx's resumption-check server (TLS)
host=127.0.0.1

port_taken() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }
for s in "${servers[@]}" "${tls_servers[@]}" "${h2c_servers[@]}" "${h2_servers[@]}"; do
  for p in ${hello_port[$s]} ${name_port[$s]:-} ${echo_port[$s]:-}; do
    ! port_taken "$p" || die "port $p ($s) is already in use: stop what listens there or set BENCH_PORT_BASE"
  done
done
for p in $admin_port $check_port; do
  ! port_taken "$p" || die "port $p is already in use: stop what listens there or set BENCH_PORT_BASE"
done

results=$here/results
logs=$results/logs
rm -rf "$logs"
mkdir -p "$logs"
csv=$results/latest.csv.partial # the TLS part switches to tls.csv.partial, HTTP/2 to http2.csv.partial
# round server workload metric value; a TLS or HTTP/2 server (nginx-tls, go-h2c) is recorded by its program's name
record() { echo "$1,${2%%-*},$3,$4,$5" >>"$csv"; }
facts=$logs/tls-facts.env # what is not a number: the TLS versions, suites and groups negotiated
: >"$facts"
fact() { echo "$1=$2" >>"$facts"; } # KEY VALUE
tmp=$(mktemp -d /tmp/triserve-bench.XXXXXX)
commands=$logs/commands.txt # the TLS part switches to tls-commands.txt, HTTP/2 to http2-commands.txt
: >"$logs/commands.txt"
: >"$logs/tls-commands.txt"
: >"$logs/http2-commands.txt"
note_command() { # ARGS...: remembers a command line for the report, quoted for a shell
  local arg line=""
  for arg; do
    [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ || $arg == "|" ]] || arg="'$arg'" # "|": a pipe between two commands
    line+="${line:+ }$arg"
  done
  grep -qxF -- "$line" "$commands" || echo "$line" >>"$commands"
}

# ---------------------------------------------------------------------------------------------
# Servers: started and stopped by PID, never by name
# ---------------------------------------------------------------------------------------------
declare -A pid=() # server -> PID we started (nginx: its master)
cleanup() {
  local s p
  for s in "${!pid[@]}"; do
    # nginx's worker outlives a killed master: kill the children first.
    for p in $(cat "/proc/${pid[$s]}/task/${pid[$s]}/children" 2>/dev/null) "${pid[$s]}"; do
      kill -KILL "$p" 2>/dev/null || true
    done
    wait "${pid[$s]}" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

declare -A nginx_prefix=([nginx]=$tmp/nginx [nginx-tls]=$tmp/nginx-tls [nginx-h2c]=$tmp/nginx-h2c [nginx-h2]=$tmp/nginx-h2)
declare -A nginx_template=([nginx]=$here/nginx/nginx.conf.in [nginx-tls]=$here/nginx/nginx-tls.conf.in
  [nginx-h2c]=$here/nginx/nginx-h2c.conf.in [nginx-h2]=$here/nginx/nginx-h2.conf.in)
make_nginx_conf() { # nginx|nginx-tls|nginx-h2c|nginx-h2
  local s=$1 prefix=${nginx_prefix[$1]}
  mkdir -p "$prefix"
  # Enough for the idle-connection test (and wrk's 1024) and no more: nginx allocates a
  # connection and two events for each of them at start, which its idle RSS shows. Enough means
  # 1/16 spare: below that nginx starts closing idle keep-alive connections to make room.
  local w=$((idle_conns + idle_conns / 8 + 256))
  ((w >= 1024 + 256)) || w=$((1024 + 256))
  local worker_connections=$((w < nofile ? w : nofile))
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    -e "s|@NOFILE@|$nofile|g" -e "s|@WORKER_CONNECTIONS@|$worker_connections|g" -e "s|@HOST@|$host|g" \
    -e "s|@HELLO_PORT@|${hello_port[$s]}|g" -e "s|@HELLO_NAME_PORT@|${name_port[$s]:-}|g" \
    -e "s|@ECHO_PORT@|${echo_port[$s]:-}|g" -e "s|@ERROR_LOG@|$logs/$s-error.log|g" \
    -e "s|@TLS_CERT@|$tls_dir/server.pem|g" -e "s|@TLS_KEY@|$tls_dir/server.key|g" \
    -e "s|@CHECK_PORT@|$check_port|g" -e "s|@CHECK_LOG@|$logs/nginx-tls-resumption.log|g" \
    "${nginx_template[$s]}" >"$prefix/nginx.conf"
  nginx -t -p "$prefix/" -c "$prefix/nginx.conf" -e "$logs/$s-error.log" >"$logs/$s-t.log" 2>&1 ||
    die "nginx rejects the generated config: $(cat "$logs/$s-t.log")"
}

# The TLS part's certificate, the same for every server: an ECDSA P-256 CA and a leaf for
# 127.0.0.1 that it signed, made for this run in the private temp dir (no key is ever kept).
tls_dir=$tmp/tls
make_certificate() {
  mkdir -p "$tls_dir"
  (
    cd "$tls_dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -days 2 -subj "/CN=triserve bench CA" &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
        -subj "/CN=$host" &&
      printf '%s\n' "subjectAltName=IP:$host" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.pem
  ) >"$logs/certificate.log" 2>&1 || die "cannot make the TLS certificate: $(tail -3 "$logs/certificate.log")"
}

server_command() { # SERVER -> the command line, in the array "cmd"
  local s=$1 tls_cert=$tls_dir/server.pem tls_key=$tls_dir/server.key t=tls://
  case $s in
    triserve | triserve-h2c) cmd=("$triserve" --hello "$host:${hello_port[$s]}" --hello-name "$host:${name_port[$s]}" --echo "$host:${echo_port[$s]}") ;;
    go) cmd=("$goserver" --hello "$host:${hello_port[$s]}" --hello-name "$host:${name_port[$s]}" --echo "$host:${echo_port[$s]}") ;;
    go-h2c) cmd=("$goserver" --hello "$host:${hello_port[$s]}" --hello-name "$host:${name_port[$s]}" --echo "$host:${echo_port[$s]}" --h2c) ;;
    nginx*) cmd=(nginx -p "${nginx_prefix[$s]}/" -c "${nginx_prefix[$s]}/nginx.conf" -e "$logs/$s-error.log" -g "daemon off;") ;;
    canned) cmd=("$bin/canned" "$host:${hello_port[$s]}") ;;
    triserve-tls) cmd=("$triserve" --hello "$t$host:${hello_port[$s]}" --hello-name "$t$host:${name_port[$s]}"
      --echo "$t$host:${echo_port[$s]}" --admin "$host:$admin_port" --tls-cert "$tls_cert" --tls-key "$tls_key") ;;
    triserve-h2) cmd=("$triserve" --hello "$t$host:${hello_port[$s]}" --hello-name "$t$host:${name_port[$s]}"
      --echo "$t$host:${echo_port[$s]}" --tls-cert "$tls_cert" --tls-key "$tls_key") ;;
    go-tls | go-h2) cmd=("$goserver" --hello "$host:${hello_port[$s]}" --hello-name "$host:${name_port[$s]}"
      --echo "$host:${echo_port[$s]}" --tls-cert "$tls_cert" --tls-key "$tls_key") ;;
  esac
}

start_server() { # SERVER TAG [CPUS [EXTRA ARGS...]]: a fresh instance on CPU 1 (or CPUS), waits until its ports accept
  local s=$1 tag=$2 cpus=${3:-1} cmd p
  shift $(($# < 3 ? $# : 3))
  for p in ${hello_port[$s]} ${name_port[$s]:-} ${echo_port[$s]:-}; do
    ! port_taken "$p" || die "port $p, $s's, was taken by another process (set BENCH_PORT_BASE to move)"
  done
  server_command "$s"
  cmd+=("$@")
  note_command taskset -c "$cpus" "${cmd[@]}"
  if [[ $s == triserve-tls || $s == triserve-h2 ]]; then
    # triserve up to ed552ee let OpenSSL write to its sockets with write(2) and did not ignore
    # SIGPIPE: a TLS client that reset its connection (wrk and ab do, at their end) killed it
    # (fixed by 9718588). Started with SIGPIPE ignored (inherited), older builds can be measured.
    (trap '' PIPE && exec taskset -c "$cpus" "${cmd[@]}") >"$logs/$s.$tag.log" 2>&1 &
  else
    taskset -c "$cpus" "${cmd[@]}" >"$logs/$s.$tag.log" 2>&1 &
  fi
  pid[$s]=$!
  for p in ${hello_port[$s]} ${name_port[$s]:-} ${echo_port[$s]:-}; do
    local deadline=$((SECONDS + 10))
    until port_taken "$p"; do
      kill -0 "${pid[$s]}" 2>/dev/null || { unset "pid[$s]"; die "$s exited at start-up: $(tail -5 "$logs/$s.$tag.log")"; }
      ((SECONDS < deadline)) || die "$s does not listen on port $p after 10 s"
      sleep 0.01
    done
  done
  if [[ $s == nginx* ]]; then # wait for the worker too
    local deadline=$((SECONDS + 10))
    until [[ -n $(server_pids "$s" | cut -s -d' ' -f2) ]]; do
      ((SECONDS < deadline)) || die "nginx started no worker"
      sleep 0.01
    done
  fi
}

stop_server() { # SERVER: SIGTERM, then SIGKILL after 10 s
  local s=$1 p=${pid[$1]:-} i
  [[ -n $p ]] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < 1000; i++)); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.01
  done
  if kill -0 "$p" 2>/dev/null; then
    log "warning: $s (pid $p) still running 10 s after SIGTERM: SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
  unset "pid[$s]"
}

server_pids() { # SERVER -> the PIDs whose CPU and memory count (nginx: master and workers)
  local p=${pid[$1]}
  if [[ $1 == nginx* ]]; then
    echo "$p" $(cat "/proc/$p/task/$p/children" 2>/dev/null)
  else
    echo "$p"
  fi
}

cpu_ticks() { # PIDS... -> utime+stime summed, in clock ticks
  local p total=0 stat
  local -a f
  for p in "$@"; do
    if ! stat=$(cat "/proc/$p/stat" 2>/dev/null); then
      local master=${pid[nginx]:-${pid[nginx-tls]:-}}
      log "warning: server process $p is gone (its CPU time is lost)${master:+: the children of nginx now: $(ps -o pid=,args= --ppid "$master" 2>/dev/null | tr '\n' ';')}"
      continue
    fi
    read -r -a f <<<"${stat##*) }" # fields from the 3rd on: utime is the 14th, stime the 15th
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
clk_tck=$(getconf CLK_TCK)

# Contention: how much of CPU 0 (load generator) and CPU 1 (server) other processes used while
# a measurement ran. CPU busy time (user + nice + system, /proc/stat) minus what our own
# processes used: the server's (from /proc/PID/stat) and this shell's children's, i.e. the
# load generator's (bash's `times`, in ticks once reaped).
cpus_busy() { # -> "cpu0_busy cpu0_total cpu1_busy cpu1_total steal1", in clock ticks
  awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d %d ", $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; if ($1 == "cpu1") s = $9 }
       END { print s }' /proc/stat
}
children_ticks() { # sets kids_ticks: CPU time of this shell's reaped children, in clock ticks
  # `times` must run in this shell, not in a $(...) subshell, whose children are not ours.
  times >"$tmp/times"
  kids_ticks=$(awk -v hz="$clk_tck" 'END { s = 0 # last line: "0m1.234s 0m0.567s"
    for (i = 1; i <= 2; i++) { split($i, m, "m"); sub("s", "", m[2]); s += m[1] * 60 + m[2] }
    printf "%d", s * hz }' "$tmp/times")
}
declare -a contention0=()
kids_ticks=0
contention_begin() { # SERVER_TICKS
  children_ticks
  contention0=($(cpus_busy) "$kids_ticks" "$1")
}
contention_record() { # ROUND SERVER WORKLOAD SERVER_TICKS: cpu0/cpu1_other_pct, cpu1_steal_pct
  local -a now=($(cpus_busy))
  local kids server=$4
  children_ticks
  kids=$kids_ticks
  local other0=$((now[0] - contention0[0] - (kids - contention0[5]))) total0=$((now[1] - contention0[1]))
  local other1=$((now[2] - contention0[2] - (server - contention0[6]))) total1=$((now[3] - contention0[3]))
  ((other0 > 0)) || other0=0
  ((other1 > 0)) || other1=0
  ((total0 > 0)) || total0=1
  ((total1 > 0)) || total1=1
  record "$1" "$2" "$3" cpu0_other_pct "$(awk -v o=$other0 -v t=$total0 'BEGIN { printf "%.1f", o * 100 / t }')"
  record "$1" "$2" "$3" cpu1_other_pct "$(awk -v o=$other1 -v t=$total1 'BEGIN { printf "%.1f", o * 100 / t }')"
  record "$1" "$2" "$3" cpu1_steal_pct "$(awk -v o=$((now[4] - contention0[4])) -v t=$total1 'BEGIN { printf "%.1f", o * 100 / t }')"
}

status_kb() { # FIELD PIDS... -> VmRSS / VmHWM summed, in KiB
  local field=$1 p total=0
  shift
  for p in "$@"; do
    total=$((total + $(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/status")))
  done
  echo "$total"
}

# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------
load_run() { # SERVER OUT COMMAND...: runs a load generator (output to OUT) against the server's
  # processes; sets load_t0/load_t1 (their CPU ticks before and after) and load_k0 (this shell's
  # reaped children's before: the generator's own once contention_record has read them after)
  local s=$1 out=$2
  shift 2
  local -a pids
  read -r -a pids <<<"$(server_pids "$s")"
  load_t0=$(cpu_ticks "${pids[@]}")
  contention_begin "$load_t0"
  load_k0=${contention0[5]}
  "$@" >"$out" 2>&1 || return 1
  load_t1=$(cpu_ticks "${pids[@]}")
}

wrk_run() { # ROUND SERVER WORKLOAD CONNECTIONS PATH SCRIPT [record: 1|0]
  local round=$1 s=$2 workload=$3 conns=$4 path=$5 script=$6 keep=${7:-1} port scheme=http
  [[ $workload == name-* ]] && port=${name_port[$s]} || port=${hello_port[$s]}
  [[ $s != *-tls ]] || scheme=https # wrk does not verify the certificate
  local url="$scheme://$host:$port$path" out=$logs/wrk.$workload.$s.r$round.log
  local wrk_cmd=(taskset -c 0 wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$script" "$url")
  ((keep)) || wrk_cmd=(taskset -c 0 wrk -t1 -c"$conns" -d1s -s "$script" "$url")
  ((keep)) && note_command "${wrk_cmd[@]}"
  load_run "$s" "$out" "${wrk_cmd[@]}" || die "wrk failed against $s ($url): $(tail -3 "$out")"
  local t0=$load_t0 t1=$load_t1 k0=$load_k0
  ((keep)) || return 0
  contention_record "$round" "$s" "$workload" "$t1"
  local k1=$kids_ticks # wrk's CPU time, once reaped (contention_record read it)
  local line
  line=$(grep '^BENCH ' "$out") || die "no summary from wrk against $s: $(tail -3 "$out")"
  local requests duration_us p50_us p99_us errors=0 kv
  for kv in ${line#BENCH }; do
    case $kv in
      requests=*) requests=${kv#*=} ;;
      duration_us=*) duration_us=${kv#*=} ;;
      p50_us=*) p50_us=${kv#*=} ;;
      p99_us=*) p99_us=${kv#*=} ;;
      err_*=*) errors=$((errors + ${kv#*=})) ;;
    esac
  done
  ((requests > 0)) || die "wrk completed no request against $s ($url)"
  record "$round" "$s" "$workload" requests "$requests"
  record "$round" "$s" "$workload" rps "$(awk -v r="$requests" -v d="$duration_us" 'BEGIN { printf "%.0f", r / (d / 1e6) }')"
  record "$round" "$s" "$workload" p50_ms "$(awk -v v="$p50_us" 'BEGIN { printf "%.3f", v / 1000 }')"
  record "$round" "$s" "$workload" p99_ms "$(awk -v v="$p99_us" 'BEGIN { printf "%.3f", v / 1000 }')"
  record "$round" "$s" "$workload" cpu_us_per_req "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v r="$requests" 'BEGIN { printf "%.3f", t / hz * 1e6 / r }')"
  record "$round" "$s" "$workload" errors "$errors"
  # Which side was the limit: the server's and wrk's CPU time over the run's wall time.
  record "$round" "$s" "$workload" server_cpu_pct "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v d="$duration_us" 'BEGIN { printf "%.1f", t / hz / (d / 1e6) * 100 }')"
  record "$round" "$s" "$workload" client_cpu_pct "$(awk -v t=$((k1 - k0)) -v hz="$clk_tck" -v d="$duration_us" 'BEGIN { printf "%.1f", t / hz / (d / 1e6) * 100 }')"
  ((errors == 0)) || log "warning: wrk saw $errors socket/status errors against $s in $workload"
  local p99_text=", p99 $((p99_us / 1000)).$(printf '%03d' $((p99_us % 1000))) ms"
  [[ $workload != *pipe* ]] || p99_text="" # wrk's p99 is meaningless there (see report.py)
  log "  $workload $s: $(awk -v r="$requests" -v d="$duration_us" 'BEGIN { printf "%.0f req/s", r / (d / 1e6) }')$p99_text"
}

idle_run() { # ROUND SERVER WORKLOAD [CLIENT ARGS...]: memory per idle keep-alive connection, a fresh server
  local round=$1 s=$2 workload=$3 p kv out=$logs/$3.$2.r$1.log
  shift 3
  local -a pids pid_args=()
  start_server "$s" "$workload.r$round"
  read -r -a pids <<<"$(server_pids "$s")"
  for p in "${pids[@]}"; do pid_args+=(--pid "$p"); done
  note_command taskset -c 0 "$python" bench/clients/idle_conns.py --port "${hello_port[$s]}" --conns "$idle_conns" "$@" "${pid_args[@]//[0-9]*/PID}"
  taskset -c 0 "$python" "$here/clients/idle_conns.py" --port "${hello_port[$s]}" --conns "$idle_conns" "$@" "${pid_args[@]}" >"$out" 2>&1 ||
    die "idle-connection measurement of $s failed: $(tail -3 "$out")"
  for kv in $(tail -1 "$out"); do
    record "$round" "$s" "$workload" "${kv%%=*}" "${kv#*=}"
  done
  log "  $workload $s: $(tail -1 "$out")"
  stop_server "$s"
}

echo_run() { # ROUND SERVER WORKLOAD cl|chunked [CLIENT OPTIONS...]: the echo of one body, a fresh server
  local round=$1 s=$2 workload=$3 upload=$4 rc=0 t0 t1 hwm kv out=$logs/$3.$2.r$1.log
  shift 4
  local -a pids
  start_server "$s" "$workload.r$round"
  read -r -a pids <<<"$(server_pids "$s")"
  note_command taskset -c 0 bench/.cache/bin/echo_bytes "$@" "$host" "${echo_port[$s]}" "$echo_bytes_total" "$upload"
  t0=$(cpu_ticks "${pids[@]}")
  contention_begin "$t0"
  taskset -c 0 "$bin/echo_bytes" "$@" "$host" "${echo_port[$s]}" "$echo_bytes_total" "$upload" >"$out" 2>&1 || rc=$?
  t1=$(cpu_ticks "${pids[@]}")
  contention_record "$round" "$s" "$workload" "$t1"
  # The client costs about what the server does: when it is the limit, GB/s says little and
  # the server's CPU time per GiB tells the servers apart.
  record "$round" "$s" "$workload" server_cpu_s_per_gib "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v b="$echo_bytes_total" 'BEGIN { printf "%.3f", t / hz / (b / 1073741824) }')"
  ((rc <= 1)) || log "warning: echo client error against $s ($workload): $(tail -1 "$out")"
  hwm=$(status_kb VmHWM "${pids[@]}")
  stop_server "$s"
  for kv in $(tail -1 "$out"); do
    case $kv in
      gbps=* | seconds=* | client_cpu_s=* | received=*) record "$round" "$s" "$workload" "${kv%%=*}" "${kv#*=}" ;;
      matched=*) record "$round" "$s" "$workload" matched "$([[ ${kv#*=} == yes ]] && echo 1 || echo 0)" ;;
      response=*) record "$round" "$s" "$workload" "response_${kv#*=}" 1 ;;
      tls=* | cipher=* | group=*) fact "$workload.${s%-tls}.${kv%%=*}" "${kv#*=}" ;;
    esac
  done
  record "$round" "$s" "$workload" peak_rss_kb "$hwm"
  log "  $workload $s: $(tail -1 "$out" | cut -d' ' -f3-10), VmHWM ${hwm} KiB"
}

# --- TLS measurements ---
# ab's concurrency for full handshakes: enough that the server never waits for a new connection.
handshake_conns=16

triserve_handshakes() { # -> successful TLS handshakes of triserve's hello server so far (its /metrics)
  (
    exec 3<>"/dev/tcp/$host/$admin_port" || exit 1
    printf 'GET /metrics HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n' "$host" "$admin_port" >&3
    awk '$1 == "triserve_tls_handshakes_total{server=\"hello\",result=\"ok\"}" { print $2 }' <&3
  )
}

ab_run() { # ROUND SERVER WORKLOAD CONNECTIONS: full TLS handshakes per second, one connection per request
  local round=$1 s=$2 workload=$3 conns=$4 out=$logs/ab.$3.$2.r$1.log t0 t1 k0 k1 hs0 hs1
  local -a pids
  read -r -a pids <<<"$(server_pids "$s")"
  # ab stops at -t seconds or -n requests: -n only bounds the table of samples it allocates.
  local ab_cmd=(taskset -c 0 ab -q -r -t "$duration" -n $((duration * 20000)) -c "$conns" "https://$host:${hello_port[$s]}/")
  note_command "${ab_cmd[@]}"
  [[ $s != triserve* ]] || hs0=$(triserve_handshakes)
  t0=$(cpu_ticks "${pids[@]}")
  contention_begin "$t0"
  k0=${contention0[5]}
  "${ab_cmd[@]}" >"$out" 2>&1 || die "ab failed against $s: $(tail -3 "$out")"
  t1=$(cpu_ticks "${pids[@]}")
  contention_record "$round" "$s" "$workload" "$t1"
  k1=$kids_ticks
  [[ $s != triserve* ]] || hs1=$(triserve_handshakes)
  local complete failed seconds
  complete=$(awk '/^Complete requests:/ { print $3 }' "$out")
  failed=$(awk '/^Failed requests:/ { print $3 }' "$out")
  seconds=$(awk '/^Time taken for tests:/ { print $5 }' "$out")
  [[ -n $complete && $complete -gt 0 ]] || die "ab completed no request against $s: $(tail -3 "$out")"
  record "$round" "$s" "$workload" requests "$complete"
  record "$round" "$s" "$workload" failed "$failed"
  record "$round" "$s" "$workload" handshakes_per_s "$(awk -v r="$complete" -v d="$seconds" 'BEGIN { printf "%.0f", r / d }')"
  record "$round" "$s" "$workload" cpu_us_per_handshake "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v r="$complete" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }')"
  # Which side was the limit: the server's and ab's CPU time over the wall time.
  record "$round" "$s" "$workload" server_cpu_pct "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v d="$seconds" 'BEGIN { printf "%.1f", t / hz / d * 100 }')"
  record "$round" "$s" "$workload" client_cpu_pct "$(awk -v t=$((k1 - k0)) -v hz="$clk_tck" -v d="$seconds" 'BEGIN { printf "%.1f", t / hz / d * 100 }')"
  [[ -z ${hs0:-} || -z ${hs1:-} ]] || record "$round" "$s" "$workload" handshakes_counted $((hs1 - hs0))
  fact "$workload.${s%-tls}" "$(awk -F': *' '/^SSL\/TLS Protocol:/ { p = $2 } /^Server Temp Key:/ { k = $2 } END { print p " " k }' "$out")"
  ((failed == 0)) || log "warning: ab saw $failed failed requests against $s"
  log "  $workload $s: $(awk -v r="$complete" -v d="$seconds" 'BEGIN { printf "%.0f handshakes/s", r / d }'), server CPU $((t1 - t0)) ticks"
}

negotiated() { # SERVER: the version, suite and group that an OpenSSL client with its defaults (wrk's, ab's) gets
  local s=$1 out=$logs/negotiated.$1.log
  openssl s_client -connect "$host:${hello_port[$s]}" -CAfile "$ca" -verify_return_error </dev/null >"$out" 2>&1 ||
    die "openssl s_client cannot complete a verified handshake with $s: $(tail -3 "$out")"
  fact "negotiated.${s%-tls}" "$(awk '/^New, / { v = $2; c = $5 } /^Server Temp Key:/ { k = $4 } END { sub(",", "", v); sub(",", "", k); print v " " c " " k }' "$out")"
}

resumption_check() { # does ab resume TLS sessions? nginx's check server logs "." (full) or "r" (resumed) per request
  local log_file=$logs/nginx-tls-resumption.log out=$logs/resumption-check.log control
  # The control: a client that resumes must be seen resuming ("." then "r"), or the log tells nothing.
  : >"$log_file"
  note_command taskset -c 0 "$python" bench/clients/tls_resume.py --port "$check_port" --tls "$ca"
  control=$(taskset -c 0 "$python" "$here/clients/tls_resume.py" --port "$check_port" --tls "$ca" 2>&1) ||
    die "the resumption control failed: $control"
  sleep 0.2 # nginx writes its log line after the response
  local seen
  seen=$(cut -d' ' -f1 "$log_file" | tr -d '\n')
  [[ $seen == .r && $control == resumed=1* ]] ||
    die "the resumption check cannot tell resumed handshakes: the control saw '$control', nginx logged '$seen'"
  : >"$log_file"
  note_command taskset -c 0 ab -q -n 200 -c 4 "https://$host:$check_port/"
  taskset -c 0 ab -q -n 200 -c 4 "https://$host:$check_port/" >"$out" 2>&1 || die "ab failed against nginx's check server: $(tail -3 "$out")"
  sleep 0.2
  local full resumed
  full=$(awk '$1 == "." { n++ } END { print n + 0 }' "$log_file")
  resumed=$(awk '$1 == "r" { n++ } END { print n + 0 }' "$log_file")
  record 1 nginx resumption-check ab_full_handshakes "$full"
  record 1 nginx resumption-check ab_resumed "$resumed"
  record 1 nginx resumption-check control_resumed "${control:8:1}"
  fact "resumption.ab" "$(sort "$log_file" | uniq -c | sed 's/^ *//' | tr '\n' ';')"
  fact "resumption.control" "$control"
  log "  resumption check: ab made $full full handshakes and resumed $resumed (the control resumed its second)"
  ((resumed == 0)) || log "warning: ab resumed $resumed TLS sessions: its handshake rate is not that of full handshakes"
}

# --- HTTP/2 measurements ---
# h2load's load: 64 connections, 10 streams in flight on each (the issue's `h2load -c 64 -m 10`).
h2_conns=64
h2_streams=10

h2load_run() { # ROUND SERVER WORKLOAD URL [record: 1|0]: requests over HTTP/2 for the run's duration
  local round=$1 s=$2 workload=$3 url=$4 keep=${5:-1} out=$logs/h2load.$3.$2.r$1.log
  local h2load_cmd=(taskset -c 0 h2load -t1 -c"$h2_conns" -m"$h2_streams" -D"$duration" "$url")
  ((keep)) || h2load_cmd=(taskset -c 0 h2load -t1 -c"$h2_conns" -m"$h2_streams" -D1 "$url")
  ((keep)) && note_command "${h2load_cmd[@]}"
  load_run "$s" "$out" "${h2load_cmd[@]}" || die "h2load failed against $s ($url): $(tail -3 "$out")"
  local t0=$load_t0 t1=$load_t1 k0=$load_k0 k1
  ((keep)) || return 0
  contention_record "$round" "$s" "$workload" "$t1"
  k1=$kids_ticks
  # "finished in 10.00s, 123.45 req/s, 4.00MB/s" and "requests: N total, N started, N done,
  # N succeeded, N failed, N errored, N timeout"; with -D, the time is the measured period's.
  local seconds succeeded errors protocol
  seconds=$(awk '/^finished in/ { t = $3; sub(",", "", t); if (t ~ /ms$/) { sub("ms", "", t); t /= 1000 } else sub("s", "", t); print t }' "$out")
  succeeded=$(awk '/^requests:/ { print $8 }' "$out")
  errors=$(awk '/^requests:/ { print $10 + $12 + $14 }' "$out")
  protocol=$(awk -F': ' '/^Application protocol:/ { print $2 }' "$out")
  [[ -n $succeeded && $succeeded -gt 0 ]] || die "h2load completed no request against $s ($url): $(tail -3 "$out")"
  [[ $protocol == h2 || $protocol == h2c ]] || die "h2load spoke '$protocol', not HTTP/2, to $s ($url)"
  fact "$workload.${s%%-*}.protocol" "$protocol"
  record "$round" "$s" "$workload" requests "$succeeded"
  record "$round" "$s" "$workload" rps "$(awk -v r="$succeeded" -v d="$seconds" 'BEGIN { printf "%.0f", r / d }')"
  record "$round" "$s" "$workload" cpu_us_per_req "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v r="$succeeded" 'BEGIN { printf "%.3f", t / hz * 1e6 / r }')"
  record "$round" "$s" "$workload" errors "$errors"
  # Which side was the limit. The server's ticks include h2load's connecting, outside -D's period.
  record "$round" "$s" "$workload" server_cpu_pct "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v d="$seconds" 'BEGIN { printf "%.1f", t / hz / d * 100 }')"
  record "$round" "$s" "$workload" client_cpu_pct "$(awk -v t=$((k1 - k0)) -v hz="$clk_tck" -v d="$seconds" 'BEGIN { printf "%.1f", t / hz / d * 100 }')"
  ((errors == 0)) || log "warning: h2load saw $errors failed, errored or timed-out requests against $s in $workload"
  log "  $workload $s: $(awk -v r="$succeeded" -v d="$seconds" 'BEGIN { printf "%.0f req/s", r / d }') ($protocol), server CPU $((t1 - t0)) ticks"
}

h2_echo_run() { # ROUND SERVER WORKLOAD: one h2c stream uploads h2_echo_file and reads it back, a fresh server
  local round=$1 s=$2 workload=$3 out=$logs/$3.$2.r$1.log t0 t1 k0 k1 ns0 ns1 hwm
  local -a pids rc
  start_server "$s" "$workload.r$round"
  read -r -a pids <<<"$(server_pids "$s")"
  # nghttp posts the file on one stream and writes the answer's body to stdout; cmp checks every
  # byte. Windows of 2^24-1 on the client's side: its reading is not what limits the server.
  local client=(taskset -c 0 nghttp -w 24 -W 24 -d "$h2_echo_file" "http://$host:${echo_port[$s]}/")
  note_command "${client[@]}" "|" taskset -c 0 cmp - "$h2_echo_file"
  t0=$(cpu_ticks "${pids[@]}")
  contention_begin "$t0"
  k0=${contention0[5]}
  ns0=$(date +%s%N)
  { # in an || list, a failing pipeline does not stop the script: PIPESTATUS says who failed
    "${client[@]}" 2>"$out" | taskset -c 0 cmp - "$h2_echo_file" >>"$out" 2>&1
    rc=("${PIPESTATUS[@]}")
  } || true
  ns1=$(date +%s%N)
  t1=$(cpu_ticks "${pids[@]}")
  contention_record "$round" "$s" "$workload" "$t1"
  k1=$kids_ticks
  hwm=$(status_kb VmHWM "${pids[@]}")
  stop_server "$s"
  local matched=$((rc[0] == 0 && rc[1] == 0 ? 1 : 0)) bytes
  bytes=$(stat -c %s "$h2_echo_file")
  ((matched)) || log "warning: the h2c echo of $s did not come back intact (nghttp exit ${rc[0]}, cmp exit ${rc[1]}): $(tail -2 "$out" | tr '\n' ' ')"
  record "$round" "$s" "$workload" matched "$matched"
  record "$round" "$s" "$workload" seconds "$(awk -v n=$((ns1 - ns0)) 'BEGIN { printf "%.3f", n / 1e9 }')"
  record "$round" "$s" "$workload" gbps "$(awk -v b="$bytes" -v n=$((ns1 - ns0)) 'BEGIN { printf "%.4f", b / n }')"
  record "$round" "$s" "$workload" server_cpu_s_per_gib "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v b="$bytes" 'BEGIN { printf "%.3f", t / hz / (b / 1073741824) }')"
  record "$round" "$s" "$workload" client_cpu_s "$(awk -v t=$((k1 - k0)) -v hz="$clk_tck" 'BEGIN { printf "%.3f", t / hz }')"
  record "$round" "$s" "$workload" peak_rss_kb "$hwm"
  log "  $workload $s: $(awk -v b="$bytes" -v n=$((ns1 - ns0)) 'BEGIN { printf "%.0f MB/s", b / n * 1000 }'), matched $matched, VmHWM $hwm KiB"
}

report=$here/wrk/report.lua
pipeline=$here/wrk/pipeline.lua
# name CONNECTIONS PATH SCRIPT: the canned peer answers hello only.
workloads=(
  "hello-c64 64 / $report"
  "hello-pipe16-c64 64 / $pipeline"
  "name-c64 64 /?name=Alex $report"
  "hello-c1 1 / $report"
  "hello-c16 16 / $report"
  "hello-c256 256 / $report"
  "hello-c1024 1024 / $report"
)
serves() { [[ $1 != canned || $2 == hello-* ]]; } # SERVER WORKLOAD

echo_bytes_total=$((echo_mib << 20))
h2_echo_mib=$((echo_mib < 256 ? echo_mib : 256))
h2_echo_file=$tmp/h2-echo.bin
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
t_start=$SECONDS
log "$mode run ($parts): $rounds round(s), ${duration}s per wrk run; servers on CPU 1, load on CPU 0${niceness:+, niceness $niceness}; logs in ${logs#"$root"/}"

if runs cleartext; then
  make_nginx_conf nginx
  csv=$results/latest.csv.partial
  echo "round,server,workload,metric,value" >"$csv"
  commands=$logs/commands.txt
  for ((round = 1; round <= rounds; round++)); do
    log "round $round/$rounds: request rates (wrk)"
    for s in "${servers[@]}"; do start_server "$s" "r$round"; done
    for s in "${servers[@]}"; do wrk_run "$round" "$s" warmup 64 / "$report" 0; done
    for w in "${workloads[@]}"; do
      read -r workload conns path script <<<"$w"
      for s in "${servers[@]}"; do
        serves "$s" "$workload" || continue
        wrk_run "$round" "$s" "$workload" "$conns" "$path" "$script"
      done
    done
    for s in "${servers[@]}"; do stop_server "$s"; done

    # Whether a second thread helps on this box: it can only run on the CPU wrk uses.
    log "round $round/$rounds: triserve --threads 2 on both CPUs (wrk still on CPU 0)"
    start_server triserve "threads2.r$round" 0,1 --threads 2
    wrk_run "$round" triserve warmup 64 / "$report" 0
    for conns in 64 1024; do wrk_run "$round" triserve "threads2-hello-c$conns" "$conns" / "$report"; done
    stop_server triserve

    log "round $round/$rounds: start-up and exit times"
    for s in triserve nginx go; do
      server_command "$s"
      out=$logs/lifecycle.$s.r$round.log
      note_command taskset -c 0 "$python" bench/clients/lifecycle.py --cpu 1 --reps 5 --ports "${hello_port[$s]},${name_port[$s]},${echo_port[$s]}" -- "${cmd[@]}"
      taskset -c 0 "$python" "$here/clients/lifecycle.py" --cpu 1 --reps 5 \
        --ports "${hello_port[$s]},${name_port[$s]},${echo_port[$s]}" -- "${cmd[@]}" >"$out" 2>&1 ||
        die "start-up/exit measurement of $s failed: $(tail -3 "$out")"
      while read -r line; do
        for kv in $line; do
          case $kv in
            start_ms=* | exit_ms=* | idle_rss_kb=* | exit_code=*) record "$round" "$s" lifecycle "${kv%%=*}" "${kv#*=}" ;;
          esac
        done
      done <"$out"
    done

    log "round $round/$rounds: memory per idle keep-alive connection ($idle_conns connections)"
    for s in "${servers[@]}"; do idle_run "$round" "$s" idle; done

    log "round $round/$rounds: echo of a 1 GiB body"
    for upload in cl chunked; do
      for s in triserve nginx go; do echo_run "$round" "$s" "echo-$upload" "$upload"; done
    done
  done
  mv "$csv" "$results/latest.csv"
  cleartext_elapsed=$((SECONDS - t_start))
fi

if runs tls; then
  tls_start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
  t_tls=$SECONDS
  make_certificate
  make_nginx_conf nginx-tls
  csv=$results/tls.csv.partial
  echo "round,server,workload,metric,value" >"$csv"
  commands=$logs/tls-commands.txt
  ca=$tls_dir/ca.pem
  log "TLS part: the certificate is ECDSA P-256 ($(openssl x509 -in "$tls_dir/server.pem" -noout -subject))"

  for ((round = 1; round <= rounds; round++)); do
    log "TLS round $round/$rounds: keep-alive hello (wrk over https) and full handshakes (ab)"
    for s in "${tls_servers[@]}"; do start_server "$s" "r$round"; done
    if ((round == 1)); then
      for s in "${tls_servers[@]}"; do negotiated "$s"; done
      resumption_check
    fi
    for s in "${tls_servers[@]}"; do wrk_run "$round" "$s" warmup 64 / "$report" 0; done
    for s in "${tls_servers[@]}"; do wrk_run "$round" "$s" tls-hello-c64 64 / "$report"; done
    for s in "${tls_servers[@]}"; do ab_run "$round" "$s" tls-handshake "$handshake_conns"; done
    for s in "${tls_servers[@]}"; do stop_server "$s"; done

    log "TLS round $round/$rounds: memory per idle TLS keep-alive connection ($idle_conns connections)"
    for s in "${tls_servers[@]}"; do idle_run "$round" "$s" tls-idle --tls "$ca"; done

    log "TLS round $round/$rounds: echo of a $echo_mib MiB body over TLS"
    for s in "${tls_servers[@]}"; do echo_run "$round" "$s" tls-echo cl --tls "$ca"; done
    for s in "${tls_servers[@]}"; do
      echo_run "$round" "$s" tls-echo-aes128 cl --tls "$ca" --ciphersuites TLS_AES_128_GCM_SHA256
    done
  done
  mv "$csv" "$results/tls.csv"
  tls_elapsed=$((SECONDS - t_tls))
fi

if runs http2; then
  http2_start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
  t_http2=$SECONDS
  [[ -f $tls_dir/server.pem ]] || make_certificate
  make_nginx_conf nginx-h2c
  make_nginx_conf nginx-h2
  csv=$results/http2.csv.partial
  echo "round,server,workload,metric,value" >"$csv"
  commands=$logs/http2-commands.txt
  head -c $((h2_echo_mib << 20)) /dev/urandom >"$h2_echo_file" || die "cannot write $h2_echo_file"

  for ((round = 1; round <= rounds; round++)); do
    log "HTTP/2 round $round/$rounds: hello over h2c and over h2 (h2load -c $h2_conns -m $h2_streams)"
    for s in "${h2c_servers[@]}" "${h2_servers[@]}"; do start_server "$s" "r$round"; done
    for s in "${h2c_servers[@]}"; do h2load_run "$round" "$s" warmup "http://$host:${hello_port[$s]}/" 0; done
    for s in "${h2c_servers[@]}"; do h2load_run "$round" "$s" h2c-hello "http://$host:${hello_port[$s]}/"; done
    for s in "${h2c_servers[@]}"; do h2load_run "$round" "$s" h2c-name "http://$host:${name_port[$s]}/?name=Alex"; done
    for s in "${h2_servers[@]}"; do h2load_run "$round" "$s" warmup "https://$host:${hello_port[$s]}/" 0; done
    for s in "${h2_servers[@]}"; do h2load_run "$round" "$s" h2-hello "https://$host:${hello_port[$s]}/"; done
    for s in "${h2c_servers[@]}" "${h2_servers[@]}"; do stop_server "$s"; done

    log "HTTP/2 round $round/$rounds: memory per idle h2c connection ($idle_conns connections)"
    for s in "${h2c_servers[@]}"; do idle_run "$round" "$s" h2c-idle --h2c; done

    log "HTTP/2 round $round/$rounds: echo of a $h2_echo_mib MiB body on one h2c stream"
    for s in "${h2c_servers[@]}"; do h2_echo_run "$round" "$s" h2c-echo; done
  done
  mv "$csv" "$results/http2.csv"
  http2_elapsed=$((SECONDS - t_http2))
fi
elapsed=$((SECONDS - t_start))

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
meta=$logs/meta.env
{
  echo "mode=$mode"
  echo "args=$args"
  echo "rounds=$rounds"
  echo "duration=$duration"
  echo "elapsed_s=${cleartext_elapsed:-$elapsed}" # of the cleartext part
  echo "date=$start_time"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "nproc=$(nproc)"
  echo "mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "triserve=$("$triserve" --version 2>&1 | head -1)"
  echo "nginx=$(nginx -v 2>&1 | head -1)"
  echo "go=$(go version)"
  echo "wrk=$(wrk -v 2>&1 | head -1)"
  echo "idle_conns=$idle_conns"
  echo "nofile=$nofile"
  echo "base_port=$base"
  for s in nginx nginx-tls; do # the same number in both
    [[ -f ${nginx_prefix[$s]}/nginx.conf ]] || continue
    echo "nginx_worker_connections=$(grep -o 'worker_connections [0-9]*' "${nginx_prefix[$s]}/nginx.conf" | cut -d' ' -f2)"
    break
  done
  echo "niceness=$(ps -o ni= -p $$ | tr -d ' ')"
  echo "parts=$parts"
  if runs tls; then
    echo "tls_date=$tls_start_time"
    echo "tls_elapsed_s=$tls_elapsed"
    echo "openssl=$(openssl version | cut -d' ' -f1-2)"
    echo "ab=$(ab -V | awk '/^This is ApacheBench/ { print $5 }')"
    echo "echo_mib=$echo_mib"
    echo "handshake_conns=$handshake_conns"
    echo "certificate=$(openssl x509 -in "$tls_dir/server.pem" -noout -text | awk '/Public Key Algorithm|NIST CURVE|Signature Algorithm/ { sub(/^ */, ""); print }' | sort -u | tr '\n' ';')"
  fi
  if runs http2; then
    echo "http2_date=$http2_start_time"
    echo "http2_elapsed_s=$http2_elapsed"
    echo "h2load=$(h2load --version 2>&1 | head -1)"
    echo "x_net=$(dpkg-query -W -f '${Version}' golang-golang-x-net-dev)"
    echo "libnghttp2=$(dpkg-query -W -f '${Version}' libnghttp2-14)"
    echo "h2_echo_mib=$h2_echo_mib"
    echo "h2_conns=$h2_conns"
    echo "h2_streams=$h2_streams"
  fi
} >"$meta"
report_args=(--meta "$meta" --markdown "$root/docs/BENCHMARKS.md" --workdir "$tmp")
runs cleartext && report_args+=(--csv "$results/latest.csv" --commands "$logs/commands.txt"
  --png "$root/docs/bench-connections.png" --plot "$here/plot.gp")
runs tls && report_args+=(--tls-csv "$results/tls.csv" --tls-commands "$logs/tls-commands.txt" --tls-facts "$facts")
runs http2 && report_args+=(--http2-csv "$results/http2.csv" --http2-commands "$logs/http2-commands.txt" --http2-facts "$facts")
"$python" "$here/report.py" "${report_args[@]}"
log "done in $((elapsed / 60)) min $((elapsed % 60)) s: docs/BENCHMARKS.md$(runs cleartext && echo ", docs/bench-connections.png, bench/results/latest.csv")$(runs tls && echo ", bench/results/tls.csv")$(runs http2 && echo ", bench/results/http2.csv")"
