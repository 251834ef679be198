"""Molecule scenario molecule/netmap_build: the netmap_build role against a Debian 12 container.

The build is real (netmap + the patched ixgbe for Debian bookworm's newest kernel headers) when netmap sources
are reachable: FG_NETMAP_SOURCE_PATH (a checkout), else a checkout made from a local git mirror of
luigirizzo/netmap (FG_NETMAP_MIRROR), else the role's default git URL cloned inside the container. When none
is reachable the scenario still runs (toolchain, kernel headers and driver sources, the source step failing
over) and the test is skipped afterwards with the role's exact reason.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from molecule_run import molecule_env, run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "molecule" / "netmap_build"
DEFAULTS = ROOT / "roles" / "netmap_build" / "defaults" / "main.yml"
MIRROR = Path(os.environ.get("FG_NETMAP_MIRROR", "/work/.mirror/luigirizzo+netmap/repo"))
VENV_BIN = ROOT / ".venv" / "bin"

pytestmark = [pytest.mark.slow, pytest.mark.root]


def pinned_ref() -> str:
    m = re.search(r"^netmap_build_source_git_ref:\s*(\S+)", DEFAULTS.read_text(), re.M)
    assert m, f"no netmap_build_source_git_ref in {DEFAULTS}"
    return m.group(1)


def netmap_checkout(tmp: Path) -> Path | None:
    """A checkout of the role's pinned ref: the given one, or one made from the local mirror, else None."""
    given = os.environ.get("FG_NETMAP_SOURCE_PATH")
    if given:
        return Path(given)
    if not (MIRROR / "HEAD").exists() and not (MIRROR / ".git").exists():
        return None
    dest = tmp / "netmap"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(MIRROR), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", pinned_ref()], check=True)
    return dest


def plain(text: str) -> str:
    """Molecule's output without colours, box-drawing margins and line wrapping."""
    text = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;;[^\x1b]*\x1b\\", "", text)
    return " ".join(line.strip().lstrip("│└─").strip() for line in text.splitlines())


@pytest.fixture(scope="module")
def host_image() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (podman containers, debootstrap)")
    for tool in ("podman", "runc", "debootstrap", "git"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    subprocess.run(["bash", str(SCENARIO / "build-image.sh")], check=True, timeout=900)


def test_netmap_build_scenario(host_image: None, tmp_path: Path) -> None:
    source = netmap_checkout(tmp_path)
    env = molecule_env(CONTAINERS_CONF=str(SCENARIO / "containers.conf"))
    env.pop("FG_NETMAP_SOURCE_PATH", None)
    if source is not None:
        env["FG_NETMAP_SOURCE_PATH"] = str(source)
    proc = run_scenario("netmap_build", env, timeout=1800)
    (tmp_path / "molecule.log").write_text(proc.stdout + proc.stderr)  # per-task durations (profile_tasks)
    print(f"molecule log: {tmp_path / 'molecule.log'}")
    out = plain(proc.stdout + proc.stderr).replace("''", "'")
    if proc.returncode != 0:
        log = proc.stdout + proc.stderr
        first = log.find("fatal:")
        context = log[max(0, first - 3000) : first + 1500] if first >= 0 else ""
        pytest.fail(f"molecule test failed (rc {proc.returncode}):\n{context}\n[...]\n{log[-3000:]}")
    assert "idempotence: Executed: Successful" in out, out[-3000:]
    assert "verify: Executed: Successful" in out, out[-3000:]
    built = re.search(
        r"netmap built: (\S+) \(kernel (\S+), netmap revision (\S+), configure (\S+), make (\S+)\)", out
    )
    if built is None:
        unreachable = re.search(r"netmap sources are unreachable \((.*?)\): skipping", out)
        assert unreachable, f"neither a build nor the unreachable-source report in the output:\n{out[-4000:]}"
        pytest.skip(
            "netmap build not exercised (verified: toolchain, kernel headers, ixgbe sources, source fail-over): "
            f"netmap sources are unreachable ({unreachable.group(1)})"
        )
    # The load step must say why it was skipped: the container cannot load modules.
    assert "Not loading netmap on fg-netmap-build:" in out, out[-3000:]
    print(
        f"netmap built for kernel {built.group(2)} at {built.group(3)}: configure {built.group(4)}, make {built.group(5)}"
    )


# --- The driver-swap guard, against this machine's own NIC ---------------------------------------------
# The management path here really runs over a NIC with a driver (virtio_net on this machine kind), so the
# guard can be proved for real: the role must refuse to swap that driver, also when the path is stacked
# (a device on top of the NIC), and must not count a path over another device.


def default_route_nic() -> tuple[str, str, str]:
    """(device, its driver, gateway) of the default route, or skip."""
    out = subprocess.run(["ip", "-j", "route", "show", "default"], capture_output=True, text=True, check=True)
    routes = json.loads(out.stdout or "[]")
    if not routes or "gateway" not in routes[0]:
        pytest.skip("no default route via a gateway on this machine")
    dev = routes[0]["dev"]
    link = Path("/sys/class/net") / dev / "device" / "driver"
    if not link.is_symlink():
        pytest.skip(f"default route device {dev} has no kernel driver (virtual)")
    return dev, os.path.basename(os.readlink(link)), routes[0]["gateway"]


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_LIBRARY=f"{ROOT / 'library'}:{ROOT / 'roles' / 'netmap_build' / 'library'}",
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
    )
    return env


def nic_drivers(driver: str, address: str) -> dict:
    proc = subprocess.run(
        [str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-m", "netmap_build_nic_drivers",
         "-a", f"driver={driver} controller_address={address}", "-o"],
        cwd=ROOT, env=ansible_env() | {"ANSIBLE_STDOUT_CALLBACK": "default"}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.split("=>", 1)[1])


def run_swap_guard(tmp_path: Path, driver: str, address: str) -> subprocess.CompletedProcess[str]:
    """The role's management-path guard (swap.yml runs it before anything on the host changes)."""
    play = tmp_path / "guard.yml"
    play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n        name: netmap_build\n        tasks_from: guard.yml\n"
        f"      vars:\n        netmap_build_drivers: [{driver}]\n"
        f"        netmap_build_controller_address: {address}\n"
    )
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}",
         str(play)],
        cwd=ROOT, env=ansible_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.root
def test_guard_sees_the_management_nic() -> None:
    dev, driver, gateway = default_route_nic()
    over = nic_drivers(driver, gateway)
    assert over["mgmt_device"] == dev
    assert over["mgmt_over_driver"] is True
    assert dev in [i["name"] for i in over["interfaces"]]
    # The same driver, but the controller reached over loopback: not the management path.
    local = nic_drivers(driver, "127.0.0.1")
    assert local["mgmt_device"] == "lo" and local["mgmt_over_driver"] is False


@pytest.mark.root
def test_swap_refused_over_a_device_stacked_on_the_management_nic(tmp_path: Path) -> None:
    dev, driver, _ = default_route_nic()
    # A macvlan stands in for a VLAN/bond on the NIC (this kernel has no 8021q); both link via lower_<dev>.
    vlan = "fgnbguard0"
    subprocess.run(["ip", "link", "add", "link", dev, "name", vlan, "type", "macvlan"], check=True)
    try:
        # TEST-NET-2 address on the macvlan: the "controller" 198.51.100.2 is reached over macvlan -> dev.
        subprocess.run(["ip", "addr", "add", "198.51.100.1/30", "dev", vlan], check=True)
        subprocess.run(["ip", "link", "set", vlan, "up"], check=True)
        stacked = nic_drivers(driver, "198.51.100.2")
        assert stacked["mgmt_device"] == vlan
        assert [p["name"] for p in stacked["mgmt_path"]] == [vlan, dev]
        assert stacked["mgmt_over_driver"] is True
        proc = run_swap_guard(tmp_path, driver, "198.51.100.2")
        assert proc.returncode != 0, proc.stdout
        assert "would cut this host off" in proc.stdout, proc.stdout[-3000:]
        assert f"{vlan} -> {dev}" in proc.stdout, proc.stdout[-3000:]
        # It failed at the guard and changed nothing on the host.
        stats = json.loads(proc.stdout)["stats"]["localhost"]
        assert stats["failures"] == 1 and stats["changed"] == 0, stats
    finally:
        subprocess.run(["ip", "link", "del", vlan], check=False)


@pytest.mark.root
def test_swap_helper_records_what_a_driver_reload_destroys() -> None:
    """The swap helper's snapshot of the management NIC (read-only): what it puts back after a reload."""
    dev, driver, gateway = default_route_nic()
    spec = importlib.util.spec_from_file_location(
        "netmap_swap", ROOT / "roles/netmap_build/files/netmap_swap.py"
    )
    assert spec and spec.loader
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    state = {i["name"]: i for i in helper.snapshot(driver)}
    assert dev in state, state
    link = json.loads(
        subprocess.run(["ip", "-j", "addr", "show", "dev", dev], capture_output=True, text=True).stdout
    )[0]
    assert state[dev]["mtu"] == link["mtu"] and state[dev]["up"] is True
    ipv4 = [
        f"{a['local']}/{a['prefixlen']}"
        for a in link["addr_info"]
        if a["family"] == "inet" and not a.get("dynamic")
    ]
    assert set(ipv4) <= set(state[dev]["addrs"]), state[dev]
    assert ["default", "via", gateway] in state[dev]["routes"], state[dev]
