"""floodgate_mitogen_linear compiles the template files of the play's roles (templates/**/*.j2) in the controller
before the workers fork, with the settings the `template` lookup uses, so that no worker compiles them again.

A real ansible-playbook run (three hosts over mitogen's local connection) with FLOODGATE_JINJA_CACHE_LOG: every
compile that is not taken from the cache is logged with its process and whether it was the controller's warm-up.
The role's files (one plain, one with a `#jinja2:` header that changes whitespace handling, in a subfolder) must be
compiled by the warm-up and by no worker; a template file outside any templates/ folder, which the warm-up does
not see, must be compiled by each host's worker: so the log does see the workers' compiles of the template lookup,
and the absence of the role's files from it means the cache was hit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import mitogen_env  # noqa: E402
from local_play import run_local_play  # noqa: E402

PLAIN = "{% if x %}\nplain x={{ x }}\n{% endif %}\n"
HEADER = "#jinja2: trim_blocks: False\n"
HEADED = "{% if x %}\nheaded x={{ x }}\n{% endif %}\n"
OUTSIDE = "{% if x %}\noutside x={{ x }}\n{% endif %}\n"

PLAY = """
- name: Render a role's template files
  hosts: all
  gather_facts: false
  vars:
    x: "{{ inventory_hostname | replace('h', '') | int * 7 }}"
  roles:
    - role: warm
"""

TASKS = """
- name: Render the role's template files and one from outside any templates folder
  ansible.builtin.set_fact:
    out:
      plain: "{{ lookup('ansible.builtin.template', 'plain.j2') }}"
      headed: "{{ lookup('ansible.builtin.template', 'sub/headed.j2') }}"
      outside: "{{ lookup('ansible.builtin.template', outside_template) }}"
- name: Write what was rendered
  ansible.builtin.copy:
    content: "{{ out | to_json }}"
    dest: "{{ outdir }}/{{ inventory_hostname }}.json"
    mode: "0644"
  delegate_to: localhost
"""


def run_play(
    tmp_path: Path, env_extra: dict[str, str]
) -> tuple[dict[str, dict[str, str]], list[dict[str, object]]]:
    play_dir = tmp_path / "play"
    role = play_dir / "roles" / "warm"
    (role / "tasks").mkdir(parents=True)
    (role / "templates" / "sub").mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text(TASKS)
    (role / "templates" / "plain.j2").write_text(PLAIN)
    (role / "templates" / "sub" / "headed.j2").write_text(HEADER + HEADED)
    (tmp_path / "elsewhere").mkdir()
    outside = tmp_path / "elsewhere" / "outside.j2"
    outside.write_text(OUTSIDE)
    log = tmp_path / "compiled.jsonl"
    rendered = run_local_play(
        play_dir,
        PLAY,
        tmp_path / "out",
        {"FLOODGATE_JINJA_CACHE_LOG": str(log), **env_extra},
        extra_vars=f"outside_template={outside}",
    )
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return rendered, records


def test_role_template_files_are_compiled_before_the_workers_fork(tmp_path: Path) -> None:
    mitogen = mitogen_env()
    if mitogen is None:
        pytest.skip("mitogen is not installed in .venv (make deps installs it)")
    rendered, records = run_play(tmp_path, mitogen)

    # rendered as the template lookup renders them: trim_blocks by default, the header turns it off
    assert sorted(rendered) == ["h1", "h2", "h3"]
    assert rendered["h2"] == {
        "plain": "plain x=14\n",
        "headed": "\nheaded x=14\n",
        "outside": "outside x=14\n",
    }
    assert rendered["h1"]["plain"] == "plain x=7\n"

    def compiled(source: str, warmup: bool) -> list[dict[str, object]]:
        return [
            r for r in records if r["source"] == source and r["warmup"] is warmup and r["kind"] == "template"
        ]

    # the warm-up compiled the role's files once, the headed one without its header line (as the lookup does)
    assert len(compiled(PLAIN, True)) == 1
    assert len(compiled(HEADED, True)) == 1
    # no worker compiled them again
    assert compiled(PLAIN, False) == [] and compiled(HEADED, False) == []
    # the file the warm-up cannot know of was compiled by every host's worker: the log sees the workers
    outside = compiled(OUTSIDE, False)
    assert len({r["pid"] for r in outside}) == 3, outside
    assert compiled(OUTSIDE, True) == []
