#!/usr/bin/env bash
# Builds (once) and caches the Debian 12 rootfs the systemd end-to-end test boots; prints its path on stdout.
#
#   rootfs.sh CACHE_DIR
#
# The rootfs is CACHE_DIR/rootfs-<key>, where <key> hashes the suite, the package list (./packages) and
# $recipe, so changing the list (or bumping $recipe after changing how the rootfs is prepared below) builds a new one;
# older ones are removed afterwards. It is built with debootstrap from the
# Debian mirror this host's apt uses, into a temporary directory that is renamed into place only when complete;
# concurrent runs serialise on CACHE_DIR/.lock. Downloaded .debs are kept in CACHE_DIR/debs for rebuilds.
# The test never writes into the cached rootfs: it boots an overlay of it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
log() { echo "[e2e $(_stamp)] $*" >&2; }

[ $# = 1 ] || die "usage: rootfs.sh CACHE_DIR"
cache=$1
suite=bookworm
recipe=1   # bump when the preparation below changes
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

packages=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages" | grep -v '^$' | sort -u | paste -sd, -)
[ -n "$packages" ] || die "$here/packages lists no packages"
key=$(echo "$suite minbase $packages recipe $recipe" | sha256sum | cut -c1-16)
rootfs=$cache/rootfs-$key

# The first http(s) mirror of a bookworm stanza in apt's sources (deb822 .sources files, then one-line lists),
# security archives excluded.
apt_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             { uris = ""; suites = ""; enabled = 1
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
                   if ($i ~ /^Suites:/) suites = $i
                   if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
               }
               n = split(uris, u, /[ \t]+/)
               if (enabled && suites ~ /(^|[ \t])bookworm([ \t]|$)/)
                   for (j = 1; j <= n; j++) if (u[j] ~ /^https?:/ && u[j] !~ /security/) print u[j] }' "$f"
    done
    grep -hsE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        awk '$0 ~ /[[:space:]]bookworm[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) { print $i; break } }' || true
}

exec 9>"$cache/.lock"
if ! flock -w 900 9; then die "could not lock $cache/.lock within 15 minutes (another rootfs build is running?)"; fi

if [ -e "$rootfs/.complete" ]; then
    log "rootfs cache hit: $rootfs"
else
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap), and there is no cached rootfs $rootfs"
    mirror=$(apt_mirror | head -n 1 || true)
    [ -n "$mirror" ] || die "cannot find a Debian $suite mirror in /etc/apt/sources.list{,.d/*} for debootstrap"
    t=$(ts_ns)
    log "building rootfs (cache miss): debootstrap --variant=minbase $suite from $mirror (30-90 s)"
    tmp=$rootfs.tmp
    rm -rf "$tmp"
    mkdir -p "$cache/debs"
    if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$cache/debs" \
        "$suite" "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
        tail -n 30 "$cache/debootstrap.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed (full log: $cache/debootstrap.log)"
    fi
    echo heidi-e2e >"$tmp/etc/hostname"
    # Units that only slow down or clutter a throwaway container.
    for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
        systemd-tmpfiles-clean.timer console-getty.service getty@.service; do
        ln -sf /dev/null "$tmp/etc/systemd/system/$unit"
    done
    rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
    for binary in /lib/systemd/systemd /usr/bin/systemctl /usr/bin/python3 /usr/bin/curl; do
        [ -x "$tmp$binary" ] || die "the new rootfs has no $binary (check $here/packages)"
    done
    touch "$tmp/.complete"
    mv "$tmp" "$rootfs"
    log "rootfs built in $(ms_since "$t") ms: $rootfs ($(du -sh "$rootfs" | cut -f1))"
    # Rootfs builds of older package lists are dead weight now.
    for old in "$cache"/rootfs-*; do
        [ "$old" = "$rootfs" ] || { log "removing outdated rootfs $old"; rm -rf "$old"; }
    done
fi
echo "$rootfs"
