"""Molecule scenario roles/irq_affinity/molecule/default: the role pins and restores a real per-queue IRQ.

Runs on this machine's own NIC (the lab's veth NICs have no IRQs): the interface of the default route, whose
RX queue 0 vector nic_facts must find (virtio-net: virtioN-input.0). The scenario asserts the pin, the interrupts
arriving on the chosen CPU, the exact restore and the refused bad input; this test reads
/proc/irq/N/smp_affinity_list itself before and after, and writes the value back if anything went wrong.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from ansible.module_utils.floodgate.irqs import device_name, parse_interrupts, queue_irqs
from molecule_run import molecule_env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.root]


def default_route_interface() -> str | None:
    out = subprocess.run(
        ["ip", "-o", "route", "show", "default"], capture_output=True, text=True, check=False
    )
    m = re.search(r"\bdev (\S+)", out.stdout)
    return m.group(1) if m else None


def test_irq_affinity_scenario_pins_and_restores_a_real_irq() -> None:
    iface = default_route_interface()
    if not iface:
        pytest.skip("no default route: no NIC to pin")
    irqs = queue_irqs(parse_interrupts(Path("/proc/interrupts").read_text()), iface, None, device_name(iface))
    rx0 = [e for e in irqs if e["queue"] == 0]
    if not rx0:
        pytest.skip(f"{iface} ({device_name(iface)}) has no per-queue IRQ floodgate recognises")
    irq = rx0[0]["irq"]
    aff = Path(f"/proc/irq/{irq}/smp_affinity_list")
    before = aff.read_text().strip()
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "molecule"), "test"],
            cwd=ROOT / "roles" / "irq_affinity",
            env=molecule_env(FG_IRQ_INTERFACE=iface),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        after = aff.read_text().strip()
        if after != before:
            aff.write_text(before + "\n")
    took = time.monotonic() - start
    (ROOT / "run").mkdir(exist_ok=True)
    (ROOT / "run" / "molecule-role-irq_affinity.log").write_text(proc.stdout + proc.stderr)
    out = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr).split())
    assert after == before, (
        f"IRQ {irq}: affinity {before!r} before the scenario, {after!r} after (written back)"
    )
    assert proc.returncode == 0, f"molecule test (irq_affinity) failed:\n{out[-8000:]}"
    pinned = re.search(
        rf"irq_affinity: IRQ {irq} \((\S+)\) pinned from (\S+) .*? to CPU (\d+); interrupts per CPU", out
    )
    assert pinned, out[-4000:]
    assert pinned.group(1) == rx0[0]["name"] and pinned.group(2) == before
    assert "irq_affinity: smp_affinity_list and nic_facts after present -> restored equal before" in out
    assert "irq_affinity: 3 bad inputs refused; affinity unchanged" in out
    print(
        f"role scenario irq_affinity: {took:.1f} s; IRQ {irq} {rx0[0]['name']} {before} -> CPU {pinned.group(3)} -> {after}"
    )
