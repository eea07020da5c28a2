#!/bin/sh
# Runs a command against a throwaway lightly-server: starts `serve --ephemeral --port 0`, waits
# for it, exports LIGHTLY_SERVER_LOCATION and LIGHTLY_TOKEN, runs the command, stops the server
# (which removes its data). Exit status: the command's. See docs/testing.md.
#
#   LIGHTLY_SERVER_BIN=.build/release/lightly-server docs/examples/with-lightly-server.sh python my_pipeline.py
set -eu
bin=${LIGHTLY_SERVER_BIN:-lightly-server}
out=$(mktemp)   # mode 0600: it holds the token until we exit
"$bin" serve --ephemeral --port 0 --log-level warning >"$out" &
pid=$!
cleanup() {
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tries=0
until grep -q '^lightly-server listening on ' "$out"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "lightly-server did not start" >&2; exit 1; fi
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ]; then echo "lightly-server: no start-up line within 30 s" >&2; exit 1; fi
    sleep 0.1
done
LIGHTLY_SERVER_LOCATION=$(sed -n 's/^export LIGHTLY_SERVER_LOCATION=//p' "$out")
LIGHTLY_TOKEN=$(sed -n 's/^export LIGHTLY_TOKEN=//p' "$out")
export LIGHTLY_SERVER_LOCATION LIGHTLY_TOKEN

"$@"
