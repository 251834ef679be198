#!/usr/bin/python
"""Ansible module nic_facts: one snapshot of everything floodgate touches on a NIC."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nic_facts
short_description: Snapshot a NIC's driver, queues, offloads, RSS table, ntuple rules, counters and IRQs
description:
  - Reads, without changing anything, everything floodgate changes or watches on one interface
    and returns it as C(nic); the part that unmitigate restores is returned as C(restorable).
  - Driver and firmware (C(ethtool -i)), channel counts (C(ethtool -l)), offload features (C(ethtool -k)),
    the RSS indirection table (C(ethtool -x)), ntuple rules (C(ethtool -n)), per-queue packet counters
    (C(ethtool -S)), the IRQ of each queue with its CPU affinity (C(/proc/interrupts),
    C(/proc/irq/N/smp_affinity_list)) and netmap presence (C(/dev/netmap), C(/sys/module/netmap)).
  - What the driver does not support is reported as absent, not as an error; C(rxfh) is null and
    C(ntuple.supported) false on drivers without them (veth).
  - Fails, with a message naming the interface, the command and what to do, when the interface does not
    exist or ethtool is missing.
version_added: "0.1.0"
author: floodgate
options:
  interface:
    description: Interface name, as in C(ip link).
    type: str
    required: true
    aliases: [name]
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
  expect_restorable:
    description:
      - The C(restorable) state the NIC must be in (e.g. a snapshot's, after a restore). The task fails,
        after the same read, when the read differs; C(differ) then names each part that differs, with its
        value now and the expected one. One call for the read and the check (no C(assert) task per host).
    type: dict
  mismatch_msg:
    description:
      - >-
        The failure message when the read differs from I(expect_restorable). C({differ}) in it is replaced
        by each part that differs, as C(KEY: now VALUE, snapshot VALUE; ).
    type: str
    default: "The NIC differs from the expected state: {differ}"
notes:
  - Per-queue counters use the driver's own names (ixgbe C(rx_queue_N_packets), i40e C(rx-N.packets),
    mlx5 C(rxN_packets), veth C(rx_queue_N_xdp_packets), which counts only while an XDP program is
    attached in native mode).
  - Sets the fact C(floodgate_nic) to the snapshot, as well as returning it.
  - Supports check mode (it never changes anything).
seealso:
  - module: ethtool_features
  - module: netmap_queue_check
"""

EXAMPLES = r"""
- name: Record the NIC before a mitigation
  nic_facts:
    interface: eth3
  register: before

- name: Save what unmitigate restores
  ansible.builtin.copy:
    content: "{{ before.restorable | to_nice_json }}"
    dest: /var/lib/floodgate/eth3.json
    mode: "0600"

- name: Read the NIC after a restore and fail unless it is back to the snapshot
  nic_facts:
    interface: eth3
    expect_restorable: "{{ snapshot.restorable }}"
    mismatch_msg: "eth3 is not back to its snapshot: {differ}"

- name: Queue 4 must exist
  ansible.builtin.assert:
    that: before.nic.queue_stats.rx['4'] is defined
"""

RETURN = r"""
nic:
  description: The snapshot.
  returned: success
  type: dict
  contains:
    interface:
      description: The interface.
      type: str
      sample: eth3
    driver:
      description: C(ethtool -i) fields; null where the driver prints none.
      type: dict
      sample: {"driver": "ixgbe", "version": "6.1.0-18-amd64", "firmware_version": "0x61bf0001", "bus_info": "0000:03:00.1"}
    channels:
      description: C(ethtool -l) counts (rx, tx, other, combined, max_*); null entries mean n/a. Null when unsupported.
      type: dict
      sample: {"combined": 16, "max_combined": 63, "rx": null, "max_rx": null, "tx": null, "max_tx": null, "other": 1, "max_other": 1}
    features:
      description: Every offload feature by C(ethtool -k) name.
      type: dict
      sample: {"generic-receive-offload": {"on": true, "fixed": false}}
    rxfh:
      description: RSS indirection table, or null when the driver has none.
      type: dict
      sample: {"ring_count": 16, "table": [0, 1, 2], "hash_key": "3c:a5:...", "hash_funcs": {"toeplitz": true}}
    ntuple:
      description: ntuple (flow director) state and rules; C(supported) false when C(ethtool -n) is not supported.
      type: dict
      sample: {"supported": true, "enabled": true, "rule_count": 1, "table_size": null, "rules": [{"id": 2045, "flow_type": "udp4", "dst_port": 53, "action": 4}]}
    queue_stats:
      description: Packet counter of each queue, by direction and queue number (string keys).
      type: dict
      sample: {"rx": {"0": 1234, "4": 99}, "tx": {"0": 42}}
    irqs:
      description: The IRQ of each queue and its CPU affinity list; empty for virtual NICs.
      type: list
      elements: dict
      sample: [{"queue": 4, "irq": 67, "name": "eth3-TxRx-4", "affinity_list": "4"}]
    netmap:
      description: Whether /dev/netmap exists and the netmap module is loaded (and its version).
      type: dict
      sample: {"device": false, "module": false, "version": null}
restorable:
  description:
    - The subset unmitigate restores - changeable kernel features (not aggregates, not [fixed]), the RSS
      table, ntuple rules, IRQ affinities. Null parts were not readable on this driver.
  returned: success
  type: dict
  sample: {"interface": "eth3", "features": {"rx-gro": true}, "rxfh": {"table": [0, 1]}, "ntuple": {"rules": []}, "irq_affinity": {"67": "4"}}
differ:
  description: With I(expect_restorable), the parts of C(restorable) that differ from it (empty when none does).
  returned: when I(expect_restorable) is given
  type: list
  elements: str
  sample: ["features"]
"""

import json
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.snapshot import gather_or_fail, restorable


def differ_from(now: dict[str, Any], expected: dict[str, Any]) -> tuple[list[str], str]:
    """The parts whose value differs between `now` and `expected` (one side lacking a part included), and the
    text that says how (as the check's message did).

    Both sides are compared as JSON data (a snapshot is read back from JSON: lists, not tuples).
    """
    now = json.loads(json.dumps(now))
    # a part only one side has (a snapshot from another version): its absent side is shown as None
    keys = [key for key in expected if now.get(key) != expected[key]]
    keys += [key for key in now if key not in expected]
    text = "".join(f"{key}: now {now.get(key)}, snapshot {expected.get(key)}; " for key in keys)
    return keys, text


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True, "aliases": ["name"]},
            "ethtool_path": {"type": "str"},
            "expect_restorable": {"type": "dict"},
            "mismatch_msg": {"type": "str", "default": "The NIC differs from the expected state: {differ}"},
        },
        supports_check_mode=True,
    )
    iface: str = module.params["interface"]
    nic: dict[str, Any] = gather_or_fail(module, module.params["ethtool_path"], iface)
    result: dict[str, Any] = {
        "changed": False,
        "nic": nic,
        "restorable": restorable(nic),
        "ansible_facts": {"floodgate_nic": nic},
    }
    expected = module.params["expect_restorable"]
    if expected is not None:
        keys, text = differ_from(result["restorable"], expected)
        result["differ"] = keys
        if keys:
            module.fail_json(msg=module.params["mismatch_msg"].replace("{differ}", text), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
