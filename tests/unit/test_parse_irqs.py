"""irqs: /proc/interrupts vector names per driver, and /proc/irq/N/smp_affinity_list.

Samples: ixgbe (eth3-TxRx-N, 16 CPUs), i40e (i40e-ens1f0-TxRx-N), mlx5 (mlx5_compN@pci:BUS, by PCI address),
and this machine's own /proc/interrupts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.module_utils.floodgate.irqs import (
    parse_cpu_list,
    parse_interrupts,
    queue_irqs,
    read_affinity_list,
)
from conftest import read_fixture


def entries(name: str) -> list[dict]:
    return parse_interrupts(read_fixture(f"proc/{name}"))


def test_ixgbe_queue_vectors_not_the_link_vector() -> None:
    irqs = queue_irqs(entries("ixgbe-82599_interrupts.txt"), "eth3")
    assert [e["queue"] for e in irqs] == list(range(16))
    assert irqs[4] == {"queue": 4, "irq": 71, "name": "eth3-TxRx-4"}
    assert queue_irqs(entries("ixgbe-82599_interrupts.txt"), "eth") == []  # no prefix matches


def test_per_cpu_counts() -> None:
    rows = {e["irq"]: e for e in entries("ixgbe-82599_interrupts.txt")}
    assert len(rows[71]["counts"]) == 16 and rows[71]["counts"][4] > 0
    assert sum(rows[71]["counts"]) == rows[71]["counts"][4]


def test_i40e_vectors_carry_the_driver_prefix() -> None:
    irqs = queue_irqs(entries("i40e-xl710_interrupts.txt"), "ens1f0")
    assert [e["name"] for e in irqs[:2]] == ["i40e-ens1f0-TxRx-0", "i40e-ens1f0-TxRx-1"]
    assert len(irqs) == 8


def test_mlx5_vectors_need_the_bus_address() -> None:
    rows = entries("mlx5-cx5_interrupts.txt")
    assert queue_irqs(rows, "enp65s0f0np0") == []
    irqs = queue_irqs(rows, "enp65s0f0np0", "0000:41:00.0")
    assert len(irqs) == 12 and irqs[0]["name"] == "mlx5_comp0@pci:0000:41:00.0"
    assert queue_irqs(rows, "enp65s0f0np0", "0000:42:00.0") == []


def test_this_machine() -> None:
    text = Path("/proc/interrupts").read_text()
    rows = parse_interrupts(text)
    assert rows and all(isinstance(r["irq"], int) for r in rows)
    assert queue_irqs(rows, "lo") == []


@pytest.mark.parametrize(("text", "cpus"), [("0-3,8,10-11\n", [0, 1, 2, 3, 8, 10, 11]), ("4", [4]), ("", [])])
def test_cpu_list(text: str, cpus: list[int]) -> None:
    assert parse_cpu_list(text) == cpus


def test_affinity_list_from_proc(tmp_path: Path) -> None:
    (tmp_path / "irq" / "71").mkdir(parents=True)
    (tmp_path / "irq" / "71" / "smp_affinity_list").write_text("4\n")
    assert read_affinity_list(71, str(tmp_path)) == "4"
    assert read_affinity_list(72, str(tmp_path)) is None
