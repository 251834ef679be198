"""Lookup plugin floodgate_template: ansible.builtin.template without a deep copy of every variable per call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: floodgate_template
author: floodgate
version_added: "0.1.0"
short_description: Render a template file, as ansible.builtin.template does, without deep-copying the variables
description:
  - Returns, for each template file, its text rendered with the task's variables, exactly as
    P(ansible.builtin.template#lookup) renders it (same search path, same C(ansible_managed) and C(template_*)
    variables, same I(template_vars) and options). This plugin is that lookup, given the variables differently.
  - ansible.builtin.template deep-copies all of the host's variables (registered results included) before every
    file it renders, to add the template's own variables to a copy. On a fleet that copy was nearly all of the
    lookup's cost (11-88 ms per file, about a tenth of the controller's CPU in a 20-edge mitigation,
    docs/fleet.md), the reading and rendering 1.5-5.5 ms. Here the copy is of the top level only - the
    added variables go into a new mapping, the values under it are shared with the task's.
  - For templates that change no variable, as floodgate's (they only read them). A template that mutates a
    variable's list or dictionary in place would change it for the rest of the task; use
    P(ansible.builtin.template#lookup) for such a template.
options:
  _terms:
    description:
      - Template files, found in the role's or playbook's C(templates/) folders as ansible.builtin.template finds
        them.
    required: true
  template_vars:
    description: A dictionary whose keys become additional variables of the template.
    type: dict
    default: {}
  variable_start_string:
    description: The string marking the beginning of a print statement.
    type: str
    default: '{{'
  variable_end_string:
    description: The string marking the end of a print statement.
    type: str
    default: '}}'
  comment_start_string:
    description: The string marking the beginning of a comment statement.
    type: str
    default: '{#'
  comment_end_string:
    description: The string marking the end of a comment statement.
    type: str
    default: '#}'
  trim_blocks:
    description: Whether the first newline after a block tag is removed (block, not variable tag).
    type: bool
    default: true
seealso:
  - plugin: ansible.builtin.template
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Write the receiver's rules, rendered from the role's templates/rules.conf.j2
  floodgate_files:
    files:
      - path: /etc/floodgate/rules-eth1-4.conf
        content: "{{ lookup('floodgate_template', 'rules.conf.j2') }}"

- name: The same rules for another queue, from a playbook outside the role
  ansible.builtin.debug:
    msg: >-
      {{ lookup('floodgate_template', playbook_dir ~ '/../roles/receiver/templates/rules.conf.j2',
                template_vars={'receiver_queue': 5}) }}
"""

RETURN = r"""
_raw:
  description: The rendered text of each template file.
  type: list
  elements: raw
"""

from typing import Any

from ansible.plugins.lookup.template import LookupModule as TemplateLookup


class _TopLevelCopy(dict):  # type: ignore[type-arg]
    """The task's variables as ansible.builtin.template's run receives them: it deep-copies them before adding the
    template's own variables, and the deep copy of this mapping is a copy of its top level."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)


class LookupModule(TemplateLookup):
    """ansible.builtin.template's lookup, run over the variables wrapped in _TopLevelCopy."""

    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        return super().run(terms, _TopLevelCopy(variables or {}), **kwargs)
