#!/usr/bin/env bash
# Starts a bounded DNS flood from fg-wire at edge EDGE (default 1) and returns; it runs in the background of
# the wire host for DURATION seconds (default 60) at RATE frames/s (default 500000; 0 = as fast as possible),
# from spoofed sources in FLOOD_PREFIX (default 10.96.0.0/16) with random qnames under lab.test, from PROCS
# sender processes (default 1; each sends RATE/PROCS). `attack.sh stop [EDGE]` stops it early. Each sender's
# summary lands in the wire at /run/fg-flood-e<EDGE>-<P>.json.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ -f "$CONTAINERS_CONF" ] || lab_podman_conf
action=start
if [ "${1:-}" = stop ]; then
	action=stop
	shift
fi
edge=${1:-${EDGE:-1}}
rate=${RATE:-500000}
duration=${DURATION:-60}
prefix=${FLOOD_PREFIX:-10.96.0.0/16}
procs=${PROCS:-1}
[[ "$procs" =~ ^[1-8]$ ]] || lab_die "PROCS must be 1..8"
edges=$(lab_edges_running)
[[ "$edge" =~ ^[0-9]+$ ]] && [ "$edge" -ge 1 ] && [ "$edge" -le "$edges" ] ||
	lab_die "EDGE must be 1..$edges (is the lab up? make lab-up)"
pids="/run/fg-flood-e$edge-*.pid"

# True while any sender of this edge's flood runs.
running() {
	podman exec "$LAB_WIRE" sh -c "for f in $pids; do [ -f \$f ] && kill -0 \$(cat \$f) 2>/dev/null && exit 0; done; exit 1"
}
if [ "$action" = stop ]; then
	if running; then
		podman exec "$LAB_WIRE" sh -c "for f in $pids; do [ -f \$f ] && kill \$(cat \$f) 2>/dev/null; done; true"
		lab_log "flood at edge$edge stopped"
	fi
	exit 0
fi
running && lab_die "a flood at edge$edge is already running (make lab-attack-stop EDGE=$edge)"
mac=$(podman exec "$LAB_EDGE_PREFIX$edge" cat /sys/class/net/eth1/address)
podman exec "$LAB_WIRE" sh -c "rm -f /run/fg-flood-e$edge-*"
for p in $(seq 1 "$procs"); do
	podman exec -d "$LAB_WIRE" >/dev/null sh -c "echo \$\$ >/run/fg-flood-e$edge-$p.pid; exec fg-flood --dev e$edge \
		--dst-mac $mac --dst-ip 10.99.$edge.2 --src-prefix $prefix --rate $((rate / procs)) --duration $duration \
		>/run/fg-flood-e$edge-$p.json"
done
for _ in $(seq 1 20); do
	running && break
	sleep 0.1
done
running || lab_die "the flood did not start (see: podman exec $LAB_WIRE cat /run/fg-flood-e$edge-1.json)"
lab_log "flood at edge$edge (10.99.$edge.2:53): rate=${rate}/s for ${duration}s from $prefix, random qnames, $procs sender(s)"
