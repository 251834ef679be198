"""The receiver's stats writer thread (csrc/live/fg_stats.h) writes the snapshot the loop took when it asked, and
the same files the loop writes itself: before it times them, the stats benchmark sets new counter values, has
the writer thread write them, checks they are in its JSON and Prometheus files, removes the files, writes them
from the loop and compares the two (equal but for the timestamp); it fails otherwise (as it does with the
snapshot taken after the writer was woken). A run on a few writes into a temporary directory: no timing is
asserted here (`make bench-stats` prints it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

EXE = Path(__file__).resolve().parents[2] / "csrc" / "build" / "bench_stats_write"


def test_writer_thread_writes_what_the_loop_writes(tmp_path: Path) -> None:
    assert EXE.exists(), f"{EXE} missing: run `make -C csrc build/bench_stats_write` (make pytest does)"
    r = subprocess.run([str(EXE), "30", "50", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"in_loop_us=[\d.]+ writer_us=[\d.]+ ratio=[\d.]+", r.stdout.strip().splitlines()[-1])
    assert list(tmp_path.iterdir()) == []  # both files removed again: nothing else was written there
