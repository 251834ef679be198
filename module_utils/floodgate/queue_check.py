"""The chain a mitigation on one queue depends on, as separate checks over a NIC snapshot and samples.

netmap loaded (netmap backend) -> queue exists -> queue has weight 0 in RSS -> ntuple rules send the flow
to the queue -> the queue's counter rises -> the receiver consumes the packets. Each check returns a link
{"name", "ok", "detail", "fix"}; the module stops at the first broken one, so the operator is told the
earliest cause, not its consequences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.module_utils.floodgate.channels import rx_queue_count
from ansible.module_utils.floodgate.ntuple import describe, normalize_rule, rule_matches


def link(name: str, ok: bool, detail: str, fix: str = "") -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail, "fix": "" if ok else fix}


def check_netmap(netmap: Mapping[str, Any], backend: str) -> dict[str, Any]:
    if backend != "netmap":
        return link("netmap", True, f"backend {backend}: netmap not needed")
    if netmap.get("device") and netmap.get("module"):
        return link(
            "netmap", True, f"/dev/netmap present, netmap module loaded (version {netmap.get('version')})"
        )
    missing = [
        p
        for p, ok in (("/dev/netmap", netmap.get("device")), ("/sys/module/netmap", netmap.get("module")))
        if not ok
    ]
    return link(
        "netmap",
        False,
        f"netmap is not loaded: missing {', '.join(missing)}",
        "build and load netmap and the netmap-patched driver for the running kernel (role netmap_build), "
        "or run with backend af_xdp",
    )


def ring_count(nic: Mapping[str, Any]) -> int | None:
    """RX queues in use: the RSS ring count when the NIC has a table, else the channel counts."""
    if nic.get("rxfh") and nic["rxfh"].get("ring_count"):
        return int(nic["rxfh"]["ring_count"])
    if nic.get("channels"):
        return rx_queue_count(nic["channels"]) or None
    return len(nic.get("queue_stats", {}).get("rx", {})) or None


def check_queue_exists(nic: Mapping[str, Any], queue: int) -> dict[str, Any]:
    count = ring_count(nic)
    iface = nic["interface"]
    if count is None:
        return link(
            "queue", False, f"cannot tell how many RX queues {iface} has", f"check 'ethtool -l {iface}'"
        )
    kind = "combined" if (nic.get("channels") or {}).get("combined") else "rx"
    if 0 <= queue < count:
        return link("queue", True, f"queue {queue} exists ({count} RX queues)")
    return link(
        "queue",
        False,
        f"queue {queue} does not exist on {iface}: it has {count} RX queues (0..{count - 1})",
        f"pick a queue below {count}, or raise the count with 'ethtool -L {iface} {kind} N'",
    )


def check_rss_weight(nic: Mapping[str, Any], queue: int) -> dict[str, Any]:
    iface = nic["interface"]
    rxfh = nic.get("rxfh")
    if not rxfh or not rxfh.get("table"):
        return link(
            "rss",
            False,
            f"{iface} has no readable RSS indirection table ('ethtool -x {iface}' not supported)",
            "use a NIC whose driver supports ethtool -x (in the lab: the modelled ethtool front end on PATH)",
        )
    hits = [i for i, q in enumerate(rxfh["table"]) if q == queue]
    if not hits:
        return link("rss", True, f"queue {queue} has weight 0 in the {len(rxfh['table'])}-entry RSS table")
    return link(
        "rss",
        False,
        f"queue {queue} still gets normal traffic: {len(hits)} of {len(rxfh['table'])} RSS entries point at it "
        f"(first at index {hits[0]})",
        f"run ethtool_rxfh with weights excluding queue {queue} (ethtool -X {iface} weight ... 0 ...)",
    )


def check_ntuple(
    nic: Mapping[str, Any], queue: int, expected: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    iface = nic["interface"]
    ntuple = nic["ntuple"]
    if not ntuple["supported"]:
        return link(
            "ntuple",
            False,
            f"{iface} does not support ntuple rules ('ethtool -n {iface}': Operation not supported)",
            "use a NIC with flow steering (ixgbe Flow Director, i40e, mlx5), or the lab's modelled front end",
        )
    rules = ntuple["rules"]
    if not expected:
        to_queue = [r for r in rules if r.get("action") == queue]
        if to_queue:
            return link("ntuple", True, f"{len(to_queue)} ntuple rule(s) send traffic to queue {queue}")
        return link(
            "ntuple",
            False,
            f"no ntuple rule sends traffic to queue {queue} ({len(rules)} rules on {iface})",
            f"add the flood's rule with ethtool_ntuple (ethtool -N {iface} flow-type ... action {queue})",
        )
    missing = []
    for want in expected:
        canon = normalize_rule({**want, "action": want.get("action", queue)}, require_action=True)
        if canon["action"] != queue:
            missing.append(
                f"{describe(canon)} (expected rule points at queue {canon['action']}, not {queue})"
            )
        elif not any(rule_matches(r, canon) for r in rules):
            wrong = [r for r in rules if rule_matches(r, canon, match_action=False)]
            hint = f"; it exists but points at {wrong[0].get('action')}" if wrong else ""
            missing.append(describe(canon) + hint)
    if not missing:
        return link("ntuple", True, f"all {len(expected)} expected rule(s) send traffic to queue {queue}")
    return link(
        "ntuple",
        False,
        f"rule(s) not steering to queue {queue}: {'; '.join(missing)}",
        "apply the rules with ethtool_ntuple (state: present) and check 'ethtool -n " + iface + "'",
    )


def read_receiver_stats(path: str) -> dict[str, Any] | None:
    """The receiver's stats JSON, or None when the file is missing or half-written."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_nic_counter(
    iface: str, queue: int, before: int | None, after: int | None, seconds: float, min_packets: int
) -> tuple[dict[str, Any], int | None]:
    if before is None or after is None:
        return (
            link(
                "nic_counter",
                False,
                f"'ethtool -S {iface}' has no packet counter for RX queue {queue}",
                "on veth the per-queue counters count only while an XDP program is attached in native mode",
            ),
            None,
        )
    delta = after - before
    if delta >= min_packets:
        return link("nic_counter", True, f"queue {queue} received {delta} packets in {seconds:g}s"), delta
    return (
        link(
            "nic_counter",
            False,
            f"queue {queue} received {delta} packets in {seconds:g}s (need at least {min_packets})",
            "no traffic reaches the queue: check the ntuple rule matches the flood (protocol, port, address), "
            "or there is no flood right now (lower min_packets to verify an idle mitigation)",
        ),
        delta,
    )


def check_receiver(
    path: str,
    iface: str,
    queue: int,
    backend: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    min_packets: int,
) -> tuple[dict[str, Any], int | None]:
    unit_hint = f"start the receiver (floodgate-rx --backend {backend} --interface {iface} --queue {queue})"
    if before is None or after is None:
        return link("receiver", False, f"no receiver stats at {path}", unit_hint), None
    who = (after.get("interface"), after.get("queue"), after.get("backend"))
    if who != (iface, queue, backend):
        return (
            link(
                "receiver",
                False,
                f"{path} belongs to interface={who[0]} queue={who[1]} backend={who[2]}, not {iface}/{queue}/{backend}",
                "point stats_path at this receiver's file, or restart the receiver with the right options",
            ),
            None,
        )
    if after.get("timestamp") == before.get("timestamp"):
        return (
            link(
                "receiver",
                False,
                f"{path} was not rewritten during the sample (timestamp {after.get('timestamp')}): receiver stalled or dead",
                unit_hint + "; check its journal",
            ),
            None,
        )
    delta = int(after.get("packets", 0)) - int(before.get("packets", 0))
    if delta >= min_packets:
        return (
            link(
                "receiver",
                True,
                f"receiver consumed {delta} packets (passed {after.get('passed')}, dropped {after.get('dropped')} in all)",
            ),
            delta,
        )
    return (
        link(
            "receiver",
            False,
            f"receiver consumed {delta} packets while the queue received traffic",
            f"the receiver is not bound to queue {queue} of {iface}: check its options and that no other program owns the queue",
        ),
        delta,
    )


# A receiver that misses more than this share of its queue's frames during the sample is falling behind.
MISSED_WARN_SHARE = 0.01


def falling_behind(
    iface: str, queue: int, lost: int, seen: int, seconds: float, where: str
) -> tuple[int, str | None]:
    """(lost, a warning when more than 1% of the queue's frames - lost + seen - were lost before the receiver read
    them). `where` says who dropped them.

    Not a broken link: a receiver that keeps up with most of a flood still shields the kernel from it, and a
    rollback would hand the whole flood back. But legitimate frames are lost with the missed ones."""
    if lost <= 0 or lost <= MISSED_WARN_SHARE * (lost + seen):
        return max(lost, 0), None
    share = 100.0 * lost / (lost + seen)
    return lost, (
        f"{iface} queue {queue}: {where} dropped {lost} of {lost + seen} frames ({share:.1f}%) before the receiver "
        f"read them during the {seconds:g} s sample: it is falling behind, and legitimate packets are lost with the "
        "flood. What to do: give the receiver a core of its own (receiver_cpu, with nothing else pinned there), or "
        "spread the flow over more queues."
    )


def receiver_missed(
    iface: str, queue: int, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, seconds: float
) -> tuple[int | None, str | None]:
    """Frames of the queue the kernel dropped before the receiver read them during the sample (its stats'
    `missed`, af_xdp only; None when not counted), and falling_behind's warning."""
    if not before or not after or "missed" not in before or "missed" not in after:
        return None, None
    missed = int(after["missed"]) - int(before["missed"])
    seen = int(after.get("packets", 0)) - int(before.get("packets", 0))
    return falling_behind(iface, queue, missed, seen, seconds, "the kernel")


def nic_ring_drops(
    iface: str,
    queue: int,
    before: tuple[str, int] | None,
    after: tuple[str, int] | None,
    queue_packets: int | None,
    seconds: float,
) -> tuple[int | None, str | None]:
    """Frames the NIC dropped for want of a free descriptor during the sample (stats.ring_drops, before and after;
    None when the driver has no such counter), and falling_behind's warning against what the queue received.

    The counter is the NIC's, over all its queues; during a mitigation the queue whose consumer can fall behind
    that far is the receiver's (the kernel's queues keep their NAPI budget), so the warning blames it."""
    if before is None or after is None or queue_packets is None:
        return None, None
    name = after[0]
    return falling_behind(
        iface, queue, after[1] - before[1], queue_packets, seconds, f"the NIC ({name}, all its queues)"
    )
