#!/usr/bin/env bash
# triserve's benchmark, in one command: triserve against nginx 1.22 (one worker), the Go program
# it re-creates, and a canned-bytes epoll loop (the ceiling), each on its own loopback ports.
#
#   bench/run.sh            full run: 3 rounds, 10 s per wrk run (~15 minutes)
#   bench/run.sh --quick    1 round, 3 s per wrk run (~2 minutes), for development
#
# Every measurement runs for every server in turn (round 1: triserve, nginx, go, canned; round 2:
# ...), the servers pinned to CPU 1 and the load generators to CPU 0; the report gives medians
# over the rounds and triserve's ratio to nginx and to Go, because on a shared machine the ratio
# of interleaved runs is steadier than any absolute number.
#
# Writes bench/results/latest.csv (every raw number), bench/results/logs/ (wrk and server
# output of the last run), docs/BENCHMARKS.md and docs/bench-connections.png, and prints the
# table. Installs its Debian packages when some are missing (run as root, or with sudo at hand).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--quick] [--rounds N] [--duration SECONDS] [--nice N] [--rebuild] [--no-install]

  --quick            1 round, 3 s per wrk run (the default is 3 rounds, 10 s per run)
  --rounds N         rounds of every measurement (median reported)
  --duration S       seconds per wrk run
  --nice N           run servers and load generators at this niceness (e.g. -10, as root): on
                     a machine others are using, they then take less of the benchmark's CPUs
                     (and the benchmark more of theirs); off by default
  --rebuild          rebuild triserve's release preset even if the binary exists
  --no-install       never call apt-get; fail if a tool is missing

environment: BENCH_PORT_BASE (default 17100): triserve listens on BASE..BASE+2, nginx on
BASE+100.., Go on BASE+200.., canned on BASE+300.
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
while (($#)); do
  case $1 in
    --quick) mode=quick rounds=1 duration=3 ;;
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

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench/run.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
packages=(wrk nginx-light libnginx-mod-http-echo golang-go gnuplot-nox python3)
have_all_tools() {
  command -v wrk && command -v nginx && [[ -f $echo_module ]] && command -v go &&
    command -v gnuplot && command -v python3 && command -v cc && command -v taskset
} >/dev/null
if ! have_all_tools; then
  ((install)) || die "missing tools (wrk, nginx, its echo module, go, gnuplot, python3, cc, taskset) and --no-install was given"
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
build_c echo_bytes "$here/clients/echo_bytes.c" -pthread
goserver=$bin/goserver
if [[ ! -x $goserver || $here/go/main.go -nt $goserver ]]; then
  log "building $goserver (standard library only, offline)"
  (cd "$here/go" && GOCACHE=$cache/go-build GOPATH=$cache/gopath GOPROXY=off GOFLAGS=-mod=readonly \
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
idle_conns=10000
if ((nofile < idle_conns + 200)); then
  idle_conns=$((nofile - 200))
  log "warning: only $nofile file descriptors: measuring $idle_conns idle connections, not 10000"
fi
((nofile >= 1100)) || die "need at least 1100 file descriptors for wrk's 1024 connections (ulimit -n is $nofile)"
(($(nproc) >= 2)) || die "need 2 CPUs (server on CPU 1, load on CPU 0); nproc says $(nproc)"

base=${BENCH_PORT_BASE:-17100}
[[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base <= 65000)) || die "BENCH_PORT_BASE must be a port number in 1024..65000"
servers=(triserve nginx go canned)
declare -A hello_port=([triserve]=$base [nginx]=$((base + 100)) [go]=$((base + 200)) [canned]=$((base + 300)))
declare -A name_port=([triserve]=$((base + 1)) [nginx]=$((base + 101)) [go]=$((base + 201)))
declare -A echo_port=([triserve]=$((base + 2)) [nginx]=$((base + 102)) [go]=$((base + 202)))
host=127.0.0.1

port_taken() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }
for s in "${servers[@]}"; do
  for p in ${hello_port[$s]} ${name_port[$s]:-} ${echo_port[$s]:-}; do
    ! port_taken "$p" || die "port $p ($s) is already in use: stop what listens there or set BENCH_PORT_BASE"
  done
done

results=$here/results
logs=$results/logs
rm -rf "$logs"
mkdir -p "$logs"
csv=$results/latest.csv.partial
echo "round,server,workload,metric,value" >"$csv"
record() { echo "$1,$2,$3,$4,$5" >>"$csv"; } # round server workload metric value
tmp=$(mktemp -d /tmp/triserve-bench.XXXXXX)
commands=$logs/commands.txt
: >"$commands"
note_command() { # ARGS...: remembers a command line for the report, quoted for a shell
  local arg line=""
  for arg; do
    [[ $arg =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]] || arg="'$arg'"
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

nginx_prefix=$tmp/nginx
make_nginx_conf() {
  mkdir -p "$nginx_prefix"
  # Enough for the idle-connection test and no more: nginx allocates a connection and two
  # events for each of them at start, which its idle RSS shows. Enough means 1/16 spare:
  # below that nginx starts closing idle keep-alive connections to make room.
  local w worker_connections=$(((w = idle_conns + idle_conns / 8 + 256) < nofile ? w : nofile))
  sed -e "s|@PREFIX@|$nginx_prefix|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
    -e "s|@NOFILE@|$nofile|g" -e "s|@WORKER_CONNECTIONS@|$worker_connections|g" -e "s|@HOST@|$host|g" \
    -e "s|@HELLO_PORT@|${hello_port[nginx]}|g" -e "s|@HELLO_NAME_PORT@|${name_port[nginx]}|g" \
    -e "s|@ECHO_PORT@|${echo_port[nginx]}|g" -e "s|@ERROR_LOG@|$logs/nginx-error.log|g" \
    "$here/nginx/nginx.conf.in" >"$nginx_prefix/nginx.conf"
  nginx -t -p "$nginx_prefix/" -c "$nginx_prefix/nginx.conf" -e "$logs/nginx-error.log" >"$logs/nginx-t.log" 2>&1 ||
    die "nginx rejects the generated config: $(cat "$logs/nginx-t.log")"
}

server_command() { # SERVER -> the command line, in the array "cmd"
  case $1 in
    triserve) cmd=("$triserve" --hello "$host:${hello_port[triserve]}" --hello-name "$host:${name_port[triserve]}" --echo "$host:${echo_port[triserve]}") ;;
    go) cmd=("$goserver" --hello "$host:${hello_port[go]}" --hello-name "$host:${name_port[go]}" --echo "$host:${echo_port[go]}") ;;
    nginx) cmd=(nginx -p "$nginx_prefix/" -c "$nginx_prefix/nginx.conf" -e "$logs/nginx-error.log" -g "daemon off;") ;;
    canned) cmd=("$bin/canned" "$host:${hello_port[canned]}") ;;
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
  taskset -c "$cpus" "${cmd[@]}" >"$logs/$s.$tag.log" 2>&1 &
  pid[$s]=$!
  for p in ${hello_port[$s]} ${name_port[$s]:-} ${echo_port[$s]:-}; do
    local deadline=$((SECONDS + 10))
    until port_taken "$p"; do
      kill -0 "${pid[$s]}" 2>/dev/null || { unset "pid[$s]"; die "$s exited at start-up: $(tail -5 "$logs/$s.$tag.log")"; }
      ((SECONDS < deadline)) || die "$s does not listen on port $p after 10 s"
      sleep 0.01
    done
  done
  if [[ $s == nginx ]]; then # wait for the worker too
    local deadline=$((SECONDS + 10))
    until [[ -n $(server_pids nginx | cut -s -d' ' -f2) ]]; do
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
  if [[ $1 == nginx ]]; then
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
      log "warning: server process $p is gone (its CPU time is lost): $(ps -o pid=,args= --ppid "${pid[nginx]:-1}" 2>/dev/null | tr '\n' ';')"
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
wrk_run() { # ROUND SERVER WORKLOAD CONNECTIONS PATH SCRIPT [record: 1|0]
  local round=$1 s=$2 workload=$3 conns=$4 path=$5 script=$6 keep=${7:-1} port
  [[ $workload == name-* ]] && port=${name_port[$s]} || port=${hello_port[$s]}
  local url="http://$host:$port$path" out=$logs/wrk.$workload.$s.r$round.log
  local -a pids
  read -r -a pids <<<"$(server_pids "$s")"
  local wrk_cmd=(taskset -c 0 wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$script" "$url")
  ((keep)) || wrk_cmd=(taskset -c 0 wrk -t1 -c"$conns" -d1s -s "$script" "$url")
  ((keep)) && note_command "${wrk_cmd[@]}"
  local t0 t1
  t0=$(cpu_ticks "${pids[@]}")
  contention_begin "$t0"
  "${wrk_cmd[@]}" >"$out" 2>&1 || die "wrk failed against $s ($url): $(tail -3 "$out")"
  t1=$(cpu_ticks "${pids[@]}")
  ((keep)) || return 0
  contention_record "$round" "$s" "$workload" "$t1"
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
  ((errors == 0)) || log "warning: wrk saw $errors socket/status errors against $s in $workload"
  local p99_text=", p99 $((p99_us / 1000)).$(printf '%03d' $((p99_us % 1000))) ms"
  [[ $workload != *pipe* ]] || p99_text="" # wrk's p99 is meaningless there (see report.py)
  log "  $workload $s: $(awk -v r="$requests" -v d="$duration_us" 'BEGIN { printf "%.0f req/s", r / (d / 1e6) }')$p99_text"
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

make_nginx_conf
echo_bytes_total=$((1 << 30))
start_time=$(date -u '+%Y-%m-%d %H:%M UTC')
t_start=$SECONDS
log "$mode run: $rounds round(s), ${duration}s per wrk run; servers on CPU 1, load on CPU 0${niceness:+, niceness $niceness}; logs in ${logs#"$root"/}"

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
  for s in "${servers[@]}"; do
    start_server "$s" "idle.r$round"
    read -r -a pids <<<"$(server_pids "$s")"
    out=$logs/idle.$s.r$round.log
    pid_args=()
    for p in "${pids[@]}"; do pid_args+=(--pid "$p"); done
    note_command taskset -c 0 "$python" bench/clients/idle_conns.py --port "${hello_port[$s]}" --conns "$idle_conns" "${pid_args[@]//[0-9]*/PID}"
    taskset -c 0 "$python" "$here/clients/idle_conns.py" --port "${hello_port[$s]}" --conns "$idle_conns" "${pid_args[@]}" >"$out" 2>&1 ||
      die "idle-connection measurement of $s failed: $(tail -3 "$out")"
    for kv in $(tail -1 "$out"); do
      record "$round" "$s" idle "${kv%%=*}" "${kv#*=}"
    done
    log "  idle $s: $(tail -1 "$out")"
    stop_server "$s"
  done

  log "round $round/$rounds: echo of a 1 GiB body"
  for upload in cl chunked; do
    for s in triserve nginx go; do
      start_server "$s" "echo-$upload.r$round"
      read -r -a pids <<<"$(server_pids "$s")"
      out=$logs/echo-$upload.$s.r$round.log
      note_command taskset -c 0 bench/.cache/bin/echo_bytes "$host" "${echo_port[$s]}" "$echo_bytes_total" "$upload"
      rc=0
      t0=$(cpu_ticks "${pids[@]}")
      contention_begin "$t0"
      taskset -c 0 "$bin/echo_bytes" "$host" "${echo_port[$s]}" "$echo_bytes_total" "$upload" >"$out" 2>&1 || rc=$?
      t1=$(cpu_ticks "${pids[@]}")
      contention_record "$round" "$s" "echo-$upload" "$t1"
      # The client costs about what the server does: when it is the limit, GB/s says little and
      # the server's CPU time per GiB tells the servers apart.
      record "$round" "$s" "echo-$upload" server_cpu_s_per_gib "$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" -v b="$echo_bytes_total" 'BEGIN { printf "%.3f", t / hz / (b / 1073741824) }')"
      ((rc <= 1)) || log "warning: echo client error against $s ($upload): $(tail -1 "$out")"
      hwm=$(status_kb VmHWM "${pids[@]}")
      stop_server "$s"
      for kv in $(tail -1 "$out"); do
        case $kv in
          gbps=* | seconds=* | client_cpu_s=* | received=*) record "$round" "$s" "echo-$upload" "${kv%%=*}" "${kv#*=}" ;;
          matched=*) record "$round" "$s" "echo-$upload" matched "$([[ ${kv#*=} == yes ]] && echo 1 || echo 0)" ;;
          response=*) record "$round" "$s" "echo-$upload" "response_${kv#*=}" 1 ;;
        esac
      done
      record "$round" "$s" "echo-$upload" peak_rss_kb "$hwm"
      log "  echo-$upload $s: $(tail -1 "$out" | cut -d' ' -f3-10), VmHWM ${hwm} KiB"
    done
  done
done
elapsed=$((SECONDS - t_start))
mv "$csv" "$results/latest.csv"

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
meta=$logs/meta.env
{
  echo "mode=$mode"
  echo "args=$args"
  echo "rounds=$rounds"
  echo "duration=$duration"
  echo "elapsed_s=$elapsed"
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
  echo "nginx_worker_connections=$(grep -o 'worker_connections [0-9]*' "$nginx_prefix/nginx.conf" | cut -d' ' -f2)"
  echo "niceness=$(ps -o ni= -p $$ | tr -d ' ')"
} >"$meta"
"$python" "$here/report.py" --csv "$results/latest.csv" --meta "$meta" --commands "$commands" \
  --markdown "$root/docs/BENCHMARKS.md" --png "$root/docs/bench-connections.png" --plot "$here/plot.gp" \
  --workdir "$tmp"
log "done in $((elapsed / 60)) min $((elapsed % 60)) s: docs/BENCHMARKS.md, docs/bench-connections.png, bench/results/latest.csv"
