"""Queue (channel) counts of an interface: parse `ethtool -l DEV`.

ethtool >= 5.x over netlink prints "n/a" for a count the driver does not report (the kernel leaves the
attribute out when its maximum is 0); the ioctl printer of older ethtool prints 0. Both read as None.
Queues floodgate can steer to: `combined` on ixgbe/i40e/mlx5, `rx` on veth.
"""

from __future__ import annotations

import re

_KINDS = {"RX": "rx", "TX": "tx", "Other": "other", "Combined": "combined"}
_LINE = re.compile(r"^(?P<kind>RX|TX|Other|Combined):\s+(?P<value>\d+|n/a)\s*$")


class ChannelsError(ValueError):
    """`ethtool -l` output without the two sections ethtool always prints."""


def parse_channels(text: str) -> dict[str, int | None]:
    """{"rx", "tx", "other", "combined", "max_rx", "max_tx", "max_other", "max_combined"}; None = n/a or 0."""
    result: dict[str, int | None] = {}
    prefix: str | None = None
    for line in text.splitlines():
        if line.startswith("Pre-set maximums:"):
            prefix = "max_"
            continue
        if line.startswith("Current hardware settings:"):
            prefix = ""
            continue
        m = _LINE.match(line.strip())
        if m and prefix is not None:
            value = m.group("value")
            count = int(value) if value != "n/a" else 0
            result[prefix + _KINDS[m.group("kind")]] = count or None
    if "max_rx" not in result or "rx" not in result:
        raise ChannelsError(
            "no 'Pre-set maximums' / 'Current hardware settings' sections in ethtool -l output"
        )
    return result


def rx_queue_count(channels: dict[str, int | None]) -> int:
    """How many RX queues the interface runs: combined channels plus dedicated RX channels."""
    return (channels.get("combined") or 0) + (channels.get("rx") or 0)
