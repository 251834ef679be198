#!/usr/bin/env bash
# Takes the lab down and proves nothing is left: no lab containers, no veth links, no NIC model programs.
# The veth pairs, tc filters and BPF pins live only in the containers' namespaces and bpffs mounts, so
# removing the containers removes them; the checks below make sure of it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
mkdir -p "$LAB_STATE"
[ -f "$CONTAINERS_CONF" ] || lab_podman_conf
names=$(podman ps -a --filter label=floodgate-lab=1 --format '{{.Names}}')
if [ -n "$names" ]; then
	# shellcheck disable=SC2086 # one name per word
	podman rm -f -t 2 $names >/dev/null
fi
rm -f "$LAB_STATE/edges" "$LAB_STATE"/attack-*.pid

left=""
[ -z "$(podman ps -a --filter label=floodgate-lab=1 --format '{{.Names}}')" ] || left+=" containers"
# Programs are freed asynchronously once their last reference goes: give the kernel a moment.
for _ in $(seq 1 20); do
	bpftool prog show 2>/dev/null | grep -Eq 'name nicmodel ' || break
	sleep 0.25
done
bpftool prog show 2>/dev/null | grep -Eq 'name nicmodel ' && left+=" bpf-programs"
ip -o link show | grep -Eq ': e[0-9]+@' && left+=" links"
if [ -n "$left" ]; then
	lab_die "down: left behind:$left"
fi
lab_log "down: nothing left"
