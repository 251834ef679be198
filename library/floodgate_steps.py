#!/usr/bin/python
"""Documentation of floodgate_steps; the work is done by its action plugin (action_plugins/floodgate_steps.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: floodgate_steps
short_description: Run several modules on one host, in order, as one task
description:
  - Runs each step's module on the task's host with the step's arguments, in the order given, as its own task
    would (the same argument validation, check mode, diff and result), and stops at the first step that fails -
    the steps after it do not run.
  - For steps that always run together, such as the parts of an undo. On a fleet every task is paid once per host
    on the controller (a worker process, the task's templating, its result), whatever the module does; the steps of
    one task pay it once. Each step still is one module run on the host.
  - A step with I(when) false is skipped (listed as such in I(steps)). The task's own C(when), C(become),
    C(register) and so on apply to all its steps; the step arguments are templated with the task, before any step
    runs, so a step cannot use an earlier step's result.
  - A module that has an action plugin of its own (C(copy), C(template), C(fetch)...) does part of its work on the
    controller and is refused before any step runs; floodgate_record is accepted (its plugin only runs the module
    in the worker for a task on the controller itself).
version_added: "0.3.0"
author: floodgate
options:
  steps:
    description: The module calls, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: What the step does. A failure's message starts with it.
        type: str
        required: true
      module:
        description: The module to run (a short name or a fully qualified one).
        type: str
        required: true
      args:
        description: The module's arguments.
        type: dict
        default: {}
      when:
        description: Run the step (false - skipped).
        type: bool
        default: true
attributes:
  check_mode:
    support: full
    details: Each module gets the task's check mode, as its own task would.
  diff_mode:
    support: full
    details: The steps' diffs, in order.
notes:
  - Action plugin and documentation only; the steps' modules run on the host.
seealso:
  - module: floodgate_record
"""

EXAMPLES = r"""
- name: Remove the steering rules, then put back the RSS table
  floodgate_steps:
    steps:
      - name: Remove the steering rules from eth3
        module: ethtool_ntuple
        args: {interface: eth3, locations: [2045], state: absent}
        when: "{{ added | length > 0 }}"
      - name: Put back the RSS table of eth3
        module: ethtool_rxfh
        args: {interface: eth3, equal: 8}
"""

RETURN = r"""
steps:
  description:
    - Each step as it went, in order, up to the one that failed; a step's C(result) is its module's result.
  returned: always
  type: list
  elements: dict
  sample: [{name: Remove the steering rules from eth3, module: ethtool_ntuple, skipped: true},
           {name: Put back the RSS table of eth3, module: ethtool_rxfh, result: {changed: true}}]
failed_step:
  description: The name of the step that failed (its module's result's own fields are at the top of the task's).
  returned: failed
  type: str
"""
