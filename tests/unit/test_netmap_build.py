"""The netmap backend builds against real netmap sources (luigirizzo/netmap) with -Werror.

netmap cannot run on this machine (no kernel modules), so this checks the part that can be checked here: the
backend compiles against the real netmap_user.h/libnetmap.h, links against a real libnetmap.a, and the
resulting floodgate-rx fails with the operator's instructions when /dev/netmap is absent.
NETMAP_SRC must point at a netmap source tree (docs/netmap.md); nothing of netmap is committed here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
NETMAP_SRC = os.environ.get("NETMAP_SRC", "")

pytestmark = pytest.mark.skipif(
    not NETMAP_SRC,
    reason="NETMAP_SRC is not set: check out github.com/luigirizzo/netmap and set NETMAP_SRC to it (docs/netmap.md)",
)


@pytest.fixture(scope="module")
def netmap_src() -> Path:
    src = Path(NETMAP_SRC)
    assert (src / "sys/net/netmap_user.h").is_file(), f"NETMAP_SRC={src} is not a netmap source tree"
    if not (src / "libnetmap/libnetmap.a").is_file():  # userspace library only; no kernel module is built
        subprocess.run(["make", "-C", str(src / "libnetmap")], check=True, capture_output=True, text=True)
    return src


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_fg_netmap_compiles_against_netmap_headers(netmap_src: Path, tmp_path: Path, cc: str) -> None:
    if not shutil.which(cc):
        pytest.fail(f"{cc} is missing: `make deps` installs it")
    obj = tmp_path / "fg_netmap.o"
    r = subprocess.run(
        [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-DFG_HAVE_NETMAP",
         f"-I{netmap_src}/sys", f"-I{netmap_src}/libnetmap", "-c", str(CSRC / "live/fg_netmap.c"), "-o", str(obj)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    # The real netmap path was compiled, not the "built without netmap" stub.
    for sym in ("nmport_open", "nmport_close", "ioctl", "poll"):
        assert sym in undefined, undefined


def test_floodgate_rx_links_libnetmap_and_explains_missing_module(netmap_src: Path, tmp_path: Path) -> None:
    build = tmp_path / "csrc"
    shutil.copytree(CSRC, build, ignore=shutil.ignore_patterns("build", "*.o", "floodgate-rx"))
    r = subprocess.run(["make", "-C", str(build), f"NETMAP_SRC={netmap_src}", "live-backends", "floodgate-rx"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "netmap" in r.stdout.split("live backends compiled in:")[1].splitlines()[0]
    rules = tmp_path / "rules"
    rules.write_text("default drop\nrule clients pass src 198.51.100.0/24\n")
    rx = subprocess.run(
        [str(build / "floodgate-rx"), "--backend", "netmap", "--interface", "lo", "--queue", "0",
         "--rules", str(rules)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert rx.returncode != 0
    assert "netmap:lo-0/R" in rx.stderr and "/dev/netmap is missing" in rx.stderr, rx.stderr
