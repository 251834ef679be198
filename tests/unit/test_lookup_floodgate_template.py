"""lookup_plugins/floodgate_template.py: ansible.builtin.template's lookup without its deep copy of the variables.

In-process, through ansible-core's own plugin loader: both lookups render the receiver role's real templates with the
role's defaults and vars, and must give the same text; a variable whose deep copy is counted shows that the builtin
lookup copies the variables deeply and floodgate_template does not; the template's own variables must not leak into
the caller's. ansible-doc must render the plugin's documentation.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "receiver"
TEMPLATES = ["rules.conf.j2", "floodgate-rx@.service.j2", "instance.conf.j2"]

lookup_loader.add_directory(str(REPO / "lookup_plugins"))


class DeepCopyCounted(dict):  # type: ignore[type-arg]
    """A registered result's stand-in that counts how often it is deep-copied."""

    copies = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> DeepCopyCounted:
        DeepCopyCounted.copies += 1
        return DeepCopyCounted(self)


def receiver_variables(loader: DataLoader) -> dict[str, Any]:
    """The receiver role's defaults and vars, as a play on edge1 for eth1 queue 4 would have them."""
    variables: dict[str, Any] = {}
    variables.update(loader.load_from_file(str(ROLE / "defaults" / "main.yml")))
    variables.update(loader.load_from_file(str(ROLE / "vars" / "main.yml")))
    variables.update(
        receiver_interface="eth1",
        receiver_queue=4,
        inventory_hostname="edge1",
        ansible_search_path=[str(ROLE)],
        preflight_facts=DeepCopyCounted(nic={"rxfh": list(range(128))}),
    )
    return variables


def lookups(variables: dict[str, Any]) -> tuple[Any, Any]:
    loader = DataLoader()
    templar = Templar(loader=loader, variables=variables)
    builtin = lookup_loader.get("template", loader=loader, templar=templar)
    ours = lookup_loader.get("floodgate_template", loader=loader, templar=templar)
    assert builtin is not None and ours is not None
    return builtin, ours


@pytest.mark.parametrize("template", TEMPLATES)
def test_renders_the_receivers_templates_as_the_builtin_lookup(template: str) -> None:
    variables = receiver_variables(DataLoader())
    builtin, ours = lookups(variables)
    expected = builtin.run([template], variables=variables)
    got = ours.run([template], variables=variables)
    assert got == expected
    assert got[0].startswith("# Ansible managed")
    if template != "floodgate-rx@.service.j2":  # the unit template names no instance
        assert "eth1" in got[0]


def test_template_vars_and_options_as_the_builtin_lookup() -> None:
    variables = receiver_variables(DataLoader())
    builtin, ours = lookups(variables)
    kwargs = {"template_vars": {"receiver_queue": 5}, "trim_blocks": False}
    expected = builtin.run(["rules.conf.j2"], variables=variables, **kwargs)
    got = ours.run(["rules.conf.j2"], variables=variables, **kwargs)
    assert got == expected
    assert "queue 5" in got[0]
    # trim_blocks off keeps the newline after each {% for %} / {% endfor %}: the option reached the rendering
    assert got != ours.run(["rules.conf.j2"], variables=variables, template_vars={"receiver_queue": 5})


def test_does_not_deep_copy_the_variables_nor_change_them() -> None:
    variables = receiver_variables(DataLoader())
    before = dict(variables)
    builtin, ours = lookups(variables)
    DeepCopyCounted.copies = 0
    builtin.run(["rules.conf.j2"], variables=variables)
    assert DeepCopyCounted.copies == 1  # the probe sees the builtin lookup's deep copy
    DeepCopyCounted.copies = 0
    ours.run(TEMPLATES, variables=variables, template_vars={"receiver_queue": 5})
    assert DeepCopyCounted.copies == 0
    # the template's own variables (template_path, ansible_managed, template_vars) went into a copy
    assert variables == before
    assert variables["preflight_facts"] is before["preflight_facts"]


def test_a_missing_template_fails_as_the_builtin_lookup() -> None:
    variables = receiver_variables(DataLoader())
    builtin, ours = lookups(variables)
    with pytest.raises(AnsibleError) as expected:
        builtin.run(["no-such.j2"], variables=variables)
    with pytest.raises(AnsibleError) as got:
        ours.run(["no-such.j2"], variables=variables)
    assert str(got.value) == str(expected.value)
    assert "could not be found" in str(got.value)


def test_ansible_doc_renders_it() -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-doc"), "-t", "lookup", "floodgate_template"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "deep-copies" in out.stdout
    for option in ("template_vars", "trim_blocks", "variable_start_string"):
        assert option in out.stdout
