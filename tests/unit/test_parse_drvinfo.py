"""drvinfo: `ethtool -i` for veth (recorded live), ixgbe 82599 (5.10/6.1), i40e XL710 (5.4/6.1), mlx5 CX-5 (5.4/6.14)."""

from __future__ import annotations

import pytest
from ansible.module_utils.floodgate.drvinfo import parse_drvinfo
from conftest import read_fixture

CASES = {
    "veth/ethtool-6.1_i.txt": ("veth", "1.0", None, None),
    "ixgbe-82599/ethtool-6.1_i.txt": ("ixgbe", "6.1.0-18-amd64", "0x61bd0001", "0000:03:00.1"),
    "ixgbe-82599/ethtool-5.10_i.txt": ("ixgbe", "5.10.0-28-amd64", "0x800006ac, 1.1853.0", "0000:03:00.1"),
    "i40e-xl710/ethtool-6.1_i.txt": ("i40e", "6.1.0-18-amd64", "8.50 0x8000b6c7 1.3082.0", "0000:3b:00.0"),
    "i40e-xl710/ethtool-5.4_i.txt": ("i40e", "2.8.20-k", "7.10 0x80006471 1.2527.0", "0000:3b:00.0"),
    "mlx5-cx5/ethtool-5.4_i.txt": ("mlx5_core", "5.0-0", "16.26.1040 (MT_0000000008)", "0000:41:00.0"),
    "mlx5-cx5/ethtool-6.14_i.txt": (
        "mlx5_core",
        "6.14.0-15-generic",
        "16.35.4030 (MT_0000000008)",
        "0000:41:00.0",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_driver_fields(name: str) -> None:
    info = parse_drvinfo(read_fixture(f"ethtool/{name}"))
    assert (info["driver"], info["version"], info["firmware_version"], info["bus_info"]) == CASES[name]
    assert info["expansion_rom_version"] is None
    assert info["supports_statistics"] is True


def test_empty_output_gives_none_fields() -> None:
    assert parse_drvinfo("") == dict.fromkeys(
        ("driver", "version", "firmware_version", "expansion_rom_version", "bus_info")
    )
