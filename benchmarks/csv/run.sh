#!/usr/bin/env bash
# Embedding CSV benchmark: EmbeddingCSV.parse (+ reorder, + write) against numpy.loadtxt and
# pandas.read_csv on the same file in the same run. See benchmarks/csv/README.md.
#
#   benchmarks/csv/run.sh [ROWS] [DIM]        (defaults: 100000 128, about 140 MB)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-100000}
DIM=${2:-128}
DATA=.build/csv-bench-data
CSV=$DATA/emb_${ROWS}x${DIM}.csv
VENV=.build/csv-bench-venv

echo "== build (release)"
swift build -c release --product csv-bench 2>&1 | tail -1

mkdir -p "$DATA"
if [[ ! -s $CSV || ! -s $CSV.mapping ]]; then
    echo "== generating $CSV (lightly.utils.save_embeddings format, shuffled filenames)"
    python3 benchmarks/csv/gen_csv.py "$CSV" "$ROWS" "$DIM"
fi

PY=python3
if ! python3 -c 'import pandas' 2>/dev/null; then
    if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import pandas' 2>/dev/null; then
        echo "== installing pandas into $VENV (system numpy reused)"
        python3 -m venv --system-site-packages "$VENV"
        "$VENV/bin/pip" install -q pandas
    fi
    PY=$VENV/bin/python
fi

BYTES=$(stat -c %s "$CSV")
echo "== file: $CSV ($BYTES bytes), machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

OUT1=$(.build/release/csv-bench "$CSV" --mapping "$CSV.mapping" --threads 1 --repeat 3)
OUT2=$(.build/release/csv-bench "$CSV" --mapping "$CSV.mapping" --threads 2 --repeat 3)
PYOUT=$("$PY" benchmarks/csv/py_bench.py "$CSV" "$CSV.mapping")
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

get() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1" | head -1; }
"$PY" - "$BYTES" <<PYEOF
import sys
b = int(sys.argv[1]) / 1e6
def kv(s):
    d = {}
    for line in s.splitlines():
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1); d[k] = v
    return d
s1, s2, py = kv("""$OUT1"""), kv("""$OUT2"""), kv("""$PYOUT""")
def row(name, secs):
    return f"{name:<38} {secs:8.3f} s {b / secs:8.1f} MB/s"
t1, t2 = float(s1["parse_s"]), float(s2["parse_s"])
r1, r2 = float(s1["reorder_s"]), float(s2["reorder_s"])
print(f"rows={s1['rows']} dimension={s1['dimension']} size={b:.1f} MB  roundtrip={s1['roundtrip']}")
print(row("swift parse, 1 thread", t1))
print(row("swift parse, 2 threads", t2))
c1 = float(s1["parse_cpu_s"])
print(f"{'swift parse, 1 thread, CPU time':<38} {c1:8.3f} s {b / c1:8.1f} MB/s (load-independent)")
print(row("swift parse + reorder, 1 thread", t1 + r1))
print(row("swift parse + reorder, 2 threads", t2 + r2))
print(f"{'swift write (mapping order)':<38} {float(s1['write_s']):8.3f} s {float(s1['write_mb_s']):8.1f} MB/s (of output, {float(s1['write_mb']):.0f} MB)")
best = min(t1, t2)
np_s = float(py["numpy_loadtxt_s"])
print(row(f"numpy.loadtxt float32 (numpy {py['numpy_version']})", np_s))
if "pandas_read_csv_s" in py:
    pd_s = float(py["pandas_read_csv_s"]); pr = float(py["pandas_reorder_s"])
    print(row(f"pandas.read_csv c-engine ({py['pandas_version']})", pd_s))
    print(row("pandas.read_csv + reorder (.loc)", pd_s + pr))
    print(f"ratio swift/pandas (parse):           {pd_s / best:6.2f}x faster")
    print(f"ratio swift/pandas (parse + reorder): {(pd_s + pr) / min(t1 + r1, t2 + r2):6.2f}x faster")
print(f"ratio swift/numpy.loadtxt:            {np_s / best:6.2f}x faster")
# CPU time (process, all threads) does not depend on what else runs on the machine.
npc = float(py["numpy_loadtxt_cpu_s"])
line = f"CPU-time ratios (1 thread): numpy.loadtxt {npc / c1:.2f}x"
if "pandas_read_csv_cpu_s" in py:
    pdc = float(py["pandas_read_csv_cpu_s"])
    line += f", pandas.read_csv {pdc / c1:.2f}x  (CPU s: swift {c1:.3f}, pandas {pdc:.3f}, numpy {npc:.3f})"
print(line)
ok = abs(float(s1["checksum"]) - float(py["numpy_checksum"])) <= 1e-6 * max(1.0, abs(float(py["numpy_checksum"])))
print(f"checksum swift={float(s1['checksum']):.6f} numpy={float(py['numpy_checksum']):.6f} {'equal' if ok else 'DIFFERENT'}")
print(f"target >= 150 MB/s: {'met' if b / best >= 150 else 'NOT met'} ({b / best:.1f} MB/s)")
PYEOF
