#!/usr/bin/env bash
# make bench-live: pps the af_xdp receiver takes from ONE queue of a real 8-queue veth NIC while the kernel keeps
# serving the other queues, beside a peer measured in the same run under the same flood: an AF_PACKET
# TPACKET_V3 reader with a cBPF queue filter (the classic user-space tap of one queue, which does not take the
# queue from the kernel). Flood: fg_flood (AF_PACKET sendmmsg, one core), QUEUE_SHARE% of it steered to the
# receiver's queue by the test tool steer_by_sport.bpf.c. A third column runs the receiver with --coalesce-us 0
# (the loop woken by the kernel for every few frames, as before 2026-11-27). Rounds alternate the three; medians
# are printed.
# Usage: bench_live.sh FLOODGATE_RX [SECONDS] [ROUNDS] [QUEUE_SHARE]
set -euo pipefail
RX=$(realpath "$1"); SECS=${2:-4}; ROUNDS=${3:-3}; SHARE=${4:-50}; Q=4
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/fg-bench-live.XXXXXX)
EDGE=fgb-edge-$$ WIRE=fgb-wire-$$
RXPID=
cleanup() {
  [ -n "$RXPID" ] && kill -TERM "$RXPID" 2>/dev/null && wait "$RXPID" 2>/dev/null || true
  ip netns del "$EDGE" 2>/dev/null || true; ip netns del "$WIRE" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "bench-live needs root (network namespaces, XDP)" >&2; exit 2; }
[ -x "$RX" ] || { echo "$RX is missing: make -C csrc" >&2; exit 2; }
CPUS=$(nproc); FLOOD_CPU=0; RX_CPU=$(( CPUS > 1 ? 1 : 0 ))

ARCH=$(gcc -dumpmachine)
clang -O2 -g -target bpf -I/usr/include/"$ARCH" -c "$HERE/steer_by_sport.bpf.c" -o "$WORK/steer.o"
for t in fg_flood fg_afpacket_count; do gcc -std=c11 -O2 -Wall -Wextra -Werror -o "$WORK/$t" "$HERE/$t.c"; done

e() { ip netns exec "$EDGE" "$@"; }
w() { ip netns exec "$WIRE" "$@"; }
ip netns add "$EDGE"; ip netns add "$WIRE"
for ns in "$EDGE" "$WIRE"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
ip link add eth1 numtxqueues 8 numrxqueues 8 netns "$EDGE" type veth peer name eth1p numtxqueues 8 numrxqueues 8 netns "$WIRE"
e ip link set lo up; w ip link set lo up
e ip addr add 10.99.0.1/24 dev eth1; w ip addr add 10.99.0.2/24 dev eth1p
e ip link set eth1 up; w ip link set eth1p up
e ip route add default via 10.99.0.2
w ethtool -K eth1p tx off >/dev/null
w tc qdisc add dev eth1p clsact
w tc filter add dev eth1p egress bpf direct-action obj "$WORK/steer.o" sec tc
MAC=$(e cat /sys/class/net/eth1/address)
printf 'default drop\nrule clients pass src 198.51.100.0/24 udp dport 53\n' > "$WORK/rules"

udp_in() { e awk '/^Udp:/ { if (h) { print $2 + $3 + $4; exit } h = 1 }' /proc/net/snmp; }
stat_packets() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$WORK/rx.json"; }
flood() { w taskset -c "$FLOOD_CPU" "$WORK/fg_flood" eth1p "$MAC" 10.99.0.1 "$SECS" "$SHARE" "$Q"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

run_af_xdp() {
  # Started without a shell function in between, so $! is the receiver itself. "$@": extra receiver options.
  ip netns exec "$EDGE" sh -c 'mount -t bpf bpf /sys/fs/bpf && exec "$0" "$@"' "$RX" --backend af_xdp --interface eth1 --queue "$Q" \
    --cpu "$RX_CPU" --rules "$WORK/rules" --stats-json "$WORK/rx.json" --stats-interval-ms 100 "$@" \
    >/dev/null 2>"$WORK/rx.err" &
  RXPID=$!
  for _ in $(seq 100); do [ -s "$WORK/rx.json" ] && break; sleep 0.1; done
  [ -s "$WORK/rx.json" ] || { cat "$WORK/rx.err" >&2; exit 1; }
  local p0 k0 out p1 k1 secs c0 c1
  p0=$(stat_packets); k0=$(udp_in); c0=$(cpu_ticks "$RXPID")
  out=$(flood); sleep 0.3
  p1=$(stat_packets); k1=$(udp_in); c1=$(cpu_ticks "$RXPID")
  kill -TERM "$RXPID"; wait "$RXPID"; RXPID=; rm -f "$WORK/rx.json"
  secs=$(field seconds <<<"$out")
  echo "$(( p1 - p0 )) $(( k1 - k0 )) $(field pps <<<"$out") $secs $(awk -v t=$(( c1 - c0 )) -v hz="$HZ" 'BEGIN { print t / hz }')" >"$WORK/res"
}

run_peer() {
  local k0 out peer k1 secs
  k0=$(udp_in)
  ip netns exec "$EDGE" taskset -c "$RX_CPU" "$WORK/fg_afpacket_count" eth1 "$Q" "$(( SECS + 1 ))" >"$WORK/peer.out" &
  local pid=$!
  sleep 0.3; out=$(flood); wait "$pid"; k1=$(udp_in)
  peer=$(field packets <"$WORK/peer.out"); secs=$(field seconds <<<"$out")
  echo "$peer $(( k1 - k0 )) $(field pps <<<"$out") $secs $(field cpu_seconds <"$WORK/peer.out")" >"$WORK/res"
}

HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
: >"$WORK/xdp"; : >"$WORK/xdp0"; : >"$WORK/peer"
for r in $(seq "$ROUNDS"); do
  for side in xdp xdp0 peer; do
    case $side in
    xdp) run_af_xdp ;;
    xdp0) run_af_xdp --coalesce-us 0 ;;
    peer) run_peer ;;
    esac
    read -r pk kk off s cpu <"$WORK/res"
    # queue-Q pps, kernel UDP pps, offered pps, receiver CPU ns per queue-Q frame
    awk -v p="$pk" -v k="$kk" -v o="$off" -v s="$s" -v c="$cpu" \
      'BEGIN { printf "%.0f %.0f %.0f %.0f\n", p / s, k / s, o, (p > 0 ? c * 1e9 / p : 0) }' >>"$WORK/$side"
  done
  echo "round $r: af_xdp $(tail -1 "$WORK/xdp")  af_xdp --coalesce-us 0 $(tail -1 "$WORK/xdp0")  peer $(tail -1 "$WORK/peer")  (queue-$Q pps, kernel UDP pps, offered pps, receiver ns/frame)"
done
X=$(cut -d' ' -f1 "$WORK/xdp" | median); XK=$(cut -d' ' -f2 "$WORK/xdp" | median); XO=$(cut -d' ' -f3 "$WORK/xdp" | median)
P=$(cut -d' ' -f1 "$WORK/peer" | median); PK=$(cut -d' ' -f2 "$WORK/peer" | median); PO=$(cut -d' ' -f3 "$WORK/peer" | median)
XC=$(cut -d' ' -f4 "$WORK/xdp" | median); PC=$(cut -d' ' -f4 "$WORK/peer" | median)
Z=$(cut -d' ' -f1 "$WORK/xdp0" | median); ZO=$(cut -d' ' -f3 "$WORK/xdp0" | median); ZC=$(cut -d' ' -f4 "$WORK/xdp0" | median)
echo "flood: ${SHARE}% to queue $Q, rest over the other 7 queues; receiver and peer pinned to CPU $RX_CPU, flood to CPU $FLOOD_CPU; median of $ROUNDS x ${SECS}s"
echo "af_xdp: queue-$Q pps=$X of $(( XO * SHARE / 100 )) offered; kernel UDP stack pps=$XK (the other queues' share: $(( XO - XO * SHARE / 100 ))); receiver CPU ${XC} ns/frame"
echo "af_xdp --coalesce-us 0: queue-$Q pps=$Z of $(( ZO * SHARE / 100 )) offered; receiver CPU ${ZC} ns/frame"
echo "peer AF_PACKET TPACKET_V3+cBPF queue filter: queue-$Q pps=$P of $(( PO * SHARE / 100 )) offered; kernel UDP stack pps=$PK (all $PO offered: the tap does not take the queue); reader CPU ${PC} ns/frame"
awk -v x="$X" -v p="$P" -v xk="$XK" -v xo="$XO" -v xc="$XC" -v pc="$PC" -v zc="$ZC" 'BEGIN { printf "live_af_xdp_pps=%d afpacket_peer_pps=%d ratio=%.2f kernel_other_queues_pps=%d offered_pps=%d af_xdp_ns_per_frame=%d af_xdp_nocoalesce_ns_per_frame=%d peer_ns_per_frame=%d\n", x, p, (p > 0 ? x / p : 0), xk, xo, xc, zc, pc }'
