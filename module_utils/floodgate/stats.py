"""NIC statistics: parse `ethtool -S DEV` and pick out each queue's packet counter.

Each driver names its per-queue counters its own way (the strings come from the driver's get_strings):
  ixgbe, virtio_net   rx_queue_4_packets / tx_queue_4_packets     (ixgbe_ethtool.c)
  i40e, iavf          rx-4.packets / tx-4.packets                  (i40e_gstrings_queue_stats "%s-%u.packets")
  mlx5                rx4_packets / tx4_packets                    (en_stats.c rq_stats_desc "rx%d_packets")
  veth                rx_queue_4_xdp_packets (no tx counter)       (veth.c; counts only with native XDP attached)
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^\s+(?P<name>\S(?:.*\S)?):\s+(?P<value>-?\d+)\s*$")
# Order matters: a driver's plain packet counter wins over its XDP one when both exist for a queue.
_QUEUE_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"^(?P<dir>rx|tx)_queue_(?P<q>\d+)_packets$"), 0),
    (re.compile(r"^(?P<dir>rx|tx)-(?P<q>\d+)\.packets$"), 0),
    (re.compile(r"^(?P<dir>rx|tx)(?P<q>\d+)_packets$"), 0),
    (re.compile(r"^(?P<dir>rx)_queue_(?P<q>\d+)_xdp_packets$"), 1),
)


def parse_stats(text: str) -> dict[str, int]:
    """{counter name: value} from `ethtool -S` output, in the order printed."""
    counters: dict[str, int] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            counters[m.group("name")] = int(m.group("value"))
    return counters


def queue_packets(counters: dict[str, int]) -> dict[str, dict[str, int]]:
    """{"rx": {"N": packets}, "tx": {"N": packets}} with queue numbers as strings (JSON object keys)."""
    found: dict[str, dict[int, tuple[int, int]]] = {"rx": {}, "tx": {}}
    for name, value in counters.items():
        for pattern, rank in _QUEUE_PATTERNS:
            m = pattern.match(name)
            if not m:
                continue
            queues = found[m.group("dir")]
            q = int(m.group("q"))
            if q not in queues or rank < queues[q][0]:
                queues[q] = (rank, value)
            break
    return {d: {str(q): v for q, (_, v) in sorted(qs.items())} for d, qs in found.items()}


def rx_packets(counters: dict[str, int], queue: int) -> int | None:
    """Queue `queue`'s RX packet counter, or None when the driver has none for it."""
    return queue_packets(counters)["rx"].get(str(queue))


# Frames the NIC dropped because a receive ring had no free descriptor: the ring's consumer fell behind. ixgbe
# (82599, X540 and later) sums its per-queue QPRDC registers into rx_no_dma_resources (ixgbe_update_stats); a
# queue counts there when its drop-enable bit is set, which ixgbe does with several RX queues and flow control
# off (with flow control on, a full ring stalls the packet buffer instead: rx_missed_errors, every queue).
RING_DROP_COUNTERS = ("rx_no_dma_resources",)


def ring_drops(counters: dict[str, int]) -> tuple[str, int] | None:
    """(counter name, value) of the NIC's no-free-descriptor drop counter, or None when the driver has none."""
    for name in RING_DROP_COUNTERS:
        if name in counters:
            return name, counters[name]
    return None
