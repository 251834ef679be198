#!/usr/bin/env bash
# Brings the lab up (idempotent): the wire host fg-wire, edge hosts fg-edge1..N (LAB_EDGES, default 2, up to
# 50), one 8-queue veth NIC per edge with the NIC model on its wire end, dnsmasq on each edge's eth1.
# Running it again keeps what is already right (including NIC model state); edges above N are removed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
edges=${LAB_EDGES:-2}
[[ "$edges" =~ ^[0-9]+$ ]] && [ "$edges" -ge 1 ] && [ "$edges" -le 50 ] ||
	lab_die "LAB_EDGES must be 1..50 (got '$edges')"
# How long a container's systemd may take to boot, in seconds (tests shorten it).
boot_timeout=${LAB_BOOT_TIMEOUT:-60}
[[ "$boot_timeout" =~ ^[0-9]+$ ]] && [ "$boot_timeout" -ge 1 ] ||
	lab_die "LAB_BOOT_TIMEOUT must be whole seconds, at least 1 (got '$boot_timeout')"
[ "$(id -u)" = 0 ] || lab_die "the lab needs root (podman with runc, veth, BPF)"
for tool in podman runc bpftool tc clang nsenter; do
	command -v "$tool" >/dev/null || lab_die "$tool missing: run 'make deps'"
done

# Many systemd containers need more inotify instances than the default 128 (shared/notes).
if [ "$(sysctl -n fs.inotify.max_user_instances)" -lt 8192 ]; then
	sysctl -q -w fs.inotify.max_user_instances=8192
fi
lab_podman_conf
image=$("$LAB_DIR/image/build.sh")
make -s -C "$LAB_DIR/nicmodel"
make -s -C "$LAB_DIR/traffic"
build=$LAB_STATE/build

# Starts container $1 (hostname $2) from the lab image unless it already runs it; extra podman args follow.
ensure_container() {
	local name=$1 host=$2
	shift 2
	if [ "$(podman inspect -f '{{.State.Running}} {{.ImageName}}' "$name" 2>/dev/null)" = "true $image" ]; then
		return 0
	fi
	podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
	podman run -d --name "$name" --hostname "$host" --label floodgate-lab=1 --systemd=always \
		--network none "$@" "$image" /sbin/init >/dev/null
}

# Waits until systemd in container $1 has booted (running or degraded). Returns 1 after boot_timeout, having
# printed the last state, what podman exec said, podman's view of the container and the last lines it printed.
wait_systemd() {
	local name=$1 state err=$LAB_STATE/boot-$1.err deadline=$((SECONDS + boot_timeout))
	while :; do
		state=$(timeout 10 podman exec "$name" systemctl is-system-running 2>"$err") || true
		case $state in running | degraded) rm -f "$err" && return 0 ;; esac
		[ "$SECONDS" -lt "$deadline" ] || break
		sleep 0.5
	done
	lab_log "$name: systemd did not come up in ${boot_timeout} s (state: ${state:-none};" \
		"podman exec: $(tail -n 1 "$err" 2>/dev/null || true))"
	podman inspect -f '{{.State.Status}}, pid {{.State.Pid}}, exit code {{.State.ExitCode}} {{.State.Error}}' \
		"$name" 2>&1 | sed "s/^/lab: $name: podman: /" >&2 || true
	podman logs --tail 15 "$name" 2>&1 | sed "s/^/lab: $name: output: /" >&2 || true
	rm -f "$err"
	return 1
}

# Container $1 (hostname $2, podman args after) booted. One that does not boot is started again, once: a running
# container whose systemd never came up would otherwise be kept by every later lab-up (ensure_container keeps
# what runs the right image), failing each of them the same way until lab-down.
boot() {
	local name=$1
	wait_systemd "$name" && return 0
	lab_log "$name: removing it and starting it again (once)"
	podman rm -f -t 0 "$name" >/dev/null
	ensure_container "$@"
	wait_systemd "$name" || lab_die "$name: systemd did not come up twice (podman's view and its output above)"
}

# The wire plays the internet: legit clients (10.98.0.0/24, local on the wire) and the flood generator. It
# needs raw sockets for the flood (AF_PACKET) and nothing else: not privileged.
wire_args=(wire --cap-add NET_RAW --cap-add NET_ADMIN)
ensure_container "$LAB_WIRE" "${wire_args[@]}"
# Edges are privileged: XDP attach and libxdp's dispatcher (CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN to mount
# bpffs), AF_XDP sockets, TUN re-injection (/dev/net/tun), writable /sys for the receiver's tuning.
for n in $(seq 1 "$edges"); do
	ensure_container "$LAB_EDGE_PREFIX$n" "edge$n" --privileged
done
# Edges beyond the requested count (a smaller LAB_EDGES than last time) go.
for name in $(podman ps -a --filter label=floodgate-lab=1 --format '{{.Names}}'); do
	if [[ "$name" =~ ^$LAB_EDGE_PREFIX([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt "$edges" ]; then
		podman rm -f -t 0 "$name" >/dev/null
		rm -f "$LAB_STATE/prog-edge${BASH_REMATCH[1]}"
	fi
done

boot "$LAB_WIRE" "${wire_args[@]}"
wpid=$(lab_pid "$LAB_WIRE")
wire() { nsenter -t "$wpid" -n "$@"; }
podman cp "$build/fg-flood" "$LAB_WIRE:/usr/local/bin/fg-flood"
podman exec "$LAB_WIRE" mkdir -p /usr/local/share/floodgate-lab
podman cp "$LAB_DIR/traffic/legit-queries.txt" "$LAB_WIRE:/usr/local/share/floodgate-lab/legit-queries.txt"
wire ip link set lo up
wire ip route replace local 10.98.0.0/24 dev lo
# Replies to spoofed flood sources die here, as on the internet.
wire ip route replace blackhole 10.96.0.0/16

for n in $(seq 1 "$edges"); do
	name=$LAB_EDGE_PREFIX$n
	boot "$name" "edge$n" --privileged
	epid=$(lab_pid "$name")
	edge_ip=10.99.$n.2
	# bpffs for libxdp's dispatcher and the NIC model's maps.
	podman exec "$name" sh -c 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf'
	podman exec "$name" mkdir -p "$LAB_NICMODEL_PIN" /etc/floodgate-lab /usr/local/lib/floodgate-lab

	# The NIC: both ends created straight in their namespaces, 8 queues each way.
	if ! wire ip link show "e$n" >/dev/null 2>&1; then
		ip link add "e$n" netns "$wpid" numtxqueues "$LAB_QUEUES" numrxqueues "$LAB_QUEUES" type veth \
			peer name eth1 netns "$epid" numtxqueues "$LAB_QUEUES" numrxqueues "$LAB_QUEUES"
	fi
	wire ip addr replace "10.99.$n.1/24" dev "e$n"
	wire ip link set "e$n" up
	# As on a real wire: no partial checksums towards the edge (re-injected packets would fail them).
	wire ethtool -K "e$n" tx off >/dev/null
	nsenter -t "$epid" -n ip addr replace "$edge_ip/24" dev eth1
	nsenter -t "$epid" -n ip link set eth1 up
	nsenter -t "$epid" -n ip route replace default via "10.99.$n.1"

	# The NIC model on the wire end's egress; its maps pinned in the edge's own bpffs, where the edge's
	# ethtool front end finds them. Kept as it is when already attached (idempotent re-run).
	pin=/proc/$epid/root$LAB_NICMODEL_PIN
	if ! wire tc filter show dev "e$n" egress 2>/dev/null | grep -q nicmodel; then
		rm -f "$pin"/*
		bpftool prog load "$build/nicmodel.bpf.o" "$pin/prog" type classifier pinmaps "$pin"
		wire tc qdisc replace dev "e$n" clsact
		wire tc filter replace dev "e$n" egress pref 1 handle 1 bpf direct-action object-pinned "$pin/prog"
	fi
	# Recorded so that lab/down.sh can prove this program is gone (other labs may run the same program).
	bpftool prog show pinned "$pin/prog" | sed -n 's/^\([0-9]*\): .*/\1/p' >"$LAB_STATE/prog-edge$n"
	# The front end as a module, served by a fork server that imports it once, behind a small C client that
	# hands it each call (and runs the module itself while the server is down): see nicmodel/ethtool-client.c.
	podman cp "$LAB_DIR/nicmodel/ethtool-frontend" "$name:/usr/local/lib/floodgate-lab/nicmodel_ethtool.py"
	podman cp "$LAB_DIR/nicmodel/ethtool-server" "$name:/usr/local/lib/floodgate-lab/nicmodel_server.py"
	podman cp "$build/ethtool-client" "$name:/usr/local/sbin/ethtool"
	podman exec "$name" chmod 755 /usr/local/sbin/ethtool
	podman exec "$name" ln -sf /usr/local/sbin/ethtool /usr/local/sbin/fg-nicmodel
	echo "{\"interfaces\": {\"eth1\": \"$LAB_NICMODEL_PIN\"}}" |
		podman exec -i "$name" tee /etc/floodgate-lab/nicmodel.json >/dev/null
	podman cp "$LAB_DIR/nicmodel/fg-nicmodel.service" "$name:/etc/systemd/system/fg-nicmodel.service"
	podman exec "$name" systemctl daemon-reload
	podman exec "$name" systemctl enable -q fg-nicmodel
	podman exec "$name" systemctl restart fg-nicmodel
	# A freshly booted NIC: equal table over 8 queues, Microsoft's key, ntuple off, no rules.
	podman exec "$name" fg-nicmodel init eth1

	# Per-queue rx counters count only under native XDP, so eth1 always carries one: libxdp's own default
	# AF_XDP program (redirects a queue to an AF_XDP socket registered in its map, passes everything else).
	# This kernel has no BPF_PROG_TYPE_EXT, so libxdp's multi-program dispatcher cannot load here; with
	# xsk_def_prog attached, the receiver's xsk_socket__create() finds and joins it instead of failing.
	if ! podman exec "$name" xdp-loader status eth1 2>/dev/null | grep -q xsk_def_prog; then
		podman exec "$name" xdp-loader unload -a eth1 >/dev/null 2>&1 || true
		podman exec "$name" sh -c 'xdp-loader load -m native eth1 \
			"$(dpkg -L libxdp1 | grep "/xsk_def_xdp_prog.o$")" 2>&1 | grep -v "^libbpf: elf: skipping" || true'
		podman exec "$name" xdp-loader status eth1 | grep -q xsk_def_prog ||
			lab_die "$name: could not attach the XDP program that keeps per-queue counters on eth1"
	fi

	# The service under attack.
	sed "s/@EDGE_IP@/$edge_ip/g" "$LAB_DIR/edge/dnsmasq-lab.conf" |
		podman exec -i "$name" tee /etc/dnsmasq.d/lab.conf >/dev/null
	podman exec "$name" systemctl enable -q dnsmasq 2>/dev/null || true
	podman exec "$name" systemctl restart dnsmasq
done
# Ready means answering: every edge's DNS service answers the wire's legit prefix.
for n in $(seq 1 "$edges"); do
	for try in $(seq 1 40); do
		podman exec "$LAB_WIRE" dig +short +time=1 +tries=1 -b 10.98.0.10 "@10.99.$n.2" ns.lab.test A 2>/dev/null |
			grep -qx "10.99.$n.2" && break
		[ "$try" = 40 ] && lab_die "edge$n: dnsmasq does not answer on 10.99.$n.2:53"
		sleep 0.25
	done
done
echo "$edges" >"$LAB_STATE/edges"
lab_log "up: $LAB_WIRE + $edges edge(s), image $image"
