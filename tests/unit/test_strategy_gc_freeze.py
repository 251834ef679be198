"""floodgate_mitogen_linear leaves the controller's objects out of every forked worker's garbage collection
(docs/fleet.md "Speed settings"): right after the fork, the child freezes what it inherited, so a full collection
in a worker walks only what the worker allocated; the controller's process itself still collects everything.

Real ansible-playbook runs over three local hosts (mitogen's local connection). What each worker sees is read
inside it: a filter plugin of the play's folder, which runs in the worker that templates the task, returns the
worker's frozen-object count (objects no collection of that process walks) and whether its collector is on; the
controller's own are written by a callback at the end of the run. With FLOODGATE_GC_FREEZE_CHILDREN=0 nothing is
frozen anywhere, as before. (What it saves is measured, not asserted: docs/fleet.md.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import mitogen_env  # noqa: E402
from local_play import run_local_play  # noqa: E402

PLAY = """
- name: Read the worker's garbage collector state
  hosts: all
  gather_facts: false
  tasks:
    - name: Templated in the host's worker
      ansible.builtin.set_fact:
        worker_gc: "{{ inventory_hostname | gc_state }}"
    - name: Write it
      ansible.builtin.copy:
        content: "{{ worker_gc | to_json }}"
        dest: "{{ outdir }}/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
"""

FILTER = '''
import gc
import os


def gc_state(host):
    """In the process that templates it: the objects frozen out of collection, the collector's switch."""
    return {"host": host, "pid": os.getpid(), "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}


class FilterModule:
    def filters(self):
        return {"gc_state": gc_state}
'''

CALLBACK = '''
import gc
import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Writes the controller process's own frozen-object count at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gc_main"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        with open(os.environ["GC_MAIN_OUT"], "w") as f:
            json.dump({"pid": os.getpid(), "frozen": gc.get_freeze_count(), "enabled": gc.isenabled()}, f)
'''


def run(tmp_path: Path, switch: str | None) -> tuple[dict[str, dict[str, object]], dict[str, object]]:
    play_dir = tmp_path / "play"
    (play_dir / "filter_plugins").mkdir(parents=True)
    (play_dir / "filter_plugins" / "gc_probe.py").write_text(FILTER)
    (play_dir / "callback_plugins").mkdir()
    (play_dir / "callback_plugins" / "gc_main.py").write_text(CALLBACK)
    env = mitogen_env()
    assert env is not None, "mitogen is in requirements.txt"
    main_out = tmp_path / "main.json"
    env |= {
        "ANSIBLE_CALLBACK_PLUGINS": str(play_dir / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "gc_main",
        "GC_MAIN_OUT": str(main_out),
    }
    if switch is not None:
        env["FLOODGATE_GC_FREEZE_CHILDREN"] = switch
    workers = run_local_play(play_dir, PLAY, tmp_path / "out", env)
    return workers, json.loads(main_out.read_text())


def test_workers_freeze_what_they_inherit_and_the_controller_does_not(tmp_path: Path) -> None:
    workers, main = run(tmp_path, None)
    assert sorted(workers) == ["h1", "h2", "h3"]
    for state in workers.values():
        assert state["pid"] != main["pid"]
        assert state["enabled"] is True
        # ansible-playbook's heap: hundreds of thousands of objects, all out of the worker's collections
        assert isinstance(state["frozen"], int) and state["frozen"] > 10_000, state
    assert len({s["pid"] for s in workers.values()}) == 3  # one worker per host
    assert main == {"pid": main["pid"], "frozen": 0, "enabled": True}


def test_switched_off_nothing_is_frozen(tmp_path: Path) -> None:
    workers, main = run(tmp_path, "0")
    assert sorted(workers) == ["h1", "h2", "h3"]
    assert all(s["frozen"] == 0 and s["enabled"] is True for s in workers.values())
    assert main["frozen"] == 0
