"""`ansible-playbook --check --diff` shows the exact ethtool changes of a mitigation, and changes nothing.

Against a local 8-queue veth in a network namespace: offload features through the REAL ethtool and veth;
the RSS table and ntuple rules, which veth lacks, through the STAND-IN NIC model under the real ethtool
(tests/standin). Then the same playbook runs for real, and a second check run reports no change.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from standin import nic
from standin.labnic import lab_frontend_nic
from standin.netns import VethNic, veth_nic

rxfh = nic.module_utils("rxfh")
ntuple = nic.module_utils("ntuple")
PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "preview_steering.yml"


def play(dev: VethNic, enable_ntuple: bool, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(nic.REPO / "ansible.cfg"),
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_NOCOLOR="1",
    )
    cmd = [
        str(nic.REPO / ".venv/bin/ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        str(PLAYBOOK),
        *flags,
    ]
    cmd += ["-e", f"preview_ethtool={dev.ethtool}", "-e", f"preview_interface={dev.interface}"]
    cmd += [
        "-e",
        f"preview_enable_ntuple={enable_ntuple}",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=nic.REPO, env=env, check=False)


def nic_state(dev: VethNic) -> tuple[str, list[int], list[dict]]:
    return (
        dev.run("-k", dev.interface).stdout,
        rxfh.parse_rxfh(dev.run("-x", dev.interface).stdout)["table"],
        ntuple.parse_ntuple_rules(dev.run("-n", dev.interface).stdout),
    )


def check_preview_then_apply(dev: VethNic, enable_ntuple: bool) -> None:
    """--check --diff prints the exact commands and diffs and changes nothing; applying runs exactly them.

    enable_ntuple: the NIC's ntuple feature is off and changeable (lab model), so the preview turns it on.
    """
    before = nic_state(dev)
    features_on = {line.split(":")[0] for line in before[0].splitlines() if line.endswith(": on")}
    assert "tcp-segmentation-offload" in features_on  # the veth has offloads to turn off

    preview = play(dev, enable_ntuple, "--check", "--diff")
    out = preview.stdout
    assert preview.returncode == 0, out + preview.stderr
    eth = str(dev.ethtool)
    # the exact commands, as the debug task prints them (the YAML callback may wrap long lines)
    flat = " ".join(out.split())
    found = re.search(rf"{re.escape(eth)} (-K {dev.interface}(?: \S+ (?:on|off))+)", flat)
    assert found, out
    features_cmd = found.group(1)
    assert (
        " tcp-segmentation-offload off" in features_cmd
        and " generic-segmentation-offload off" in features_cmd
    )
    assert f"{eth} -X {dev.interface} weight 1 1 1 1 0 1 1 1" in flat
    assert f"{eth} -N {dev.interface} flow-type udp4 dst-port 53 action 4" in flat
    assert (f"{eth} -K {dev.interface} ntuple on" in flat) is enable_ntuple
    # and the diffs: the RSS table before/after and the new rule
    assert f"--- before: ethtool -x {dev.interface} (before)" in out
    assert f"+++ after: ethtool -x {dev.interface} (after -X {dev.interface} weight 1 1 1 1 0 1 1 1)" in out
    assert "+udp4 dst-port 53 action 4 (new, id chosen by the driver)" in out
    assert "changed=3" in out
    # nothing changed, and no command that writes ran
    assert nic_state(dev) == before
    assert not any(c[0] in ("-K", "-X", "-N") for c in dev.commands())

    applied = play(dev, enable_ntuple)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    features, table, rules = nic_state(dev)
    assert table == rxfh.weights_to_table([1, 1, 1, 1, 0, 1, 1, 1], 128)
    assert [(r["flow_type"], r["dst_port"], r["action"]) for r in rules] == [("udp4", 53, 4)]
    assert "tcp-segmentation-offload: off" in features and "generic-segmentation-offload: off" in features
    executed = [" ".join(c) for c in dev.commands() if c[0] in ("-K", "-X", "-N")]
    assert executed[0] == features_cmd
    assert executed[1:] == [
        f"-X {dev.interface} weight 1 1 1 1 0 1 1 1",
        *([f"-K {dev.interface} ntuple on"] if enable_ntuple else []),
        f"-N {dev.interface} flow-type udp4 dst-port 53 action 4",
    ]

    again = play(dev, enable_ntuple, "--check", "--diff")
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout


@pytest.mark.root
def test_check_mode_preview_standin_nic(tmp_path: Path) -> None:
    """Features: real veth + real ethtool; RSS table and ntuple rules: the test stand-in NIC."""
    lib = nic.build(tmp_path)
    with veth_nic(tmp_path / "nic", standin_lib=lib) as dev:
        check_preview_then_apply(dev, enable_ntuple=False)  # veth: ntuple-filters off [fixed]


@pytest.mark.root
def test_check_mode_preview_lab_frontend(tmp_path: Path) -> None:
    """Features: real veth + real ethtool; RSS table, ntuple rules and feature: the lab's NIC model front end."""
    with lab_frontend_nic(tmp_path) as dev:
        check_preview_then_apply(dev, enable_ntuple=True)
