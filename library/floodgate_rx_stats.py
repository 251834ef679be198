#!/usr/bin/python
"""Ansible module floodgate_rx_stats: start a floodgate-rx instance if asked, read its stats file, waiting for it, and check it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: floodgate_rx_stats
short_description: Start a floodgate-rx instance if asked, read its JSON stats file (waiting for it) and check which queue it took
description:
  - With I(start), first starts, restarts or reloads the instance's systemd I(unit) (after a C(daemon-reload) with
    I(daemon_reload)), as C(ansible.builtin.systemd_service) does with C(enabled=false), and blocks until systemd
    has it ready (READY=1 for floodgate-rx's Type=notify unit). One call for a C(systemd_service) task and this
    read (on a fleet every task is paid once per host on the controller).
  - Reads the JSON stats file a floodgate-rx instance writes (C(/run/floodgate/rx-IF-Q.json)), waiting up to
    I(timeout) seconds for it to appear (the receiver writes it right after it tells systemd READY=1).
  - With I(expect), fails unless the file reports that interface, queue and backend, with a message naming the
    file, what it reports and the journal to read. One call for what took a read retried every second and an
    C(assert) (on a fleet every task is paid once per host on the controller).
  - With I(missing_ok), a file that is not there (no receiver) is reported as C(found) false, not a failure.
version_added: "0.3.0"
author: floodgate
options:
  path:
    description: The stats file.
    type: path
    required: true
  timeout:
    description: Seconds to wait for the file to appear (0 = read it once).
    type: int
    default: 0
  expect:
    description: What the file must report (any of C(interface), C(queue), C(backend)); the task fails otherwise.
    type: dict
    default: {}
  missing_ok:
    description: A file still missing after I(timeout) is C(found) false, not a failure.
    type: bool
    default: false
  unit:
    description: The instance's systemd unit, named in the failure messages (the journal to read), and the unit
      I(start) starts.
    type: str
    default: floodgate-rx
  start:
    description: >-
      Before reading, bring I(unit) to this state: V(started) starts it unless it is running, V(restarted) and
      V(reloaded) restart or reload it (and start it when it is not running). A unit enabled at boot is disabled
      (what floodgate changes on the NIC does not survive a reboot). Omitted: systemd is not touched.
    type: str
    choices: [started, restarted, reloaded]
  daemon_reload:
    description: >-
      Run C(systemctl daemon-reload) before I(start) (the unit's files changed). Without it, a unit that systemd
      reports not-found (a systemd older than 246 has not seen a unit file written since its last reload),
      bad-setting (loaded without a drop-in systemd has not seen yet) or with C(NeedDaemonReload=yes) (its files
      changed since systemd loaded it) gets one reload and is read again before it is started or the module fails.
    type: bool
    default: false
notes:
  - Supports check mode (it only says whether I(start) would change the unit; it does not wait for the file).
seealso:
  - module: netmap_queue_check
"""

EXAMPLES = r"""
- name: Wait for the instance's first stats file and check it took the queue
  floodgate_rx_stats:
    path: /run/floodgate/rx-eth3-4.json
    timeout: 60
    expect: {interface: eth3, queue: 4, backend: netmap}
    unit: floodgate-rx@eth3-4
  register: rx

- name: Start the instance (a daemon-reload first) and wait until it is ready
  floodgate_rx_stats:
    path: /run/floodgate/rx-eth3-4.json
    timeout: 60
    expect: {interface: eth3, queue: 4, backend: netmap}
    unit: floodgate-rx@eth3-4
    start: restarted
    daemon_reload: true

- name: Read the counters, if a receiver runs
  floodgate_rx_stats:
    path: /run/floodgate/rx-eth3-4.json
    missing_ok: true
  register: rx
"""

RETURN = r"""
found:
  description: Whether the stats file was there.
  returned: always
  type: bool
stats:
  description: The stats file's content ({} when not found).
  returned: always
  type: dict
  sample: {interface: eth3, queue: 4, backend: netmap, packets: 1000, dropped: 990}
waited:
  description: Seconds waited for the file.
  returned: always
  type: float
action:
  description: What I(start) did to the unit (V(start), V(restart), V(reload)); null when it was already running.
  returned: when I(start) is given
  type: str
daemon_reloaded:
  description: >-
    Whether a C(systemctl daemon-reload) ran before the start: asked for (I(daemon_reload)), or once because systemd
    reported the unit not-found, bad-setting or NeedDaemonReload=yes.
  returned: when I(start) is given
  type: bool
"""

import json
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.systemd import SystemdError, start_unit


def read_stats(path: str) -> dict[str, Any] | None:
    """The file's JSON object; None while it is missing or not yet a whole JSON object (being written)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def mismatch(stats: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """The expected fields the stats disagree with (queue compared as a number, the rest as text)."""
    wrong = []
    for key, want in expect.items():
        got = stats.get(key)
        if key == "queue":
            same = str(got).isdigit() and str(want).isdigit() and int(got) == int(want)
        else:
            same = str(got) == str(want)
        if not same:
            wrong.append(key)
    return wrong


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "timeout": {"type": "int", "default": 0},
            "expect": {"type": "dict", "default": {}},
            "missing_ok": {"type": "bool", "default": False},
            "unit": {"type": "str", "default": "floodgate-rx"},
            "start": {"type": "str", "choices": ["started", "restarted", "reloaded"]},
            "daemon_reload": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    path: str = module.params["path"]
    unit: str = module.params["unit"]
    expect = {k: v for k, v in module.params["expect"].items() if k in ("interface", "queue", "backend")}
    unknown = sorted(set(module.params["expect"]) - set(expect))
    if unknown:
        module.fail_json(msg=f"expect: unknown field(s) {unknown}; give interface, queue and/or backend.")
    timeout = max(0, module.params["timeout"])

    started: dict[str, Any] = {}
    if module.params["start"]:
        try:
            done = start_unit(
                lambda argv: module.run_command(argv),
                module.get_bin_path("systemctl", required=True),
                unit,
                module.params["start"],
                module.params["daemon_reload"],
                module.check_mode,
            )
        except SystemdError as err:
            module.fail_json(msg=str(err), found=False, stats={}, waited=0.0)
        started = {"changed": done["changed"], "action": done["action"], "daemon_reloaded": done["reloaded"]}
        if module.check_mode:
            module.exit_json(found=False, stats={}, waited=0.0, **started)

    start = time.monotonic()
    stats = read_stats(path)
    while stats is None and time.monotonic() - start < timeout:
        time.sleep(0.1)
        stats = read_stats(path)
    waited = round(time.monotonic() - start, 1)

    if stats is None:
        if module.params["missing_ok"]:
            module.exit_json(found=False, stats={}, waited=waited, **(started or {"changed": False}))
        module.fail_json(
            msg=f"{unit} wrote no stats file {path} within {timeout} s (it writes it once ready): see "
            f"journalctl -u {unit}",
            found=False,
            stats={},
            waited=waited,
            **started,
        )
    wrong = mismatch(stats, expect)
    if wrong:
        want = (
            f"{expect.get('backend', '?')} on {expect.get('interface', '?')} queue {expect.get('queue', '?')}"
        )
        module.fail_json(
            msg=f"{unit} reports {stats} in {path}, not {want} ({', '.join(wrong)} differ): see journalctl -u {unit}",
            found=True,
            stats=stats,
            waited=waited,
            **started,
        )
    module.exit_json(found=True, stats=stats, waited=waited, **(started or {"changed": False}))


if __name__ == "__main__":
    main()
