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
	podman rm -f -t 0 $names >/dev/null
fi
rm -f "$LAB_STATE/edges"

left=""
[ -z "$(podman ps -a --filter label=floodgate-lab=1 --format '{{.Names}}')" ] || left+=" containers"
# The NIC model programs this lab loaded (ids recorded by up.sh) must be gone; the kernel frees a program
# asynchronously once its last reference goes, so give it a moment.
progs=$(cat "$LAB_STATE"/prog-edge* 2>/dev/null || true)
for id in $progs; do
	for _ in $(seq 1 40); do
		bpftool prog show id "$id" >/dev/null 2>&1 || break
		sleep 0.25
	done
	bpftool prog show id "$id" >/dev/null 2>&1 && left+=" bpf-program-$id"
done
ip -o link show | grep -Eq ': e[0-9]+@' && left+=" links"
if [ -n "$left" ]; then
	lab_die "down: left behind:$left"
fi
rm -f "$LAB_STATE"/prog-edge*
lab_log "down: nothing left (containers, links; NIC model programs gone:" $progs")"
