#!/usr/bin/python
"""Ansible module ethtool_ntuple: manage ntuple / flow-director rules with ethtool -n/-N."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ethtool_ntuple
short_description: Manage ntuple (flow director) steering rules of a NIC (ethtool -n / -N)
description:
  - Reads the NIC's rules with C(ethtool -n), compares each requested rule with them, and adds the missing
    ones with C(ethtool -N IFACE flow-type ... action ...) (I(state=present)) or deletes the matching ones
    with C(ethtool -N IFACE delete ID) (I(state=absent)). Re-runs change nothing.
  - Rules match on flow type (udp4, tcp4, udp6, tcp6), source/destination IP with mask or prefix,
    source/destination port and action. Rules on the NIC with other fields (VLAN, user-defined, ...) are
    never taken for a requested rule and never touched.
  - Every rule is validated before ethtool runs (IP family against flow type, ports, masks, queue number
    against the NIC's RX rings); a bad rule fails the task with nothing changed.
  - When an insert fails (rule table full, driver refusal) the rules this task already added are deleted
    again and the task fails with ethtool's message and what to do. ethtool 6.1 exits 0 on some of these
    failures; the module reads its error text and re-reads the table, so they are not missed.
  - Optionally turns the C(ntuple) feature on first (C(ethtool -K IFACE ntuple on)); a NIC where it is
    C(off [fixed]) has no ntuple support and the task fails saying so.
version_added: "0.1.0"
author: floodgate
options:
  interface:
    description: Interface name, as in C(ip link).
    type: str
    required: true
    aliases: [name]
  rules:
    description:
      - The rules. Each is a dict with C(flow_type) (udp4, tcp4, udp6, tcp6), optional C(src_ip), C(dst_ip)
        (address or prefix, e.g. C(198.51.100.0/24)), C(src_ip_mask), C(dst_ip_mask) (ethtool's ignore-mask,
        1 bits are not compared), C(src_port), C(dst_port), C(src_port_mask), C(dst_port_mask), C(action)
        (queue number or C(drop)) and optional C(location).
      - The C(flow_spec) filter builds rules from C(udp:53@198.51.100.0/24); add C(action) with C(combine).
      - With I(state=absent) C(action) may be left out to delete matching rules whatever their action.
    type: list
    elements: dict
    default: []
  state:
    description: Whether the rules should be on the NIC.
    type: str
    choices: [present, absent]
    default: present
  locations:
    description:
      - With I(state=absent), rule ids (locations) to delete whatever they match, e.g. the C(added) list a
        mitigation recorded, so rules that were on the NIC before stay. Not allowed with I(state=present).
    type: list
    elements: int
    default: []
  enable_ntuple:
    description: Turn the C(ntuple) feature on (C(ethtool -K IFACE ntuple on)) before adding rules.
    type: bool
    default: false
  current:
    description:
      - What the caller read of the NIC earlier in the same run, with nothing changed on it since that could change
        the rules or the ntuple feature (e.g. the pre-flight's C(floodgate_host_facts) result), with C(ring_count) (RX
        rings), C(rules) (as C(nic.ntuple.rules)) and, for I(enable_ntuple), C(feature) (C(on) and C(fixed) of
        C(nic.features.ntuple-filters)). Used instead of reading C(ethtool -k) and C(ethtool -n) first (one or two ethtool runs
        less); the rules are still read back after any change. Omitted or empty, the module reads.
    type: dict
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
notes:
  - Needs root (CAP_NET_ADMIN).
  - Supports check mode (the exact ethtool commands it would run) and diff mode (the rules, one per line).
  - With no C(location) the driver or ethtool chooses one (ixgbe - the highest free slot); I(locations)
    returns it.
seealso:
  - module: ethtool_rxfh
  - module: ethtool_features
"""

EXAMPLES = r"""
- name: Steer the DNS flood to RX queue 4
  ethtool_ntuple:
    interface: eth3
    enable_ntuple: true
    rules: "{{ 'udp:53' | flow_spec | map('combine', {'action': 4}) | list }}"
  register: steering

- name: Remove exactly the rules this mitigation added (rules that were already there stay)
  ethtool_ntuple:
    interface: eth3
    state: absent
    locations: "{{ steering.added }}"

- name: Drop NTP reflection from one prefix in hardware
  ethtool_ntuple:
    interface: eth3
    rules:
      - flow_type: udp4
        src_ip: 203.0.113.0/24
        src_port: 123
        action: drop
"""

RETURN = r"""
interface:
  description: The interface.
  returned: always
  type: str
locations:
  description:
    - State present - the rule id (location) of each requested rule, in order (added or already there; in check
      mode null for rules that would be added without a location). State absent - the ids deleted.
  returned: always
  type: list
  elements: int
  sample: [2045]
added:
  description: Ids of the rules this task added.
  returned: always
  type: list
  elements: int
deleted:
  description: The rules this task deleted, as parsed from C(ethtool -n) (with C(id)).
  returned: always
  type: list
  elements: dict
rules:
  description: The requested rules in canonical form (host bits cleared, masks as ethtool prints them).
  returned: always
  type: list
  elements: dict
before:
  description: The rules on the NIC before the task (parsed C(ethtool -n); C(action) -1 is drop).
  returned: always
  type: list
  elements: dict
after:
  description: The rules on the NIC after the task (in check mode, predicted).
  returned: always
  type: list
  elements: dict
commands:
  description: The ethtool commands run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ["ethtool -N eth3 flow-type udp4 dst-port 53 action 4"]
ntuple_enabled:
  description: True when this task turned the C(ntuple) feature on (restore turns it off again).
  returned: always
  type: bool
ring_count:
  description: RX rings the NIC reports.
  returned: always
  type: int
"""

import shlex
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.nic_errors import fail, find_ethtool, run
from ansible.module_utils.floodgate.ntuple import (
    NtupleError,
    check_queue,
    describe,
    normalize_rule,
    ntuple_feature,
    parse_added_id,
    parse_ntuple_header,
    parse_ntuple_rules,
    rule_matches,
    rule_to_args,
)

NO_NTUPLE = (
    "{iface} has no ntuple support (NIC without ntuple/flow-director filters, or a driver that does not "
    "expose them): single-queue steering needs a NIC such as ixgbe, i40e, ice or mlx5; in the lab, run "
    "against an edge host, whose ethtool front end models it"
)
_INSERT_FAILED = ("cannot insert", "cannot find appropriate slot", "bad command line")
_TABLE_FULL = ("no space left on device", "cannot find appropriate slot")


class InsertError(Exception):
    def __init__(self, cmd: list[str], rc: int, out: str, err: str) -> None:
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err
        super().__init__((err or out).strip() or f"exit code {rc}")


def _insert(module: AnsibleModule, argv: list[str]) -> int | None:
    """Run one `ethtool -N ... flow-type ...`; return the id ethtool reports (None if it chose none).

    ethtool 6.1 exits 0 when the driver refuses a rule at a given location ("rmgr: Cannot insert RX class
    rule: ..."), so stderr is read as well as the exit code.
    """
    rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
    if rc != 0 or any(s in f"{err}\n{out}".lower() for s in _INSERT_FAILED):
        raise InsertError(argv, rc, out, err)
    return parse_added_id(out)


def _read_rules(
    module: AnsibleModule, ethtool: str, iface: str, what: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        text = run(module, ethtool, iface, what, "-n", iface)
        return parse_ntuple_header(text), parse_ntuple_rules(text)
    except EthtoolError as err:
        if "not supported" in f"{err.stderr}{err.stdout}".lower():
            err.hint = f"{NO_NTUPLE.format(iface=iface)}. Nothing was changed."
        fail(module, err, interface=iface)
        raise
    except NtupleError as err:
        module.fail_json(
            msg=f"cannot read '{ethtool} -n {iface}': {err}. Nothing was changed.", interface=iface
        )
        raise


def _lines(rules: list[dict[str, Any]]) -> str:
    """One line per rule, by id; rules still without an id (check mode) last, marked as new."""

    def key(rule: dict[str, Any]) -> int:
        return rule["id"] if rule.get("id") is not None else 1 << 32

    out = []
    for rule in sorted(rules, key=key):
        if rule.get("id") is None:
            out.append(
                f"{describe({k: v for k, v in rule.items() if k != 'id'})} (new, id chosen by the driver)\n"
            )
        else:
            out.append(f"{describe(rule)}\n")
    return "".join(out)


def _given(module: AnsibleModule, iface: str, need_feature: bool) -> dict[str, Any] | None:
    """`current`, checked: {'ring_count', 'rules', 'feature': (on, fixed) or None}; None when not given."""
    given = module.params["current"]
    if not given:
        return None
    rings, rules, feature = given.get("ring_count"), given.get("rules"), given.get("feature")
    ok = (
        isinstance(rings, int)
        and not isinstance(rings, bool)
        and rings > 0
        and isinstance(rules, list)
        and all(isinstance(r, dict) and isinstance(r.get("id"), int) for r in rules)
        and (
            not need_feature
            or (isinstance(feature, dict) and all(isinstance(feature.get(k), bool) for k in ("on", "fixed")))
        )
    )
    if not ok:
        module.fail_json(
            msg=f"{iface}: current must be the NIC as read (ring_count, rules with their ids"
            f"{', feature with on and fixed' if need_feature else ''}), not {given!r}. Nothing was changed.",
            interface=iface,
        )
    return {
        "ring_count": rings,
        "rules": [dict(r) for r in rules],
        "feature": (feature["on"], feature["fixed"])
        if isinstance(feature, dict) and "on" in feature
        else None,
    }


def _feature_step(
    module: AnsibleModule, ethtool: str, iface: str, known: tuple[bool, bool] | None = None
) -> list[str]:
    """The `-K ntuple on` command needed (empty if ntuple is on); fails for NICs without ntuple. `known`: the
    feature's (on, fixed) as the caller read it (no -k run)."""
    if known is not None:
        state: tuple[bool, bool] | None = known
    else:
        try:
            state = ntuple_feature(run(module, ethtool, iface, "reading offload features", "-k", iface))
        except EthtoolError as err:
            fail(module, err, interface=iface)
            raise
    if state is None or (state[1] and not state[0]):
        why = "ntuple-filters is 'off [fixed]'" if state else "there is no ntuple-filters feature"
        module.fail_json(
            msg=f"{NO_NTUPLE.format(iface=iface)} ('{ethtool} -k {iface}': {why}). Nothing was changed.",
            interface=iface,
            cmd=f"{ethtool} -k {iface}",
        )
    return [] if state[0] else [ethtool, "-K", iface, "ntuple", "on"]


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True, "aliases": ["name"]},
            "rules": {"type": "list", "elements": "dict", "default": []},
            "locations": {"type": "list", "elements": "int", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "enable_ntuple": {"type": "bool", "default": False},
            "current": {"type": "dict"},
            "ethtool_path": {"type": "str"},
        },
        supports_check_mode=True,
    )
    iface: str = module.params["interface"]
    present = module.params["state"] == "present"
    if present and module.params["locations"]:
        module.fail_json(msg=f"{iface}: locations is for state=absent; give rules (with location) instead.")
    if not module.params["rules"] and not module.params["locations"]:
        module.fail_json(msg=f"{iface}: give rules (or, with state=absent, locations). Nothing was changed.")
    wanted: list[dict[str, Any]] = []
    for index, rule in enumerate(module.params["rules"]):
        try:
            wanted.append(normalize_rule(rule, require_action=present))
        except NtupleError as err:
            module.fail_json(
                msg=f"{iface}: rules[{index}] {rule!r}: {err}. Nothing was changed.", interface=iface
            )
    ethtool = find_ethtool(module, module.params["ethtool_path"])
    given = _given(module, iface, module.params["enable_ntuple"] and present)
    feature_cmd = (
        _feature_step(module, ethtool, iface, given["feature"] if given else None)
        if module.params["enable_ntuple"] and present
        else []
    )
    if given:
        rings, before = given["ring_count"], given["rules"]
    else:
        header, before = _read_rules(module, ethtool, iface, "reading ntuple rules")
        rings = header["ring_count"]
    result: dict[str, Any] = {
        "changed": False,
        "interface": iface,
        "ring_count": rings,
        "rules": wanted,
        "before": before,
        "after": before,
        "locations": [],
        "added": [],
        "deleted": [],
        "commands": [],
        "ntuple_enabled": False,
    }
    if present:
        _present(module, ethtool, iface, wanted, before, feature_cmd, result)
    else:
        _absent(module, ethtool, iface, wanted, set(module.params["locations"]), before, result)


def _present(
    module: AnsibleModule,
    ethtool: str,
    iface: str,
    wanted: list[dict[str, Any]],
    before: list[dict[str, Any]],
    feature_cmd: list[str],
    result: dict[str, Any],
) -> None:
    claimed: set[int] = set()
    plan: list[tuple[int, dict[str, Any]]] = []  # (index in wanted, rule) to add
    locations: list[int | None] = []
    for index, rule in enumerate(wanted):
        try:
            check_queue(rule, result["ring_count"])
        except NtupleError as err:
            module.fail_json(
                msg=f"{iface}: rules[{index}] ({describe(rule)}): {err}. Check the queue with 'ethtool -l {iface}'. "
                "Nothing was changed.",
                interface=iface,
            )
        match = next((r for r in before if r["id"] not in claimed and rule_matches(r, rule)), None)
        if match is not None:
            claimed.add(match["id"])
            locations.append(match["id"])
            continue
        loc = rule.get("location")
        holder = next((r for r in before if loc is not None and r["id"] == loc), None)
        if holder is not None:
            module.fail_json(
                msg=f"{iface}: rules[{index}] wants location {loc}, which holds a different rule "
                f"({describe(holder)}); floodgate does not overwrite rules it did not make. Delete that rule "
                f"('ethtool -N {iface} delete {loc}') or give another location. Nothing was changed.",
                interface=iface,
            )
        plan.append((index, rule))
        locations.append(loc)
    commands = [shlex.join(feature_cmd)] if feature_cmd else []
    commands += [shlex.join([ethtool, "-N", iface, *rule_to_args(rule)]) for _, rule in plan]
    result.update(commands=commands, locations=locations, changed=bool(commands))
    if module.check_mode or not commands:
        result["after"] = before + [{**r, "id": r.get("location")} for _, r in plan]
        _diff(module, iface, result)
        module.exit_json(**result)
    if feature_cmd:
        try:
            run(module, ethtool, iface, "turning the ntuple feature on", *feature_cmd[1:])
        except EthtoolError as err:
            err.hint = f"{NO_NTUPLE.format(iface=iface)}. Nothing was changed."
            fail(module, err, interface=iface)
        result["ntuple_enabled"] = True
    added: list[int] = []
    for index, rule in plan:
        argv = [ethtool, "-N", iface, *rule_to_args(rule)]
        try:
            new_id = _insert(module, argv)
        except InsertError as err:
            _roll_back(module, ethtool, iface, added, err, index, rule, result)
            return
        if new_id is None:
            new_id = rule.get("location")
        if new_id is None:  # no id printed and none given: find it by reading the table back
            _, now = _read_rules(module, ethtool, iface, "re-reading ntuple rules")
            known = {r["id"] for r in before} | set(added)
            new_id = next((r["id"] for r in now if r["id"] not in known and rule_matches(r, rule)), None)
        if new_id is not None:
            added.append(new_id)
            locations[index] = new_id
    _, after = _read_rules(module, ethtool, iface, "re-reading ntuple rules")
    result.update(after=after, added=added, locations=locations)
    missing = [
        i
        for i, rule in enumerate(wanted)
        if not any(rule_matches(r, {**rule, "location": locations[i]}) for r in after)
    ]
    if missing:
        err = InsertError(
            [],
            0,
            "",
            f"rule(s) {', '.join(describe(wanted[i]) for i in missing)} not found in 'ethtool -n {iface}' after insert",
        )
        _roll_back(module, ethtool, iface, added, err, missing[0], wanted[missing[0]], result)
    _diff(module, iface, result)
    module.exit_json(**result)


def _roll_back(
    module: AnsibleModule,
    ethtool: str,
    iface: str,
    added: list[int],
    err: InsertError,
    index: int,
    rule: dict[str, Any],
    result: dict[str, Any],
) -> None:
    """An insert failed: delete the rules this task added, then fail with what happened and what to do."""
    undone, left = [], []
    for loc in added:
        try:
            run(module, ethtool, iface, "removing a rule this task added", "-N", iface, "delete", str(loc))
            undone.append(loc)
        except EthtoolError:
            left.append(loc)
    text = f"{err.err}\n{err.out}".lower()
    if any(s in text for s in _TABLE_FULL):
        what = (
            f"the ntuple rule table of {iface} is full ({len(result['before'])} rules were there before): delete "
            f"rules that are no longer needed (list them with 'ethtool -n {iface}') or steer with fewer rules"
        )
    elif "invalid argument" in text:
        what = f"the driver of {iface} refused the rule (Invalid argument): check the queue and the fields it supports"
    elif "not supported" in text:
        what = NO_NTUPLE.format(iface=iface) + " (or the ntuple feature is off: use enable_ntuple: true)"
    else:
        what = f"ethtool could not add the rule to {iface}"
    undo = (
        f"the {len(undone)} rule(s) this task added ({', '.join(map(str, undone))}) were deleted again"
        if undone
        else "no rule had been added"
    )
    feature_left = False
    if result.get("ntuple_enabled"):  # this task turned ntuple on: put the feature back as well
        try:
            run(module, ethtool, iface, "turning the ntuple feature off again", "-K", iface, "ntuple", "off")
            undo += "; the ntuple feature this task turned on was turned off again"
        except EthtoolError as off_err:
            feature_left = True
            undo += (
                f"; turning ntuple off again FAILED ({off_err.message}): run 'ethtool -K {iface} ntuple off'"
            )
    if left:
        undo += f"; deleting {', '.join(map(str, left))} FAILED - remove them by hand with 'ethtool -N {iface} delete ID'"
    cmd = shlex.join(err.cmd) if err.cmd else ""
    detail = str(err)
    module.fail_json(
        msg=f"{iface}: rules[{index}] ({describe(rule)}): '{cmd}' failed: {detail}. {what[0].upper()}{what[1:]}; {undo}.",
        interface=iface,
        cmd=cmd,
        rc=err.rc,
        stdout=err.out,
        stderr=err.err,
        changed=bool(left) or feature_left,
        added=left,
        before=result["before"],
    )


def _absent(
    module: AnsibleModule,
    ethtool: str,
    iface: str,
    wanted: list[dict[str, Any]],
    ids: set[int],
    before: list[dict[str, Any]],
    result: dict[str, Any],
) -> None:
    doomed = [r for r in before if r["id"] in ids or any(rule_matches(r, w) for w in wanted)]
    commands = [shlex.join([ethtool, "-N", iface, "delete", str(r["id"])]) for r in doomed]
    result.update(
        commands=commands,
        changed=bool(doomed),
        deleted=doomed,
        locations=[r["id"] for r in doomed],
        after=[r for r in before if r not in doomed],
    )
    if not module.check_mode:
        for rule in doomed:
            try:
                run(module, ethtool, iface, "deleting an ntuple rule", "-N", iface, "delete", str(rule["id"]))
            except EthtoolError as err:
                done = result["locations"][: doomed.index(rule)]
                fail(
                    module,
                    err,
                    interface=iface,
                    changed=bool(done),
                    deleted=[r for r in doomed if r["id"] in done],
                )
        _, result["after"] = _read_rules(module, ethtool, iface, "re-reading ntuple rules")
    _diff(module, iface, result)
    module.exit_json(**result)


def _diff(module: AnsibleModule, iface: str, result: dict[str, Any]) -> None:
    if module._diff and result["changed"]:
        result["diff"] = {
            "before_header": f"ethtool -n {iface} (before)",
            "after_header": f"ethtool -n {iface} (after)",
            "before": _lines(result["before"]),
            "after": _lines(result["after"]),
        }


if __name__ == "__main__":
    main()
