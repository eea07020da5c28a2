#!/bin/sh
# Active-learning quality benchmark: create the client venv on first use, then run run.py.
# Usage: benchmarks/al_quality/run.sh [run.py options]   (see README.md)
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV="$REPO/.build/al_quality/venv"
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import lightly, sklearn, matplotlib, mlxtend" 2>/dev/null; then
    mkdir -p "$REPO/.build/al_quality"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q "numpy<2" requests tqdm six python-dateutil urllib3 certifi pillow scikit-learn matplotlib
    "$VENV/bin/pip" install -q --no-deps "lightly==1.1.23" "lightly-utils==0.0.2" mlxtend
fi
cd "$REPO"
AL_QUALITY_LAUNCHER=benchmarks/al_quality/run.sh exec "$VENV/bin/python" benchmarks/al_quality/run.py "$@"
