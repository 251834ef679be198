"""libFuzzer targets for the packet parser and the rules parser (ASan+UBSan, leak checks), 20 s each.

Each run starts from the committed seed corpus (csrc/fuzz/corpus/) and fails on any crash, sanitizer report,
leak or timeout; new inputs go to a temporary directory, the committed corpus stays untouched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import engine_model as m
import pytest

FUZZ_SECONDS = 20


@pytest.mark.slow
@pytest.mark.parametrize(("target", "corpus"), [("fuzz_packet", "packet"), ("fuzz_rules", "rules")])
def test_fuzzer_finds_nothing(target: str, corpus: str, tmp_path: Path) -> None:
    exe = m.CSRC / "build" / target
    assert exe.exists(), f"{exe} missing: run `make -C csrc fuzz` (make pytest does)"
    seeds = m.CSRC / "fuzz" / "corpus" / corpus
    work = tmp_path / "corpus"
    shutil.copytree(seeds, work)
    r = subprocess.run(
        [
            str(exe),
            str(work),
            f"-max_total_time={FUZZ_SECONDS}",
            "-timeout=10",
            "-rss_limit_mb=4096",
            "-max_len=4096",
            "-detect_leaks=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
    )
    tail = r.stderr[-3000:]
    assert r.returncode == 0, tail
    assert "Done" in r.stderr, tail
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("leak-*")), tail
