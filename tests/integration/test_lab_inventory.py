"""The lab inventory: inventories/lab/hosts.yml is lab/inventory.py's output for the default 2 edges, and
Ansible reads any generated edge count into the groups the playbooks use (`edges`, `wires`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "lab" / "inventory.py"


def generate(edges: int) -> str:
    cmd = [sys.executable, str(GENERATOR), "--edges", str(edges)]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def test_static_inventory_is_the_generated_one():
    assert (ROOT / "inventories" / "lab" / "hosts.yml").read_text() == generate(2)


@pytest.mark.parametrize("edges", [1, 2, 50])
def test_ansible_reads_groups_and_connection(tmp_path, edges):
    path = tmp_path / "hosts.yml"
    path.write_text(generate(edges))
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    inv = json.loads(out)
    assert inv["edges"]["hosts"] == [f"edge{i}" for i in range(1, edges + 1)]
    assert inv["wires"]["hosts"] == ["wire"]
    last = inv["_meta"]["hostvars"][f"edge{edges}"]
    assert last["ansible_host"] == f"fg-edge{edges}"
    assert last["ansible_connection"] == "containers.podman.podman"
    assert last["ansible_python_interpreter"] == "/usr/bin/python3"
    assert last["lab_edge_address"] == f"10.99.{edges}.2"


def test_edge_count_is_bounded():
    bad = subprocess.run([sys.executable, str(GENERATOR), "--edges", "51"], capture_output=True, text=True)
    assert bad.returncode == 2 and "1..50" in bad.stderr
