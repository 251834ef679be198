#!/usr/bin/python
"""Ansible module floodgate_record: write (or remove) floodgate's small JSON records on a host in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: floodgate_record
short_description: Write or remove floodgate's JSON records (state, snapshot, undo records) in one call
description:
  - Creates the record directory when needed and writes each record as pretty JSON (sorted keys, as
    C(to_nice_json) writes it) through a temporary file renamed into place, so that a reader never sees half a
    record; a record whose content is already there is left alone. Removes the records named in I(absent).
  - One call for what took a directory task and a C(copy) task per record (on a fleet every task is paid once per
    host on the controller).
  - With I(merge), a record is merged into the one already on the host instead of replacing it - lists are
    joined (existing items first, new ones appended once), booleans are or-ed, other values replaced, keys only
    in the existing record kept - so that a record of what several runs added keeps every run's additions.
version_added: "0.2.0"
author: floodgate
options:
  dir:
    description: Directory of the records (created with mode 0755 when missing and a record is written).
    type: path
    required: true
  records:
    description: Records to write.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: File name inside I(dir) (no C(/)).
        type: str
        required: true
      content:
        description: The record (any JSON value; usually a dict).
        type: raw
        required: true
      merge:
        description: Merge into the existing record (see above) instead of replacing it.
        type: bool
        default: false
      subdir:
        description: >-
          A folder inside I(dir) for this record (one name, no C(/); created when missing), e.g. one per host when
          the controller keeps a whole batch's records in one call. The record is then named C(SUBDIR/NAME) in
          I(written) and I(records).
        type: str
  absent:
    description: File names inside I(dir) to remove (missing ones are fine).
    type: list
    elements: str
    default: []
  mode:
    description: Mode of the written records. An octal string such as C("0644"); an integer is taken as the mode itself (YAML makes 420 of an unquoted C(0644)).
    type: raw
    default: "0644"
notes:
  - Supports check mode and diff mode (the records as text, before and after).
seealso:
  - module: floodgate_host_facts
"""

EXAMPLES = r"""
- name: Save the snapshot and mark the mitigation as being applied
  floodgate_record:
    dir: /var/lib/floodgate
    records:
      - name: snapshot-eth3.json
        content: "{{ {'format': 1, 'interface': 'eth3', 'nic': facts.nic, 'restorable': facts.restorable} }}"
      - name: state.json
        content: {status: applying, interface: eth3, queue: 4}

- name: Add this run's rule locations to the record of earlier runs
  floodgate_record:
    dir: /var/lib/floodgate
    records:
      - name: rss_steering-eth3-rules.json
        content: {interface: eth3, locations: [2045], ntuple_enabled: false}
        merge: true

- name: Keep every host's snapshot of the batch on the controller, one folder per host
  floodgate_record:
    dir: run
    records:
      - {subdir: edge1, name: snapshot-eth3.json, content: {format: 1, host: edge1, interface: eth3}}
      - {subdir: edge2, name: snapshot-eth3.json, content: {format: 1, host: edge2, interface: eth3}}
  delegate_to: localhost
  run_once: true

- name: Forget the records
  floodgate_record:
    dir: /var/lib/floodgate
    absent: [rss_steering-eth3-table.json, rss_steering-eth3-rules.json]
"""

RETURN = r"""
written:
  description: Names of the records written (or, in check mode, that would be); C(SUBDIR/NAME) with I(subdir).
  returned: always
  type: list
  elements: str
  sample: [state.json]
removed:
  description: Names of the records removed (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
records:
  description: Each record's content as it now is (after a merge), by name.
  returned: always
  type: dict
"""

import json
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.files import octal_mode, read_text, write_atomic


def to_text(content: Any) -> str:
    """The record as C(to_nice_json) writes it, with a final newline."""
    return json.dumps(content, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def merged(existing: Any, new: Any) -> Any:
    """`new` merged into `existing` (see the module's description); anything but two dicts: `new`."""
    if not isinstance(existing, dict) or not isinstance(new, dict):
        return new
    out = dict(existing)
    for key, value in new.items():
        old = existing.get(key)
        if isinstance(old, list) and isinstance(value, list):
            out[key] = old + [v for v in value if v not in old]
        elif isinstance(old, bool) and isinstance(value, bool):
            out[key] = old or value
        else:
            out[key] = value
    return out


def check_name(module: AnsibleModule, name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        module.fail_json(
            msg=f"record name '{name}' must be a file name inside dir (no '/'). Nothing was changed."
        )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "dir": {"type": "path", "required": True},
            "records": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "content": {"type": "raw", "required": True},
                    "merge": {"type": "bool", "default": False},
                    "subdir": {"type": "str"},
                },
            },
            "absent": {"type": "list", "elements": "str", "default": []},
            "mode": {"type": "raw", "default": "0644"},
        },
        supports_check_mode=True,
    )
    folder: str = module.params["dir"]
    try:
        mode = octal_mode(module.params["mode"])
    except ValueError:
        module.fail_json(
            msg=f"mode '{module.params['mode']}' is not an octal mode such as 0644. Nothing was changed."
        )
    for rec in module.params["records"]:
        check_name(module, rec["name"])
        if rec["subdir"] is not None:
            check_name(module, rec["subdir"])
    for name in module.params["absent"]:
        check_name(module, name)

    plan: list[tuple[str, str, str | None]] = []  # name, new text, old text
    records: dict[str, Any] = {}
    for rec in module.params["records"]:
        rel = rec["name"] if rec["subdir"] is None else f"{rec['subdir']}/{rec['name']}"
        path = os.path.join(folder, rel)
        old = read_text(path)
        content = rec["content"]
        if rec["merge"] and old is not None:
            try:
                content = merged(json.loads(old), content)
            except ValueError:
                module.fail_json(
                    msg=f"{path} is not JSON, so the new record cannot be merged into it: move it away and re-run. "
                    "Nothing was changed."
                )
        records[rel] = content
        text = to_text(content)
        if text != old:
            plan.append((rel, text, old))
    gone = [n for n in module.params["absent"] if os.path.lexists(os.path.join(folder, n))]

    result: dict[str, Any] = {
        "changed": bool(plan or gone),
        "written": [n for n, _, _ in plan],
        "removed": gone,
        "records": records,
    }
    if module._diff:
        result["diff"] = [
            {
                "before_header": f"{folder}/{n}",
                "after_header": f"{folder}/{n}",
                "before": old or "",
                "after": text,
            }
            for n, text, old in plan
        ] + [
            {
                "before_header": f"{folder}/{n}",
                "after_header": f"{folder}/{n}",
                "before": "(record)\n",
                "after": "",
            }
            for n in gone
        ]
    if module.check_mode or not result["changed"]:
        module.exit_json(**result)
    try:
        for name, text, _ in plan:
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            write_atomic(path, text, mode)
        for name in gone:
            os.unlink(os.path.join(folder, name))
    except OSError as err:
        module.fail_json(
            msg=f"cannot write the records in {folder}: {err}. Check the path and the disk.", **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
