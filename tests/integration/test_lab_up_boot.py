"""lab/up.sh and a lab host whose systemd never booted.

A running container of the lab image whose systemd is not up must not be kept: ensure_container keeps whatever
runs the right image, so before this test's change one wire that failed its boot failed every later lab-up of the
CI run the same way ("fg-wire: systemd did not come up (state: none)", until a lab-down nobody ran). Here a fleet
lab of its own (lab/fleet/lab.sh, which runs a copy of lab/up.sh) finds its wire and its edge already running the
lab image with `sleep infinity` as PID 1: lab-up must report each one (state, podman exec's error, podman's view),
start it again with the same podman arguments (the edge back on the management network, which its sshd check
proves), and end with systemd as PID 1 on both. A bad LAB_BOOT_TIMEOUT is refused before anything is touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "lab" / "fleet" / "lab.sh"
NAME = "bootcheck"
STATE = ROOT / "lab" / ".state" / NAME
CONF = STATE / "containers.conf"

pytestmark = [pytest.mark.root, pytest.mark.lab]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env=dict(os.environ, CONTAINERS_CONF=str(CONF)),
        capture_output=True,
        text=True,
        check=check,
    )


def test_bad_boot_timeout_is_refused_before_anything_is_done() -> None:
    for value in ("0", "soon", "-5"):
        proc = subprocess.run(
            [str(ROOT / "lab" / "up.sh")],
            env=dict(os.environ, LAB_BOOT_TIMEOUT=value, LAB_STATE=str(STATE / "refused")),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert f"LAB_BOOT_TIMEOUT must be whole seconds, at least 1 (got '{value}')" in proc.stderr
        assert not (STATE / "refused").exists()  # not even its state folder


def test_lab_up_starts_again_a_host_whose_systemd_never_booted() -> None:
    for tool in ("podman", "runc", "bpftool", "clang", "ssh"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    env = dict(os.environ, FLEET_NAME=NAME, LAB_BOOT_TIMEOUT="3")
    STATE.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(ROOT / "lab" / "podman" / "containers-conf.sh"), str(CONF)], check=True)
    image = subprocess.run(
        [str(ROOT / "lab" / "image" / "build.sh")], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    wire, edge = f"fg-{NAME}-wire", f"fg-{NAME}-edge1"
    try:
        # What lab-up's ensure_container keeps: running, the lab image, the lab's label; systemd not PID 1.
        for name, network in ((wire, "none"), (edge, "podman")):
            podman("run", "-d", "--name", name, "--label", f"floodgate-{NAME}=1", "--network", network,
                   image, "sleep", "infinity")  # fmt: skip
        up = subprocess.run([str(LAB), "up", "1"], env=env, capture_output=True, text=True, timeout=600)
        assert up.returncode == 0, up.stdout + up.stderr
        for name in (wire, edge):
            assert re.search(
                rf"lab: {name}: systemd did not come up in 3 s \(state: offline; podman exec: .*\)", up.stderr
            ), up.stderr
            assert re.search(rf"lab: {name}: podman: running, pid [1-9]\d*, exit code 0", up.stderr), (
                up.stderr
            )
            assert f"lab: {name}: removing it and starting it again (once)" in up.stderr
            assert podman("exec", name, "cat", "/proc/1/comm").stdout.strip() == "systemd"
            state = podman("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
            assert state in ("running", "degraded"), state
        assert "fleet lab: sshd up on 1 edge(s)" in up.stderr  # the edge is back on the management network
        # A second lab-up keeps both: they booted.
        again = subprocess.run([str(LAB), "up", "1"], env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "starting it again" not in again.stderr and "did not come up" not in again.stderr, again.stderr
    finally:
        down = subprocess.run([str(LAB), "down"], env=env, capture_output=True, text=True, timeout=300)
        assert down.returncode == 0, down.stdout + down.stderr
