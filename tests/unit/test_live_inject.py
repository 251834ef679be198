"""The af_xdp backend's Ethernet/VLAN stripping before TUN re-injection (csrc/live/fg_inject.c), under
ASan+UBSan: exact-length buffers make any over-read fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LIVE = Path(__file__).resolve().parents[2] / "csrc" / "live"


@pytest.mark.parametrize("sanitize", [False, True])
def test_l3_offset(tmp_path: Path, sanitize: bool) -> None:
    cc = "clang" if sanitize else "gcc"
    if not shutil.which(cc):
        pytest.fail(f"{cc} is missing: `make deps` installs it")
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"] if sanitize else ["-O2"]
    exe = tmp_path / "test_inject"
    build = subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", *san, "-o", str(exe),
         str(LIVE / "tests" / "test_inject.c"), str(LIVE / "fg_inject.c")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    r = subprocess.run([str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: fg_l3_offset" in r.stdout
