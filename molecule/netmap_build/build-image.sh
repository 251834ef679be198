#!/usr/bin/env bash
# Builds the minimal Debian 12 host image the netmap_build Molecule scenario runs the role against
# (no systemd: the role only needs python3 and apt there; the module load step is skipped in containers).
# Idempotent: does nothing when the image exists. Usage: build-image.sh [IMAGE]
set -euo pipefail
image=${1:-localhost/floodgate-netmap-host:bookworm}
if podman image exists "$image"; then exit 0; fi
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
root=$(mktemp -d /tmp/fg-netmap-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,iproute2,ca-certificates bookworm "$root" "$mirror" >/dev/null
# The security suite carries the newest linux-headers-6.1.0-*-amd64 / linux-source-6.1 pair.
cat >"$root/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import -q - "$image" >/dev/null
echo "built $image"
