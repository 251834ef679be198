#!/usr/bin/env bash
# Shows the lab: containers, and per edge its NIC (address, XDP program, NIC model, ntuple rules), its DNS
# service and its per-queue receive counters. Exit 1 when the lab is not (fully) up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ -f "$CONTAINERS_CONF" ] || lab_podman_conf
edges=$(lab_edges_running)
if [ "$edges" = 0 ]; then
	echo "lab: down"
	exit 1
fi
ok=1
podman ps -a --filter label=floodgate-lab=1 --format '{{.Names}}\t{{.Status}}\t{{.Image}}' | sort -V
wpid=$(lab_pid "$LAB_WIRE" || true)
for n in $(seq 1 "$edges"); do
	name=$LAB_EDGE_PREFIX$n
	if [ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
		echo "$name: NOT RUNNING"
		ok=0
		continue
	fi
	addr=$(podman exec "$name" ip -4 -o addr show dev eth1 2>/dev/null | awk '{print $4}')
	xdp=$(podman exec "$name" ip -o link show dev eth1 2>/dev/null | grep -o 'prog/xdp id [0-9]*' || echo "none")
	model=$(nsenter -t "$wpid" -n tc filter show dev "e$n" egress 2>/dev/null | grep -o 'nicmodel[^ ]*' | head -1)
	dns=$(podman exec "$name" systemctl is-active dnsmasq 2>/dev/null || true)
	rules=$(podman exec "$name" ethtool -n eth1 2>/dev/null | sed -n 's/^Total \([0-9]*\) rules/\1/p')
	echo "$name: eth1 ${addr:-no-address} xdp=${xdp} model=${model:-MISSING} ntuple-rules=${rules:-?} dnsmasq=${dns}"
	[ -n "$addr" ] && [ -n "$model" ] && [ "$xdp" != none ] && [ "$dns" = active ] || ok=0
	podman exec "$name" ethtool -S eth1 | awk '/rx_queue_[0-9]+_xdp_packets/ {
		sub("rx_queue_", ""); sub("_xdp_packets:", ""); printf "  q%s=%s", $1, $2 } END { print "" }'
done
[ "$ok" = 1 ] || { echo "lab: degraded"; exit 1; }
echo "lab: up ($edges edges)"
