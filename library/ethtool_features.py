#!/usr/bin/python
"""Ansible module ethtool_features: read and set NIC offload features with ethtool -k/-K."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ethtool_features
short_description: Read and set NIC offload features (ethtool -k / -K)
description:
  - Reads the offload features of an interface with C(ethtool -k), works out which of the requested
    I(features) differ, and applies all of them with one C(ethtool -K IFACE f1 on f2 off ...) call.
  - Re-reads the features afterwards and reports the state before and after, and every feature the
    kernel changed as a side effect (ethtool's C(Actual changes:) report, e.g. turning C(tx) off also
    turns TSO off).
  - Refuses, before changing anything, requests for unknown feature names and for features the driver
    marks C([fixed]) whose state would have to change; the message lists them all.
  - When the kernel refuses part of a change, the module restores the features it did change and fails.
  - Idempotent; supports check mode (reports the exact C(ethtool -K) command it would run) and diff mode.
version_added: "0.1.0"
author: floodgate
options:
  name:
    description: Interface name, as in C(ip link).
    type: str
    required: true
    aliases: [interface]
  features:
    description:
      - Map of feature name to wanted state (true = on).
      - Names may be ethtool's long names as printed by C(ethtool -k) (C(generic-receive-offload)),
        kernel feature names (C(rx-gro), C(tx-tcp-segmentation)) or ethtool's short aliases
        C(rx), C(tx), C(sg), C(tso), C(ufo), C(gso), C(gro), C(lro), C(rxvlan), C(txvlan), C(ntuple), C(rxhash).
      - An aggregate (C(tx-checksumming), C(scatter-gather), C(tcp-segmentation-offload)) is satisfied when
        all of its members that are not C([fixed]) have the wanted state.
      - Leave empty to only read the features.
    type: dict
    default: {}
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
notes:
  - Needs root (CAP_NET_ADMIN) to change features; reading works unprivileged.
  - In check mode, features the kernel would change as a side effect are not known and not reported.
seealso:
  - module: nic_facts
"""

EXAMPLES = r"""
- name: Turn off the offloads that hide packets from a per-queue receiver
  ethtool_features:
    name: eth3
    features:
      gro: false
      lro: false
      tso: false
      gso: false
      rx: false
      tx: false
      rxvlan: false
      txvlan: false
  register: offloads

- name: Enable ntuple filters (Flow Director on ixgbe) before adding rules
  ethtool_features:
    name: eth3
    features:
      ntuple: true

- name: Restore the features saved before the mitigation
  ethtool_features:
    name: eth3
    features: "{{ offloads.before }}"
"""

RETURN = r"""
interface:
  description: The interface.
  returned: always
  type: str
  sample: eth3
before:
  description: State of every feature before the change, by C(ethtool -k) name (true = on).
  returned: always
  type: dict
  sample: {"generic-receive-offload": true, "large-receive-offload": false}
after:
  description: State of every feature after the change (in check mode, the predicted state).
  returned: always
  type: dict
  sample: {"generic-receive-offload": false, "large-receive-offload": false}
fixed:
  description: Names of the features the driver marks [fixed].
  returned: always
  type: list
  elements: str
  sample: ["large-receive-offload", "ntuple-filters"]
changes:
  description: The requested changes that were (or in check mode would be) applied, by C(ethtool -k) name.
  returned: always
  type: dict
  sample: {"generic-receive-offload": false}
side_effects:
  description: Features the kernel changed although they were not named in the request.
  returned: always
  type: dict
  sample: {"tx-tcp-segmentation": false}
actual_changes:
  description: ethtool's "Actual changes:" report, parsed (empty when it printed none).
  returned: when ethtool -K ran
  type: dict
  sample: {"tx-tcp-segmentation": {"on": false, "requested": null, "side_effect": true}}
cmd:
  description: The ethtool -K command run (or, in check mode, that would run); empty when nothing changes.
  returned: always
  type: str
  sample: ethtool -K eth3 generic-receive-offload off
"""

import shlex
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.features import (
    FeatureError,
    members,
    parse_actual_changes,
    parse_features,
    plan_changes,
    set_args,
    states,
)
from ansible.module_utils.floodgate.nic_errors import fail, find_ethtool, run
from ansible.module_utils.parsing.convert_bool import boolean


def _diff(before: dict[str, bool], after: dict[str, bool], iface: str) -> dict[str, str]:
    names = [n for n in after if before.get(n) != after[n]]
    fmt = {True: "on", False: "off"}
    return {
        "before_header": f"ethtool -k {iface} (before)",
        "after_header": f"ethtool -k {iface} (after)",
        "before": "".join(f"{n}: {fmt[before[n]]}\n" for n in names),
        "after": "".join(f"{n}: {fmt[after[n]]}\n" for n in names),
    }


def _predict(features: dict[str, dict[str, Any]], plan: dict[str, bool]) -> dict[str, bool]:
    """The state -K should produce: every changeable member of each planned feature takes its value; an
    aggregate then reads "on" when any member is on (ethtool's rule)."""
    after = states(features)
    for name, want in plan.items():
        for sub in members(features, name):
            if not features[sub]["fixed"]:
                after[sub] = want
    for name in features:
        subs = members(features, name)
        if subs != [name]:
            after[name] = any(after[s] for s in subs)
    return after


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True, "aliases": ["interface"]},
            "features": {"type": "dict", "default": {}},
            "ethtool_path": {"type": "str"},
        },
        supports_check_mode=True,
    )
    iface: str = module.params["name"]
    wanted: dict[str, Any] = module.params["features"] or {}
    try:
        # YAML 'yes'/'off'/1 mean what the operator meant; anything else is refused before ethtool runs.
        wanted = {str(k): boolean(v, strict=True) for k, v in wanted.items()}
    except TypeError as err:
        module.fail_json(
            msg=f"features for '{iface}' must map names to true/false: {err}. Nothing was changed.",
            interface=iface,
        )
    ethtool = find_ethtool(module, module.params["ethtool_path"])
    result: dict[str, Any] = {
        "changed": False,
        "interface": iface,
        "cmd": "",
        "changes": {},
        "side_effects": {},
    }
    try:
        features = parse_features(run(module, ethtool, iface, "reading offload features", "-k", iface))
    except EthtoolError as err:
        fail(module, err, interface=iface)
        return
    if not features:
        module.fail_json(
            msg=f"'{ethtool} -k {iface}' printed no features: cannot manage '{iface}'.", interface=iface
        )
    result["before"] = states(features)
    result["fixed"] = [n for n, f in features.items() if f["fixed"]]
    try:
        plan = plan_changes(features, wanted)
    except FeatureError as err:
        module.fail_json(
            msg=f"{iface}: {err}. Checked with '{ethtool} -k {iface}'; no 'ethtool -K' was run, nothing was "
            f"changed. Remove these names from 'features' (see 'ethtool -k {iface}' for the names and [fixed] marks).",
            interface=iface,
            cmd=f"{ethtool} -k {iface}",
            before=result["before"],
            fixed=result["fixed"],
        )
        return
    if not plan:
        result["after"] = result["before"]
        module.exit_json(**result)
    argv = [ethtool, "-K", iface, *set_args(plan)]
    result["cmd"] = shlex.join(argv)
    result["changes"] = plan
    if module.check_mode:
        result["after"] = _predict(features, plan)
        result["changed"] = True
        if module._diff:
            result["diff"] = _diff(result["before"], result["after"], iface)
        module.exit_json(**result)
    # -K may fail part-way or the kernel may keep some features (dependencies): either way we re-read,
    # put back what moved and fail, so a task never leaves a NIC half-changed.
    set_err: EthtoolError | None = None
    try:
        out = run(module, ethtool, iface, "changing offload features", *argv[1:])
    except EthtoolError as err:
        out, set_err = err.stdout, err
    actual = parse_actual_changes(out)
    try:
        now = parse_features(run(module, ethtool, iface, "re-reading offload features", "-k", iface))
    except EthtoolError as err:
        fail(module, err, interface=iface, before=result["before"], cmd_failed=result["cmd"])
        return
    result["after"] = states(now)
    result["actual_changes"] = actual
    planned_members = {s for name in plan for s in (name, *members(features, name))}
    result["side_effects"] = {
        n: v for n, v in result["after"].items() if result["before"].get(n) != v and n not in planned_members
    }
    result["changed"] = result["after"] != result["before"]
    refused = _still_wrong(now, wanted)
    if set_err is not None or refused:
        _roll_back(module, ethtool, iface, features, now, result, refused, set_err)
    if module._diff:
        result["diff"] = _diff(result["before"], result["after"], iface)
    module.exit_json(**result)


def _still_wrong(now: dict[str, dict[str, Any]], wanted: dict[str, bool]) -> dict[str, bool]:
    """What the kernel did not apply: the plan the same request would need now."""
    try:
        return plan_changes(now, wanted)
    except FeatureError:
        return dict(wanted)


def _read_quietly(module: AnsibleModule, ethtool: str, iface: str) -> dict[str, bool] | None:
    try:
        return states(parse_features(run(module, ethtool, iface, "re-reading offload features", "-k", iface)))
    except EthtoolError:
        return None


def _roll_back(
    module: AnsibleModule,
    ethtool: str,
    iface: str,
    before: dict[str, dict[str, Any]],
    now: dict[str, dict[str, Any]],
    result: dict[str, Any],
    refused: dict[str, bool],
    set_err: EthtoolError | None,
) -> None:
    """The change did not fully take: put back what moved, then fail with the evidence.

    Only kernel features (not ethtool's aggregates) are restored, each to the state it was *requested* in
    before, so the kernel re-derives dependent features exactly as it had them.
    """
    undo = {
        n: bool(before[n]["requested"])
        for n, f in now.items()
        if n in before
        and not f["fixed"]
        and members(now, n) == [n]
        and (f["on"] != before[n]["on"] or f["requested"] != before[n]["requested"])
    }
    undo_cmd = [ethtool, "-K", iface, *set_args(undo)] if undo else []
    restored = "nothing had changed, nothing needed restoring"
    if undo_cmd:
        try:
            run(module, ethtool, iface, "restoring offload features", *undo_cmd[1:])
            restored = f"rolled back with '{shlex.join(undo_cmd)}'"
        except EthtoolError as err:
            restored = f"ROLL BACK FAILED ({err.message}): compare 'ethtool -k {iface}' with 'before'"
        result["after"] = _read_quietly(module, ethtool, iface)
    what = f"'{result['cmd']}' failed: {set_err.message}" if set_err else f"'{result['cmd']}' ran"
    module.fail_json(
        msg=f"{iface}: {what}; the kernel did not apply {refused or 'the request'} "
        f"(driver dependency or firmware limit; see actual_changes); {restored}. "
        f"Drop these features from the request or check 'ethtool -k {iface}'.",
        **{k: v for k, v in result.items() if k not in ("changed", "diff")},
        refused=refused,
        rolled_back=undo,
    )


if __name__ == "__main__":
    main()
