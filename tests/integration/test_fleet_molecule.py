"""Molecule scenario molecule/fleet: mitigate.yml over 10 fleet-lab edges with three failures injected.

The scenario asserts the behaviour (docs/fleet.md): edge4's receiver cannot start -> rolled back with the reason,
edge8's NIC has no ntuple -> refused before any change, edge10 is paused mid-run -> reported unreachable; the
seven others end mitigated and take a flood on queue 4; unmitigate.yml returns all ten NICs to their recorded
state. This test runs it, then checks the run summary it left behind. FG_KEEP_LAB=1 keeps the fleet lab up.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from molecule_run import molecule_env, run_scenario

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "lab" / ".state" / "fleet" / "molecule" / "run"

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.lab]


def rows(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text())
    if isinstance(data, str):  # the summary's template may render the list as text
        data = ast.literal_eval(data.strip())
    return {str(r["host"]): r for r in data}


def test_fleet_scenario(tmp_path: Path) -> None:
    for tool in ("podman", "runc", "make"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    # HOME in the test's folder: the scenario's tasks delegated to this controller run under floodgate_mitogen_linear,
    # whose hosts keep a cache of compiled code in their user's home (~/.cache/floodgate-mitogen).
    (tmp_path / "home").mkdir()
    env = molecule_env(HOME=str(tmp_path / "home"))
    subprocess.run(["make", "-s", "-C", str(ROOT / "csrc"), "install-bin"], check=True)
    started = time.monotonic()
    proc = run_scenario("fleet", env, timeout=2400)
    took = time.monotonic() - started
    assert proc.returncode == 0, (
        f"molecule test failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-8000:]}"
    )
    mitigated = rows(RUN / "summary-mitigate.json")
    assert [h for h, r in mitigated.items() if r["result"] == "mitigated"] == [
        f"edge{i}" for i in (1, 2, 3, 5, 6, 7, 9)
    ]
    # The lab's veth NICs have no per-queue IRQs: nothing pinned, and the summary says so on every mitigated host.
    assert all(r["irq"] == [] for r in mitigated.values() if r["result"] == "mitigated"), mitigated
    assert mitigated["edge4"]["result"] == "rolled back"
    assert "ntuple" in str(mitigated["edge8"]["reason"]).lower()
    assert "unreachable" in str(mitigated["edge10"]["result"]) + str(mitigated["edge10"]["reason"])
    undone = rows(RUN / "summary-unmitigate.json")
    assert set(undone) == {f"edge{i}" for i in range(1, 11)}
    assert all(r["result"] in ("restored", "nothing to undo") for r in undone.values()), undone
    print(f"fleet scenario: 10 edges, molecule test took {took:.0f} s")
