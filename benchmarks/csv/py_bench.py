#!/usr/bin/env python3
"""Times numpy.loadtxt and pandas.read_csv (+ reorder to the mapping) on an embedding CSV.
Prints key=value lines (seconds). usage: py_bench.py FILE MAPPING"""
import sys
import time

import numpy as np


CPU = {}


def timed(fn, key=None):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    if key:
        CPU[key] = time.process_time() - c0
    return time.perf_counter() - t0, out


def main():
    path, mapping_path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        header = f.readline().strip().split(",")
    emb_cols = [i for i, h in enumerate(header) if h.startswith("embedding_")]
    print(f"numpy_version={np.__version__}")

    t, x = timed(lambda: np.loadtxt(path, delimiter=",", skiprows=1, usecols=emb_cols, dtype=np.float32), "np")
    print(f"numpy_loadtxt_s={t} numpy_loadtxt_cpu_s={CPU['np']}")
    print(f"numpy_checksum={float(x.astype(np.float64).sum())}")

    try:
        import pandas as pd
    except ImportError:
        print("pandas_version=missing")
        return
    print(f"pandas_version={pd.__version__}")
    dtypes = {h: np.float32 for h in header if h.startswith("embedding_")}
    t, df = timed(lambda: pd.read_csv(path, dtype=dtypes), "pd")
    print(f"pandas_read_csv_s={t} pandas_read_csv_cpu_s={CPU['pd']}")
    mapping = open(mapping_path).read().split("\n")
    mapping = [m for m in mapping if m]

    def reorder():
        return df.set_index("filenames").loc[mapping][list(dtypes)].to_numpy()

    t, m = timed(reorder)
    print(f"pandas_reorder_s={t}")
    print(f"pandas_checksum={float(df[list(dtypes)].to_numpy().astype(np.float64).sum())}")


if __name__ == "__main__":
    main()
