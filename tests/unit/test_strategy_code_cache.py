"""floodgate_mitogen_linear serves the hosts an ansible_mitogen.runner whose ModuleUtilsImporter keeps the compiled
code of each module_utils per (path, source) instead of compiling it at every module call (docs/fleet.md "Speed
settings"). The transform is checked on the installed mitogen's own runner source: both compile() calls replaced,
the result compiles, and the cache returns one code object per source text; a text it does not recognise is
served unchanged. The modules' runs through it are the lab's (the fleet scenario, the bench)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import types
from pathlib import Path

import mitogen
import mitogen.core
import mitogen.master
import mitogen.parent
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "strategy_plugins"))
import floodgate_mitogen_linear as strategy  # noqa: E402


def test_the_runner_served_to_hosts_caches_module_utils_code() -> None:
    path, source, _ = mitogen.master.ModuleFinder().get_module_source("ansible_mitogen.runner")
    text = source.decode() if isinstance(source, bytes) else source
    assert text.count("code = _fg_module_utils_code(source, path)") == 2
    assert "return self._code_by_path.setdefault(self.path, _fg_compile(" in text
    assert "code = compile(source, path, 'exec', 0, 1)" not in text
    runner = types.ModuleType("runner_as_served")
    runner.mitogen = mitogen  # its mitogen.core here has no disk cache (_fg_code): plain compile()
    # the helper alone (the served module imports ansible_mitogen.target etc., which need a mitogen context)
    exec(compile(text[text.index("_fg_module_utils_codes = {}") :], path, "exec"), runner.__dict__)
    src = b"X = 1\n"
    first = runner._fg_module_utils_code(src, "/m/a.py")
    assert runner._fg_module_utils_code(src, "/m/a.py") is first
    assert runner._fg_module_utils_code(b"X = 2\n", "/m/a.py") is not first
    assert runner._fg_module_utils_code(src, "/m/b.py") is not first
    compile(text, path, "exec")


def test_an_unknown_runner_text_is_served_unchanged() -> None:
    assert strategy.runner_source_with_code_cache("def f():\n    pass\n") is None
    served = mitogen.master.ModuleFinder().get_module_source("ansible_mitogen.runner")[1]
    assert strategy.runner_source_with_code_cache(served) is None  # not patched twice


MODULE = """
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.files import read_text  # noqa: F401 - a floodgate module_utils import


def main():
    module = AnsibleModule(argument_spec={})
    codes = getattr(sys.modules.get("ansible_mitogen.runner"), "_fg_module_utils_codes", None)
    module.exit_json(changed=False, cached=None if codes is None else sorted(path for path, _ in codes))


main()
"""

PLAY = """
- name: A floodgate module_utils imported by two module calls on each host
  hosts: all
  gather_facts: false
  tasks:
    - name: First call
      fg_codes:
      register: first

    - name: Second call
      fg_codes:
      register: second

    - name: Write what each call found
      ansible.builtin.copy:
        content: "{{ {'first': first.cached, 'second': second.cached} | to_json }}"
        dest: "{{ outdir }}/{{ inventory_hostname }}.json"
        mode: "0644"
      delegate_to: localhost
"""


def test_hosts_compile_each_module_utils_once_per_run(tmp_path: Path) -> None:
    """Real runs over local hosts: the served runner keeps the compiled floodgate module_utils (the second call
    finds the first's entry and adds none); FLOODGATE_MITOGEN_CODE_CACHE=0 serves mitogen's runner as it is."""
    sys.path.insert(0, str(ROOT / "lab" / "fleet"))
    sys.path.insert(0, str(ROOT / "tests"))
    from bench_fleet import mitogen_env
    from local_play import rerun_local_play, run_local_play

    (tmp_path / "play" / "library").mkdir(parents=True)
    (tmp_path / "play" / "library" / "fg_codes.py").write_text(MODULE)
    # the hosts' disk cache of compiled code goes to their HOME (local hosts: the controller's user)
    env = {**(mitogen_env() or {}), "HOME": str(tmp_path / "home")}
    out = run_local_play(tmp_path / "play", PLAY, tmp_path / "on", env)
    cache = tmp_path / "home" / ".cache" / "floodgate-mitogen" / sys.implementation.cache_tag
    written = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert len(written) > 50, written  # ansible's module_utils, ansible_mitogen's target side, the modules
    again, _ = rerun_local_play(tmp_path / "play", tmp_path / "again", env)
    assert again == out
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == written  # read, not written again
    assert set(out) == {"h1", "h2", "h3"}
    for host, found in out.items():
        files = [p for p in found["first"] if p.endswith("module_utils/floodgate/files.py")]
        assert files and found["second"] == found["first"], (host, found)
    env_off = {**env, "FLOODGATE_MITOGEN_CODE_CACHE": "0", "FLOODGATE_MITOGEN_PYC_CACHE": "0"}
    shutil.rmtree(tmp_path / "home" / ".cache")
    off, _ = rerun_local_play(tmp_path / "play", tmp_path / "off", env_off)
    assert not (tmp_path / "home" / ".cache" / "floodgate-mitogen").exists()
    assert all(found == {"first": None, "second": None} for found in off.values()), off


def test_the_core_sent_to_hosts_caches_compiled_code_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = mitogen.parent._get_core_source()  # as the controller sends it (minimized), patched
    assert source.count("= _fg_code(source, ") == 2 and "code = compile(source, origin" not in source
    compile(source, "mitogen.core", "exec")
    helper = source[source.index("def _fg_code(") : source.index("\nclass Importer(")]
    ns: dict[str, object] = {"os": os, "sys": sys}
    exec(compile(helper, "core", "exec"), ns)
    fg_code = ns["_fg_code"]
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / ".cache" / "floodgate-mitogen" / sys.implementation.cache_tag
    first = fg_code("X = 1\n", "master:/m/a.py")  # type: ignore[operator]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and len(list(folder.iterdir())) == 1
    again = fg_code("X = 1\n", "master:/m/a.py")  # type: ignore[operator]
    assert again == first and again is not first  # loaded from the file
    exec(again, out := {})
    assert out["X"] == 1
    fg_code("X = 2\n", "master:/m/a.py")  # type: ignore[operator]
    assert len(list(folder.iterdir())) == 2  # another text, another file
    # a folder others may write to is not used (nothing read or written there)
    folder.chmod(0o777)
    for f in folder.iterdir():
        f.unlink()
    assert fg_code("X = 3\n", "master:/m/a.py").co_filename == "master:/m/a.py"  # type: ignore[operator]
    assert list(folder.iterdir()) == []
    # a HOME the user does not own (sudo keeping the login user's): the user's own home from the password database
    other = tmp_path / "login-user"
    other.mkdir()
    os.chown(other, 65534, 65534)
    monkeypatch.setenv("HOME", str(other))
    own = tmp_path / "own-home"
    monkeypatch.setitem(
        sys.modules, "pwd", types.SimpleNamespace(getpwuid=lambda uid: types.SimpleNamespace(pw_dir=str(own)))
    )
    fg_code("X = 4\n", "master:/m/a.py")  # type: ignore[operator]
    assert not (other / ".cache").exists()
    assert len(list((own / ".cache" / "floodgate-mitogen" / sys.implementation.cache_tag).iterdir())) == 1


def test_an_unknown_core_text_is_sent_unchanged() -> None:
    assert strategy.core_source_with_code_cache("x = 1\n") is None
    assert strategy.core_source_with_code_cache(mitogen.parent._get_core_source()) is None  # not twice
