#!/usr/bin/env bash
# Server side of an embedding CSV upload against pandas.read_csv on the same file, same run.
# See benchmarks/ingest/README.md.
#
#   benchmarks/ingest/run.sh [--rows N] [--dim D] [--server BIN] [--baseline BIN2] [--profile S]
#   (defaults: 1000000 rows, 128 dims (1.5 GB), the release build of this checkout)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=1000000 DIM=128 BIN= EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --dim) DIM=$2; shift 2 ;;
        --server) BIN=$2; shift 2 ;;
        --baseline) EXTRA+=(--baseline "$2"); shift 2 ;;
        --profile) EXTRA+=(--profile "$2"); shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[[ -n $BIN ]] || { echo "== build (release)"; swift build -c release --product lightly-server 2>&1 | tail -1; BIN=.build/release/lightly-server; }
source benchmarks/memory/csv.sh
A=$(bench_csv "$ROWS" "$DIM" inorder)
VENV=.build/csv-bench-venv
if ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
    echo "== installing pandas into $VENV (system numpy reused)"
    python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q pandas
fi
echo "== server $BIN, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 benchmarks/ingest/run.py --server "$BIN" --csv "$A" --rows "$ROWS" --python "$VENV/bin/python" "${EXTRA[@]}"
