"""floodgate_mitogen_linear skips a task whose condition is false for a host in the controller's process, with the
result a worker would have sent, instead of forking a worker for it (docs/fleet.md "Speed settings").

Real ansible-playbook runs over three local hosts (mitogen's local connection), the same play with the skip in the
controller (default), with FLOODGATE_SKIP_AHEAD=0 (a worker per host and task, as before) and with Ansible's plain
linear strategy: every host's registered results (skipped ones with their false condition, tasks that run on
some hosts and are skipped on others, a skipped include, a condition on another host's variable and on the
connection's variables, check mode) and the recap's counts must be the same. Where the condition was evaluated is
seen from inside it: a `pipe` lookup in the condition records its process's id, one process for every host with
the skip in the controller, one per host without it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import mitogen_env  # noqa: E402
from local_play import rerun_local_play, run_local_play  # noqa: E402

PLAY = """
- name: Tasks skipped on some hosts or all
  hosts: all
  gather_facts: false
  vars:
    n: "{{ inventory_hostname | replace('h', '') | int }}"
  tasks:
    - name: Skipped on every host; the condition says which process evaluated it
      ansible.builtin.set_fact:
        never: true
      when: (lookup('ansible.builtin.pipe', 'echo $PPID >> ' ~ outdir ~ '/pids.txt') | length) < 0
      register: r_never

    - name: Runs on h2 only
      ansible.builtin.set_fact:
        only_h2: "{{ n }}"
      when:
        - n | int > 1
        - n | int < 3
      register: r_h2

    - name: Skipped include
      ansible.builtin.include_tasks: missing-file-never-loaded.yml
      when: n | int > 5

    - name: Condition on another host's variable and on the connection
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }}"
      when: hostvars['h1'].inventory_hostname == inventory_hostname and ansible_connection == 'local'
      register: r_other

    - name: Skipped in check mode only
      ansible.builtin.set_fact:
        not_check: true
      when: not ansible_check_mode
      register: r_check

    - name: Write what each host registered
      ansible.builtin.copy:
        content: "{{ {'never': r_never, 'h2': r_h2, 'other': r_other, 'check': r_check} | to_json }}"
        dest: "{{ outdir }}/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
      check_mode: false
"""


def run(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[dict[str, dict[str, object]], set[str]]:
    out = tmp_path / name / "out"
    results = run_local_play(tmp_path / name / "play", PLAY, out, env)
    return results, set((out / "pids.txt").read_text().split())


def run_again(
    tmp_path: Path, name: str, env: dict[str, str], *args: str
) -> tuple[dict[str, object], list[str]]:
    """The same play again in its folder (with `args`, e.g. --check): each host's output and the recap's lines."""
    out = tmp_path / name / f"again{len(list((tmp_path / name).glob('again*')))}"
    hosts, stdout = rerun_local_play(tmp_path / name / "play", out, env, "", *args)
    return hosts, re.findall(r"^h\d\s+: .*$", stdout, re.M)


def test_skipped_in_the_controller_as_a_worker_skips_it(tmp_path: Path) -> None:
    mitogen = mitogen_env()
    assert mitogen is not None
    here, here_pids = run(tmp_path, "here", mitogen)
    forked, forked_pids = run(tmp_path, "forked", {**mitogen, "FLOODGATE_SKIP_AHEAD": "0"})
    linear, linear_pids = run(tmp_path, "linear", {})
    assert here == forked == linear
    assert here["h1"]["never"]["skipped"] is True and here["h1"]["never"]["false_condition"]
    assert here["h2"]["h2"].get("skipped") is not True and here["h1"]["h2"]["skipped"] is True
    assert here["h1"]["other"].get("skipped") is not True and here["h3"]["other"]["skipped"] is True
    assert len(here_pids) == 1, "the skipped task's condition was evaluated in one process (the controller's)"
    assert len(forked_pids) == 3 and len(linear_pids) == 3, "one worker per host"
    checked, checked_recap = run_again(tmp_path, "here", mitogen, "--check")
    checked_forked, checked_forked_recap = run_again(
        tmp_path, "forked", {**mitogen, "FLOODGATE_SKIP_AHEAD": "0"}, "--check"
    )
    assert checked == checked_forked and checked["h1"]["check"]["skipped"] is True  # type: ignore[index]
    assert checked_recap == checked_forked_recap
    assert run_again(tmp_path, "here", mitogen)[1] == run_again(tmp_path, "linear", {})[1]
