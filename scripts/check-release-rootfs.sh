#!/usr/bin/env bash
# Runs the release artefact in a bare Debian bookworm root filesystem that holds only what
# docker/Dockerfile's runtime stage installs, and drives it from outside over loopback.
#
#   sudo scripts/check-release-rootfs.sh [TARBALL]     (default: build one with scripts/release.sh)
#
# 1. The package list is read from the runtime stage of docker/Dockerfile (the
#    `apt-get install` after `FROM debian:bookworm-slim`), so what this proves is what the image
#    installs. The root filesystem is `mmdebstrap --variant=minbase` (Debian's minimal base, what
#    bookworm-slim is made of) plus those packages, built once and cached as a tarball under
#    .build/release-rootfs/ (keyed by the package list).
# 2. In a fresh copy, chrooted, as an unprivileged uid like the image's `USER lightly`:
#    `lightly-server --version`, `token create`, `serve` on 127.0.0.1, `healthcheck`.
# 3. From outside the chroot, over loopback, the release's own lightly-cli runs the seed
#    workflow: create a dataset, upload embeddings, CORESET selection, a CORAL round with scores,
#    export the tag. lightly-cli also needs libcurl4, which the image does not ship; this
#    script reports which of its libraries the bare root filesystem lacks.
# Needs root (chroot, mounts) and mmdebstrap (apt-get install mmdebstrap); Debian's apt mirror
# is reached only when the cached root filesystem is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
T0=$(date +%s)
say() { echo "== $* ($(( $(date +%s) - T0 )) s)"; }
die() { echo "check-release-rootfs: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot)"
command -v mmdebstrap >/dev/null || die "needs mmdebstrap: apt-get install -y mmdebstrap"

# --- the runtime stage's packages -------------------------------------------------------------
PKGS=$(awk '
    /^FROM debian:bookworm-slim/ { rt = 1 }
    rt && /apt-get install/ {
        for (i = 1; i <= NF; i++) {
            if (seen && ($i == "&&" || $i == "\\")) break
            if (seen && $i !~ /^-/) print $i
            if ($i == "install") seen = 1
        }
        exit
    }' docker/Dockerfile | sort -u | tr '\n' ' ')
[ -n "$PKGS" ] || die "could not read the runtime stage's apt-get install line from docker/Dockerfile"
say "runtime packages from docker/Dockerfile: $PKGS"

CACHE_DIR=.build/release-rootfs
KEY=$(printf 'bookworm minbase %s' "$PKGS" | sha256sum | cut -c1-16)
ROOTFS_TAR=$CACHE_DIR/bookworm-runtime-$KEY.tar
mkdir -p "$CACHE_DIR"
if [ ! -s "$ROOTFS_TAR" ]; then
    say "building the root filesystem (mmdebstrap, cached as $ROOTFS_TAR)"
    mmdebstrap --variant=minbase --format=tar --quiet \
        --aptopt='APT::Install-Recommends "false"' \
        --include="$(echo $PKGS | tr ' ' ',')" \
        bookworm "$CACHE_DIR/partial-$KEY.tar" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main"
    mv "$CACHE_DIR/partial-$KEY.tar" "$ROOTFS_TAR"
fi

# --- the artefact -----------------------------------------------------------------------------
TARBALL=${1:-}
if [ -z "$TARBALL" ]; then
    say "building the release (scripts/release.sh)"
    TARBALL=$(scripts/release.sh --out .build/release-dist | sed -n 's/^release: //p')
fi
[ -s "$TARBALL" ] || die "no release tarball at $TARBALL"
(cd "$(dirname "$TARBALL")" && sha256sum -c "$(basename "$TARBALL").sha256" >/dev/null) \
    || die "SHA-256 of $TARBALL does not match its .sha256 file"

# --- a fresh copy of the root filesystem --------------------------------------------------------
WORK=$(mktemp -d /tmp/lightly-rootfs.XXXXXX)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    for m in "$WORK/root/proc" "$WORK/root/dev"; do mountpoint -q "$m" && umount -l "$m"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
R=$WORK/root
mkdir -p "$R"
tar -xf "$ROOTFS_TAR" -C "$R"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mkdir -p "$R/opt/lightly"
tar -xzf "$TARBALL" -C "$R/opt/lightly" --strip-components=1
install -d -o 10001 -g 10001 -m 0700 "$R/data"
SRV=/opt/lightly/bin/lightly-server
# As the image's `USER lightly` (uid 10001); no entry in /etc/passwd is needed.
in_root() { chroot --userspec=10001:10001 "$R" env -i HOME=/data PATH=/usr/bin:/bin "$@"; }

say "lightly-server --version in the bare root filesystem"
in_root "$SRV" --version
missing=$(chroot "$R" ldd "$SRV" | grep 'not found' || true)
[ -z "$missing" ] || die "lightly-server lacks libraries in the runtime root filesystem: $missing"
cli_missing=$(chroot "$R" ldd /opt/lightly/bin/lightly-cli | awk '/not found/ { print $1 }' | tr '\n' ' ')
echo "   lightly-cli would additionally need here: ${cli_missing:-nothing}"

say "token create"
TOKEN=$(in_root "$SRV" token create --data-dir /data --name release-check | tail -1)
[ -n "$TOKEN" ] || die "token create printed nothing"

say "serve on 127.0.0.1 (port picked by the kernel)"
LOG=$WORK/serve.log
# Not through in_root: a backgrounded function would be a subshell, and SIGTERM must reach the
# server itself (chroot and env exec it, so $! is the server's pid).
chroot --userspec=10001:10001 "$R" env -i HOME=/data PATH=/usr/bin:/bin \
    "$SRV" serve --port 0 --data-dir /data --job-poll-wait 0 >"$LOG" 2>&1 &
SERVER_PID=$!
URL=
for _ in $(seq 1 150); do
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$LOG" | head -1)
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG"; die "serve exited"; }
    sleep 0.2
done
[ -n "$URL" ] || { cat "$LOG"; die "serve did not start in 30 s"; }
case $URL in http://127.0.0.1:*) ;; *) die "serve listens on $URL, expected 127.0.0.1" ;; esac
echo "   $URL"

say "healthcheck"
in_root "$SRV" healthcheck --url "$URL/health"

say "seed workflow from outside the chroot (the release's lightly-cli, over loopback)"
CLI=$R/opt/lightly/bin/lightly-cli
export LIGHTLY_SERVER_LOCATION=$URL LIGHTLY_TOKEN=$TOKEN
DS=$("$CLI" datasets create release-check)
python3 - "$WORK/emb.csv" "$WORK/scores.json" <<'PY'
import csv, json, random, sys
random.seed(5)
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["filenames"] + [f"embedding_{j}" for j in range(8)] + ["labels"])
    for i in range(90):
        w.writerow([f"img_{i:03d}.jpg"] + [(10.0 if j == i % 3 else 0.0) + random.random() for j in range(8)] + [0])
json.dump({"uncertainty_margin": [random.random() for _ in range(90)]}, open(sys.argv[2], "w"))
PY
"$CLI" upload-embeddings --dataset "$DS" --csv "$WORK/emb.csv" >/dev/null
"$CLI" select --dataset "$DS" --method CORESET --n 15 --name initial-selection >/dev/null
"$CLI" select --dataset "$DS" --method CORAL --n 30 --name al-loop-1 --preselected initial-selection \
    --scores "$WORK/scores.json" >/dev/null
N1=$("$CLI" export --dataset "$DS" --tag initial-selection | wc -l)
N2=$("$CLI" export --dataset "$DS" --tag al-loop-1 | wc -l)
[ "$N1" = 15 ] && [ "$N2" = 30 ] || die "seed workflow selected $N1 and $N2 samples, expected 15 and 30"
echo "   CORESET 15, CORAL 30 ($("$CLI" tags list --dataset "$DS" | wc -l) tags)"

say "stop (SIGTERM)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || die "serve exited with status $? on SIGTERM"
SERVER_PID=
say "release check passed: $(basename "$TARBALL") runs in bookworm minbase + $PKGS"
