"""The fleet bench's table (lab/fleet/bench_fleet.py print_table): with several rounds it gives each column's median
wall time, the speed-up of the medians and each round's own speed-up (its two columns ran next to each other), and
marks a step where any round failed. Rows as bench_fleet.play() writes them to results.json (fields used here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import print_table  # noqa: E402


def row(mode: str, step: str, wall: float, rnd: int, rc: int = 0) -> dict[str, object]:
    return {"edges": 20, "mode": mode, "step": step, "wall": wall, "rc": rc, "round": rnd, "load": 2.0}


def table_line(out: str, step: str) -> list[str]:
    (line,) = [x for x in out.splitlines() if x.split()[1:2] == [step]]
    return line.split()


def test_medians_and_each_rounds_speed_up(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        row("project", "mitigate", 16.0, 1),
        row("defaults", "mitigate", 72.0, 1),
        row("defaults", "mitigate", 60.0, 2),  # round 2 runs the columns in reverse order
        row("project", "mitigate", 20.0, 2),
        row("project", "mitigate", 15.0, 3),
        row("defaults", "mitigate", 66.0, 3),
    ]
    print_table(rows, ["project", "defaults"], "ssh")
    out = capsys.readouterr().out
    assert "median of 3 rounds" in out
    # medians 16.0 and 66.0; rounds 72/16, 60/20, 66/15
    medians, each_round = ["16.0", "66.0", "4.1x"], ["4.5x", "3.0x", "4.4x"]
    assert table_line(out, "mitigate")[:9] == ["20", "mitigate", *medians, *each_round, "load"]


def test_one_round_and_a_failed_run(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        row("project", "unmitigate", 10.0, 1, rc=2),
        row("defaults", "unmitigate", 45.0, 1),
    ]
    print_table(rows, ["project", "defaults"], "ssh")
    out = capsys.readouterr().out
    assert "median" not in out and "each round" not in out
    assert table_line(out, "unmitigate")[:6] == ["20", "unmitigate", "10.0!", "45.0", "4.5x", "load"]
