#!/usr/bin/env bash
# Sample creations per second with 16 concurrent keep-alive clients (wrk + samples.lua over
# loopback) against the release lightly-server: every POST …/samples is acknowledged only after
# its transaction is durable (synchronous=FULL), so this measures how writes share commits.
# BASELINE_BIN=/path/to/another/lightly-server runs the same load against that binary first
# (e.g. a build of main) and prints this build ÷ baseline. Afterwards it checks that the
# dataset holds exactly as many samples as requests were answered 201.
# SERVE_ARGS="--workers 16" adds options to this build's `serve` (not the baseline's).
# Usage: benchmarks/writes/run.sh [duration=10s] [connections=16] [threads=2]
# Target (issue #16): >= 10,000 sample creations/s with 16 concurrent clients.
source "$(dirname "$0")/../http/common.sh"
DURATION="${1:-10s}"; CONNECTIONS="${2:-16}"; THREADS="${3:-2}"
LUA="benchmarks/writes/samples.lua"

# bench LABEL BINARY: sets RATE.
bench() {
  local label="$1" bin="$2" args="${3:-}" data pid url token ds out rps non2xx total n cpu0 cpu1
  data="$(mktemp -d)"
  # shellcheck disable=SC2086  # args is a list of options
  "$bin" serve --port 0 --data-dir "$data" --log-level warning --max-dataset-samples 100000000 $args \
    > "$data/stdout" 2> "$data/stderr" &
  pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$data/stdout" 2>/dev/null && break; sleep 0.1; done
  url="$(grep -o 'listening on http://[^ ]*' "$data/stdout" | cut -d' ' -f3)"
  token="$(grep '^export LIGHTLY_TOKEN=' "$data/stdout" | cut -d= -f2)"
  ds="$(curl -fsS -X POST "$url/v1/datasets?token=$token" -H 'Content-Type: application/json' -d '{"name":"writes"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  echo "[$label] load before: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))${args:+ serve options: $args}"
  cpu0="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$LUA" "$url/v1/datasets/$ds/samples?token=$token")"
  cpu1="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
  rps="$(awk '/Requests\/sec/ { print $2 }' <<< "$out")"
  total="$(awk '/requests in/ { print $1 }' <<< "$out")"
  non2xx="$(awk '/Non-2xx/ { print $4 }' <<< "$out")"
  n="$(curl -fsS "$url/v1/datasets/$ds?token=$token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nSamples"])')"
  echo "[$label] POST samples: req/s=$rps p50=$(awk '$1 == "50%" { print $2 }' <<< "$out") p99=$(awk '$1 == "99%" { print $2 }' <<< "$out") requests=$total non-2xx=${non2xx:-0} stored=$n cpu_us_per_req=$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$total" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }')"
  grep -E "Socket errors" <<< "$out" || true
  echo "[$label] load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
  RATE="$rps"
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}

if [ -n "${BASELINE_BIN:-}" ]; then bench baseline "$BASELINE_BIN"; BASE="$RATE"; fi
bench this "$BIN" "${SERVE_ARGS:-}"
if [ -n "${BASELINE_BIN:-}" ]; then
  echo "this ÷ baseline: $(awk -v a="$RATE" -v b="$BASE" 'BEGIN { printf "%.2f", a / b }')"
fi
