#!/usr/bin/env bash
# The worker-count sweep behind `serve --workers`' default: for each count, sample creations/s
# with 16 clients (writes/run.sh) and authenticated GET /v1/datasets and GET /health with 64
# connections (server-bench.sh), on the same release build, in rounds whose order rotates so a
# change in the machine's load does not favour one count. BASELINE_BIN=<main's build> adds
# main (its fixed worker count) to every round as the reference. Prints one line per run and a
# median per count at the end.
# Usage: benchmarks/http/workers-sweep.sh [rounds=3] [counts="4 8 16 32"] [duration=10s]
set -euo pipefail
ROUNDS="${1:-3}"; COUNTS="${2:-4 8 16 32}"; DUR="${3:-10s}"
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/common.sh"          # builds (or takes LIGHTLY_SERVER_BIN) into $BIN; cds to the package root
export LIGHTLY_SERVER_BIN="$BIN"
RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT

measure() {   # measure LABEL ARGS [BINARY]: one writes run and one read run; appends a result line
  local label="$1" args="$2" bin="${3:-$BIN}" w r load
  load="$(cut -d' ' -f1 /proc/loadavg)"
  w="$(BASELINE_BIN= LIGHTLY_SERVER_BIN="$bin" SERVE_ARGS="$args" "$HERE/../writes/run.sh" "$DUR" 16 2 | sed -n 's/.*POST samples: req\/s=\([0-9.]*\).*/\1/p')"
  r="$(BASELINE_BIN= LIGHTLY_SERVER_BIN="$bin" SERVE_ARGS="$args" "$HERE/server-bench.sh" "$DUR" 64 2)"
  local health datasets p99
  health="$(sed -n 's/.*GET \/health: req\/s=\([0-9.]*\).*/\1/p' <<< "$r")"
  datasets="$(sed -n 's/.*GET \/v1\/datasets: req\/s=\([0-9.]*\).*/\1/p' <<< "$r")"
  p99="$(sed -n 's/.*GET \/v1\/datasets: .*p99=\([0-9.a-z]*\).*/\1/p' <<< "$r")"
  printf '%-8s load %5s  writes/s %8s  datasets/s %8s (p99 %s)  health/s %8s  datasets/health %s\n' \
    "$label" "$load" "$w" "$datasets" "$p99" "$health" "$(awk -v a="$datasets" -v b="$health" 'BEGIN { printf "%.2f", a / b }')"
  echo "$label $w $datasets $health" >> "$RESULTS"
}

read -r -a counts <<< "$COUNTS"
for round in $(seq 1 "$ROUNDS"); do
  echo "--- round $round ($(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores)"
  n=${#counts[@]}
  for i in $(seq 0 $((n - 1))); do
    c="${counts[$(( (i + round - 1) % n ))]}"
    measure "w=$c" "--workers $c"
  done
  if [ -n "${BASELINE_BIN:-}" ]; then measure "baseline" "" "$BASELINE_BIN"; fi
done
echo "--- median per count (writes/s, datasets/s, health/s), $ROUNDS round(s)"
awk '{ w[$1] = w[$1] " " $2; d[$1] = d[$1] " " $3; h[$1] = h[$1] " " $4 }
  function median(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  END { for (k in w) printf "%-8s %10.0f %10.0f %10.0f\n", k, median(w[k]), median(d[k]), median(h[k]) }' "$RESULTS" | sort -t= -k2 -n
