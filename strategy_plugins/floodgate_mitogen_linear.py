"""floodgate_mitogen_linear: mitogen's mitogen_linear strategy without mitogen's CPU pinning on small controllers.

mitogen (ansible_mitogen.affinity.FixedPolicy) pins processes to CPUs. On a controller with fewer than 4 CPUs it
reserves CPU 0 for its connection multiplexer and pins the Ansible top-level process, every worker process and
every ssh client to the other CPUs: on 2 CPUs, all of them to CPU 1. Measured on a 2-CPU controller
(docs/fleet.md): a play of 10 no-op tasks over 50 hosts took 11.1-11.7 s pinned, 7.8-8.5 s unpinned, for the
same CPU time. With 4 or more CPUs mitogen's own placement is kept.

Use it as mitogen_linear is used (docs/fleet.md "Speed settings"): ANSIBLE_STRATEGY=floodgate_mitogen_linear with
this folder and ansible_mitogen's plugins/strategy on ANSIBLE_STRATEGY_PLUGINS (lab/fleet/bench_fleet.py
mitogen_env() sets both). Needs the mitogen package (requirements.txt).
"""

from __future__ import annotations

import os

import ansible.plugins.strategy.linear
import ansible_mitogen.affinity
import ansible_mitogen.strategy

DOCUMENTATION = r"""
name: floodgate_mitogen_linear
short_description: mitogen_linear without CPU pinning on controllers with fewer than 4 CPUs
description:
  - mitogen's linear strategy (one Python interpreter per host for the whole run). On controllers with fewer
    than 4 CPUs, mitogen's CPU pinning (which leaves the Ansible process, its workers and ssh one CPU out of
    two) is turned off; the processes run wherever the kernel schedules them.
author: floodgate
"""

# mitogen calls ansible_mitogen.affinity.policy.assign_*() through the module attribute: the base Policy pins
# nothing.
if (os.cpu_count() or 1) < 4:
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, ansible.plugins.strategy.linear.StrategyModule):
    """mitogen_linear (ansible_mitogen/plugins/strategy/mitogen_linear.py), with the policy above."""
