"""snapshot: what counts as "driver does not support it", and the restorable subset of a snapshot.

Error texts: real ethtool 6.1 on a real veth (tests/fixtures/ethtool/veth/*errors*.json). The snapshot is
assembled from recorded ixgbe 82599 outputs with the same parsers gather() uses.
"""

from __future__ import annotations

import json

from ansible.module_utils.floodgate.channels import parse_channels
from ansible.module_utils.floodgate.drvinfo import parse_drvinfo
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.features import parse_features
from ansible.module_utils.floodgate.irqs import parse_interrupts, queue_irqs
from ansible.module_utils.floodgate.ntuple import parse_ntuple_header, parse_ntuple_rules
from ansible.module_utils.floodgate.rxfh import parse_rxfh
from ansible.module_utils.floodgate.snapshot import AGGREGATES, is_unsupported, restorable
from ansible.module_utils.floodgate.stats import parse_stats, queue_packets
from conftest import FIXTURES, read_fixture


def recorded(name: str, case: str) -> EthtoolError:
    c = json.loads((FIXTURES / "ethtool/veth" / name).read_text())["cases"][case]
    return EthtoolError(["ethtool", *c["args"].split()], c["rc"], c["stdout"], c["stderr"])


def test_unsupported_versus_missing_device() -> None:
    assert is_unsupported(recorded("ethtool-6.1_steering_errors.json", "x"))
    assert is_unsupported(recorded("ethtool-6.1_steering_errors.json", "n"))
    assert not is_unsupported(recorded("ethtool-6.1_steering_errors.json", "x_unknown_dev"))
    assert not is_unsupported(recorded("ethtool-6.1_errors_features_facts.json", "i_unknown_dev"))
    assert not is_unsupported(recorded("ethtool-6.1_errors_features_facts.json", "S_unknown_dev"))


def test_aggregates_are_the_three_multi_member_flags() -> None:
    assert {"tx-checksumming", "scatter-gather", "tcp-segmentation-offload"} == AGGREGATES


def ixgbe_nic() -> dict:
    d = "ethtool/ixgbe-82599"
    driver = parse_drvinfo(read_fixture(f"{d}/ethtool-6.1_i.txt"))
    features = parse_features(read_fixture(f"{d}/ethtool-6.1_k.txt"))
    rxfh = parse_rxfh(read_fixture(f"{d}/ethtool-6.1_x_weight_q4_excluded.txt"))
    ntuple_text = read_fixture(f"{d}/ethtool-6.1_n_two_rules.txt")
    irqs = queue_irqs(parse_interrupts(read_fixture("proc/ixgbe-82599_interrupts.txt")), "eth3")
    for e in irqs:
        e["affinity_list"] = str(e["queue"])
    return {
        "interface": "eth3",
        "driver": driver,
        "channels": parse_channels(read_fixture(f"{d}/ethtool-6.1_l.txt")),
        "features": {n: {"on": f["on"], "fixed": f["fixed"]} for n, f in features.items()},
        "rxfh": {k: rxfh[k] for k in ("ring_count", "table", "hash_key", "hash_funcs")},
        "ntuple": {
            "supported": True,
            "enabled": features["ntuple-filters"]["on"],
            **{k: v for k, v in parse_ntuple_header(ntuple_text).items() if k != "ring_count"},
            "rules": parse_ntuple_rules(ntuple_text),
        },
        "queue_stats": queue_packets(parse_stats(read_fixture(f"{d}/ethtool-6.1_S.txt"))),
        "irqs": irqs,
        "netmap": {"device": False, "module": False, "version": None},
    }


def test_restorable_subset_of_an_ixgbe_snapshot() -> None:
    nic = ixgbe_nic()
    r = restorable(nic)
    assert r["interface"] == "eth3"
    assert r["rxfh"] == {"table": nic["rxfh"]["table"]} and len(r["rxfh"]["table"]) == 128
    assert [rule["id"] for rule in r["ntuple"]["rules"]] == [2044, 2045]
    assert r["irq_affinity"]["71"] == "4" and len(r["irq_affinity"]) == 16
    feats = r["features"]
    assert feats["generic-receive-offload"] is True and feats["tx-tcp6-segmentation"] is True
    assert not AGGREGATES & set(feats)  # derived by the kernel from their members
    assert "highdma" not in feats and "tx-checksum-fcoe-crc" not in feats  # [fixed] on ixgbe
    json.dumps(r)  # travels as a task result / file


def test_restorable_without_rss_or_ntuple() -> None:
    nic = ixgbe_nic()
    nic["rxfh"] = None
    nic["ntuple"] = {
        "supported": False,
        "enabled": False,
        "rule_count": None,
        "table_size": None,
        "rules": [],
    }
    nic["irqs"] = []
    r = restorable(nic)
    assert r["rxfh"] is None and r["ntuple"] is None and r["irq_affinity"] == {}
