#!/usr/bin/env bash
# wrk against the real lightly-server (release build): GET /health and an authenticated
# GET /v1/datasets (10 datasets), 64 connections for 10 s each, with the access log on as in
# production (stderr to a file). Prints req/s and latency percentiles for both.
# Usage: benchmarks/http/server-bench.sh [duration=10s] [connections=64] [threads=2]
# Target (issue #2): /health >= 30,000 req/s with p99 < 10 ms on 2 cores, wrk on the same cores.
# Arguments, wrk and the release build ($BIN): common.sh.
source "$(dirname "$0")/common.sh"

DATA="$(mktemp -d)"
"$BIN" serve --port 0 --data-dir "$DATA" --log-level info > "$DATA/stdout" 2> "$DATA/stderr" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$DATA/stdout" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'listening on http://[^ ]*' "$DATA/stdout" | cut -d' ' -f3)"
TOKEN="$(grep '^export LIGHTLY_TOKEN=' "$DATA/stdout" | cut -d= -f2)"
for i in $(seq 1 10); do
  curl -fsS -X POST "$URL/v1/datasets?token=$TOKEN" -H 'Content-Type: application/json' -d "{\"name\":\"bench-$i\"}" >/dev/null
done

summary() {
  awk '
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
    /Non-2xx|Socket errors/ { errors = errors $0 "; " }
    END { printf "req/s=%s p50=%s p90=%s p99=%s %s\n", rps, p50, p90, p99, errors }'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
for target in "/health" "/v1/datasets?token=$TOKEN"; do
  OUT="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL$target")"
  label="${target%%\?*}"
  echo "GET $label: $(echo "$OUT" | summary)"
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server RSS:  $(ps -o rss= -p "$PID") KiB; access-log lines: $(wc -l < "$DATA/stderr")"
if grep -q "$TOKEN" "$DATA/stderr"; then echo "ERROR: the token appeared in the log" >&2; exit 1; fi
