"""features: parsing `ethtool -k`, the "Actual changes:" report of `ethtool -K`, and planning changes.

Fixtures: veth recorded live here (ethtool 6.1, kernel 6.18); ixgbe 82599 (ethtool 5.10, 6.1), i40e XL710
(6.1) and mlx5 ConnectX-5 (6.14) in ethtool's print format (see each file's header).
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.floodgate.features import (
    FeatureError,
    is_satisfied,
    members,
    parse_actual_changes,
    parse_features,
    plan_changes,
    resolve_name,
    set_args,
)
from conftest import FIXTURES, read_fixture

K_FIXTURES = {
    # fixture: (device, at least this many features: kernel 5.10 ~60, 6.x ~63-67)
    "veth/ethtool-6.1_k.txt": ("eth3", 63),
    "ixgbe-82599/ethtool-6.1_k.txt": ("eth3", 63),
    "ixgbe-82599/ethtool-5.10_k.txt": ("enp3s0f1", 58),
    "i40e-xl710/ethtool-6.1_k.txt": ("ens1f0", 63),
    "mlx5-cx5/ethtool-6.14_k.txt": ("enp65s0f0np0", 60),
}
# The mitigation floodgate applies (roles use the same short names).
MITIGATION = {"gro": False, "lro": False, "tso": False, "gso": False, "rx": False, "tx": False}


def errors() -> dict:
    return json.loads((FIXTURES / "ethtool/veth/ethtool-6.1_errors_features_facts.json").read_text())["cases"]


@pytest.mark.parametrize("name", sorted(K_FIXTURES))
def test_every_line_of_k_is_parsed(name: str) -> None:
    text = read_fixture(f"ethtool/{name}")
    features = parse_features(text)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("Features for ")]
    assert len(features) == len(lines) >= K_FIXTURES[name][1]
    assert text.startswith(f"Features for {K_FIXTURES[name][0]}:")
    assert all(set(f) == {"on", "fixed", "requested", "parent"} for f in features.values())


@pytest.mark.parametrize("name", sorted(K_FIXTURES))
def test_aggregates_and_members(name: str) -> None:
    features = parse_features(read_fixture(f"ethtool/{name}"))
    assert "tx-checksum-ip-generic" in members(features, "tx-checksumming")
    assert members(features, "scatter-gather") == ["tx-scatter-gather", "tx-scatter-gather-fraglist"]
    assert members(features, "generic-receive-offload") == ["generic-receive-offload"]
    assert features["tx-tcp-segmentation"]["parent"] == "tcp-segmentation-offload"
    assert features["highdma"]["parent"] is None


def test_fixed_and_requested_states() -> None:
    veth = parse_features(read_fixture("ethtool/veth/ethtool-6.1_k.txt"))
    assert veth["large-receive-offload"] == {"on": False, "fixed": True, "requested": False, "parent": None}
    assert veth["ntuple-filters"]["fixed"] and not veth["generic-receive-offload"]["fixed"]
    mitigated = parse_features(read_fixture("ethtool/ixgbe-82599/ethtool-6.1_k_mitigated.txt"))
    mangle = mitigated["tx-tcp-mangleid-segmentation"]
    assert mangle["on"] is False and mangle["requested"] is True and not mangle["fixed"]
    assert mitigated["ntuple-filters"]["on"] is True


def test_short_long_and_kernel_names_resolve() -> None:
    features = parse_features(read_fixture("ethtool/ixgbe-82599/ethtool-6.1_k.txt"))
    assert resolve_name(features, "gro") == "generic-receive-offload"
    assert resolve_name(features, "rx-gro") == "generic-receive-offload"
    assert resolve_name(features, "ntuple") == "ntuple-filters"
    assert resolve_name(features, "tx-tcp6-segmentation") == "tx-tcp6-segmentation"
    assert resolve_name(features, "no-such-feature") is None


def test_plan_for_mitigation_then_idempotent_on_the_mitigated_state() -> None:
    before = parse_features(read_fixture("ethtool/ixgbe-82599/ethtool-6.1_k.txt"))
    plan = plan_changes(before, {**MITIGATION, "ntuple": True})
    # lro is already off on ixgbe; everything else changes
    assert plan == {
        "generic-receive-offload": False,
        "tcp-segmentation-offload": False,
        "generic-segmentation-offload": False,
        "rx-checksumming": False,
        "tx-checksumming": False,
        "ntuple-filters": True,
    }
    assert set_args({"generic-receive-offload": False, "ntuple-filters": True}) == [
        "generic-receive-offload",
        "off",
        "ntuple-filters",
        "on",
    ]
    after = parse_features(read_fixture("ethtool/ixgbe-82599/ethtool-6.1_k_mitigated.txt"))
    # tx-checksumming still prints "on" (fcoe-crc is on [fixed]) yet is satisfied: nothing changeable is on
    assert after["tx-checksumming"]["on"] is True
    assert is_satisfied(after, "tx-checksumming", False)
    assert plan_changes(after, {**MITIGATION, "ntuple": True}) == {}


def test_fixed_feature_refused_before_anything_changes() -> None:
    veth = parse_features(read_fixture("ethtool/veth/ethtool-6.1_k.txt"))
    with pytest.raises(FeatureError) as err:
        plan_changes(veth, {"lro": True, "ntuple": True, "gro": True})
    text = str(err.value)
    assert "large-receive-offload: off [fixed]" in text and "ntuple-filters: off [fixed]" in text
    # asking a fixed feature for the state it already has is fine
    assert plan_changes(veth, {"lro": False}) == {}


def test_unknown_feature_names_suggest_close_matches() -> None:
    veth = parse_features(read_fixture("ethtool/veth/ethtool-6.1_k.txt"))
    with pytest.raises(
        FeatureError,
        match=r"unknown feature\(s\): generic-recieve-offload \(did you mean: generic-receive-offload",
    ):
        plan_changes(veth, {"generic-recieve-offload": False})


def test_actual_changes_side_effects_recorded_live() -> None:
    case = errors()["K_tx_off_side_effects"]
    assert case["rc"] == 0
    changes = parse_actual_changes(case["stdout"])
    assert changes["tx-checksum-ip-generic"] == {"on": False, "requested": None, "side_effect": False}
    assert changes["tx-udp-segmentation"]["side_effect"] is True


def test_actual_changes_of_a_refused_fixed_feature() -> None:
    case = errors()["K_fixed_lro_on"]
    assert case["rc"] == 1 and "Could not change any device features" in case["stderr"]
    # the kernel name rx-lro maps back to the -k name
    assert parse_actual_changes(case["stdout"]) == {
        "large-receive-offload": {"on": False, "requested": True, "side_effect": False}
    }


def test_no_actual_changes_block_means_nothing_extra() -> None:
    assert parse_actual_changes("") == {}


def test_aggregate_with_members_named_on_their_own() -> None:
    veth = parse_features(read_fixture("ethtool/veth/ethtool-6.1_k.txt"))
    # recorded state: tx-checksumming on (ip-generic on, sctp on)
    plan = plan_changes(veth, {"tx-checksum-sctp": False, "tx": True})
    assert plan == {"tx-checksum-sctp": False}  # tx is satisfied by the members not named
    veth["tx-checksum-ip-generic"]["on"] = False
    plan = plan_changes(veth, {"tx-checksum-sctp": True, "tx": True, "tx-checksum-ip-generic": False})
    assert plan == {}  # every member named on its own and already right
    veth["tx-checksum-sctp"]["on"] = False
    plan = plan_changes(veth, {"tx": True, "tx-checksum-sctp": False})
    # ethtool applies a legacy flag over all its members whatever follows it on the -K line (measured on
    # veth), so the aggregate is replaced by the members it stands for
    assert plan == {"tx-checksum-ip-generic": True}
