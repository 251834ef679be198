"""irqs: /proc/interrupts vector names per driver, and /proc/irq/N/smp_affinity_list.

Samples: ixgbe (eth3-TxRx-N, 16 CPUs), i40e (i40e-ens1f0-TxRx-N), mlx5 (mlx5_compN@pci:BUS, by PCI address),
virtio-net (virtioN-input.Q, by virtio device; recorded on this project's KVM machine kind), and this machine's
own /proc/interrupts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.module_utils.floodgate.irqs import (
    device_name,
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


def test_virtio_net_rx_vector_by_virtio_device() -> None:
    """Recorded on this project's KVM guest: eth0 is virtio2 (0000:00:03.0). Only its RX virtqueue vector is a
    queue IRQ: not virtio2-config, not the TX vector virtio2-output.0, not other virtio devices (virtio4-input is
    a virtio input device, virtio3-rx a vsock queue)."""
    rows = entries("virtio-net-kvm_interrupts.txt")
    assert queue_irqs(rows, "eth0", "0000:00:03.0", "virtio2") == [
        {"queue": 0, "irq": 38, "name": "virtio2-input.0"}
    ]
    assert queue_irqs(rows, "eth0", "0000:00:03.0") == []  # the vector names carry no interface or address
    assert queue_irqs(rows, "eth0", None, "virtio4") == []  # "virtio4-input" has no queue number
    assert queue_irqs(rows, "eth0", None, "virtio3") == []
    assert queue_irqs(rows, "eth0", None, "0000:00:03.0") == []  # a PCI device name is not a virtio one


def test_device_name_from_sysfs(tmp_path: Path) -> None:
    net = tmp_path / "class" / "net"
    (tmp_path / "devices" / "pci0000:00" / "0000:00:03.0" / "virtio2").mkdir(parents=True)
    net.mkdir(parents=True)
    (net / "eth0").mkdir()
    (net / "eth0" / "device").symlink_to("../../../devices/pci0000:00/0000:00:03.0/virtio2")
    (net / "veth0").mkdir()
    assert device_name("eth0", str(tmp_path)) == "virtio2"
    assert device_name("veth0", str(tmp_path)) is None  # virtual: no device link
    assert device_name("eth9", str(tmp_path)) is None


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
