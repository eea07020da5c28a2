#!/usr/bin/env bash
# Trigger -> FINISHED of CORESET through the API against the in-process sampler on the same
# data, in the same run. See benchmarks/job/README.md.
#
#   benchmarks/job/run.sh [--rows N] [--dim D] [--k K] [--jobs J] [--server BIN] [--baseline BIN2]
#   (defaults: 1000000 rows, 128 dims, k = 1000, 4 jobs; the release build of this checkout;
#   --baseline runs the same jobs with another binary first, e.g. a release build of main)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=1000000 DIM=128 K=1000 JOBS=4 BIN= BASELINE=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --dim) DIM=$2; shift 2 ;;
        --k) K=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --server) BIN=$2; shift 2 ;;
        --baseline) BASELINE=(--baseline "$2"); shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
echo "== build (release)"
swift build -c release --product sampling-bench 2>&1 | tail -1
[[ -n $BIN ]] || { swift build -c release --product lightly-server 2>&1 | tail -1; BIN=.build/release/lightly-server; }
source benchmarks/memory/csv.sh
A=$(bench_csv "$ROWS" "$DIM" inorder)
echo "== server $BIN, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
K=$(( K < ROWS ? K : ROWS ))
python3 benchmarks/job/run.py --server "$BIN" --bench .build/release/sampling-bench --csv "$A" \
    --rows "$ROWS" --k "$K" --jobs "$JOBS" "${BASELINE[@]}"
