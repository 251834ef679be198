"""A real 8-queue veth NIC in a throw-away network namespace, and an ethtool wrapper that runs there.

The wrapper is the REAL ethtool run inside the namespace (`ip netns exec NS ethtool ...`); it appends each
argument list to a log so tests can prove which commands a module ran (e.g. that no -X/-N/-K ran).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from standin import nic


@dataclass
class VethNic:
    netns: str
    interface: str
    ethtool: Path  # wrapper: real ethtool inside the netns
    log: Path

    def commands(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [line.split() for line in self.log.read_text().splitlines()]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.ethtool), *args], capture_output=True, text=True, check=False)


@contextmanager
def veth_nic(
    directory: Path, queues: int = 8, interface: str = "eth1", standin_lib: Path | None = None
) -> Iterator[VethNic]:
    """With standin_lib, the wrapper also preloads the STAND-IN NIC for `interface`: -k/-K/-l/-S stay real
    (netlink, answered by the veth), -x/-X/-n/-N are answered by the stand-in model (ioctl)."""
    if os.geteuid() != 0:
        raise RuntimeError("needs root (network namespaces)")
    ns = f"fg-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        q = str(queues)
        subprocess.run(
            [
                "ip",
                "-n",
                ns,
                "link",
                "add",
                interface,
                "numtxqueues",
                q,
                "numrxqueues",
                q,
                "type",
                "veth",
                "peer",
                "name",
                f"{interface}p",
                "numtxqueues",
                q,
                "numrxqueues",
                q,
            ],
            check=True,
        )
        subprocess.run(["ip", "-n", ns, "link", "set", interface, "up"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", f"{interface}p", "up"], check=True)
        directory.mkdir(parents=True, exist_ok=True)
        log = directory / "ethtool.log"
        wrapper = directory / "ethtool-in-netns"
        env = ""
        if standin_lib is not None:
            env = (
                f"env LD_PRELOAD={standin_lib} FG_NIC_NAME={interface} FG_NIC_STATE={directory / 'nic.state'} "
                f"FG_NIC_RINGS={queues} "
            )
        wrapper.write_text(
            "#!/bin/sh\n# REAL ethtool inside the test's network namespace; logs each call"
            + ("\n# -x/-X/-n/-N of the interface: STAND-IN NIC model (tests/standin)" if env else "")
            + f'\necho "$*" >> {log}\nexec ip netns exec {ns} {env}{nic.real_ethtool()} "$@"\n'
        )
        wrapper.chmod(0o755)
        yield VethNic(ns, interface, wrapper, log)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
