#!/usr/bin/env bash
# HTTP layer benchmark: wrk against http-bench-server (HTTPKit) on GET /health.
# Usage: benchmarks/http/run.sh [duration=10s] [connections=64] [threads=2]
# Target: >= 30,000 req/s with 64 connections, p99 < 10 ms (release build, 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${1:-10s}"
CONNECTIONS="${2:-64}"
THREADS="${3:-2}"
PORT="${HTTP_BENCH_PORT:-18089}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found; installing (apt-get install -y wrk)" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

swift build -c release --product http-bench-server >&2
BIN="$(swift build -c release --show-bin-path)/http-bench-server"

"$BIN" "$PORT" > /tmp/http-bench-server.$$.out 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f /tmp/http-bench-server.$$.out' EXIT

for _ in $(seq 1 50); do
  grep -q "listening on" /tmp/http-bench-server.$$.out 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" /tmp/http-bench-server.$$.out || { cat /tmp/http-bench-server.$$.out >&2; exit 1; }

curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 || true   # warm-up (curl optional)
echo "load before run: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
OUT="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/health")"
echo "$OUT"
echo "load after run:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "---"
echo "$OUT" | awk '
  /Requests\/sec/ { rps = $2 }
  $1 == "50%" { p50 = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
  /Non-2xx|Socket errors/ { errors = errors $0 "; " }
  END { printf "req/s=%s p50=%s p90=%s p99=%s %s\n", rps, p50, p90, p99, errors }'
