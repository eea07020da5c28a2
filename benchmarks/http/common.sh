# Sourced by the wrk benchmarks in this folder: the arguments, wrk (from Debian's packages when
# missing) and a release build of lightly-server in $BIN. Runs from the package root.
# Usage of the sourcing script: [duration=10s] [connections=64] [threads=2]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

DURATION="${1:-10s}"
CONNECTIONS="${2:-64}"
THREADS="${3:-2}"

if ! command -v wrk >/dev/null 2>&1; then
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
# LIGHTLY_SERVER_BIN=/path/to/lightly-server measures that binary instead of building one.
if [ -n "${LIGHTLY_SERVER_BIN:-}" ]; then
  BIN="$LIGHTLY_SERVER_BIN"
else
  swift build -c release --product lightly-server >&2
  BIN="$(swift build -c release --show-bin-path)/lightly-server"
fi
