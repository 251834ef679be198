"""Per-role Molecule scenarios (roles/ROLE/molecule/default), against one lab bring-up.

Each role scenario tests its role alone on lab edge1 through the role's own variables and asserts, itself, the
role's real effect (ethtool output, nic_facts, systemd), idempotence, the exact undo and refused bad input; the
shared create/destroy (molecule/shared/) leave the lab alone here (FG_LAB_MANAGED=1), so the lab is brought up once for
this module and taken down at its end. Run alone, `cd roles/ROLE && molecule test` brings it up and down itself.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from molecule_run import molecule_env

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
LAB_ROLES = ["preflight", "nic_offloads", "rss_steering", "receiver", "nic_restore"]
# What each scenario's verify prints when its checks pass (the scenario asserts; this proves they ran).
EXPECTED = {
    "preflight": ["preflight: 6 bad inputs refused; nic_facts unchanged"],
    "nic_offloads": [
        "nic_offloads: nic_facts after present -> restored equals before",
        "nic_offloads: 3 bad inputs refused; nic_facts unchanged",
    ],
    "rss_steering": [
        "rss_steering: DNS flood per queue",
        "rss_steering: RSS table and ntuple rules after present -> restored equal before",
        "rss_steering: 3 bad inputs refused; nic_facts unchanged",
    ],
    "receiver": [
        "receiver: active on eth1 queue 4 (af_xdp, CPU 1, --xdp-takeover)",
        "receiver: stopped; no floodgate-rx unit, template, rules or stats file left; nic_facts as before",
        "receiver: 3 bad inputs refused; nothing created",
    ],
    "nic_restore": [
        "nic_restore: nic_facts after change -> restore equals the snapshot",
        "nic_restore: host snapshot lost -> controller copy restored nic_facts exactly",
        "nic_restore: no state.json -> the controller copy was not applied",
        "nic_restore: 1 bad input refused; nic_facts unchanged",
    ],
}

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.lab]


def plain(text: str) -> str:
    """Molecule/Ansible output without colours, box-drawing margins and line wrapping."""
    text = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;;[^\x1b]*\x1b\\", "", text)
    return " ".join(line.strip().lstrip("│└─").strip() for line in text.splitlines())


def save_log(name: str, proc: subprocess.CompletedProcess[str]) -> None:
    (ROOT / "run").mkdir(exist_ok=True)
    (ROOT / "run" / f"{name}.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    """The lab up once for the module (lab/up.sh), down at the end (lab/down.sh fails if anything is left)."""
    for tool in ("podman", "runc", "bpftool", "clang"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    env = molecule_env(FG_LAB_MANAGED="1", CONTAINERS_CONF=str(ROOT / "lab" / ".state" / "containers.conf"))
    start = time.monotonic()
    up = subprocess.run([str(ROOT / "lab" / "up.sh")], env=env, capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    print(f"lab up: {time.monotonic() - start:.1f} s")
    try:
        yield env
    finally:
        start = time.monotonic()
        down = subprocess.run(
            [str(ROOT / "lab" / "down.sh")], env=env, capture_output=True, text=True, check=False
        )
        print(f"lab down: {time.monotonic() - start:.1f} s")
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.parametrize("role", LAB_ROLES)
def test_role_scenario(lab: dict[str, str], role: str) -> None:
    start = time.monotonic()
    proc = subprocess.run(
        [str(VENV_BIN / "molecule"), "test"],
        cwd=ROOT / "roles" / role,
        env=lab,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    took = time.monotonic() - start
    save_log(f"molecule-role-{role}", proc)
    out = plain(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"molecule test ({role}) failed (rc {proc.returncode}):\n{out[-8000:]}"
    for stage in ("prepare", "converge", "idempotence", "verify", "cleanup"):
        assert f"default > {stage}: Executed: Successful" in out, (
            f"{role}: {stage} did not run\n{out[-3000:]}"
        )
    for message in EXPECTED[role]:
        assert message in out, f"{role}: '{message}' not in the output\n{out[-4000:]}"
    print(f"role scenario {role}: {took:.1f} s")
