"""netmap_presence: /dev/netmap and /sys/module/netmap, read from a root directory."""

from __future__ import annotations

from pathlib import Path

from ansible.module_utils.floodgate.netmap_presence import netmap_presence


def test_absent_on_this_machine() -> None:
    # CI machines cannot load kernel modules; if this ever fails, netmap is really there
    assert netmap_presence("/") == {"device": False, "module": False, "version": None}


def test_loaded(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "netmap").write_text("")
    (tmp_path / "sys/module/netmap").mkdir(parents=True)
    (tmp_path / "sys/module/netmap/version").write_text("v14.0\n")
    assert netmap_presence(str(tmp_path)) == {"device": True, "module": True, "version": "v14.0"}


def test_module_without_device(tmp_path: Path) -> None:
    (tmp_path / "sys/module/netmap").mkdir(parents=True)
    assert netmap_presence(str(tmp_path)) == {"device": False, "module": True, "version": None}
