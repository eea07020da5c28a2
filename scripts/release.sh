#!/usr/bin/env bash
# Builds the release artefact: lightly-server and lightly-cli with the Swift runtime linked in
# (--static-swift-stdlib), portable code generation (see Package.swift), in a versioned tarball
# with a SHA-256 file.
#
#   scripts/release.sh [--out DIR] [--version V]
#
# Output: DIR/lightly-server-V-linux-ARCH.tar.gz and DIR/lightly-server-V-linux-ARCH.tar.gz.sha256
# (DIR defaults to dist/, V to the version lightly-server reports). The tarball holds
# lightly-server-V-linux-ARCH/{bin/lightly-server, bin/lightly-cli, lightly-server.toml, README.md}.
#
# What the binaries need on the host (Debian 12 package names; proved by
# scripts/check-release-rootfs.sh in a bare bookworm root filesystem):
#   lightly-server: libc6, libstdc++6, libgcc-s1, libsqlite3-0, libssl3, libpq5 (+ ca-certificates)
#   lightly-cli:    the same plus libcurl4 (URLSession on Linux)
# LIGHTLY_TARGET_CPU must be unset (or `portable`): a release runs on any x86-64-v2/arm64 CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=dist
VERSION=
while [ $# -gt 0 ]; do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --version) VERSION=$2; shift 2 ;;
        *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
if [ -n "${LIGHTLY_TARGET_CPU:-}" ] && [ "$LIGHTLY_TARGET_CPU" != portable ]; then
    echo "release: LIGHTLY_TARGET_CPU=$LIGHTLY_TARGET_CPU would tie the binaries to that CPU; unset it" >&2
    exit 1
fi
unset LIGHTLY_TARGET_CPU

# The same command as docker/Dockerfile's build stage (keep them equal).
build() { swift build -c release --static-swift-stdlib --disable-automatic-resolution "$@"; }
build --product lightly-server
build --product lightly-cli
BIN=$(build --show-bin-path)

[ -n "$VERSION" ] || VERSION=$("$BIN/lightly-server" --version)
ARCH=$(uname -m)
NAME=lightly-server-$VERSION-linux-$ARCH
mkdir -p "$OUT"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
install -D -m 0755 "$BIN/lightly-server" "$STAGE/$NAME/bin/lightly-server"
install -D -m 0755 "$BIN/lightly-cli" "$STAGE/$NAME/bin/lightly-cli"
install -m 0644 config/lightly-server.toml "$STAGE/$NAME/lightly-server.toml"
install -m 0644 README.md "$STAGE/$NAME/README.md"

# Same bytes for the same binaries: fixed order, owner and times (the last commit's date).
EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$STAGE" -cf - "$NAME" \
    | gzip -n -9 > "$OUT/$NAME.tar.gz"
(cd "$OUT" && sha256sum "$NAME.tar.gz" > "$NAME.tar.gz.sha256")
echo "release: $OUT/$NAME.tar.gz"
cat "$OUT/$NAME.tar.gz.sha256"
