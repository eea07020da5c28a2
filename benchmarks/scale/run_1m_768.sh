#!/usr/bin/env bash
# 1M x 768 float32 (3.1 GB): ingest of a ~7.3 GB CSV through the API, CORESET and CORAL
# k = 10,000, against pandas.read_csv and numpy's exact greedy, with the server's peak RSS.
#   benchmarks/scale/run_1m_768.sh [--keep] [--server BIN] [--memory-budget SIZE] [--ref-steps N]
cd "$(dirname "$0")/../.."
source benchmarks/scale/common.sh
run_scale 1000000 768 10000 CORESET,CORAL 9
