#!/usr/bin/env bash
# Plain HTTP vs TLS on the real lightly-server (release build), in the same run: one server
# per transport on a fresh data folder (access log on, info level, to a file), a CA and a P-256
# server certificate made by the openssl command line. wrk on GET /health, 64 keep-alive
# connections (TLS: one handshake per connection, then the record layer), and again with
# `Connection: close` (a new connection, and so a full TLS handshake, per request).
# Prints req/s and latency percentiles per case, with the load average before and after.
# Usage: benchmarks/http/tls-bench.sh [duration=10s] [connections=64] [threads=2]
# Arguments, wrk and the release build ($BIN): common.sh.
source "$(dirname "$0")/common.sh"

WORK="$(mktemp -d)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

( cd "$WORK"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -subj "/CN=bench CA" -days 2 -out ca.pem
  openssl ecparam -name prime256v1 -genkey -noout -out server.key
  openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
  printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
) >/dev/null 2>&1

start() {  # start NAME [serve flags...]; sets URL (not run in a subshell, so PIDS keeps the pid)
  local name="$1"; shift
  mkdir -p "$WORK/$name"
  "$BIN" serve --port 0 --data-dir "$WORK/$name/data" --log-level info "$@" > "$WORK/$name/stdout" 2> "$WORK/$name/stderr" &
  PIDS+=($!)
  for _ in $(seq 1 100); do grep -q "listening on" "$WORK/$name/stdout" 2>/dev/null && break; sleep 0.1; done
  URL="$(grep -o 'listening on http[^ ]*' "$WORK/$name/stdout" | cut -d' ' -f3)"
}
start plain; PLAIN="$URL"
start tls --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key"; TLS="$URL"
curl -fsS --cacert "$WORK/ca.pem" "$TLS/health" >/dev/null

summary() {
  awk '
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 } $1 == "90%" { p90 = $2 } $1 == "99%" { p99 = $2 }
    /Non-2xx|Socket errors/ { errors = errors $0 "; " }
    END { printf "req/s=%s p50=%s p90=%s p99=%s %s\n", rps, p50, p90, p99, errors }'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
for mode in keep-alive close; do
  headers=()
  [ "$mode" = close ] && headers=(-H "Connection: close")
  for url in "$PLAIN" "$TLS"; do
    OUT="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${headers[@]}" "$url/health")"
    echo "GET /health ${url%%:*} $mode: $(echo "$OUT" | summary)"
  done
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server RSS:  plain $(ps -o rss= -p "${PIDS[0]}") KiB, TLS $(ps -o rss= -p "${PIDS[1]}") KiB"
