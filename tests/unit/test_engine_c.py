"""The engine's C unit tests (csrc/tests/), plain, under ASan+UBSan with leak checks, and with the packet
parser's scalar fallback instead of SSE2, driven from pytest."""

from __future__ import annotations

import os
import re
import subprocess

import engine_model as m
import pytest

BUILD = m.CSRC / "build"


@pytest.mark.parametrize("binary", ["test_engine", "test_engine_asan", "test_engine_scalar"])
def test_c_unit_suite(binary: str) -> None:
    exe = BUILD / binary
    assert exe.exists(), f"{exe} missing: run `make -C csrc test-bins` (make pytest does)"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    found = re.search(r"(\d+) checks, (\d+) failed", r.stdout)
    assert found, r.stdout
    assert int(found[1]) > 200 and int(found[2]) == 0
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
