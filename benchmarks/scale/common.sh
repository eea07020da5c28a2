# Sourced by the run_*.sh scripts (from the package root): builds the release server, the CSV
# formatter and the pandas venv, generates the CSV once, runs scale.py, and deletes the data
# unless --keep. Memory care: checks `free` first and refuses when less than NEED_GIB are
# available (the server holds the matrix, the reference later holds it again).
set -euo pipefail
DATA=.build/scale-data
KEEP=0 BIN= BUDGET=auto STEPS=20 EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --keep) KEEP=1; shift ;;
        --server) BIN=$2; shift 2 ;;
        --memory-budget) BUDGET=$2; shift 2 ;;
        --ref-steps) STEPS=$2; shift 2 ;;
        --no-reference) EXTRA+=(--no-reference); shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$DATA"
[[ -n $BIN ]] || { echo "== build (release)"; swift build -c release --product lightly-server 2>&1 | tail -1; BIN=.build/release/lightly-server; }
if [[ ! -x $DATA/fmt_csv || benchmarks/scale/fmt_csv.c -nt $DATA/fmt_csv ]]; then
    cc -O2 -o "$DATA/fmt_csv" benchmarks/scale/fmt_csv.c -lm
fi
VENV=.build/csv-bench-venv
if ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
    echo "== installing pandas into $VENV (system numpy reused)"
    python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q pandas
fi

# run_scale ROWS DIM K METHODS NEED_GIB
run_scale() {
    local rows=$1 dim=$2 k=$3 methods=$4 need=$5
    local csv=$DATA/emb_${rows}x${dim}.csv
    local avail
    avail=$(free -g | awk '/^Mem:/ {print $7}')
    if (( avail < need )); then
        echo "only ${avail} GiB available, this run needs about ${need} GiB: not started" >&2
        exit 1
    fi
    if [[ ! -s $csv ]]; then
        echo "== generating $csv (mixture of 300 Gaussians + 10 % isotropic noise, seed 7)"
        python3 benchmarks/scale/gen_data.py --rows "$rows" --dim "$dim" --out "$csv" --fmt "$DATA/fmt_csv"
    fi
    echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== disk read bandwidth (dd iflag=direct, first 2 GiB of the CSV): $(dd if="$csv" of=/dev/null bs=16M count=128 iflag=direct 2>&1 | tail -1 | awk -F, '{print $NF}')"
    python3 benchmarks/scale/scale.py --server "$BIN" --csv "$csv" --rows "$rows" --dim "$dim" --k "$k" \
        --methods "$methods" --python "$VENV/bin/python" --memory-budget "$BUDGET" --ref-steps "$STEPS" \
        --work "$DATA" "${EXTRA[@]}"
    if (( ! KEEP )); then rm -f "$csv"; echo "== removed $csv (--keep keeps it)"; fi
}
