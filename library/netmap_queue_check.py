#!/usr/bin/python
"""Ansible module netmap_queue_check: verify a single-queue mitigation on one host, link by link."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: netmap_queue_check
short_description: Verify that one NIC queue is taken from the kernel and its receiver consumes the flood
description:
  - Checks, in order, every link a single-queue mitigation depends on and stops at the first broken one,
    failing with what is wrong and what to do. It changes nothing.
  - 1. C(netmap) - with I(backend=netmap), C(/dev/netmap) exists and the netmap module is loaded.
  - 2. C(queue) - queue I(queue) exists (RSS ring count, else C(ethtool -l)).
  - 3. C(rss) - the queue has weight 0 in the RSS indirection table (C(ethtool -x)), so no normal traffic reaches it.
  - 4. C(ntuple) - the ntuple rules send traffic to the queue (C(ethtool -n)); with I(rules), each of them does.
  - 5. C(nic_counter) - the queue's packet counter (C(ethtool -S)) rises by at least I(min_packets) during the
    sample window (from I(min_seconds) to I(sample_seconds)).
  - 6. C(receiver) - over the same window the receiver's stats file (written by C(floodgate-rx)) was rewritten,
    names this interface, queue and backend, and its packet count rose by at least I(min_packets).
  - Not a link, a warning - when more than 1% of the queue's frames were dropped before the receiver read them
    during the window, the task warns that the receiver is falling behind (legitimate packets are lost with the
    flood) and says what to do. It counts the receiver's own C(missed) (af_xdp - the kernel's drops at its
    socket) and the NIC's drops for want of a free descriptor (ixgbe C(rx_no_dma_resources), summed over the
    NIC's queues - what a netmap receiver that falls behind causes). It does not fail, as the receiver still
    keeps most of the flood from the kernel.
  - Reads only what these links need (C(ethtool -x), C(-n), C(-S), and C(-l) only when the RSS table does not show
    the queue), not the whole C(nic_facts) snapshot, so no driver information, offload features or IRQs.
version_added: "0.1.0"
author: floodgate
options:
  interface:
    description: Interface carrying the mitigated queue.
    type: str
    required: true
    aliases: [name]
  queue:
    description: The RX queue taken from the kernel.
    type: int
    required: true
  backend:
    description: The receiver's backend. C(netmap) also requires netmap to be loaded.
    type: str
    choices: [netmap, af_xdp]
    default: netmap
  rules:
    description:
      - ntuple rules that must steer to I(queue), in the shape of the ethtool_ntuple module
        (C(flow_type), C(dst_port), ...; C(action) defaults to I(queue)).
      - When omitted, at least one rule must point at I(queue).
    type: list
    elements: dict
  stats_path:
    description: The receiver's stats JSON. Default C(/run/floodgate/rx-INTERFACE-QUEUE.json).
    type: path
  sample_seconds:
    description:
      - The longest the sample window lasts. The window ends earlier, but not before I(min_seconds), as soon as the
        queue's counter and the receiver's stats have both risen by I(min_packets) and the receiver has rewritten
        its stats; a link still unproven at I(sample_seconds) is broken.
      - Longer than the receiver's stats interval (1 s), which a proof of the receiver waits for.
    type: float
    default: 3.0
  min_seconds:
    description:
      - The shortest the sample window lasts, so that the drop shares of the warnings are measured over at least
        the receiver's stats interval (1 s). Set it to I(sample_seconds) for a window of fixed length.
      - At most I(sample_seconds). Default 1, or I(sample_seconds) when that is shorter.
    type: float
  min_packets:
    description: Packets the queue and the receiver must each see during the window. 0 verifies an idle mitigation.
    type: int
    default: 1
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
notes:
  - Supports check mode (it never changes anything). Once links 1-4 hold it waits from I(min_seconds) to
    I(sample_seconds) - the window ends when its links are proven (about 1 s with a live receiver).
  - On veth (the lab) the per-queue counter is C(rx_queue_N_xdp_packets), which counts only while an XDP
    program is attached in native mode; the RSS table and ntuple rules there come from the lab's modelled
    ethtool front end.
seealso:
  - module: nic_facts
"""

EXAMPLES = r"""
- name: Verify the DNS flood on eth3 is taken by the netmap receiver on queue 4
  netmap_queue_check:
    interface: eth3
    queue: 4
    backend: netmap
    rules:
      - flow_type: udp4
        dst_port: 53
    sample_seconds: 5
    min_packets: 1000
  register: check

- name: Lab edge, AF_XDP receiver on queue 4, idle mitigation allowed
  netmap_queue_check:
    interface: eth1
    queue: 4
    backend: af_xdp
    min_packets: 0
"""

RETURN = r"""
ok:
  description: True when every link holds.
  returned: always
  type: bool
broken:
  description: Name of the first broken link (netmap, queue, rss, ntuple, nic_counter, receiver), or null.
  returned: always
  type: str
  sample: rss
links:
  description: The links checked, in order, up to and including the first broken one.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "queue", "ok": true, "detail": "queue 4 exists (16 RX queues)", "fix": ""}]
nic_packets:
  description: Packets the queue's NIC counter rose by during the window (null when not sampled).
  returned: always
  type: int
receiver_packets:
  description: Packets the receiver's stats rose by during the window (null when not sampled).
  returned: always
  type: int
receiver_missed:
  description: >-
    Frames of the queue the kernel dropped before the receiver read them during the window (its stats' C(missed));
    null when not sampled or when the receiver does not count them (netmap).
  returned: always
  type: int
nic_ring_drops:
  description: >-
    Frames the NIC dropped for want of a free receive descriptor during the window, over all its queues (ixgbe
    C(rx_no_dma_resources)); null when not sampled or when the driver has no such counter.
  returned: always
  type: int
window_seconds:
  description: How long the sample window lasted (null when not sampled).
  returned: always
  type: float
  sample: 1.02
receiver:
  description: The receiver's stats at the end of the window.
  returned: when sampled
  type: dict
stats_path:
  description: The receiver stats file read.
  returned: always
  type: str
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.nic_errors import fail, find_ethtool, run
from ansible.module_utils.floodgate.queue_check import (
    check_netmap,
    check_nic_counter,
    check_ntuple,
    check_queue_exists,
    check_receiver,
    check_rss_weight,
    nic_ring_drops,
    read_receiver_stats,
    receiver_missed,
)
from ansible.module_utils.floodgate.snapshot import gather_for_check
from ansible.module_utils.floodgate.stats import parse_stats, ring_drops, rx_packets


def _nic_stats(module: AnsibleModule, ethtool: str, iface: str) -> dict[str, int]:
    return parse_stats(run(module, ethtool, iface, "reading NIC statistics", "-S", iface))


# How often the window's end is checked: a read of the receiver's small stats file (ethtool only once it holds).
POLL_SECONDS = 0.1


def _sample(
    module: AnsibleModule, ethtool: str, stats_path: str
) -> tuple[dict[str, int], dict[str, int], dict[str, Any] | None, dict[str, Any] | None, float]:
    """The queue's and the receiver's counters at both ends of the window, and its length (seconds, to 0.01).

    The window lasts from min_seconds to sample_seconds: it ends at the first poll after min_seconds at which
    the receiver has rewritten its stats and both counters rose by min_packets (the links the caller checks
    then hold), else at sample_seconds. A NIC without a per-queue counter ends it at once (that link is broken
    whatever the wait)."""
    p = module.params
    iface, queue, backend, min_packets = p["interface"], p["queue"], p["backend"], p["min_packets"]
    start = time.monotonic()
    stats_before = _nic_stats(module, ethtool, iface)
    rx_before = read_receiver_stats(stats_path)
    earliest, deadline = start + p["min_seconds"], start + p["sample_seconds"]
    nic_before = rx_packets(stats_before, queue)
    while True:
        now = time.monotonic()
        if nic_before is None or now >= deadline:
            break
        if now >= earliest:
            rx_after = read_receiver_stats(stats_path)
            if check_receiver(stats_path, iface, queue, backend, rx_before, rx_after, min_packets)[0]["ok"]:
                stats_after = _nic_stats(module, ethtool, iface)
                nic_after = rx_packets(stats_after, queue)
                if check_nic_counter(iface, queue, nic_before, nic_after, 0, min_packets)[0]["ok"]:
                    return stats_before, stats_after, rx_before, rx_after, round(time.monotonic() - start, 2)
        wake = min(deadline, now + POLL_SECONDS if now >= earliest else earliest)
        time.sleep(max(0.0, wake - now))
    stats_after = _nic_stats(module, ethtool, iface)
    rx_after = read_receiver_stats(stats_path)
    return stats_before, stats_after, rx_before, rx_after, round(time.monotonic() - start, 2)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True, "aliases": ["name"]},
            "queue": {"type": "int", "required": True},
            "backend": {"type": "str", "choices": ["netmap", "af_xdp"], "default": "netmap"},
            "rules": {"type": "list", "elements": "dict"},
            "stats_path": {"type": "path"},
            "sample_seconds": {"type": "float", "default": 3.0},
            "min_seconds": {"type": "float"},
            "min_packets": {"type": "int", "default": 1},
            "ethtool_path": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    iface, queue, backend = p["interface"], p["queue"], p["backend"]
    if queue < 0 or p["sample_seconds"] <= 0 or p["min_packets"] < 0:
        module.fail_json(
            msg="queue and min_packets must be >= 0 and sample_seconds > 0. Nothing was checked."
        )
    if p["min_seconds"] is None:
        p["min_seconds"] = min(1.0, p["sample_seconds"])
    if not 0 <= p["min_seconds"] <= p["sample_seconds"]:
        module.fail_json(
            msg=f"min_seconds ({p['min_seconds']:g}) must be from 0 to sample_seconds ({p['sample_seconds']:g}): "
            "it is the shortest window, sample_seconds the longest. Nothing was checked."
        )
    stats_path = p["stats_path"] or f"/run/floodgate/rx-{iface}-{queue}.json"
    result: dict[str, Any] = {
        "changed": False,
        "ok": False,
        "broken": None,
        "links": [],
        "nic_packets": None,
        "receiver_packets": None,
        "receiver_missed": None,
        "nic_ring_drops": None,
        "window_seconds": None,
        "stats_path": stats_path,
    }

    def finish(new: dict[str, Any]) -> bool:
        """Record a link; on a broken one, fail with it. Returns True to continue."""
        result["links"].append(new)
        if new["ok"]:
            return True
        result["broken"] = new["name"]
        module.fail_json(
            msg=f"{iface} queue {queue}: '{new['name']}' is broken: {new['detail']}. What to do: {new['fix']}.",
            **result,
        )
        return False

    ethtool = find_ethtool(module, p["ethtool_path"])
    try:
        try:
            nic = gather_for_check(module, ethtool, iface, queue)
        except ValueError as err:  # output a parser does not understand: say which, check nothing further
            module.fail_json(
                msg=f"{iface}: cannot read ethtool output ({err}). Nothing was checked.", **result
            )
        finish(check_netmap(nic["netmap"], backend))
        finish(check_queue_exists(nic, queue))
        finish(check_rss_weight(nic, queue))
        try:
            finish(check_ntuple(nic, queue, p["rules"]))
        except ValueError as err:  # a malformed expected rule
            module.fail_json(msg=f"rules: {err}. Nothing was checked beyond the RSS table.", **result)
        stats_before, stats_after, rx_before, rx_after, window = _sample(module, ethtool, stats_path)
    except EthtoolError as err:
        fail(module, err, interface=iface, **result)
        return
    result["window_seconds"] = window
    counter, result["nic_packets"] = check_nic_counter(
        iface,
        queue,
        rx_packets(stats_before, queue),
        rx_packets(stats_after, queue),
        window,
        p["min_packets"],
    )
    finish(counter)
    result["receiver"] = rx_after
    receiver, result["receiver_packets"] = check_receiver(
        stats_path, iface, queue, backend, rx_before, rx_after, p["min_packets"]
    )
    finish(receiver)
    # Two stages, each with its own warning: the NIC's ring (netmap's, or the one AF_XDP's driver fills) and the
    # AF_XDP socket's ring behind it.
    result["nic_ring_drops"], nic_warning = nic_ring_drops(
        iface,
        queue,
        ring_drops(stats_before),
        ring_drops(stats_after),
        result["nic_packets"],
        window,
    )
    result["receiver_missed"], rx_warning = receiver_missed(iface, queue, rx_before, rx_after, window)
    for warning in (nic_warning, rx_warning):
        if warning:
            module.warn(warning)
    result["ok"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
