"""Molecule scenario roles/irq_affinity/molecule/default: the role pins and restores a real per-queue IRQ.

Runs on this machine's own NIC (the lab's veth NICs have no IRQs): the interface of the default route, whose
RX queue 0 vector nic_facts must find (virtio-net: virtioN-input.0). The scenario asserts the pin, the interrupts
arriving on the chosen CPU, the exact restore and the refused bad input; this test reads
/proc/irq/N/smp_affinity_list itself before and after, and writes the value back if anything went wrong.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from ansible.module_utils.floodgate.irqs import device_name, parse_interrupts, queue_irqs
from molecule_run import molecule_env, molecule_test

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.root]


def default_route_interface() -> str | None:
    out = subprocess.run(
        ["ip", "-o", "route", "show", "default"], capture_output=True, text=True, check=False
    )
    m = re.search(r"\bdev (\S+)", out.stdout)
    return m.group(1) if m else None


def rx0_irq() -> tuple[str, dict]:
    """The default-route NIC and its RX queue 0 IRQ entry (nic_facts' irqs.py), or skip."""
    iface = default_route_interface()
    if not iface:
        pytest.skip("no default route: no NIC to pin")
    irqs = queue_irqs(parse_interrupts(Path("/proc/interrupts").read_text()), iface, None, device_name(iface))
    rx0 = [e for e in irqs if e["queue"] == 0]
    if not rx0:
        pytest.skip(f"{iface} ({device_name(iface)}) has no per-queue IRQ floodgate recognises")
    return iface, rx0[0]


def run_scenario(scenario: str, iface: str, irq: int, timeout: int) -> tuple[str, str, str, float, int]:
    """`molecule test -s SCENARIO` of the role; the IRQ's affinity is written back if the run left it changed.

    Returns (affinity before, affinity after, the run's output on one line, seconds, molecule's exit status).
    """
    aff = Path(f"/proc/irq/{irq}/smp_affinity_list")
    before = aff.read_text().strip()
    start = time.monotonic()
    try:
        proc = molecule_test(
            scenario, molecule_env(FG_IRQ_INTERFACE=iface), timeout, cwd=ROOT / "roles" / "irq_affinity"
        )
    finally:
        after = aff.read_text().strip()
        if after != before:
            aff.write_text(before + "\n")
    took = time.monotonic() - start
    suffix = "" if scenario == "default" else f"-{scenario}"
    (ROOT / "run").mkdir(exist_ok=True)
    (ROOT / "run" / f"molecule-role-irq_affinity{suffix}.log").write_text(proc.stdout + proc.stderr)
    out = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).split())
    return before, after, out, took, proc.returncode


def test_irq_affinity_scenario_pins_and_restores_a_real_irq() -> None:
    iface, entry = rx0_irq()
    irq = entry["irq"]
    before, after, out, took, rc = run_scenario("default", iface, irq, timeout=600)
    assert after == before, (
        f"IRQ {irq}: affinity {before!r} before the scenario, {after!r} after (written back)"
    )
    assert rc == 0, f"molecule test (irq_affinity) failed:\n{out[-8000:]}"
    pinned = re.search(
        rf"irq_affinity: IRQ {irq} \((\S+)\) pinned from (\S+) .*? to CPU (\d+); interrupts per CPU", out
    )
    assert pinned, out[-4000:]
    assert pinned.group(1) == entry["name"] and pinned.group(2) == before
    assert "irq_affinity: smp_affinity_list and nic_facts after present -> restored equal before" in out
    assert "irq_affinity: 3 bad inputs refused; affinity unchanged" in out
    print(
        f"role scenario irq_affinity: {took:.1f} s; IRQ {irq} {entry['name']} {before} -> CPU {pinned.group(3)} -> {after}"
    )


def all_affinities() -> dict[str, str]:
    return {p.parent.name: p.read_text().strip() for p in Path("/proc/irq").glob("[0-9]*/smp_affinity_list")}


@pytest.mark.lab
def test_irq_affinity_irqbalance_scenario_bans_and_unbans_a_real_irq() -> None:
    """Scenario irqbalance: a lab-image systemd container running irqbalance, given the host's queue IRQ.

    The scenario asserts irqbalance's argv (/proc/PID/cmdline) with and without --banirq=N, the pin holding over an
    irqbalance interval, the exact restore of the affinity and of /etc/default/irqbalance. Here: the affinity of
    every IRQ is the same before and after (cleanup.yml writes back what moved; this test writes back the queue IRQ
    itself if it still differs).
    """
    if shutil.which("podman") is None:
        pytest.skip("podman missing: no lab container")
    iface, entry = rx0_irq()
    irq = entry["irq"]
    all_before = all_affinities()
    before, after, out, took, rc = run_scenario("irqbalance", iface, irq, timeout=900)
    all_after = all_affinities()
    assert after == before, (
        f"IRQ {irq}: affinity {before!r} before the scenario, {after!r} after (written back)"
    )
    moved = {n: (a, all_after.get(n)) for n, a in all_before.items() if all_after.get(n) != a}
    assert not moved, f"host IRQ affinities changed by the scenario (before, after): {moved}"
    assert rc == 0, f"molecule test -s irqbalance (irq_affinity) failed:\n{out[-8000:]}"
    ban = re.search(rf"irq_affinity: irqbalance PID (\d+) \(was (\d+)\) runs with --banirq={irq} ", out)
    assert ban, out[-4000:]
    assert f"irq_affinity: after restored IRQ {irq} smp_affinity_list {before} as before" in out
    assert "/etc/default/irqbalance byte for byte as before" in out
    assert "irq_affinity: a second restored (no record) kept /etc/default/irqbalance" in out
    print(
        f"role scenario irq_affinity/irqbalance: {took:.1f} s; IRQ {irq} {entry['name']} banned and unbanned"
    )
