"""ntuple: parsing `ethtool -n`, canonical rules, `ethtool -N` arguments; checked against real ethtool 6.1."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.floodgate.ntuple import (
    DROP,
    NtupleError,
    check_queue,
    format_rule,
    normalize_rule,
    ntuple_feature,
    parse_added_id,
    parse_ntuple_header,
    parse_ntuple_rules,
    parse_rule_args,
    rule_matches,
    rule_to_args,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standin import nic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ethtool"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ------------------------------------------------------------------------------------ parser fixtures


def test_ixgbe_5_10_rule_with_flow_ext_lines() -> None:
    text = fixture("ixgbe-82599/ethtool-5.10_n_tcp_dst.txt")
    assert parse_ntuple_header(text) == {"ring_count": 8, "rule_count": 1, "table_size": None}
    assert parse_ntuple_rules(text) == [
        {"id": 2045, "flow_type": "tcp4", "dst_ip": "192.0.2.10", "dst_port": 80, "action": 2}
    ]


def test_ixgbe_6_1_two_rules_drop_and_queue() -> None:
    rules = parse_ntuple_rules(fixture("ixgbe-82599/ethtool-6.1_n_two_rules.txt"))
    assert rules == [
        {"id": 2044, "flow_type": "udp4", "dst_port": 123, "action": DROP},
        {"id": 2045, "flow_type": "udp4", "dst_port": 53, "action": 4},
    ]
    assert rule_matches(rules[1], normalize_rule({"flow_type": "udp4", "dst_port": 53, "action": 4}))
    assert not rule_matches(rules[1], normalize_rule({"flow_type": "udp4", "dst_port": 53, "action": 3}))


def test_ixgbe_empty_table() -> None:
    text = fixture("ixgbe-82599/ethtool-6.1_n_empty.txt")
    assert parse_ntuple_header(text)["rule_count"] == 0
    assert parse_ntuple_rules(text) == []


def test_i40e_exact_zero_fields_are_kept() -> None:
    # i40e applies one input set to all rules: unused fields print as exact matches on 0 ("mask: 0.0.0.0")
    rules = parse_ntuple_rules(fixture("i40e-xl710/ethtool-6.1_n_rules.txt"))
    assert rules[0] == {
        "id": 8190,
        "flow_type": "udp4",
        "src_ip": "198.51.100.7",
        "dst_ip": "0.0.0.0",
        "src_port": 0,
        "dst_port": 53,
        "action": 3,
    }
    assert rules[1]["action"] == DROP


def test_mlx5_prefix_masks_ipv4_and_ipv6() -> None:
    text = fixture("mlx5-cx5/ethtool-6.14_n_rules.txt")
    assert parse_ntuple_header(text)["ring_count"] == 12
    rules = {r["id"]: r for r in parse_ntuple_rules(text)}
    assert rules[1022] == {
        "id": 1022,
        "flow_type": "udp4",
        "src_ip": "198.51.100.0",
        "src_ip_mask": "0.0.0.255",
        "dst_port": 53,
        "action": 4,
    }
    assert rules[1023]["flow_type"] == "udp6"
    assert rules[1023]["src_ip"] == "2001:db8:100::"
    assert ipaddress.ip_network("2001:db8:100::/48").hostmask == ipaddress.ip_address(
        rules[1023]["src_ip_mask"]
    )
    wanted = normalize_rule({"flow_type": "udp6", "src_ip": "2001:db8:100::/48", "dst_port": 53, "action": 4})
    assert rule_matches(rules[1023], wanted)


def test_foreign_fields_never_match() -> None:
    text = "Filter: 5\n\tRule Type: UDP over IPv4\n\tDest port: 53 mask: 0x0\n\tVLAN: 0x5 mask: 0x0\n\tAction: Direct to queue 4\n"
    (rule,) = parse_ntuple_rules(text)
    assert rule["extra"] == {"VLAN": ["0x5", "0x0"]}
    assert not rule_matches(rule, normalize_rule({"flow_type": "udp4", "dst_port": 53, "action": 4}))


def test_feature_and_added_id() -> None:
    k = json.loads(fixture("veth/ethtool-6.1_steering_errors.json"))["cases"]["k_ntuple"]["stdout"]
    assert ntuple_feature(k) == (False, True)
    assert parse_added_id("Added rule with ID 2045\n") == 2045
    assert parse_added_id("") is None


def test_check_queue() -> None:
    check_queue({"action": 15}, 16)
    check_queue({"action": DROP}, 16)
    with pytest.raises(NtupleError, match=r"queue 16 does not exist: the NIC has 16 RX rings \(0..15\)"):
        check_queue({"action": 16}, 16)


def test_veth_error_texts_are_recorded() -> None:
    cases = json.loads(fixture("veth/ethtool-6.1_steering_errors.json"))["cases"]
    # ethtool 6.1 exits 0 when the driver refuses an insert at a given location: only stderr tells
    assert cases["N_insert_loc"]["rc"] == 0
    assert "Cannot insert RX class rule" in cases["N_insert_loc"]["stderr"]


# ---------------------------------------------------------------------------------- round trips


def _net(version: int) -> st.SearchStrategy[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    bits = 32 if version == 4 else 128
    cls = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return st.builds(
        lambda a, p: cls((a, p), strict=False), st.integers(0, 2**bits - 1), st.integers(1, bits)
    )


@st.composite
def rules(draw: st.DrawFn, with_location: bool = True) -> dict[str, Any]:
    flow_type = draw(st.sampled_from(["udp4", "tcp4", "udp6", "tcp6"]))
    version = int(flow_type[-1])
    rule: dict[str, Any] = {"flow_type": flow_type, "action": draw(st.sampled_from([DROP, 0, 1, 4, 15]))}
    for key in ("src_ip", "dst_ip"):
        if draw(st.booleans()):
            rule[key] = str(draw(_net(version)))
    for key in ("src_port", "dst_port"):
        if draw(st.booleans()):
            rule[key] = draw(st.integers(0, 65535))
    if with_location and draw(st.booleans()):
        rule["location"] = draw(st.integers(0, 2045))
    return rule


@given(rule=rules())
def test_property_args_round_trip(rule: dict[str, Any]) -> None:
    canon = normalize_rule(rule)
    assert parse_rule_args(rule_to_args(rule)) == canon
    assert normalize_rule(canon) == canon  # canonical form is a fixed point


@given(rule=rules())
def test_property_format_parse_round_trip(rule: dict[str, Any]) -> None:
    canon = normalize_rule(rule)
    (parsed,) = parse_ntuple_rules(format_rule({**canon, "id": canon.get("location", 7)}))
    assert parsed.pop("id") == canon.get("location", 7)
    canon.pop("location", None)
    assert parsed == canon


# ------------------------------------------------ real ethtool: what it prints back is what we asked


@pytest.fixture(scope="module")
def standin_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return nic.build(tmp_path_factory.mktemp("standin"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules(with_location=False))
def test_property_real_ethtool_round_trip(standin_lib: Path, tmp_path: Path, rule: dict[str, Any]) -> None:
    """ethtool -N with our arguments, then ethtool -n, parses back to the canonical rule (masks included)."""
    script = nic.make_ethtool(tmp_path, standin_lib, rings=16)
    (tmp_path / "nic.state").unlink(missing_ok=True)
    done = nic.ethtool(script, "-N", nic.NAME, *rule_to_args(rule))
    assert done.returncode == 0 and not done.stderr, done.stderr
    added = parse_added_id(done.stdout)
    assert added == 2045  # ethtool's rmgr takes the last free slot of ixgbe's 2046
    (parsed,) = parse_ntuple_rules(nic.ethtool(script, "-n", nic.NAME).stdout)
    assert parsed.pop("id") == added
    assert parsed == normalize_rule(rule)
