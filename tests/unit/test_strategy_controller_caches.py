"""floodgate_mitogen_linear's caches in the controller's process (docs/fleet.md "Speed settings"): mitogen's scan of
a module's module_utils compiles each file once per run and finds what it found before, for every module in
library/ and some of ansible-core's; the play's vars_files are parsed once per run and read again when the file
changes, while every other load goes through ansible-core unchanged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ansible
import ansible_mitogen.module_finder as module_finder
import pytest
from ansible.errors import AnsibleFileNotFound
from ansible.parsing.dataloader import DataLoader

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "strategy_plugins"))
import floodgate_mitogen_linear as strategy  # noqa: E402

BUILTIN = Path(ansible.__file__).parent
MODULES = sorted((ROOT / "library").glob("*.py")) + [
    BUILTIN / "modules" / f"{m}.py" for m in ("copy", "file", "slurp", "systemd_service", "command")
]
SEARCH = (str(ROOT / "module_utils"), str(BUILTIN / "module_utils"))


def scan_all() -> list[list[tuple[str, str, bool]]]:
    return [module_finder.scan(m.stem, str(m), SEARCH) for m in MODULES]


def test_the_scan_compiles_each_file_once_and_finds_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    assert module_finder.compile is strategy._scan_compile  # type: ignore[attr-defined]
    monkeypatch.setattr(strategy, "_SCAN_CODE", {})
    cached = scan_all()
    files = {path for deps in cached for _name, path, _pkg in deps} | {str(m) for m in MODULES}
    # one code object per file the scan read (the modules and their module_utils), none compiled twice
    assert len(strategy._SCAN_CODE) == len(files)
    assert {key[1] for key in strategy._SCAN_CODE} <= {name for deps in cached for name, _p, _k in deps} | {
        m.stem for m in MODULES
    }
    assert scan_all() == cached and len(strategy._SCAN_CODE) == len(files)
    monkeypatch.delattr(module_finder, "compile")  # mitogen's own scan, with the builtin compile()
    assert scan_all() == cached
    assert any(name == "ansible.module_utils.floodgate.ethtool_cmd" for name, _p, _k in cached[0])


def test_vars_files_are_parsed_once_and_again_when_changed(tmp_path: Path) -> None:
    assert DataLoader.load_from_file is strategy._load_from_file_kept
    loader = DataLoader()
    f = tmp_path / "request.yml"
    f.write_text('fg_queue: "{{ queue }}"\nfg_flows: [udp:53]\n')
    first = loader.load_from_file(str(f), unsafe=True, cache="vaulted", trusted_as_template=True)
    assert first == {"fg_queue": "{{ queue }}", "fg_flows": ["udp:53"]}
    assert loader.load_from_file(str(f), unsafe=True, cache="vaulted", trusted_as_template=True) is first
    st = f.stat()
    f.write_text("fg_queue: 5\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert loader.load_from_file(str(f), unsafe=True, cache="vaulted", trusted_as_template=True) == {
        "fg_queue": 5
    }
    # not a vars_file load: ansible-core's own path (a safe copy each time, or its own cache)
    safe = loader.load_from_file(str(f), cache="vaulted")
    assert safe == {"fg_queue": 5} and safe is not loader.load_from_file(str(f), cache="vaulted")


def test_a_missing_vars_file_fails_as_ansible_fails(tmp_path: Path) -> None:
    loader = DataLoader()
    with pytest.raises(AnsibleFileNotFound, match="Could not find or access"):
        loader.load_from_file(str(tmp_path / "absent.yml"), unsafe=True, cache="vaulted")


def test_filter_and_test_plugins_are_looked_up_once_per_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.plugins.loader import filter_loader, test_loader

    assert type(filter_loader).get_with_context is strategy._jinja_plugin_kept
    monkeypatch.setattr(strategy, "_JINJA_PLUGINS", {})
    calls: list[str] = []
    original = strategy._jinja_get_with_context

    def counted(self, name, *args, **kwargs):
        calls.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(strategy, "_jinja_get_with_context", counted)
    names = ["flow_spec", "ansible.builtin.combine", "ntuple_args", "flow_spec", "ansible.builtin.combine"]
    found = [filter_loader.get_with_context(n) for n in names]
    # the same plugin as ansible-core resolves it, looked up once per name
    assert calls == ["flow_spec", "ansible.builtin.combine", "ntuple_args"]
    assert found[0] is found[3] and found[1] is found[4]
    assert found[0].object.j2_function.__name__ == "flow_spec"
    assert (
        found[1].object.j2_function is original(filter_loader, "ansible.builtin.combine").object.j2_function
    )
    # tests are kept apart from filters of the same name
    match = test_loader.get_with_context("match").object.j2_function
    assert match.__name__ == "match" and match.__module__.startswith("ansible.plugins.test.core")
    assert ("test", "match") in strategy._JINJA_PLUGINS and ("filter", "match") not in strategy._JINJA_PLUGINS
    # a name that does not resolve raises each time and is not kept
    for _ in range(2):
        with pytest.raises(KeyError):
            filter_loader.get_with_context("no_such_floodgate_filter")
    assert calls.count("no_such_floodgate_filter") == 2


def test_a_host_without_facts_gets_its_variables_without_the_plugin_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """get_vars of a host that has no facts: the same variables as ansible-core's clean_facts gives, without its
    listing of every connection plugin; a host with facts goes through clean_facts as before."""
    import ansible.vars.clean as clean
    import ansible.vars.manager as manager
    from ansible.inventory.manager import InventoryManager
    from ansible.plugins.loader import connection_loader
    from ansible.vars.manager import VariableManager

    assert manager.clean_facts is strategy._clean_facts_of
    walks: list[object] = []
    listed = connection_loader.all

    def counted(*args: object, **kwargs: object) -> object:
        walks.append(args)
        return listed(*args, **kwargs)

    monkeypatch.setattr(connection_loader, "all", counted)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources="edge1,edge2,")
    variables = VariableManager(loader=loader, inventory=inventory)
    bare, with_facts = inventory.get_host("edge1"), inventory.get_host("edge2")
    variables.set_host_facts("edge2", {"floodgate_nic": {"queues": 8}, "ansible_ssh_pass": "x"})

    shortcut = variables.get_vars(host=bare)
    assert walks == []
    monkeypatch.setattr(manager, "clean_facts", clean.clean_facts)  # ansible-core's own path
    assert variables.get_vars(host=bare) == shortcut
    assert walks, "ansible-core's clean_facts lists the connection plugins even for no facts"

    monkeypatch.setattr(manager, "clean_facts", strategy._clean_facts_of)
    walks.clear()
    facts = variables.get_vars(host=with_facts)
    assert walks and facts["floodgate_nic"] == {"queues": 8} and "ansible_ssh_pass" not in facts
