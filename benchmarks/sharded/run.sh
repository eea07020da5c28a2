#!/usr/bin/env bash
# Exact greedy k-center over row shards held by separate processes (sharded-kcenter) against
# the single-host sampler measured in the same run, and the composable-coreset approximation's
# covering radius against the exact one. See README.md next to this script.
#
#   benchmarks/sharded/run.sh                      # 1M×128, k = 1000, S = 1, 2, 4
#   benchmarks/sharded/run.sh --rows 100000 --quick
set -euo pipefail
cd "$(dirname "$0")/../.."

ROWS=1000000 DIM=128 K=1000 SHARDS=1,2,4 COMPONENTS=300 QUICK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=$2; shift 2 ;;
        --dim) DIM=$2; shift 2 ;;
        --k) K=$2; shift 2 ;;
        --shards) SHARDS=$2; shift 2 ;;
        --components) COMPONENTS=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;          # skip the plain-pass runs
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

swift build -c release --product sharded-kcenter >&2
BIN=.build/release/sharded-kcenter
COMMON=(--rows "$ROWS" --dim "$DIM" --k "$K" --shards "$SHARDS")

echo "# sharded-kcenter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo
echo "## 1. Exact, lazy steps (the sampler's default), isotropic data; composable coreset"
"$BIN" run --data iso "${COMMON[@]}" --reference --composable

echo
echo "## 2. Exact and composable on a mixture of $COMPONENTS Gaussians"
"$BIN" run --data mix --components "$COMPONENTS" "${COMMON[@]}" --reference --composable

echo
echo "## 3. The rounds' own cost: tiny shards (10,000 × $DIM), so a round is almost all messaging"
"$BIN" run --data iso --rows 10000 --dim "$DIM" --k "$K" --shards "$SHARDS" --reference

if [ "$QUICK" = 0 ]; then
    echo
    echo "## 4. Exact with plain passes (every round reads every row: the compute splits over the shards)"
    "$BIN" run --data iso "${COMMON[@]}" --reference --lazy off
fi
echo
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
