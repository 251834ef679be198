"""Driver and firmware of an interface: parse `ethtool -i DEV`.

ethtool prints one "key: value" line per field (netlink and ioctl alike); empty values ("bus-info: " on
veth) mean the driver has none, which we report as None rather than "".
"""

from __future__ import annotations

from typing import Any

# The fields floodgate reports; ethtool prints more (supports-*), which parse_drvinfo keeps as booleans.
CORE_FIELDS = ("driver", "version", "firmware_version", "expansion_rom_version", "bus_info")


def parse_drvinfo(text: str) -> dict[str, Any]:
    """{"driver", "version", "firmware_version", "expansion_rom_version", "bus_info", "supports_*"...}.

    Keys are ethtool's with "-" turned into "_"; "supports-*" values become booleans; missing or empty
    core fields are None.
    """
    info: dict[str, Any] = dict.fromkeys(CORE_FIELDS)
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or not key or key.startswith((" ", "\t")):
            continue
        name = key.strip().replace("-", "_")
        value = value.strip()
        if name.startswith("supports_"):
            info[name] = value == "yes"
        else:
            info[name] = value or None
    return info
