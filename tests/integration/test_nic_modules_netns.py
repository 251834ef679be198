"""ethtool_features, nic_facts and netmap_queue_check run for real, through Ansible, on a real 8-queue veth.

Each test module run is `ansible localhost -m MODULE` inside a fresh network namespace (`ip netns exec`),
with the real ethtool and kernel. The namespace (and with it the veth) is deleted afterwards, always.
For the full netmap_queue_check chain the RSS table and ntuple rules come from the steering tests'
STAND-IN NIC (real ethtool, modelled driver for -x/-n only; veth has neither), traffic is steered to
queue 4 by a tc-BPF program on the wire side (the lab's NIC model), and a UDP socket reading the steered
packets stands in for floodgate-rx, writing the receiver stats JSON of the contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from standin.nic import run_module

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
BPF = Path(__file__).resolve().parent / "bpf"
IFACE = "fgt0"
SYS_PY = "/usr/bin/python3"  # the managed-host side of a module runs on the system Python


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


@dataclass
class Netns:
    ns: str  # holds IFACE (the NIC under test)
    wire: str  # holds IFACE + "p", the other end
    tmp: Path

    def ethtool(self, *args: str) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.ns, "ethtool", *args, check=False)

    def features_text(self) -> str:
        out = self.ethtool("-k", IFACE)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def run(
        self, module: str, args: dict[str, Any], check: bool = False, diff: bool = False
    ) -> dict[str, Any]:
        return run_module(module, args, check=check, diff=diff, netns=self.ns)


def clang_bpf(src: Path, out: Path) -> Path:
    arch_inc = f"/usr/include/{sh('gcc', '-print-multiarch').stdout.strip()}"
    sh("clang", "-O2", "-g", "-target", "bpf", f"-I{arch_inc}", "-c", str(src), "-o", str(out))
    return out


@pytest.fixture(scope="module")
def veth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Netns]:
    tag = uuid.uuid4().hex[:8]
    n = Netns(f"fgnic-{tag}", f"fgwire-{tag}", tmp_path_factory.mktemp("nic"))
    sh("ip", "netns", "add", n.ns)
    try:
        sh("ip", "netns", "add", n.wire)
        q = ["numtxqueues", "8", "numrxqueues", "8"]
        sh("ip", "-n", n.ns, "link", "add", IFACE, *q, "type", "veth", "peer", "name", f"{IFACE}p", *q)
        sh("ip", "-n", n.ns, "link", "set", f"{IFACE}p", "netns", n.wire)
        sh("ip", "-n", n.ns, "addr", "add", "10.99.0.1/24", "dev", IFACE)
        sh("ip", "-n", n.wire, "addr", "add", "10.99.0.2/24", "dev", f"{IFACE}p")
        for ns, dev in ((n.ns, IFACE), (n.wire, f"{IFACE}p"), (n.ns, "lo"), (n.wire, "lo")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        yield n
    finally:
        for ns in (n.ns, n.wire):
            sh("ip", "netns", "del", ns, check=False)
        assert n.ns not in sh("ip", "netns", "list").stdout


# ------------------------------------------------------------------------------------ ethtool_features


def gro_now(n: Netns) -> bool:
    return "generic-receive-offload: on" in n.features_text()


def test_check_mode_shows_the_exact_command_and_changes_nothing(veth: Netns) -> None:
    want_gro = not gro_now(veth)
    before = veth.features_text()
    res = veth.run(
        "ethtool_features", {"name": IFACE, "features": {"gro": want_gro, "tx": False}}, check=True, diff=True
    )
    assert res["changed"] is True, res
    assert res["cmd"].endswith(
        f"-K {IFACE} generic-receive-offload {'on' if want_gro else 'off'} tx-checksumming off"
    )
    assert f"generic-receive-offload: {'on' if want_gro else 'off'}" in res["diff"]["after"]
    assert f"generic-receive-offload: {'off' if want_gro else 'on'}" in res["diff"]["before"]
    assert res["after"]["tx-checksum-ip-generic"] is False and res["before"]["tx-checksum-ip-generic"] is True
    assert veth.features_text() == before


def test_apply_reports_side_effects_then_second_run_changes_nothing(veth: Netns) -> None:
    veth.ethtool("-K", IFACE, "tx", "on", "gro", "off")
    args = {"name": IFACE, "features": {"gro": True, "tx": False}}
    first = veth.run("ethtool_features", args, diff=True)
    assert first["changed"] is True and not first.get("failed"), first
    text = veth.features_text()
    assert "generic-receive-offload: on" in text and "\ttx-checksum-ip-generic: off" in text
    # the kernel turned segmentation offloads off because tx checksumming went off ("Actual changes")
    assert first["side_effects"] and all(v is False for v in first["side_effects"].values())
    assert any(c["side_effect"] for c in first["actual_changes"].values())
    assert "generic-receive-offload: on" in first["diff"]["after"]
    second = veth.run("ethtool_features", args)
    assert second["changed"] is False and second["cmd"] == "" and second["changes"] == {}
    assert veth.features_text() == text


def test_fixed_feature_fails_clearly_and_changes_nothing(veth: Netns) -> None:
    before = veth.features_text()
    res = veth.run(
        "ethtool_features", {"name": IFACE, "features": {"lro": True, "ntuple": True, "gro": False}}
    )
    assert res["failed"] is True
    assert "large-receive-offload: off [fixed]" in res["msg"] and "ntuple-filters: off [fixed]" in res["msg"]
    assert "nothing was changed" in res["msg"] and IFACE in res["msg"]
    assert veth.features_text() == before  # gro was not touched either


def test_unknown_interface_fails_clearly(veth: Netns) -> None:
    for module, args in (
        ("ethtool_features", {"name": "nosuch0", "features": {"gro": False}}),
        ("nic_facts", {"interface": "nosuch0"}),
        ("netmap_queue_check", {"interface": "nosuch0", "queue": 4, "backend": "af_xdp"}),
    ):
        res = veth.run(module, args)
        assert res["failed"] is True, (module, res)
        assert "Interface 'nosuch0' does not exist" in res["msg"] and "ethtool" in res["msg"], (
            module,
            res["msg"],
        )


def test_restore_from_the_snapshot_is_exact(veth: Netns) -> None:
    before_text = veth.features_text()
    snap = veth.run("nic_facts", {"interface": IFACE})
    veth.run(
        "ethtool_features", {"name": IFACE, "features": {"gro": not gro_now(veth), "tx": False, "sg": False}}
    )
    assert veth.features_text() != before_text
    res = veth.run("ethtool_features", {"name": IFACE, "features": snap["restorable"]["features"]})
    assert res["changed"] is True and not res.get("failed"), res
    assert veth.features_text() == before_text
    assert (
        veth.run("ethtool_features", {"name": IFACE, "features": snap["restorable"]["features"]})["changed"]
        is False
    )


# ------------------------------------------------------------------------------------------- nic_facts


def send_udp(n: Netns, count: int, port: int = 53) -> None:
    code = textwrap.dedent(f"""
        import socket
        for i in range({count}):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("10.99.0.2", 20000 + i % 500))
            s.sendto(b"x" * 40, ("10.99.0.1", {port}))
            s.close()
    """)
    sh("ip", "netns", "exec", n.wire, sys.executable, "-c", code)


def test_nic_facts_snapshot_of_a_veth(veth: Netns) -> None:
    res = veth.run("nic_facts", {"interface": IFACE}, check=True)
    assert res["changed"] is False and not res.get("failed"), res
    nic = res["nic"]
    assert nic["interface"] == IFACE and nic["driver"]["driver"] == "veth"
    assert nic["channels"]["rx"] == 8 and nic["channels"]["max_rx"] == 8
    assert nic["rxfh"] is None  # veth: "Operation not supported", not a failure
    assert nic["ntuple"] == {
        "supported": False,
        "enabled": False,
        "rule_count": None,
        "table_size": None,
        "rules": [],
    }
    assert sorted(nic["queue_stats"]["rx"], key=int) == [str(q) for q in range(8)]
    assert nic["irqs"] == [] and nic["netmap"]["device"] is False
    assert nic["features"]["large-receive-offload"] == {"on": False, "fixed": True}
    restorable = res["restorable"]
    assert "tcp-segmentation-offload" not in restorable["features"]  # aggregates are derived, not restored
    assert "large-receive-offload" not in restorable["features"]  # fixed
    assert restorable["rxfh"] is None and restorable["ntuple"] is None
    assert res["ansible_facts"]["floodgate_nic"]["interface"] == IFACE


def test_nic_facts_queue_counters_are_the_kernels(veth: Netns) -> None:
    xdp = clang_bpf(BPF / "xdp_pass.c", veth.tmp / "xdp_pass.o")
    sh("ip", "-n", veth.ns, "link", "set", "dev", IFACE, "xdpdrv", "obj", str(xdp), "sec", "xdp")
    try:
        before = veth.run("nic_facts", {"interface": IFACE})["nic"]["queue_stats"]["rx"]
        send_udp(veth, 400)
        after = veth.run("nic_facts", {"interface": IFACE})["nic"]["queue_stats"]["rx"]
    finally:
        sh("ip", "-n", veth.ns, "link", "set", "dev", IFACE, "xdpdrv", "off")
    grew = sum(after.values()) - sum(before.values())
    assert grew >= 400, (before, after)
    assert sum(1 for q in after if after[q] > before[q]) >= 2  # flows spread over several queues


# ---------------------------------------------------------------------------------- netmap_queue_check


def test_queue_check_stops_at_the_first_broken_link(veth: Netns) -> None:
    res = veth.run("netmap_queue_check", {"interface": IFACE, "queue": 4})
    assert res["failed"] and res["broken"] == "netmap" and "netmap_build" in res["msg"]
    res = veth.run("netmap_queue_check", {"interface": IFACE, "queue": 9, "backend": "af_xdp"})
    assert res["broken"] == "queue" and "8 RX queues (0..7)" in res["msg"]
    res = veth.run("netmap_queue_check", {"interface": IFACE, "queue": 4, "backend": "af_xdp"})
    assert res["broken"] == "rss" and [link["name"] for link in res["links"]] == ["netmap", "queue", "rss"]
    assert res["nic_packets"] is None  # nothing was sampled


@pytest.fixture
def steered(veth: Netns) -> Iterator[Path]:
    """veth + stand-in -x/-n (queue 4 excluded from RSS, udp4/53 -> 4) + XDP counters + wire steering to 4."""
    if shutil.which("gcc") is None or shutil.which("clang") is None:
        pytest.fail("gcc and clang are needed (mk/apt-packages.txt installs them)")
    sys.path.insert(0, str(REPO / "tests"))
    from standin import nic as standin

    lib = standin.build(veth.tmp)
    steer = standin.make_ethtool(veth.tmp / "standin", lib, name=IFACE, rings=8)
    # the front end the lab installs: -x/-X/-n/-N to the modelled driver, the rest to the real NIC
    front = veth.tmp / "ethtool"
    front.write_text(
        "#!/bin/sh\n# test front end: RSS/ntuple modelled (stand-in), everything else real\n"
        f'case "$1" in -x|-X|-n|-N|--show-rxfh-indir|--set-rxfh-indir|--show-ntuple|--config-ntuple) exec {steer} "$@";; esac\n'
        f'exec {standin.real_ethtool()} "$@"\n'
    )
    front.chmod(0o755)
    ns_exec = ["ip", "netns", "exec", veth.ns]
    sh(*ns_exec, str(front), "-X", IFACE, "weight", "1", "1", "1", "1", "0", "1", "1", "1")
    sh(*ns_exec, str(front), "-N", IFACE, "flow-type", "udp4", "dst-port", "53", "action", "4")
    xdp = clang_bpf(BPF / "xdp_pass.c", veth.tmp / "xdp_pass.o")
    tc = clang_bpf(BPF / "steer_queue4.c", veth.tmp / "steer_queue4.o")
    sh("ip", "-n", veth.ns, "link", "set", "dev", IFACE, "xdpdrv", "obj", str(xdp), "sec", "xdp")
    sh("ip", "netns", "exec", veth.wire, "tc", "qdisc", "add", "dev", f"{IFACE}p", "clsact")
    sh(
        "ip",
        "netns",
        "exec",
        veth.wire,
        "tc",
        "filter",
        "add",
        "dev",
        f"{IFACE}p",
        "egress",
        "bpf",
        "da",
        "obj",
        str(tc),
        "sec",
        "classifier",
    )
    try:
        yield front
    finally:
        sh("ip", "-n", veth.ns, "link", "set", "dev", IFACE, "xdpdrv", "off", check=False)
        sh("ip", "netns", "exec", veth.wire, "tc", "qdisc", "del", "dev", f"{IFACE}p", "clsact", check=False)


RECEIVER = """
import json, os, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.0.1", 53))
s.settimeout(0.05)
packets, end, last = 0, time.time() + seconds, 0.0
while time.time() < end:
    try:
        s.recv(2048)
        packets += 1
    except socket.timeout:
        pass
    if time.time() - last >= 0.25:
        last = time.time()
        doc = {"backend": "af_xdp", "interface": "fgt0", "queue": 4, "timestamp": last, "packets": packets,
               "passed": 0, "dropped": packets, "malformed": 0, "rules": []}
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f)
        os.replace(path + ".tmp", path)
"""

FLOOD = """
import socket, sys, time
end = time.time() + float(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while time.time() < end:
    s.sendto(b"x" * 40, ("10.99.0.1", 53))
    time.sleep(0.001)
"""


def test_queue_check_full_chain_on_a_steered_queue(veth: Netns, steered: Path) -> None:
    stats = veth.tmp / "rx-fgt0-4.json"
    receiver = subprocess.Popen(["ip", "netns", "exec", veth.ns, SYS_PY, "-c", RECEIVER, str(stats), "60"])
    flood = subprocess.Popen(["ip", "netns", "exec", veth.wire, SYS_PY, "-c", FLOOD, "60"])
    try:
        deadline = time.time() + 5
        while not stats.exists() and time.time() < deadline:
            time.sleep(0.1)
        args = {
            "interface": IFACE,
            "queue": 4,
            "backend": "af_xdp",
            "rules": [{"flow_type": "udp4", "dst_port": 53}],
            "stats_path": str(stats),
            "sample_seconds": 1.5,
            "min_packets": 50,
            "ethtool_path": str(steered),
        }
        res = veth.run("netmap_queue_check", args, check=True)
        assert res.get("ok") is True, res
        assert [link["name"] for link in res["links"]] == [
            "netmap",
            "queue",
            "rss",
            "ntuple",
            "nic_counter",
            "receiver",
        ]
        assert res["nic_packets"] >= 50 and res["receiver_packets"] >= 50
        # the window ends once both counters rose and the stats were rewritten, not before min_seconds (1 s) and
        # long before a longest window of 30 s; a fixed one (min_seconds = sample_seconds) lasts its length
        assert res["window_seconds"] >= 1.0, res
        early = veth.run("netmap_queue_check", {**args, "sample_seconds": 30}, check=True)
        assert early.get("ok") is True and 1.0 <= early["window_seconds"] < 10, early
        fixed = veth.run(
            "netmap_queue_check", {**args, "min_seconds": 2.5, "sample_seconds": 2.5}, check=True
        )
        assert fixed.get("ok") is True and fixed["window_seconds"] >= 2.5, fixed
        assert fixed["links"][4]["detail"] == (
            f"queue 4 received {fixed['nic_packets']} packets in {fixed['window_seconds']:g}s"
        ), fixed
        # queue 3 still has RSS weight: the chain breaks at rss, before any sampling
        res3 = veth.run("netmap_queue_check", {**args, "queue": 3, "rules": None})
        assert res3["broken"] == "rss" and "queue 3 still gets normal traffic" in res3["msg"]
    finally:
        for proc in (flood, receiver):
            proc.terminate()
            proc.wait(timeout=10)
    # receiver gone: its stats file is no longer rewritten, and the check says so after its longest window
    res = veth.run("netmap_queue_check", {**args, "min_packets": 0})
    assert res["broken"] == "receiver" and "stalled or dead" in res["msg"], res
    assert res["window_seconds"] >= 1.5, res
    # a shortest window longer than the longest: refused before anything is read
    bad = veth.run("netmap_queue_check", {**args, "min_seconds": 5})
    assert bad.get("failed") and bad["msg"] == (
        "min_seconds (5) must be from 0 to sample_seconds (1.5): it is the shortest window, sample_seconds the "
        "longest. Nothing was checked."
    ), bad


PREVIEW_PLAY = """
- name: Preview the offload changes floodgate would make on a local multi-queue veth
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Snapshot the NIC
      nic_facts:
        interface: fgt0
      register: before

    - name: Offloads off for the per-queue receiver
      ethtool_features:
        name: fgt0
        features: {gro: false, tso: false, gso: false, tx: false, sg: false}
"""


def test_check_mode_playbook_shows_the_exact_ethtool_changes(veth: Netns) -> None:
    veth.ethtool("-K", IFACE, "gro", "on", "tx", "on", "sg", "on", "tso", "on", "gso", "on")
    before = veth.features_text()
    play = veth.tmp / "preview.yml"
    play.write_text(PREVIEW_PLAY)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
    )
    proc = subprocess.run(
        [
            *(
                "ip",
                "netns",
                "exec",
                veth.ns,
                str(REPO / ".venv/bin/ansible-playbook"),
                "-i",
                "localhost,",
                "-v",
            ),
            *("-e", f"ansible_python_interpreter={SYS_PY}", "--check", "--diff", str(play)),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    want = (
        f"-K {IFACE} generic-receive-offload off tcp-segmentation-offload off "
        "generic-segmentation-offload off tx-checksumming off scatter-gather off"
    )
    assert want in " ".join(out.split()), out  # the YAML callback may wrap the command
    assert "+generic-receive-offload: off" in out and "-generic-receive-offload: on" in out
    assert "changed=1" in out
    assert veth.features_text() == before  # a preview changes nothing


def test_aggregate_and_a_member_named_on_its_own(veth: Netns) -> None:
    veth.ethtool("-K", IFACE, "tx", "off")
    args = {"name": IFACE, "features": {"tx": True, "tx-checksum-sctp": False}}
    res = veth.run("ethtool_features", args)
    assert res["changed"] is True and not res.get("failed"), res
    # not "tx-checksumming on tx-checksum-sctp off": ethtool would turn sctp on regardless
    assert res["cmd"].endswith(f"-K {IFACE} tx-checksum-ip-generic on")
    text = veth.features_text()
    assert "\ttx-checksum-ip-generic: on" in text and "\ttx-checksum-sctp: off" in text
    assert veth.run("ethtool_features", args)["changed"] is False


def test_nic_facts_on_a_device_that_supports_almost_nothing(veth: Netns) -> None:
    # lo: no driver info, no channels, no stats ("no stats available"), no RSS, no ntuple - all absent, no failure
    res = veth.run("nic_facts", {"interface": "lo"})
    assert not res.get("failed"), res
    nic = res["nic"]
    assert nic["driver"]["driver"] is None and nic["channels"] is None and nic["rxfh"] is None
    assert nic["queue_stats"] == {"rx": {}, "tx": {}} and nic["ntuple"]["supported"] is False
    assert nic["features"]  # -k works everywhere
