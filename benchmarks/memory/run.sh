#!/usr/bin/env bash
# Peak RSS of the real server through embedding upload, ingest and a CORESET job.
# See benchmarks/memory/README.md.
#
#   benchmarks/memory/run.sh [--rows N] [--dim D] [--k K] [--server BIN]
#   (defaults: 1000000 rows, 128 dims, k = 1000, the release build of this checkout)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=1000000 DIM=128 K=1000 BIN=
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --dim) DIM=$2; shift 2 ;;
        --k) K=$2; shift 2 ;;
        --server) BIN=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
if [[ -z $BIN ]]; then
    echo "== build (release)"
    swift build -c release --product lightly-server 2>&1 | tail -1
    BIN=.build/release/lightly-server
fi
source benchmarks/memory/csv.sh
A=$(bench_csv "$ROWS" "$DIM" inorder)
B=$(bench_csv "$ROWS" "$DIM" shuffled)
echo "== server $BIN, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
K=$(( K < ROWS ? K : ROWS ))
python3 benchmarks/memory/run.py --server "$BIN" --csv-a "$A" --csv-b "$B" --rows "$ROWS" --k "$K"
