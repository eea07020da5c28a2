# Sourced by the benchmarks that need large embedding CSVs (memory, job, ingest); runs from
# the package root. `bench_csv ROWS DIM inorder|shuffled` writes
# .build/memory-bench-data/emb_<ROWS>x<DIM>_<order>.csv once (gen_csv.c, compiled with cc
# when missing or older than its source) and prints its path.
bench_csv() {
    local rows=$1 dim=$2 order=$3 data=.build/memory-bench-data
    local gen=$data/gen_csv out=$data/emb_${1}x${2}_${3}.csv
    mkdir -p "$data"
    if [[ ! -x $gen || benchmarks/memory/gen_csv.c -nt $gen ]]; then
        cc -O2 -o "$gen" benchmarks/memory/gen_csv.c
    fi
    [[ -s $out ]] || { echo "== generating $out" >&2; "$gen" "$out" "$rows" "$dim" "$order"; }
    echo "$out"
}
