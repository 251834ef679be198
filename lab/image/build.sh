#!/usr/bin/env bash
# Builds the lab host image (Debian 12 minbase + systemd + the tools in packages.txt) with debootstrap from the
# apt mirror this machine is configured with, and imports it into podman as localhost/floodgate-lab:<recipe hash>.
# Does nothing when an image of the current recipe exists. Prints the image name.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
lab_podman_conf
image=$(lab_image)
if podman image exists "$image"; then
	echo "$image"
	exit 0
fi
command -v debootstrap >/dev/null || lab_die "debootstrap missing: run 'make deps'"

# The mirror: the first Debian URI of the machine's apt sources (deb822 or one-line format).
mirror=${LAB_MIRROR:-$(
	{
		grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
		grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'
	} | grep -v -- '-security' | grep -m1 '/debian/\?$' || true
)}
mirror=${mirror:-http://deb.debian.org/debian}

build=$LAB_DIR/image/.build
rm -rf "$build"
mkdir -p "$build"
include=$(grep -v '^#' "$LAB_DIR/image/packages.txt" | grep -v '^$' | paste -sd, -)
lab_log "debootstrap bookworm from $mirror (about 2-4 minutes)"
debootstrap --variant=minbase --include="$include" bookworm "$build/rootfs" "$mirror" >"$build/debootstrap.log" 2>&1 ||
	{
		tail -n 30 "$build/debootstrap.log" >&2
		lab_die "debootstrap failed (log: $build/debootstrap.log)"
	}
"$LAB_DIR/image/setup-rootfs.sh" "$build/rootfs"
lab_log "podman import $image"
tar -C "$build/rootfs" -c . | podman import -q --change 'CMD=["/sbin/init"]' \
	--change 'STOPSIGNAL=SIGRTMIN+3' - "$image" >/dev/null
rm -rf "$build"
# Older images of other recipes are dropped so they do not pile up (not while a container still uses one).
podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$LAB_IMAGE_REPO:" | grep -vx "$image" |
	xargs -r podman rmi >/dev/null 2>&1 || true
echo "$image"
