"""ethtool_rxfh and ethtool_ntuple, run for real (`ansible localhost -m ...`).

Two NICs: the STAND-IN NIC (real ethtool 6.1; only the driver's -x/-X/-n/-N answers are modelled by
tests/standin/nic_ioctl_standin.c) for behaviour no NIC here supports, and a REAL multi-queue veth in a
network namespace for the error path a NIC without RSS/ntuple support takes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from standin import nic
from standin.labnic import lab_frontend_nic
from standin.netns import VethNic, veth_nic

rxfh = nic.module_utils("rxfh")
ntuple = nic.module_utils("ntuple")
Q4_OUT = [1, 1, 1, 1, 0, 1, 1, 1]


@pytest.fixture(scope="module")
def standin_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nic.build(tmp_path_factory.mktemp("standin"))


def standin(tmp_path: Path, lib: Path, **knobs: int) -> Path:
    return nic.make_ethtool(tmp_path / "nic", lib, **{"rings": 8, **knobs})


def table(script: Path) -> list[int]:
    return rxfh.parse_rxfh(nic.ethtool(script, "-x", nic.NAME).stdout)["table"]


def rules(script: Path) -> list[dict[str, Any]]:
    return ntuple.parse_ntuple_rules(nic.ethtool(script, "-n", nic.NAME).stdout)


def rxfh_mod(script: Path, check: bool = False, diff: bool = False, **args: Any) -> dict[str, Any]:
    return nic.run_module(
        "ethtool_rxfh", {"interface": nic.NAME, "ethtool_path": str(script), **args}, check, diff
    )


def ntuple_mod(script: Path, check: bool = False, diff: bool = False, **args: Any) -> dict[str, Any]:
    return nic.run_module(
        "ethtool_ntuple", {"interface": nic.NAME, "ethtool_path": str(script), **args}, check, diff
    )


# ------------------------------------------------------------------------------------------ ethtool_rxfh


def test_rxfh_weights_apply_idempotent_and_restore(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    boot = table(eth)
    first = rxfh_mod(eth, weights=Q4_OUT)
    assert first["changed"] is True and not first.get("failed")
    assert first["cmd"] == f"{eth} -X {nic.NAME} weight 1 1 1 1 0 1 1 1"
    assert first["before"] == boot == rxfh.equal_table(8, 128)
    assert first["after"] == table(eth) == rxfh.weights_to_table(Q4_OUT, 128)
    assert 4 not in table(eth)
    assert first["restore"] == {"equal": 8}
    again = rxfh_mod(eth, weights=Q4_OUT)
    assert again["changed"] is False and again["cmd"] == ""
    back = rxfh_mod(eth, **first["restore"])
    assert back["changed"] is True and table(eth) == boot


def test_rxfh_check_mode_and_diff_change_nothing(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    boot = table(eth)
    res = rxfh_mod(eth, check=True, diff=True, weights=Q4_OUT)
    assert res["changed"] is True
    assert res["after"] == rxfh.weights_to_table(Q4_OUT, 128)
    assert table(eth) == boot
    assert res["diff"]["before"] == rxfh.format_table(boot)
    assert res["diff"]["after"] == rxfh.format_table(res["after"])
    assert "weight 1 1 1 1 0 1 1 1" in res["diff"]["after_header"]


def test_rxfh_explicit_table_and_start(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    wanted = rxfh.weights_to_table([2, 1, 0, 1, 1, 1, 1, 1], 128)
    res = rxfh_mod(eth, table=wanted)
    assert res["changed"] is True and table(eth) == wanted
    assert res["cmd"].endswith("weight 2 1 0 1 1 1 1 1")
    assert rxfh_mod(eth, table=wanted)["changed"] is False
    res = rxfh_mod(eth, equal=3, start=5)
    assert table(eth) == rxfh.equal_table(3, 128, 5)
    assert res["restore"] == {"weights": [2, 1, 0, 1, 1, 1, 1, 1]}
    assert rxfh_mod(eth)["restore"] == {"equal": 3, "start": 5}  # a table written with start restores too


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"weights": [1] * 9}, "weights has 9 entries from queue 0, but fgnic0 has 8 RX rings (queues 0..7)"),
        ({"weights": [0] * 8}, "at least one weight must be non-zero"),
        ({"weights": [1, 1], "start": 7}, "weights has 2 entries from queue 7"),
        ({"equal": 9}, "equal must be 1..8"),
        ({"table": [1, 0] * 64}, "ethtool cannot load an arbitrary table"),
        ({"table": [0] * 64}, "table has 64 entries but the indirection table of fgnic0 has 128"),
        ({"table": [9] * 128}, "table names queue 9, but fgnic0 has queues 0..7"),
    ],
)
def test_rxfh_bad_input_fails_clearly_and_changes_nothing(
    tmp_path: Path, standin_lib: Path, args: dict[str, Any], message: str
) -> None:
    eth = standin(tmp_path, standin_lib)
    boot = table(eth)
    res = rxfh_mod(eth, **args)
    assert res["failed"] is True
    assert message in res["msg"]
    assert "nothing was changed" in res["msg"]
    assert table(eth) == boot


# ---------------------------------------------------------------------------------------- ethtool_ntuple

DNS = {"flow_type": "udp4", "dst_port": 53, "action": 4}
DNS6 = {"flow_type": "udp6", "dst_ip": "2001:db8::/32", "dst_port": 53, "action": 4}


def test_rxfh_current_replaces_the_first_read(tmp_path: Path, standin_lib: Path) -> None:
    # `current` (the pre-flight's read, nothing changed since) is used instead of `ethtool -x`: given as the NIC
    # holds it, the result is the same as with the read; given as already done, nothing runs at all (so the
    # module did not read). The table is still read back after a change; a malformed one is refused.
    eth = standin(tmp_path, standin_lib)
    boot = {"ring_count": 8, "table": table(eth)}
    first = rxfh_mod(eth, weights=Q4_OUT, current=boot)
    assert first["changed"] is True and first["before"] == boot["table"] and first["after"] == table(eth)
    assert 4 not in table(eth)
    rxfh_mod(eth, equal=8)
    trusted = rxfh_mod(eth, weights=Q4_OUT, current={"ring_count": 8, "table": first["after"]})
    assert trusted["changed"] is False and trusted["cmd"] == "" and table(eth) == boot["table"]
    for bad in ({"table": [0, 1]}, {"ring_count": 2, "table": [0, 2]}, {"ring_count": 8, "table": []}):
        res = rxfh_mod(eth, weights=Q4_OUT, current=bad)
        assert res["failed"] is True and "current must be the RSS table as read" in res["msg"], res
    assert table(eth) == boot["table"]


def test_ntuple_add_idempotent_and_remove_by_locations(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    first = ntuple_mod(eth, rules=[DNS, DNS6])
    assert first["changed"] is True and not first.get("failed")
    assert first["commands"] == [
        f"{eth} -N fgnic0 flow-type udp4 dst-port 53 action 4",
        f"{eth} -N fgnic0 flow-type udp6 dst-ip 2001:db8:: m ::ffff:ffff:ffff:ffff:ffff:ffff dst-port 53 action 4",
    ]
    assert first["added"] == first["locations"] == [2045, 2044]
    assert [r["id"] for r in rules(eth)] == [2044, 2045] or sorted(r["id"] for r in rules(eth)) == [
        2044,
        2045,
    ]
    again = ntuple_mod(eth, rules=[DNS, DNS6])
    assert again["changed"] is False and again["commands"] == [] and again["locations"] == [2045, 2044]
    gone = ntuple_mod(eth, state="absent", locations=first["added"])
    assert gone["changed"] is True and sorted(gone["locations"]) == [2044, 2045]
    assert rules(eth) == []
    assert ntuple_mod(eth, state="absent", locations=first["added"])["changed"] is False


def test_ntuple_current_replaces_the_first_reads(tmp_path: Path, standin_lib: Path) -> None:
    # `current` (ring count, rules, ntuple feature as the pre-flight read them) is used instead of `ethtool -k` and
    # `ethtool -n`: given as the NIC holds them, the same rule is added; given with the rule already there, nothing
    # runs (so the module did not read). Rules are still read back after a change; a malformed one is refused.
    eth = standin(tmp_path, standin_lib, ntuple=0)
    now = {"ring_count": 8, "rules": [], "feature": {"on": False, "fixed": False}}
    res = ntuple_mod(eth, rules=[DNS], enable_ntuple=True, current=now)
    assert res["changed"] is True and res["ntuple_enabled"] is True and res["added"] == [2045]
    assert ntuple_on(eth) is True and res["after"] == rules(eth) and len(rules(eth)) == 1
    held = {"ring_count": 8, "rules": rules(eth), "feature": {"on": True, "fixed": False}}
    gone = ntuple_mod(eth, state="absent", locations=[2045], current=held)
    assert gone["changed"] is True and gone["after"] == rules(eth) == []
    trusted = ntuple_mod(eth, rules=[DNS], enable_ntuple=True, current=held)
    assert trusted["changed"] is False and trusted["commands"] == [] and rules(eth) == []
    for bad in (
        {"rules": []},
        {"ring_count": 8, "rules": [{"dst_port": 53}]},
        {"ring_count": 8, "rules": []},
    ):
        res = ntuple_mod(eth, rules=[DNS], enable_ntuple=True, current=bad)
        assert res["failed"] is True and "current must be the NIC as read" in res["msg"], res
    fixed = ntuple_mod(
        eth, rules=[DNS], enable_ntuple=True, current={**now, "feature": {"on": False, "fixed": True}}
    )
    assert fixed["failed"] is True and "off [fixed]" in fixed["msg"] and rules(eth) == []


def test_ntuple_absent_by_match_keeps_other_rules(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    ntuple_mod(eth, rules=[DNS, {"flow_type": "tcp4", "dst_port": 80, "action": 1}])
    res = ntuple_mod(eth, state="absent", rules=[{"flow_type": "udp4", "dst_port": 53}])
    assert res["changed"] is True
    assert [r["dst_port"] for r in rules(eth)] == [80]


def test_ntuple_check_mode_and_diff_change_nothing(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    res = ntuple_mod(eth, check=True, diff=True, rules=[DNS])
    assert res["changed"] is True
    assert res["commands"] == [f"{eth} -N fgnic0 flow-type udp4 dst-port 53 action 4"]
    assert res["diff"]["before"] == ""
    assert res["diff"]["after"] == "udp4 dst-port 53 action 4 (new, id chosen by the driver)\n"
    assert rules(eth) == []


def test_ntuple_table_full_rolls_back_this_runs_rules(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib, rule_capacity=2)
    ntuple_mod(eth, rules=[{"flow_type": "tcp4", "dst_port": 22, "action": 0}])
    before = rules(eth)
    res = ntuple_mod(eth, rules=[DNS, {"flow_type": "udp4", "dst_port": 123, "action": 4}])
    assert res["failed"] is True
    assert "No space left on device" in res["msg"]
    assert "rule table of fgnic0 is full" in res["msg"]
    assert "the 1 rule(s) this task added (2044) were deleted again" in res["msg"]
    assert rules(eth) == before


def test_ntuple_location_taken_by_foreign_rule_is_refused(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib)
    assert (
        nic.ethtool(
            eth, "-N", nic.NAME, "flow-type", "tcp4", "dst-port", "22", "action", "0", "loc", "5"
        ).returncode
        == 0
    )
    before = rules(eth)
    res = ntuple_mod(eth, rules=[{**DNS, "location": 5}])
    assert res["failed"] is True and "location 5, which holds a different rule" in res["msg"]
    assert rules(eth) == before


def ntuple_on(script: Path) -> bool | None:
    state = ntuple.ntuple_feature(nic.ethtool(script, "-k", nic.NAME).stdout)
    return None if state is None else state[0]


def test_ntuple_enable_ntuple_turns_the_feature_on(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib, ntuple=0)
    assert ntuple_on(eth) is False
    preview = ntuple_mod(eth, check=True, rules=[DNS], enable_ntuple=True)
    assert preview["commands"] == [
        f"{eth} -K fgnic0 ntuple on",
        f"{eth} -N fgnic0 flow-type udp4 dst-port 53 action 4",
    ]
    assert ntuple_on(eth) is False and rules(eth) == []
    res = ntuple_mod(eth, rules=[DNS], enable_ntuple=True)
    assert res["changed"] is True and res["ntuple_enabled"] is True and res["added"] == [2045]
    assert ntuple_on(eth) is True and len(rules(eth)) == 1
    again = ntuple_mod(eth, rules=[DNS], enable_ntuple=True)
    assert again["changed"] is False and again["ntuple_enabled"] is False


def test_ntuple_off_without_enable_fails_clearly(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib, ntuple=0)
    res = ntuple_mod(eth, rules=[DNS])
    assert res["failed"] is True
    assert "rmgr: Cannot insert RX class rule: Operation not supported" in res["msg"]
    assert "use enable_ntuple: true" in res["msg"] and "no rule had been added" in res["msg"]
    assert rules(eth) == []


def test_ntuple_failed_run_turns_ntuple_off_again(tmp_path: Path, standin_lib: Path) -> None:
    eth = standin(tmp_path, standin_lib, ntuple=0, rule_capacity=1)
    res = ntuple_mod(eth, rules=[DNS, {**DNS, "dst_port": 123}], enable_ntuple=True)
    assert res["failed"] is True and "No space left on device" in res["msg"]
    assert "the ntuple feature this task turned on was turned off again" in res["msg"]
    assert ntuple_on(eth) is False and rules(eth) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({**DNS, "action": 8}, "action queue 8 does not exist: the NIC has 8 RX rings (0..7)"),
        ({**DNS, "dst_ip": "2001:db8::1"}, "is IPv6 but flow_type udp4 is IPv4; use udp6"),
        ({"flow_type": "udp4", "dst_port": 53}, "has no action"),
        ({**DNS, "flow_type": "icmp4"}, "flow_type 'icmp4' is not one of"),
    ],
)
def test_ntuple_bad_rule_fails_clearly(
    tmp_path: Path, standin_lib: Path, rule: dict[str, Any], message: str
) -> None:
    eth = standin(tmp_path, standin_lib)
    res = ntuple_mod(eth, rules=[rule])
    assert res["failed"] is True and message in res["msg"] and "Nothing was changed" in res["msg"]
    assert rules(eth) == []


# ---------------------------------------------- real veth in a netns: a NIC without RSS or ntuple support


@pytest.fixture
def veth(tmp_path: Path) -> Iterator[VethNic]:
    with veth_nic(tmp_path) as dev:
        yield dev


def _state(dev: VethNic) -> str:
    return dev.run("-k", dev.interface).stdout + dev.run("-l", dev.interface).stdout


@pytest.mark.root
def test_rxfh_on_real_veth_fails_clearly_and_changes_nothing(veth: VethNic) -> None:
    before = _state(veth)
    res = nic.run_module(
        "ethtool_rxfh", {"interface": veth.interface, "weights": Q4_OUT, "ethtool_path": str(veth.ethtool)}
    )
    assert res["failed"] is True
    assert (
        f"{veth.ethtool} -x {veth.interface}' failed: Cannot get RX ring count: Operation not supported"
        in res["msg"]
    )
    assert f"The driver of '{veth.interface}' does not support" in res["msg"]
    assert "Nothing was changed" in res["msg"] and "ixgbe" in res["msg"]
    ran = [c[0] for c in veth.commands()]
    assert "-x" in ran and "-X" not in ran  # the module read, saw no support, and never wrote
    assert _state(veth) == before


@pytest.mark.root
def test_ntuple_on_real_veth_fixed_off_fails_clearly(veth: VethNic) -> None:
    before = _state(veth)
    args = {
        "interface": veth.interface,
        "rules": [DNS],
        "enable_ntuple": True,
        "ethtool_path": str(veth.ethtool),
    }
    res = nic.run_module("ethtool_ntuple", args)
    assert res["failed"] is True
    assert f"{veth.interface} has no ntuple support" in res["msg"]
    assert "ntuple-filters is 'off [fixed]'" in res["msg"] and "Nothing was changed" in res["msg"]
    res = nic.run_module("ethtool_ntuple", {**args, "enable_ntuple": False})
    assert res["failed"] is True and "Operation not supported" in res["msg"]
    assert not any(c[0] in ("-K", "-N") for c in veth.commands())
    assert _state(veth) == before


def test_modules_render_in_ansible_doc() -> None:
    for module in ("ethtool_rxfh", "ethtool_ntuple"):
        done = subprocess.run(
            [str(nic.REPO / ".venv/bin/ansible-doc"), "-M", str(nic.REPO / "library"), module],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "EXAMPLES" in done.stdout and "RETURN VALUES" in done.stdout


# ------------------------- the lab's ethtool front end (lab/nicmodel), which the lab mitigation runs against


@pytest.fixture
def lab_nic(tmp_path: Path) -> Iterator[Path]:
    with lab_frontend_nic(tmp_path) as dev:
        yield dev.ethtool


@pytest.mark.root
def test_rxfh_and_ntuple_against_the_lab_frontend(lab_nic: Path) -> None:
    def lab(*args: str) -> str:
        return subprocess.run([str(lab_nic), *args], capture_output=True, text=True, check=True).stdout

    base = {"interface": "eth3", "ethtool_path": str(lab_nic)}
    boot = rxfh.parse_rxfh(lab("-x", "eth3"))["table"]
    res = nic.run_module("ethtool_rxfh", {**base, "weights": Q4_OUT})
    assert res["changed"] is True and not res.get("failed"), res.get("msg")
    assert (
        rxfh.parse_rxfh(lab("-x", "eth3"))["table"]
        == res["after"]
        == rxfh.weights_to_table(Q4_OUT, len(boot))
    )
    assert nic.run_module("ethtool_rxfh", {**base, "weights": Q4_OUT})["changed"] is False

    res = nic.run_module("ethtool_ntuple", {**base, "rules": [DNS], "enable_ntuple": True})
    assert res["changed"] is True and not res.get("failed"), res.get("msg")
    parsed = ntuple.parse_ntuple_rules(lab("-n", "eth3"))
    assert [(r["id"], r["dst_port"], r["action"]) for r in parsed] == [(res["added"][0], 53, 4)]
    assert (
        nic.run_module("ethtool_ntuple", {**base, "rules": [DNS], "enable_ntuple": True})["changed"] is False
    )

    assert nic.run_module("ethtool_ntuple", {**base, "state": "absent", "locations": res["added"]})["changed"]
    assert ntuple.parse_ntuple_rules(lab("-n", "eth3")) == []
    assert nic.run_module("ethtool_rxfh", {**base, "equal": 8})["changed"] is True
    assert rxfh.parse_rxfh(lab("-x", "eth3"))["table"] == boot
