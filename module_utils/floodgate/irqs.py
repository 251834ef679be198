"""Which IRQ serves which queue of an interface, and where it may run: /proc/interrupts, /proc/irq/N/.

Drivers name their MSI-X vectors differently (request_irq names, shown as the last column):
  ixgbe    eth3-TxRx-4 (eth3-rx-4 / eth3-tx-4 when RX and TX have separate vectors)
  i40e     i40e-eth3-TxRx-4
  mlx5     mlx5_comp4@pci:0000:03:00.0 (named by PCI address, not interface; kernels < 5.x: mlx5_comp4)
  virtio   virtio2-input.4 (virtio_net names RX virtqueue Q "input.Q", virtio_pci prefixes the virtio device,
           /sys/class/net/IF/device -> .../virtio2; "output.Q" is the TX virtqueue, not the receive path;
           "virtio2-virtqueues" is one vector shared by all queues when the host gave too few MSI-X vectors)
veth has no IRQs; the list is then empty.
"""

from __future__ import annotations

import os
import re
from typing import Any


def parse_interrupts(text: str) -> list[dict[str, Any]]:
    """Each numbered line of /proc/interrupts: {"irq", "counts" (per CPU), "tail"}.

    "tail" holds the columns after the per-CPU counts: chip, hardware IRQ and the action names (several,
    comma separated, when the line is shared); queue names are matched against every one of them.
    """
    lines = text.splitlines()
    if not lines:
        return []
    ncpu = len(lines[0].split())
    entries: list[dict[str, Any]] = []
    for line in lines[1:]:
        head, sep, rest = line.partition(":")
        if not sep or not head.strip().isdigit():
            continue  # NMI, LOC, ERR ... are not IRQs a queue can own
        fields = rest.split()
        counts = [int(f) for f in fields[:ncpu] if f.isdigit()]
        tail = fields[len(counts) :]
        names = [t.rstrip(",") for t in tail if t.rstrip(",")]
        entries.append({"irq": int(head), "counts": counts, "tail": names})
    return entries


def _queue_patterns(iface: str, bus_info: str | None, device: str | None) -> list[re.Pattern[str]]:
    name = re.escape(iface)
    patterns = [
        re.compile(rf"^(?:[\w.]+-)?{name}-(?:TxRx|rx|tx|fp)-(?P<q>\d+)$"),
    ]
    if bus_info:
        patterns.append(re.compile(rf"^mlx5_comp(?P<q>\d+)@pci:{re.escape(bus_info)}$"))
    if device and re.fullmatch(r"virtio\d+", device):
        patterns.append(re.compile(rf"^{device}-input\.(?P<q>\d+)$"))
    return patterns


def device_name(iface: str, sys_root: str = "/sys") -> str | None:
    """The kernel device behind `iface` (basename of /sys/class/net/IF/device): "virtio2" for virtio-net,
    the PCI address for a PCI NIC, None for a virtual interface (veth, lo) or an unknown one."""
    link = os.path.join(sys_root, "class", "net", iface, "device")
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


def queue_irqs(
    entries: list[dict[str, Any]], iface: str, bus_info: str | None = None, device: str | None = None
) -> list[dict[str, Any]]:
    """[{"queue", "irq", "name"}] for the vectors of `iface`, by queue then IRQ number.

    device: device_name(iface); needed for virtio-net, whose vectors carry the virtio device's name only.
    """
    patterns = _queue_patterns(iface, bus_info, device)
    found: list[dict[str, Any]] = []
    for entry in entries:
        for name in entry["tail"]:
            for pattern in patterns:
                m = pattern.match(name)
                if m:
                    found.append({"queue": int(m.group("q")), "irq": entry["irq"], "name": name})
                    break
    return sorted(found, key=lambda e: (e["queue"], e["irq"]))


def parse_cpu_list(text: str) -> list[int]:
    """ "0-3,8,10-11" (smp_affinity_list) -> [0, 1, 2, 3, 8, 10, 11]."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def read_affinity_list(irq: int, proc: str = "/proc") -> str | None:
    """/proc/irq/N/smp_affinity_list as written there, or None when the IRQ is gone or unreadable."""
    try:
        with open(os.path.join(proc, "irq", str(irq), "smp_affinity_list"), encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None
