"""channels: `ethtool -l` over netlink ("n/a", ethtool >= 5.x) and over ioctl (zeros, ethtool 5.4)."""

from __future__ import annotations

import pytest
from ansible.module_utils.floodgate.channels import ChannelsError, parse_channels, rx_queue_count
from conftest import read_fixture

CASES = {
    # fixture: (rx, combined, other, max_combined, queues)
    "veth/ethtool-6.1_l.txt": (8, None, None, None, 8),
    "ixgbe-82599/ethtool-6.1_l.txt": (None, 16, 1, 16, 16),
    "ixgbe-82599/ethtool-5.4_l.txt": (None, 8, 1, 8, 8),
    "i40e-xl710/ethtool-6.1_l.txt": (None, 8, 1, 8, 8),
    "mlx5-cx5/ethtool-6.14_l.txt": (None, 12, None, 24, 12),
    "i40e-xl710/ethtool-5.4_l.txt": (None, 8, 1, 8, 8),
    "mlx5-cx5/ethtool-5.4_l.txt": (None, 12, None, 24, 12),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_counts(name: str) -> None:
    ch = parse_channels(read_fixture(f"ethtool/{name}"))
    assert (ch["rx"], ch["combined"], ch["other"], ch["max_combined"]) == CASES[name][:4]
    assert rx_queue_count(ch) == CASES[name][4]
    assert set(ch) == {"rx", "tx", "other", "combined", "max_rx", "max_tx", "max_other", "max_combined"}


def test_ioctl_zero_and_netlink_na_read_the_same() -> None:
    ioctl = parse_channels(read_fixture("ethtool/ixgbe-82599/ethtool-5.4_l.txt"))
    netlink = parse_channels(read_fixture("ethtool/ixgbe-82599/ethtool-6.1_l.txt"))
    assert ioctl["max_rx"] is None and netlink["max_rx"] is None
    assert ioctl["tx"] is None and netlink["tx"] is None


def test_error_text_is_not_channels() -> None:
    with pytest.raises(ChannelsError):
        parse_channels("netlink error: no device matches name (offset 24)\nnetlink error: No such device\n")
