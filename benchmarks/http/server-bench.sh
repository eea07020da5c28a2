#!/usr/bin/env bash
# wrk against the real lightly-server (release build): GET /health and an authenticated
# GET /v1/datasets (10 datasets), 64 connections for 10 s each, with the access log on as in
# production (stderr to a file). Prints req/s and latency percentiles for both, and the ratio
# datasets ÷ health (the reference measured in the same run).
# Usage: benchmarks/http/server-bench.sh [duration=10s] [connections=64] [threads=2]
# BASELINE_BIN=/path/to/another/lightly-server runs the same pair against that binary first
# (e.g. a build of main) and prints this build ÷ baseline for both endpoints.
# SERVE_ARGS="--workers 16" adds options to this build's `serve` (not the baseline's).
# Target (issue #2): /health >= 30,000 req/s with p99 < 10 ms on 2 cores, wrk on the same cores.
# Target (issue #16): authenticated GET /v1/datasets >= 25,000 req/s, p99 < 10 ms.
# Arguments, wrk and the release build ($BIN): common.sh.
source "$(dirname "$0")/common.sh"

summary() {
  awk '
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
    /Non-2xx|Socket errors/ { errors = errors $0 "; " }
    END { printf "req/s=%s p50=%s p90=%s p99=%s %s\n", rps, p50, p90, p99, errors }'
}
rps() { sed -n 's/.*req\/s=\([0-9.]*\).*/\1/p' <<< "$1"; }
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# bench LABEL BINARY: starts a server on a fresh data folder, creates 10 datasets, runs wrk on
# both endpoints; sets HEALTH_RPS and DATASETS_RPS.
bench() {
  local label="$1" bin="$2" args="${3:-}" data pid url token out line cpu0 cpu1
  data="$(mktemp -d)"
  # shellcheck disable=SC2086  # args is a list of options
  "$bin" serve --port 0 --data-dir "$data" --log-level info $args > "$data/stdout" 2> "$data/stderr" &
  pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$data/stdout" 2>/dev/null && break; sleep 0.1; done
  url="$(grep -o 'listening on http://[^ ]*' "$data/stdout" | cut -d' ' -f3)"
  token="$(grep '^export LIGHTLY_TOKEN=' "$data/stdout" | cut -d= -f2)"
  for i in $(seq 1 10); do
    curl -fsS -X POST "$url/v1/datasets?token=$token" -H 'Content-Type: application/json' -d "{\"name\":\"bench-$i\"}" >/dev/null
  done
  echo "[$label] load before: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))${args:+ serve options: $args}"
  for target in "/health" "/v1/datasets?token=$token"; do
    cpu0="$(cpu_ticks "$pid")"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url$target")"
    cpu1="$(cpu_ticks "$pid")"
    line="$(echo "$out" | summary)"
    # The server's own CPU time (user + system) per answered request: steadier than req/s on a
    # loaded machine, since it does not count the time other processes take from it.
    line="$line cpu_us_per_req=$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$(awk '/requests in/ { print $1 }' <<< "$out")" \
      'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')"
    echo "[$label] GET ${target%%\?*}: $line"
    if [ "$target" = /health ]; then HEALTH_RPS="$(rps "$line")"; else DATASETS_RPS="$(rps "$line")"; fi
  done
  echo "[$label] datasets ÷ health: $(ratio "$DATASETS_RPS" "$HEALTH_RPS")"
  echo "[$label] load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "[$label] server RSS:  $(ps -o rss= -p "$pid") KiB; access-log lines: $(wc -l < "$data/stderr")"
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  if grep -q "$token" "$data/stderr"; then echo "ERROR: the token appeared in the log" >&2; rm -rf "$data"; exit 1; fi
  rm -rf "$data"
}

if [ -n "${BASELINE_BIN:-}" ]; then
  bench baseline "$BASELINE_BIN"
  BASE_HEALTH="$HEALTH_RPS"; BASE_DATASETS="$DATASETS_RPS"
fi
bench this "$BIN" "${SERVE_ARGS:-}"
if [ -n "${BASELINE_BIN:-}" ]; then
  echo "this ÷ baseline: GET /health $(ratio "$HEALTH_RPS" "$BASE_HEALTH"), GET /v1/datasets $(ratio "$DATASETS_RPS" "$BASE_DATASETS")"
fi
