#!/usr/bin/env bash
# Seconds: 20k x 16, k = 100, both methods (checks the scripts, not a figure).
cd "$(dirname "$0")/../.."
source benchmarks/scale/common.sh
run_scale 20000 16 100 CORESET,CORAL 2
