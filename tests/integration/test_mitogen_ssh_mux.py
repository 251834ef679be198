"""floodgate_mitogen_linear keeps each host's SSH connection open between runs, as Ansible's ssh connection does
with the ControlPersist of ansible.cfg (docs/fleet.md "Speed settings"): over two edges of a fleet lab of their
own (lab/fleet/lab.sh, edges reached over real SSH), a first play opens one master per host under the controller's
~/.ansible/cp, a second play logs in to no edge again (the edges' sshd logs count the logins), and with
FLOODGATE_MITOGEN_SSH_MUX=0 every run logs in again and leaves no socket. Every run is bounded in time: a master
that kept mitogen's pipes open would hang the run here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab" / "fleet"))
from bench_fleet import close_ssh_masters, mitogen_env, ssh_masters  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.lab]

NAME = "sshmux"
LAB = ROOT / "lab" / "fleet" / "lab.sh"
STATE = ROOT / "lab" / ".state" / NAME
EDGES = ("edge1", "edge2")
PLAY = "- hosts: edges\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    for tool in ("podman", "runc", "ssh"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    if mitogen_env() is None:
        pytest.skip("mitogen is not installed in .venv (make deps)")
    env = dict(os.environ, FLEET_NAME=NAME)
    inventory = tmp_path_factory.mktemp("inventory")
    try:
        subprocess.run([str(LAB), "up", str(len(EDGES))], env=env, check=True, timeout=600)
        subprocess.run([str(LAB), "inventory", str(len(EDGES)), str(inventory), "ssh"], env=env, check=True)
        yield inventory
    finally:
        subprocess.run([str(LAB), "down"], env=env, check=False, timeout=300)


def logins(edge: str) -> int:
    """Public-key logins sshd has accepted on the edge since it started."""
    out = subprocess.run(
        ["podman", "exec", f"fg-{NAME}-{edge}", "journalctl", "-u", "ssh", "-o", "cat", "--no-pager"],
        env=dict(os.environ, CONTAINERS_CONF=str(STATE / "containers.conf")),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.count("Accepted publickey")


def play(inventory: Path, home: Path, tmp: Path, **switches: str) -> None:
    (tmp / "ping.yml").write_text(PLAY)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        HOME=str(home),
        **(mitogen_env() or {}),
        **switches,
    )
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(tmp / "ping.yml")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def sockets(home: Path) -> list[Path]:
    return ssh_masters(home / ".ansible" / "cp")


def test_runs_share_one_ssh_connection_per_host(fleet: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    try:
        before = {e: logins(e) for e in EDGES}
        play(fleet, home, tmp_path)
        opened = sockets(home)
        assert len(opened) == len(EDGES), opened
        assert (home / ".ansible" / "cp").stat().st_mode & 0o777 == 0o700
        for sock in opened:
            check = subprocess.run(
                ["ssh", "-O", "check", "-S", str(sock), "x"], capture_output=True, text=True
            )
            assert check.returncode == 0 and "Master running" in check.stderr, check.stderr
        first = {e: logins(e) for e in EDGES}
        assert all(first[e] == before[e] + 1 for e in EDGES), (before, first)
        play(fleet, home, tmp_path)
        assert {e: logins(e) for e in EDGES} == first  # no new login: the run went through the masters
        assert sockets(home) == opened
    finally:
        close_ssh_masters(home / ".ansible" / "cp")


def test_switched_off_every_run_logs_in(fleet: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    try:
        before = {e: logins(e) for e in EDGES}
        for _ in range(2):
            play(fleet, home, tmp_path, FLOODGATE_MITOGEN_SSH_MUX="0")
        assert {e: logins(e) for e in EDGES} == {e: before[e] + 2 for e in EDGES}
        assert sockets(home) == []
    finally:
        close_ssh_masters(home / ".ansible" / "cp")
