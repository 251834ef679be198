#!/usr/bin/python
"""Ansible module ethtool_rxfh: read and set the RSS indirection table with ethtool -x/-X."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ethtool_rxfh
short_description: Read and set the RSS indirection table of a NIC (ethtool -x / -X)
description:
  - Reads the RSS indirection table with C(ethtool -x) and, when asked, rewrites it with
    C(ethtool -X IFACE [start S] weight W0 W1 ...) or C(ethtool -X IFACE [start S] equal N).
  - Predicts the table the kernel will hold with the same integer arithmetic as ethtool's own
    C(fill_indir_table) (checked against the real ethtool 6.1 binary for 64, 128 and 512-entry tables), so a
    second run with the same arguments reports no change.
  - ethtool cannot load an arbitrary table. An explicit I(table) is accepted only when it is one that
    C(weight) or C(equal) arguments build exactly (every table this module, ethtool or the kernel default
    writes); the module finds those arguments, or fails without changing anything.
  - Returns the table before and after, and I(restore) - the arguments that rebuild the previous table.
  - Refuses, before running C(ethtool -X), weights for queues the NIC does not have, all-zero weights and
    weights whose total exceeds the table size; fails with the command and what to do when the driver
    has no C(-x)/C(-X) support (for example veth), and changes nothing.
  - After C(ethtool -X) the table is read back; if the kernel holds a different table the previous one is
    restored and the module fails.
version_added: "0.1.0"
author: floodgate
options:
  interface:
    description: Interface name, as in C(ip link).
    type: str
    required: true
    aliases: [name]
  weights:
    description:
      - One weight per RX queue (from I(start)); queue N gets about size * weight / sum entries, a weight of
        0 takes the queue out of RSS. Use the C(rss_weights) filter, e.g. C({{ 8 | rss_weights(exclude=[4]) }}).
      - Mutually exclusive with I(equal) and I(table). Leave all three out to only read the table.
    type: list
    elements: int
  equal:
    description: Spread the table evenly over this many queues (from I(start)), like C(ethtool -X equal N).
    type: int
  table:
    description:
      - The full table wanted, one queue per entry (as returned in I(before)); must be one that C(weight) or
        C(equal) arguments build. Used to restore a saved table.
    type: list
    elements: int
  start:
    description: First queue that I(weights)/I(equal) refer to (ethtool's C(start)).
    type: int
    default: 0
  current:
    description:
      - The RSS table as the caller read it earlier in the same run, with nothing changed on the NIC since that could
        change it (e.g. the pre-flight's C(floodgate_host_facts) result C(nic.rxfh)), with C(ring_count) and C(table).
        Used instead of reading C(ethtool -x) first (one ethtool run less); the table is still read back after any
        change. Omitted or empty, the module reads.
    type: dict
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
notes:
  - Needs root (CAP_NET_ADMIN) to change the table.
  - Supports check mode (reports the command and the predicted table) and diff mode (the table as ethtool
    prints it, before and after).
seealso:
  - module: ethtool_ntuple
  - module: nic_facts
"""

EXAMPLES = r"""
- name: Take RX queue 4 out of RSS on an 8-queue NIC
  ethtool_rxfh:
    interface: eth3
    weights: "{{ 8 | rss_weights(exclude=[4]) }}"
  register: rss

- name: Put the table back as it was
  ethtool_rxfh:
    interface: eth3
    weights: "{{ rss.restore.weights | default(omit) }}"
    equal: "{{ rss.restore.equal | default(omit) }}"
    start: "{{ rss.restore.start | default(omit) }}"

- name: Only read the table
  ethtool_rxfh:
    interface: eth3
  register: current
"""

RETURN = r"""
interface:
  description: The interface.
  returned: always
  type: str
ring_count:
  description: RX rings (queues) the NIC reports for RSS.
  returned: always
  type: int
  sample: 16
size:
  description: Number of entries in the indirection table.
  returned: always
  type: int
  sample: 128
before:
  description: The table before the task, one queue number per entry.
  returned: always
  type: list
  elements: int
after:
  description: The table after the task (in check mode, the predicted table).
  returned: always
  type: list
  elements: int
restore:
  description:
    - Arguments for this module that rebuild I(before) (C({weights:[...]}), C({equal:N}) or
      C({equal:N, start:S})), or null when I(before) is not a table ethtool can build (then the module warns).
  returned: always
  type: dict
  sample: {equal: 16}
cmd:
  description: The ethtool -X command run (or, in check mode, that would run); empty when nothing changes.
  returned: always
  type: str
  sample: ethtool -X eth3 weight 1 1 1 1 0 1 1 1
"""

import shlex
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.nic_errors import fail, find_ethtool, run
from ansible.module_utils.floodgate.rxfh import (
    RxfhError,
    check_weights,
    equal_table,
    format_table,
    parse_rxfh,
    spec_args,
    table_to_spec,
    weights_to_table,
)

UNSUPPORTED_HINT = (
    " A NIC needs RSS with a writable indirection table (ixgbe, i40e, ice, mlx5, ...) for single-queue"
    " steering; in the lab, run against an edge host, whose ethtool front end models it."
)


def _restore(table: list[int]) -> dict[str, Any] | None:
    spec = table_to_spec(table)
    if spec is None:
        return None
    kind, values = spec
    if kind == "equal":
        return {"equal": values[0], **({"start": values[1]} if len(values) > 1 else {})}
    return {"weights": list(values)}


def _wanted(module: AnsibleModule, iface: str, rings: int, size: int) -> tuple[list[int], list[str]] | None:
    """(predicted table, ethtool -X arguments after IFACE), or None when nothing is requested."""
    p = module.params
    start: int = p["start"]
    try:
        if start < 0:
            raise RxfhError(f"start must be >= 0, not {start}")
        if p["weights"] is not None:
            weights = list(p["weights"])
            if start + len(weights) > rings:
                raise RxfhError(
                    f"weights has {len(weights)} entries from queue {start}, but {iface} has {rings} RX rings "
                    f"(queues 0..{rings - 1}): give at most {rings - start} weights (e.g. "
                    f"'{{{{ {rings} | rss_weights(exclude=[N]) }}}}')"
                )
            check_weights(weights, size)
            args = (["start", str(start)] if start else []) + spec_args(("weight", weights))
            return weights_to_table(weights, size, start), args
        if p["equal"] is not None:
            count = p["equal"]
            if not 1 <= count <= rings - start:
                raise RxfhError(
                    f"equal must be 1..{rings - start} for {iface} ({rings} RX rings, start {start}), not {count}"
                )
            args = (["start", str(start)] if start else []) + ["equal", str(count)]
            return equal_table(count, size, start), args
        if p["table"] is not None:
            table = list(p["table"])
            if len(table) != size:
                raise RxfhError(
                    f"table has {len(table)} entries but the indirection table of {iface} has {size}"
                )
            bad = sorted({q for q in table if not 0 <= q < rings})
            if bad:
                raise RxfhError(
                    f"table names queue {', '.join(map(str, bad))}, but {iface} has queues 0..{rings - 1}"
                )
            spec = table_to_spec(table)
            if spec is None:
                raise RxfhError(
                    "ethtool cannot load an arbitrary table and no 'weight' or 'equal' arguments build this one "
                    "(queues must be in ascending runs, or follow i % N); give weights or equal instead"
                )
            return table, spec_args(spec)
    except RxfhError as err:
        module.fail_json(
            msg=f"{iface}: {err}. No 'ethtool -X' was run; nothing was changed.",
            interface=iface,
            ring_count=rings,
            size=size,
        )
    return None


def _read(module: AnsibleModule, ethtool: str, iface: str, what: str) -> dict[str, Any]:
    try:
        parsed = parse_rxfh(run(module, ethtool, iface, what, "-x", iface))
    except EthtoolError as err:
        if "not supported" in f"{err.stderr}{err.stdout}".lower():
            err.hint += UNSUPPORTED_HINT
        fail(module, err, interface=iface)
        raise  # unreachable: fail_json exits
    except RxfhError as err:
        module.fail_json(
            msg=f"cannot read '{ethtool} -x {iface}': {err}. Nothing was changed.", interface=iface
        )
        raise
    if not parsed["table"] or not parsed["ring_count"]:
        module.fail_json(
            msg=f"'{ethtool} -x {iface}' shows no indirection table: the driver of {iface} does not expose RSS. "
            f"Nothing was changed.{UNSUPPORTED_HINT}",
            interface=iface,
        )
    return parsed


def _given(module: AnsibleModule, iface: str) -> dict[str, Any] | None:
    """`current` as _read returns a table, checked; None when not given."""
    given = module.params["current"]
    if not given:
        return None
    table, rings = given.get("table"), given.get("ring_count")
    ok = (
        isinstance(table, list)
        and table
        and all(isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in table)
        and isinstance(rings, int)
        and not isinstance(rings, bool)
        and rings > max(table)
    )
    if not ok:
        module.fail_json(
            msg=f"{iface}: current must be the RSS table as read (ring_count, and a table of queues below it), "
            f"not {given!r}. Nothing was changed.",
            interface=iface,
        )
    return {"table": list(table), "ring_count": rings}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True, "aliases": ["name"]},
            "weights": {"type": "list", "elements": "int"},
            "equal": {"type": "int"},
            "table": {"type": "list", "elements": "int"},
            "start": {"type": "int", "default": 0},
            "current": {"type": "dict"},
            "ethtool_path": {"type": "str"},
        },
        mutually_exclusive=[("weights", "equal", "table")],
        supports_check_mode=True,
    )
    iface: str = module.params["interface"]
    ethtool = find_ethtool(module, module.params["ethtool_path"])
    current = _given(module, iface) or _read(module, ethtool, iface, "reading the RSS indirection table")
    before: list[int] = current["table"]
    rings: int = current["ring_count"]
    result: dict[str, Any] = {
        "changed": False,
        "interface": iface,
        "ring_count": rings,
        "size": len(before),
        "before": before,
        "after": before,
        "restore": _restore(before),
        "cmd": "",
    }
    if result["restore"] is None:
        module.warn(
            f"the current RSS table of {iface} is not one ethtool can rebuild: it cannot be restored exactly"
        )
    wanted = _wanted(module, iface, rings, len(before))
    if wanted is None or wanted[0] == before:
        module.exit_json(**result)
    predicted, args = wanted
    argv = [ethtool, "-X", iface, *args]
    result.update(changed=True, cmd=shlex.join(argv), after=predicted)
    if module._diff:
        result["diff"] = {
            "before_header": f"ethtool -x {iface} (before)",
            "after_header": f"ethtool -x {iface} (after {shlex.join(argv[1:])})",
            "before": format_table(before),
            "after": format_table(predicted),
        }
    if module.check_mode:
        module.exit_json(**result)
    try:
        run(module, ethtool, iface, "writing the RSS indirection table", *argv[1:])
    except EthtoolError as err:
        if "not supported" in f"{err.stderr}{err.stdout}".lower():
            err.hint += UNSUPPORTED_HINT
        fail(module, err, interface=iface, before=before)
    after = _read(module, ethtool, iface, "re-reading the RSS indirection table")["table"]
    result["after"] = after
    if after != predicted:
        _put_back(module, ethtool, iface, before, after, predicted, result)
    module.exit_json(**result)


def _put_back(
    module: AnsibleModule,
    ethtool: str,
    iface: str,
    before: list[int],
    after: list[int],
    predicted: list[int],
    result: dict[str, Any],
) -> None:
    """The kernel holds a table ethtool's arithmetic did not predict: restore the old one and fail."""
    spec = table_to_spec(before)
    restored = "the previous table could not be rebuilt by ethtool; it is NOT restored"
    if spec is not None:
        try:
            run(module, ethtool, iface, "restoring the RSS indirection table", "-X", iface, *spec_args(spec))
            restored = (
                f"the previous table was restored with 'ethtool -X {iface} {shlex.join(spec_args(spec))}'"
            )
        except EthtoolError as err:
            restored = f"restoring the previous table failed too: {err.message}"
    differ = [i for i, (a, b) in enumerate(zip(after, predicted, strict=False)) if a != b]
    module.fail_json(
        msg=f"{iface}: after '{result['cmd']}' the kernel holds a different table than ethtool's arithmetic "
        f"predicts (first difference at entry {differ[0] if differ else len(predicted)}); {restored}. "
        "Check the driver's indirection table size and ring count with 'ethtool -x'.",
        **{**result, "changed": spec is None, "after": after, "predicted": predicted},
    )


if __name__ == "__main__":
    main()
