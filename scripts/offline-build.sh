#!/usr/bin/env bash
# Air-gapped builds: resolve the pinned dependencies once on a connected machine, carry them over
# with the sources, build where no package source can be reached.
#
#   scripts/offline-build.sh bundle OUT.tar.gz      # connected machine, in a checkout
#   scripts/offline-build.sh build [swift build args]
#                                                  # air-gapped machine, in the unpacked bundle
#   scripts/offline-build.sh self-test              # proves both on this machine (CI runs it)
#
# `bundle` runs `swift package resolve` with the versions of the committed Package.resolved
# (it fails if Package.swift no longer matches them) and packs the source tree, Package.resolved
# and SwiftPM's dependency state: .build/checkouts, .build/repositories and
# .build/workspace-state.json.
#
# `build` runs `swift build --disable-automatic-resolution --skip-update` with every package URL
# rewritten to a path that does not exist (git's url.<base>.insteadOf, the system and global git
# configuration ignored), SwiftPM's shared caches disabled and HTTP(S) proxied to a closed port,
# so the build can only use the carried checkouts: if it needed anything else it fails.
#
# `self-test` bundles this working tree, unpacks it into a temporary directory with a fresh HOME,
# builds `lightly-cli` (debug; both dependencies' code paths: resolution and compilation) there
# with `build`, and checks that the same offline build without the carried checkouts fails.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEAD=/nonexistent/lightly-offline-build   # where every package URL points during `build`

die() { echo "offline-build: $*" >&2; exit 1; }

# The environment of an offline build: no git configuration but ours, every remote unreachable.
offline_env() {
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
    export GIT_CONFIG_COUNT=4
    export GIT_CONFIG_KEY_0="url.$DEAD/.insteadOf" GIT_CONFIG_VALUE_0="https://"
    export GIT_CONFIG_KEY_1="url.$DEAD/.insteadOf" GIT_CONFIG_VALUE_1="http://"
    export GIT_CONFIG_KEY_2="url.$DEAD/.insteadOf" GIT_CONFIG_VALUE_2="ssh://"
    export GIT_CONFIG_KEY_3="url.$DEAD/.insteadOf" GIT_CONFIG_VALUE_3="git@"
    export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9
    export HTTP_PROXY=$http_proxy HTTPS_PROXY=$https_proxy ALL_PROXY=$http_proxy no_proxy= NO_PROXY=
}

cmd_bundle() {
    local out=${1:?usage: offline-build.sh bundle OUT.tar.gz}
    case $out in /*) ;; *) out="$PWD/$out" ;; esac
    cd "$ROOT"
    [ -f Package.resolved ] || die "no Package.resolved in $ROOT"
    swift package resolve --force-resolved-versions
    [ -d .build/checkouts ] && [ -d .build/repositories ] || die "swift package resolve left no .build/checkouts"
    local list
    list=$(mktemp)
    # Tracked and new (not ignored) files, so a bundle of a working tree is what it builds.
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] && printf '%s\0' "$f"
    done > "$list"
    printf '%s\0' Package.resolved .build/checkouts .build/repositories .build/workspace-state.json >> "$list"
    tar -czf "$out" --null -T "$list"
    rm -f "$list"
    echo "offline-build: wrote $out ($(du -h "$out" | cut -f1)); sha256 $(sha256sum "$out" | cut -d' ' -f1)"
}

cmd_build() {
    cd "$ROOT"
    [ -f Package.resolved ] || die "no Package.resolved: unpack a bundle made by 'offline-build.sh bundle'"
    [ -d .build/checkouts ] || echo "offline-build: warning: no .build/checkouts (this build needs the bundle's)" >&2
    offline_env
    swift build --disable-automatic-resolution --skip-update --disable-dependency-cache \
        --manifest-cache local "$@"
}

cmd_self_test() {
    cd "$ROOT"
    local t0
    SELFTEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lightly-offline.XXXXXX")
    trap 'rm -rf "$SELFTEST_TMP"' EXIT
    local tmp=$SELFTEST_TMP
    t0=$(date +%s)
    echo "== bundle (connected side)"
    "$ROOT/scripts/offline-build.sh" bundle "$tmp/bundle.tar.gz"

    echo "== negative control: the same offline build without the carried checkouts must fail"
    mkdir -p "$tmp/bare" "$tmp/home-bare"
    tar -xzf "$tmp/bundle.tar.gz" -C "$tmp/bare" --exclude=.build
    if (cd "$tmp/bare" && HOME="$tmp/home-bare" XDG_CACHE_HOME="$tmp/home-bare/.cache" \
            scripts/offline-build.sh build --product lightly-cli >"$tmp/bare.log" 2>&1); then
        cat "$tmp/bare.log"; die "self-test: an offline build without checkouts succeeded: package sources were reachable"
    fi
    grep -m1 -iE "error|fail" "$tmp/bare.log" | sed 's/^/   /' || true

    echo "== offline build from the bundle (fresh HOME, package URLs -> $DEAD)"
    mkdir -p "$tmp/src" "$tmp/home"
    tar -xzf "$tmp/bundle.tar.gz" -C "$tmp/src"
    (cd "$tmp/src" && HOME="$tmp/home" XDG_CACHE_HOME="$tmp/home/.cache" \
        scripts/offline-build.sh build --product lightly-cli 2>&1 | tail -3)
    "$tmp/src/.build/debug/lightly-cli" --help >/dev/null || die "self-test: the offline-built lightly-cli does not run"
    if ! git -C "$tmp/src" diff --no-index --quiet "$ROOT/Package.resolved" "$tmp/src/Package.resolved"; then
        die "self-test: the offline build changed Package.resolved"
    fi
    echo "offline-build: self-test passed in $(( $(date +%s) - t0 )) s"
}

case "${1:-}" in
    bundle) shift; cmd_bundle "$@" ;;
    build) shift; cmd_build "$@" ;;
    self-test) shift; cmd_self_test "$@" ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
