"""floodgate_mitogen_linear keeps Jinja's compiled code per source and settings (strategy_plugins/): a play run with
it renders exactly what the same play renders with the code cache off and with ansible-core's own linear strategy.

The play (real ansible-playbook, three hosts over mitogen's local connection) renders the same source under
different settings - a template file with a `#jinja2:` header that changes whitespace handling, the template
lookup with other variable delimiters, the same expression with each host's own values, conditionals - where a
cache keyed on the source alone would hand one setting's compiled code to another.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import mitogen_env  # noqa: E402
from local_play import run_local_play  # noqa: E402

BODY = "{% if x %}\nx={{ x }}\n{% endif %}\n[[ x ]]\n"

PLAY = """
- name: Render the same sources under different settings
  hosts: all
  gather_facts: false
  vars:
    x: "{{ inventory_hostname | replace('h', '') | int * 7 }}"
  tasks:
    - name: Render
      ansible.builtin.set_fact:
        out:
          plain: "{{ lookup('ansible.builtin.template', 'plain.j2') }}"
          trimmed: "{{ lookup('ansible.builtin.template', 'trimmed.j2') }}"
          brackets: "{{ lookup('ansible.builtin.template', 'plain.j2', variable_start_string='[[',
                                variable_end_string=']]') }}"
          expr: "{{ x | int + 1 }}"
          when_ran: "{{ 'yes' if (x | int) > 10 else 'no' }}"
    - name: Only where x > 10
      ansible.builtin.set_fact:
        big: true
      when: x | int > 10
    - name: Write what was rendered
      ansible.builtin.copy:
        content: "{{ out | combine({'big': big | default(false)}) | to_json }}"
        dest: "{{ outdir }}/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
"""


def run_play(tmp_path: Path, name: str, env_extra: dict[str, str]) -> dict[str, dict[str, object]]:
    play_dir = tmp_path / "play"
    (play_dir / "templates").mkdir(parents=True, exist_ok=True)
    (play_dir / "templates" / "plain.j2").write_text(BODY)
    (play_dir / "templates" / "trimmed.j2").write_text("#jinja2: trim_blocks: False\n" + BODY)
    return run_local_play(play_dir, PLAY, tmp_path / name, env_extra)


def test_code_cache_renders_what_ansible_renders(tmp_path: Path) -> None:
    mitogen = mitogen_env()
    if mitogen is None:
        pytest.skip("mitogen is not installed in .venv (make deps installs it)")
    cached = run_play(tmp_path, "cached", mitogen)
    uncached = run_play(tmp_path, "uncached", {**mitogen, "FLOODGATE_JINJA_CACHE": "0"})
    linear = run_play(tmp_path, "linear", {"ANSIBLE_STRATEGY": "linear"})
    assert cached == uncached == linear
    # and what that is, so that three equally wrong renderings cannot pass
    assert sorted(cached) == ["h1", "h2", "h3"]
    h2 = cached["h2"]
    assert h2["plain"] == "x=14\n[[ x ]]\n"  # Ansible's template lookup trims blocks by default
    assert h2["trimmed"] == "\nx=14\n\n[[ x ]]\n"  # the file's own header turns that off
    assert h2["brackets"] == "x={{ x }}\n14\n"  # other delimiters: [[ ]] is the variable now
    assert h2["expr"] == 15 and h2["when_ran"] == "yes" and h2["big"] is True
    assert cached["h1"]["expr"] == 8 and cached["h1"]["big"] is False
