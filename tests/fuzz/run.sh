#!/usr/bin/env bash
# Runs every fuzz harness for a bounded time and fails on any crash, leak, timeout or broken
# invariant. Usage: tests/fuzz/run.sh [seconds per harness, default 60] [build dir, default
# build/fuzz]. The seed corpus is copied, not written to; new inputs and crash artifacts go to
# $TRISERVE_FUZZ_OUT (default <build dir>/fuzz-out).
set -euo pipefail

seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
build="${2:-$here/../../build/fuzz}"
bin="$build/tests/fuzz"
out="${TRISERVE_FUZZ_OUT:-$build/fuzz-out}"
harnesses=(request_parser_fuzz chunked_decoder_fuzz query_fuzz connection_fuzz h2_connection_fuzz)

if [[ ! -x "$bin/request_parser_fuzz" ]]; then
  echo "run.sh: no harnesses in $bin; build them first:" >&2
  echo "  cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DTRISERVE_BUILD_FUZZERS=ON -DTRISERVE_BUILD_TESTS=OFF" >&2
  echo "  cmake --build build/fuzz --target triserve_fuzzers" >&2
  exit 2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for harness in "${harnesses[@]}"; do
  corpus="$out/corpus/$harness"
  artifacts="$out/artifacts/$harness"
  mkdir -p "$corpus" "$artifacts"
  cp -n "$here/corpus/$harness"/* "$corpus"/ 2>/dev/null || true
  log="$out/$harness.log"
  echo "== $harness: ${seconds}s"
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: runaway memory is a failure.
  if "$bin/$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
    grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1
    grep -E 'stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  else
    echo "!! $harness failed; log: $log, artifacts: $artifacts" >&2
    grep -E 'ERROR|invariant failed|SUMMARY|Test unit written' "$log" >&2 || true
    failed+=("$harness")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing passed: ${harnesses[*]} (${seconds}s each)"
