#!/usr/bin/env bash
# 10M x 128 float32 (5.1 GB): ingest of a ~13 GB CSV through the API and CORESET k = 10,000,
# against pandas.read_csv and numpy's exact greedy, with the server's peak RSS.
#   benchmarks/scale/run_10m_128.sh [--keep] [--server BIN] [--memory-budget SIZE] [--ref-steps N]
cd "$(dirname "$0")/../.."
source benchmarks/scale/common.sh
run_scale 10000000 128 10000 CORESET 13
