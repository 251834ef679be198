"""The lab's ethtool front end (lab/nicmodel, issue 4) on a veth in a throw-away netns, for tests.

Edges run lab/nicmodel/ethtool-frontend as /usr/local/sbin/ethtool: it serves -x/-X/-n/-N and the ntuple
feature from the NIC model's BPF maps and passes every other call to the real ethtool. Here the same program
runs inside the test's netns, with the model's maps pinned in a private bpffs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from standin import nic
from standin.netns import VethNic, veth_nic

FRONTEND = nic.REPO / "lab" / "nicmodel" / "ethtool-frontend"
BPF_OBJ = nic.REPO / "lab" / ".state" / "build" / "nicmodel.bpf.o"


@contextmanager
def lab_frontend_nic(tmp_path: Path, interface: str = "eth3", queues: int = 8) -> Iterator[VethNic]:
    """A VethNic whose `ethtool` is the lab front end (skips the test when the lab code is not checked out)."""
    if not FRONTEND.exists():
        pytest.skip("lab/nicmodel/ethtool-frontend is not in this checkout (lab, issue 4)")
    if not BPF_OBJ.exists():
        subprocess.run(["make", "-s", "-C", str(FRONTEND.parent)], check=True)
    with veth_nic(tmp_path / "nic", queues=queues, interface=interface) as dev:
        bpffs, conf = tmp_path / "bpf", tmp_path / "nicmodel.json"
        bpffs.mkdir()
        subprocess.run(["mount", "-t", "bpf", "bpf", str(bpffs)], check=True)
        try:
            load = ["bpftool", "prog", "load", str(BPF_OBJ), str(bpffs / "prog"), "type", "classifier"]
            subprocess.run([*load, "pinmaps", str(bpffs)], check=True)
            conf.write_text(json.dumps({"interfaces": {interface: str(bpffs)}}))
            (tmp_path / "fg-nicmodel").symlink_to(FRONTEND)
            in_ns = [
                "ip",
                "netns",
                "exec",
                dev.netns,
                "env",
                f"FLOODGATE_NICMODEL_CONF={conf}",
                "/usr/bin/python3",
            ]
            subprocess.run([*in_ns, str(tmp_path / "fg-nicmodel"), "reset", interface], check=True)
            wrapper = tmp_path / "ethtool-lab"
            wrapper.write_text(
                "#!/bin/sh\n# the lab's ethtool front end (NIC model) inside the test's netns; logs each call\n"
                f'echo "$*" >> {dev.log}\nexec {" ".join(in_ns)} {FRONTEND} "$@"\n'
            )
            wrapper.chmod(0o755)
            yield VethNic(dev.netns, interface, wrapper, dev.log)
        finally:
            subprocess.run(["umount", str(bpffs)], check=False)
