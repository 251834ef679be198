"""Molecule scenario molecule/lab: the lab itself.

The scenario brings the lab up (`make lab-up`), checks every host over its real podman connection, proves
with edge1's real per-queue counters that `ethtool -N eth1 flow-type udp4 dst-port 53 action 4` steers a
DNS flood to queue 4 and that `ethtool -X eth1 weight 1 1 1 1 0 1 1 1` keeps other traffic off queue 4,
and takes the lab down (`make lab-down`, which fails when anything is left). This test runs it and then
checks, itself, that nothing of the lab is left on the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from molecule_run import molecule_env, run_scenario

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.lab]


def plain(text: str) -> str:
    """Molecule's output without colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def leftovers(out: str) -> list[str]:
    """What the lab left on the machine: its containers, wire-side links in this namespace, and the NIC model
    programs lab-down reported as gone (ids recorded at lab-up; other labs' programs are not counted)."""
    env = {**os.environ, "CONTAINERS_CONF": str(ROOT / "lab" / ".state" / "containers.conf")}
    found = []
    names = subprocess.run(
        ["podman", "ps", "-a", "--filter", "label=floodgate-lab=1", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    found += [f"container {n}" for n in names]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    found += [f"link {m}" for m in re.findall(r"^\d+: (e\d+)@", links, flags=re.M)]
    # [\d\s]: the YAML callback wraps a long message (six-digit program ids after a day of uptime did)
    gone = re.search(
        r"lab: down: nothing left \(containers, links; NIC model programs gone: ([\d\s]+)\)", out
    )
    assert gone, "lab-down did not report the NIC model programs it checked"
    ids = gone.group(1).split()
    assert len(ids) == 2, ids  # one per edge of the default lab
    for i in ids:
        if (
            subprocess.run(["bpftool", "prog", "show", "id", i], capture_output=True, check=False).returncode
            == 0
        ):
            found.append(f"bpf program {i}")
    return found


def test_lab_scenario() -> None:
    for tool in ("podman", "runc", "debootstrap", "bpftool", "clang"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    env = molecule_env()
    env.pop("FG_KEEP_LAB", None)
    proc = run_scenario("lab", env, timeout=900)
    out = plain(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"molecule test -s lab failed (rc {proc.returncode}):\n{out[-8000:]}"
    for stage in ("create", "converge", "verify", "destroy"):
        assert f"lab > {stage}: Executed: Successful" in out, out[-3000:]
    # What verify measured (kept in the log): the DNS flood on queue 4 only, other traffic off queue 4.
    per_queue = re.findall(r"eth1 rx per queue:\s+\[([\d,\s]+)\]", out)  # \s: wrapped as above
    assert len(per_queue) == 2, out[-3000:]
    dns, other = ([int(x) for x in q.split(",")] for q in per_queue)
    assert dns[4] >= 19000 and sum(dns) - dns[4] <= 200, dns
    assert other[4] == 0 and min(other[:4] + other[5:]) >= 1000, other
    assert leftovers(out) == []
