"""Every module in library/ documents itself the way ansible-core's own modules do.

`ansible-doc -M library NAME` must render it; its documented options must be exactly the options its
argument_spec accepts (so docs cannot drift from code); EXAMPLES must be valid YAML tasks; RETURN present;
check mode declared.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from standin.nic import module_utils

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "library").glob("*.py") if not p.name.startswith("_"))
ANSIBLE_DOC = REPO / ".venv" / "bin" / "ansible-doc"


def _env() -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


@pytest.fixture(scope="module")
def docs() -> dict:
    proc = subprocess.run(
        [str(ANSIBLE_DOC), "-M", "library", "-t", "module", "-j", *MODULES],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _argument_spec(name: str) -> tuple[set[str], bool]:
    """Option names in the AnsibleModule(argument_spec={...}) literal, and whether check mode is declared."""
    tree = ast.parse((REPO / "library" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "AnsibleModule":
            kw = {k.arg: k.value for k in node.keywords}
            spec = kw["argument_spec"]
            check = (
                isinstance(kw.get("supports_check_mode"), ast.Constant) and kw["supports_check_mode"].value
            )
            if isinstance(
                spec, ast.Name
            ):  # a spec shared with an action plugin, from floodgate's module_utils
                return set(_imported_spec(tree, spec.id)), bool(check)
            assert isinstance(spec, ast.Dict), f"{name}: argument_spec is neither a literal dict nor imported"
            return {k.value for k in spec.keys if isinstance(k, ast.Constant)}, bool(check)
    if (REPO / "action_plugins" / f"{name}.py").exists():
        return _action_spec(name)
    raise AssertionError(f"{name}: no AnsibleModule(...) call")


def _action_spec(name: str) -> tuple[set[str], bool]:
    """A module documented in library/ whose work is all its action plugin's (floodgate_steps): the option names
    of the plugin's ARGUMENT_SPEC literal, and whether the plugin declares check mode."""
    tree = ast.parse((REPO / "action_plugins" / f"{name}.py").read_text())
    spec: dict | None = None
    check = False
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            names = {getattr(t, "id", None) for t in targets}
            if "ARGUMENT_SPEC" in names and node.value is not None:
                spec = ast.literal_eval(node.value)
            if "_supports_check_mode" in names and node.value is not None:
                check = ast.literal_eval(node.value) is True
    assert spec is not None, (
        f"{name}: neither an AnsibleModule(...) call nor an action plugin's ARGUMENT_SPEC"
    )
    return set(spec), check


def _imported_spec(tree: ast.Module, name: str) -> dict:
    """The dict `name` refers to, imported by the module from ansible.module_utils.floodgate.*."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
            prefix = "ansible.module_utils.floodgate."
            assert node.module and node.module.startswith(prefix), f"{name} imported from {node.module}"
            spec = getattr(module_utils(node.module.removeprefix(prefix)), name)
            assert isinstance(spec, dict)
            return spec
    raise AssertionError(f"argument_spec={name} is not imported from floodgate's module_utils")


def test_there_are_modules() -> None:
    assert {"ethtool_features", "nic_facts", "netmap_queue_check"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_renders_in_text_form(name: str) -> None:
    proc = subprocess.run(
        [str(ANSIBLE_DOC), "-M", "library", name],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert name in proc.stdout and "EXAMPLES:" in proc.stdout and "RETURN VALUES:" in proc.stdout
    assert "ERROR" not in proc.stderr.upper(), proc.stderr


# Known drift, reported to the module's owner: ethtool_ntuple accepts `locations` (state=absent) but its
# DOCUMENTATION options do not list it. strict: this turns red the moment it is fixed, so the mark goes.
KNOWN_DRIFT: dict[str, str] = {}
# Modules that never run ethtool (floodgate_record writes floodgate's own JSON records, floodgate_files the receiver's
# settings, floodgate_rx_stats reads the receiver's stats file, floodgate_steps runs other modules).
NO_ETHTOOL = {"floodgate_record", "floodgate_files", "floodgate_rx_stats", "floodgate_steps"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(m, marks=pytest.mark.xfail(reason=KNOWN_DRIFT[m], strict=True))
        if m in KNOWN_DRIFT
        else m
        for m in MODULES
    ],
)
def test_documented_options_match_argument_spec(name: str, docs: dict) -> None:
    doc = docs[name]["doc"]
    spec, check_mode = _argument_spec(name)
    assert set(doc.get("options", {})) == spec
    assert check_mode, f"{name} must declare supports_check_mode"
    if name not in NO_ETHTOOL:
        assert "ethtool_path" in spec
    for opt, body in doc["options"].items():
        assert body.get("description"), f"{name}.{opt} has no description"


@pytest.mark.parametrize("name", MODULES)
def test_examples_and_return(name: str, docs: dict) -> None:
    examples = yaml.safe_load(docs[name]["examples"])
    assert isinstance(examples, list) and examples
    assert any(name in task for task in examples), f"{name}: no example uses the module"
    assert docs[name]["return"], f"{name}: RETURN is empty"
