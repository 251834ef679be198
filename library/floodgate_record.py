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
  - On the controller itself (the task's connection is the local one, without become), the floodgate_record
    action plugin (action_plugins/ in the repository) validates the same options and writes the records in
    Ansible's worker process instead of running this module, so that no Python interpreter is started for it;
    the result is the same. C(FLOODGATE_RECORD_IN_WORKER=0) runs the module there too.
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

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.records import ARGUMENT_SPEC, RecordError, apply


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = apply(module.params, module.check_mode, module._diff)
    except RecordError as err:
        module.fail_json(msg=err.msg, **err.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
