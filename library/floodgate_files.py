#!/usr/bin/python
"""Ansible module floodgate_files: write and remove a few small text files (a service's settings) in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: floodgate_files
short_description: Write or remove a service's small text files (rules, unit, drop-in) in one call
description:
  - Writes each file of I(files) whose text differs from what is on the host, through a temporary file renamed
    into place (a reader never sees half a file), creating missing parent directories (mode 0755); a file whose
    text is already there is left alone (its mode is still set). Then removes the paths of I(absent) (files,
    or directories with what they hold), then each path of I(absent_if_unused) that no path matching its
    I(used_by) pattern still needs.
  - With I(stop_units), first stops those systemd units (the service the files belong to) when they run; with
    I(reset_failed) resets, once the files are handled, the failed state of those of them that are failed, so that
    systemd forgets them; with I(daemon_reload) reloads systemd once anything changed (one call for what took a
    C(systemd_service) task to stop, this one and another to reload).
  - One call for what took a directory task, a C(template) task per file and a C(file) task per path (on a
    fleet every task and every remote call is paid once per host on the controller). Render the text on the
    controller, e.g. with the C(ansible.builtin.template) lookup.
version_added: "0.3.0"
author: floodgate
options:
  files:
    description: Text files to write.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The file's text, written as given.
        type: str
        required: true
      mode:
        description: Mode of the file. An octal string such as C("0644"); an integer is taken as the mode itself (YAML makes 420 of an unquoted C(0644)).
        type: raw
        default: "0644"
  absent:
    description: Absolute paths to remove (files, or directories with their content); missing ones are fine.
    type: list
    elements: path
    default: []
  absent_if_unused:
    description: >-
      Paths to remove only when nothing still uses them: when no path matches I(used_by) once I(absent) is
      removed (e.g. a systemd unit template with the last of its instances' drop-in directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path to remove (a file or a directory).
        type: path
        required: true
      used_by:
        description: A shell pattern (C(glob)) of the paths that need I(path).
        type: str
        required: true
  stop_units:
    description: >-
      systemd units to stop before anything is written or removed, when they are running or deactivating (a unit
      that is not there or not running: nothing to do). A unit that fails to stop is reported as a warning and the
      files are still handled, as a separate stop task with C(failed_when=false) did.
    type: list
    elements: str
    default: []
  reset_failed:
    description: >-
      After the files are handled, C(systemctl reset-failed) each unit of I(stop_units) that is failed (as read
      before the stop, or again after it when it was stopped), so that systemd forgets it. Enough instead of a
      daemon-reload when the units' files were removed (systemd 252, measured in the lab, docs/fleet.md): an
      inactive unit nothing refers to is garbage-collected at once, a failed one stays listed (C(systemctl
      --failed)) until reset, and systemd refreshes its view of the unit folders by itself when a unit is next
      loaded after they changed. A reset that fails is reported as a warning.
    type: bool
    default: false
  daemon_reload:
    description: Run C(systemctl daemon-reload) once anything changed (a unit stopped, a file written or removed; not in check mode).
    type: bool
    default: false
notes:
  - Supports check mode and diff mode (each file's text before and after).
seealso:
  - module: floodgate_record
"""

EXAMPLES = r"""
- name: Write the receiver instance's rules, unit template and settings
  floodgate_files:
    files:
      - path: /etc/floodgate/rules-eth3-4.conf
        content: "{{ lookup('ansible.builtin.template', 'rules.conf.j2') }}"
      - path: /etc/systemd/system/floodgate-rx@.service
        content: "{{ lookup('ansible.builtin.template', 'floodgate-rx@.service.j2') }}"
      - path: /etc/systemd/system/floodgate-rx@eth3-4.service.d/10-instance.conf
        content: "{{ lookup('ansible.builtin.template', 'instance.conf.j2') }}"
  register: receiver_config

- name: Stop the instance, remove its files and the unit template with the last instance, reset it if failed
  floodgate_files:
    stop_units: [floodgate-rx@eth3-4]
    reset_failed: true
    absent:
      - /etc/systemd/system/floodgate-rx@eth3-4.service.d
      - /etc/floodgate/rules-eth3-4.conf
    absent_if_unused:
      - path: /etc/systemd/system/floodgate-rx@.service
        used_by: /etc/systemd/system/floodgate-rx@?*.service.d
"""

RETURN = r"""
written:
  description: Paths of the files written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/floodgate/rules-eth3-4.conf]
created:
  description: The paths of I(written) that did not exist before (a new file, not a changed one).
  returned: always
  type: list
  elements: str
removed:
  description: Paths removed (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
stopped:
  description: Units of I(stop_units) stopped (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
reset:
  description: Units of I(stop_units) whose failed state was reset (I(reset_failed); in check mode, that would be).
  returned: always
  type: list
  elements: str
"""

import glob
import os
import shutil
import stat
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.files import octal_mode, read_text, write_atomic
from ansible.module_utils.floodgate.systemd import SystemdError, daemon_reload, reset_failed, stop


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    "mode": {"type": "raw", "default": "0644"},
                },
            },
            "absent": {"type": "list", "elements": "path", "default": []},
            "absent_if_unused": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "used_by": {"type": "str", "required": True},
                },
            },
            "stop_units": {"type": "list", "elements": "str", "default": []},
            "reset_failed": {"type": "bool", "default": False},
            "daemon_reload": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    paths = [f["path"] for f in p["files"]] + p["absent"] + [u["path"] for u in p["absent_if_unused"]]
    for path in paths:
        if not os.path.isabs(path):
            module.fail_json(msg=f"path '{path}' must be absolute. Nothing was changed.")
    modes: dict[str, int] = {}
    for f in p["files"]:
        try:
            modes[f["path"]] = octal_mode(f["mode"])
        except ValueError:
            module.fail_json(
                msg=f"mode '{f['mode']}' of {f['path']} is not an octal mode such as 0644. Nothing was changed."
            )

    # The units first (before their files go), as the separate stop task did.
    stopped: list[str] = []
    stops: dict[str, dict[str, Any]] = {}
    systemctl = module.get_bin_path("systemctl", required=True) if p["stop_units"] else ""
    for unit in p["stop_units"]:
        stops[unit] = done = stop(lambda argv: module.run_command(argv), systemctl, unit, module.check_mode)
        if done["changed"]:
            stopped.append(unit)
        if done["error"]:
            module.warn(f"could not stop {unit} (its files are handled anyway): {done['error']}")

    plan: list[tuple[str, str, str | None]] = []  # path, new text, old text
    chmod: list[str] = []
    for f in p["files"]:
        old = read_text(f["path"])
        if old != f["content"]:
            plan.append((f["path"], f["content"], old))
        elif stat.S_IMODE(os.stat(f["path"]).st_mode) != modes[f["path"]]:
            chmod.append(f["path"])
    gone = [path for path in p["absent"] if os.path.lexists(path)]
    for unused in p["absent_if_unused"]:
        users = [
            u for u in glob.glob(unused["used_by"]) if not any(u == g or u.startswith(g + "/") for g in gone)
        ]
        if os.path.lexists(unused["path"]) and not users:
            gone.append(unused["path"])

    result: dict[str, Any] = {
        "changed": bool(plan or chmod or gone or stopped),
        "written": [path for path, _, _ in plan],
        "created": [path for path, _, old in plan if old is None],
        "removed": gone,
        "stopped": stopped,
        "reset": [],
    }
    if module._diff:
        result["diff"] = [
            {"before_header": path, "after_header": path, "before": old or "", "after": text}
            for path, text, old in plan
        ] + [
            {"before_header": path, "after_header": path, "before": "(present)\n", "after": ""}
            for path in gone
        ]
    if not module.check_mode:
        try:
            for path, text, _ in plan:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                write_atomic(path, text, modes[path])
            for path in chmod:
                os.chmod(path, modes[path])
            for path in gone:
                remove(path)
        except OSError as err:
            module.fail_json(
                msg=f"cannot write or remove files: {err}. Check the path and the disk.", **result
            )
    # Once the files are handled (a failed unit is also reset when nothing else changed: its files may be gone already).
    if p["reset_failed"]:
        for unit in p["stop_units"]:
            done = reset_failed(
                lambda argv: module.run_command(argv), systemctl, unit, stops[unit], module.check_mode
            )
            if done["changed"]:
                result["reset"].append(unit)
            if done["error"]:
                module.warn(
                    f"could not reset the failed state of {unit} (its files are handled): {done['error']}"
                )
        result["changed"] = result["changed"] or bool(result["reset"])
    # After any change, as the separate reload task did (`when: ... is changed`).
    if p["daemon_reload"] and result["changed"] and not module.check_mode:
        try:
            daemon_reload(
                lambda argv: module.run_command(argv), module.get_bin_path("systemctl", required=True)
            )
        except SystemdError as err:
            module.fail_json(msg=f"the files were written or removed, but {err}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
