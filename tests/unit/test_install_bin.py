"""csrc's install build (make install-bin): the floodgate-rx the receiver role copies to every host.

Built from this checkout with the real toolchain and read with binutils' readelf: the debug info is out of the
installed binary and in floodgate-rx.debug beside it, the two share a build ID and the binary names that file, the
symbol table stays (backtraces, perf), and the binary still runs. The receiver role installs this file (both
build paths); molecule/fleet checks byte for byte that each edge got it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc"
INSTALL = CSRC / "build" / "install" / "floodgate-rx"


def _readelf(*args: str) -> str:
    out = subprocess.run(["readelf", "-W", *args], capture_output=True, check=True).stdout
    return out.decode(errors="replace")  # a string dump shows the debuglink's CRC bytes too


def _build_id(path: Path) -> str:
    found = re.search(r"Build ID: ([0-9a-f]+)", _readelf("-n", str(path)))
    assert found, f"{path} has no GNU build ID"
    return found.group(1)


def _sections(path: Path) -> set[str]:
    return set(re.findall(r"\]\s+(\.\S+)", _readelf("-S", str(path))))


@pytest.fixture(scope="module")
def built() -> Path:
    for tool in ("make", "readelf", "objcopy"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it: mk/apt-packages.txt)")
    subprocess.run(["make", "-s", "-C", str(CSRC), "install-bin"], check=True)
    return INSTALL


def test_debug_info_moved_to_its_own_file(built: Path) -> None:
    full = CSRC / "floodgate-rx"
    debug = built.with_name("floodgate-rx.debug")
    assert ".debug_info" in _sections(full)  # the build this comes from has it (-g)
    assert not {s for s in _sections(built) if s.startswith(".debug_")}, _sections(built)
    assert ".debug_info" in _sections(debug)
    # gdb finds the debug file by the name in .gnu_debuglink (beside the binary, or /usr/lib/debug) or the build ID
    assert _build_id(built) == _build_id(debug) == _build_id(full)
    assert "floodgate-rx.debug" in _readelf("--string-dump=.gnu_debuglink", str(built))
    # the symbol table stays: a backtrace or `perf top` on a host names the receiver's functions
    assert re.search(r"\bFUNC\b.*\bfg_engine_compile$", _readelf("-s", str(built)), re.M)
    assert built.stat().st_size * 3 < full.stat().st_size, (built.stat().st_size, full.stat().st_size)


def test_installed_binary_runs(built: Path) -> None:
    r = subprocess.run([str(built), "--help"], capture_output=True, text=True, timeout=10)
    assert "usage: floodgate-rx --backend af_xdp|netmap" in r.stdout + r.stderr
