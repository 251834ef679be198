"""stats: `ethtool -S` and each driver's per-queue packet counter names.

ixgbe 82599 (ethtool 5.10/6.1: rx_queue_N_packets, 64 queue pairs), i40e XL710 (rx-N.packets), mlx5 CX-5
(rxN_packets among rx_prioN_packets and rxN_xdp_tx_*), veth recorded live with XDP attached
(rx_queue_N_xdp_packets).
"""

from __future__ import annotations

import pytest
from ansible.module_utils.floodgate.stats import parse_stats, queue_packets, rx_packets
from conftest import read_fixture

# fixture: (rx queues, tx queues, flooded queue, its packets)
CASES = {
    "ixgbe-82599/ethtool-6.1_S.txt": (64, 64, 4, 48213377),
    "ixgbe-82599/ethtool-5.10_S.txt": (64, 64, None, None),
    "i40e-xl710/ethtool-6.1_S.txt": (8, 8, 3, 9771204),
    "mlx5-cx5/ethtool-6.14_S.txt": (12, 12, 4, 15002118),
    "veth/ethtool-6.1_S_xdp.txt": (8, 0, None, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_queue_counters(name: str) -> None:
    counters = parse_stats(read_fixture(f"ethtool/{name}"))
    queues = queue_packets(counters)
    nrx, ntx, flooded, packets = CASES[name]
    assert len(queues["rx"]) == nrx and len(queues["tx"]) == ntx
    assert list(queues["rx"]) == [str(q) for q in range(nrx)]
    if flooded is not None:
        assert rx_packets(counters, flooded) == packets
        assert max(queues["rx"].values()) == packets


def test_queue_sum_matches_the_driver_total() -> None:
    for name in (
        "ixgbe-82599/ethtool-6.1_S.txt",
        "i40e-xl710/ethtool-6.1_S.txt",
        "mlx5-cx5/ethtool-6.14_S.txt",
    ):
        counters = parse_stats(read_fixture(f"ethtool/{name}"))
        assert sum(queue_packets(counters)["rx"].values()) == counters["rx_packets"], name


def test_veth_xdp_counters_recorded_live() -> None:
    counters = parse_stats(read_fixture("ethtool/veth/ethtool-6.1_S_xdp.txt"))
    rx = queue_packets(counters)["rx"]
    # the 1000 UDP packets sent while recording, plus the peer's ARP/neighbour traffic
    assert 1000 <= sum(rx.values()) <= 1010
    assert all(v > 0 for v in rx.values())
    assert counters["peer_ifindex"] > 0


def test_mlx5_prio_and_xdp_counters_are_not_queues() -> None:
    counters = parse_stats(read_fixture("ethtool/mlx5-cx5/ethtool-6.14_S.txt"))
    assert "rx_prio0_packets" in counters and "rx0_xdp_tx_xmit" in counters
    assert "prio0" not in str(queue_packets(counters))


def test_plain_counter_wins_over_xdp_counter() -> None:
    # virtio_net prints both rx_queue_N_packets and rx_queue_N_xdp_packets (virtio_net.c virtnet_rq_stats_desc)
    text = "NIC statistics:\n     rx_queue_0_packets: 10\n     rx_queue_0_xdp_packets: 3\n     rx_queue_1_xdp_packets: 7\n"
    assert queue_packets(parse_stats(text))["rx"] == {"0": 10, "1": 7}


def test_unknown_queue_is_none() -> None:
    counters = parse_stats(read_fixture("ethtool/veth/ethtool-6.1_S_xdp.txt"))
    assert rx_packets(counters, 8) is None
