"""One snapshot of everything floodgate touches on a NIC, and the part of it unmitigate restores.

Each source is read with its own parser (imported at the top: mitogen's module finder only sees top-level
imports); a source the driver does not support (RSS table and ntuple on
veth, channels on some virtual NICs) is reported as absent, not as a failure. An unknown interface or a
missing ethtool fails, with a message that says what to do.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.floodgate.channels import ChannelsError, parse_channels
from ansible.module_utils.floodgate.drvinfo import parse_drvinfo
from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError
from ansible.module_utils.floodgate.features import LEGACY_FLAGS, parse_features
from ansible.module_utils.floodgate.irqs import device_name, parse_interrupts, queue_irqs, read_affinity_list
from ansible.module_utils.floodgate.netmap_presence import netmap_presence
from ansible.module_utils.floodgate.nic_errors import fail, find_ethtool, run
from ansible.module_utils.floodgate.ntuple import parse_ntuple_header, parse_ntuple_rules
from ansible.module_utils.floodgate.rxfh import parse_rxfh
from ansible.module_utils.floodgate.stats import parse_stats, queue_packets

# ethtool's legacy flags that stand for several kernel features (tx-checksumming, scatter-gather, TSO).
AGGREGATES = frozenset(long for long, pattern in LEGACY_FLAGS.values() if "*" in pattern)
_UNSUPPORTED = ("operation not supported", "not supported", "no stats available")


def is_unsupported(err: EthtoolError) -> bool:
    """True when ethtool failed because the driver lacks the operation (not for a missing device)."""
    text = f"{err.stderr}\n{err.stdout}".lower()
    return any(s in text for s in _UNSUPPORTED) and "no such device" not in text


def _optional(module: Any, ethtool: str, iface: str, action: str, *args: str) -> str | None:
    """ethtool output, or None when the driver does not support the operation."""
    try:
        return run(module, ethtool, iface, action, *args)
    except EthtoolError as err:
        if is_unsupported(err):
            return None
        raise


def read_rxfh(module: Any, ethtool: str, iface: str) -> dict[str, Any] | None:
    text = _optional(module, ethtool, iface, "reading the RSS indirection table", "-x", iface)
    if text is None:
        return None
    parsed = parse_rxfh(text)
    if not parsed["table"]:
        return None  # a header without a table: the driver has no indirection table
    return {k: parsed[k] for k in ("ring_count", "table", "hash_key", "hash_funcs")}


def read_ntuple(module: Any, ethtool: str, iface: str, features: dict[str, Any] | None) -> dict[str, Any]:
    """The ntuple rules; `enabled` from `features` (the -k parse), None when the caller did not read them."""
    feature = features.get("ntuple-filters") if features is not None else None
    enabled = bool(feature and feature["on"]) if features is not None else None
    text = _optional(module, ethtool, iface, "reading ntuple rules", "-n", iface)
    if text is None:
        return {"supported": False, "enabled": enabled, "rule_count": None, "table_size": None, "rules": []}
    header = parse_ntuple_header(text)
    return {
        "supported": True,
        "enabled": enabled,
        "rule_count": header["rule_count"],
        "table_size": header["table_size"],
        "rules": parse_ntuple_rules(text),
    }


def read_irqs(iface: str, bus_info: str | None, proc: str = "/proc") -> list[dict[str, Any]]:
    try:
        with open(f"{proc}/interrupts", encoding="utf-8", errors="replace") as f:
            entries = parse_interrupts(f.read())
    except OSError:
        return []
    irqs = queue_irqs(entries, iface, bus_info, device_name(iface))
    for entry in irqs:
        entry["affinity_list"] = read_affinity_list(entry["irq"], proc)
    return irqs


def gather(module: Any, ethtool: str, iface: str, proc: str = "/proc", root: str = "/") -> dict[str, Any]:
    """The `nic` snapshot of the floodgate contract (docs/modules.md). Raises EthtoolError."""
    drvinfo = _optional(module, ethtool, iface, "reading driver information", "-i", iface)
    driver = parse_drvinfo(drvinfo or "")
    channels_text = _optional(module, ethtool, iface, "reading channel counts", "-l", iface)
    try:
        channels = parse_channels(channels_text) if channels_text is not None else None
    except ChannelsError:
        channels = None
    features = parse_features(run(module, ethtool, iface, "reading offload features", "-k", iface))
    stats_text = _optional(module, ethtool, iface, "reading NIC statistics", "-S", iface)
    queue_stats = queue_packets(parse_stats(stats_text)) if stats_text else {"rx": {}, "tx": {}}
    return {
        "interface": iface,
        "driver": {k: driver.get(k) for k in ("driver", "version", "firmware_version", "bus_info")},
        "channels": channels,
        "features": {n: {"on": f["on"], "fixed": f["fixed"]} for n, f in features.items()},
        "rxfh": read_rxfh(module, ethtool, iface),
        "ntuple": read_ntuple(module, ethtool, iface, features),
        "queue_stats": queue_stats,
        "irqs": read_irqs(iface, driver.get("bus_info"), proc),
        "netmap": netmap_presence(root),
    }


def gather_for_check(module: Any, ethtool: str, iface: str, queue: int, root: str = "/") -> dict[str, Any]:
    """The parts of `gather` that netmap_queue_check's links read (queue_check.py): netmap, the RSS table (its ring
    count is the queue count), the ntuple rules; the channel counts only when the table does not show the queue (no
    table, or the queue is beyond its rings: the queue check's count and its fix), and the statistics only when
    neither gives the count. Not read: driver information, IRQs and offload features (no link checks them; ntuple's
    `enabled` is None) - four ethtool runs less per verification (the lab's front end models -k: ~14 ms of edge
    CPU). Raises EthtoolError."""
    rxfh = read_rxfh(module, ethtool, iface)
    nic: dict[str, Any] = {
        "interface": iface,
        "rxfh": rxfh,
        "channels": None,
        "queue_stats": {"rx": {}, "tx": {}},
        "netmap": netmap_presence(root),
    }
    count = rxfh["ring_count"] if rxfh else None
    if not count or not 0 <= queue < count:
        text = _optional(module, ethtool, iface, "reading channel counts", "-l", iface)
        try:
            nic["channels"] = parse_channels(text) if text is not None else None
        except ChannelsError:
            nic["channels"] = None
        if not count and not nic["channels"]:
            stats_text = _optional(module, ethtool, iface, "reading NIC statistics", "-S", iface)
            nic["queue_stats"] = (
                queue_packets(parse_stats(stats_text)) if stats_text else {"rx": {}, "tx": {}}
            )
    nic["ntuple"] = read_ntuple(module, ethtool, iface, None)
    return nic


def gather_or_fail(module: Any, ethtool_path: str | None, iface: str) -> dict[str, Any]:
    """gather() with the modules' failure: ethtool missing or failing, or output a parser does not understand."""
    ethtool = find_ethtool(module, ethtool_path)
    try:
        return gather(module, ethtool, iface)
    except EthtoolError as err:
        fail(module, err, interface=iface)
        raise  # fail() exits the module; not reached
    except ValueError as err:  # a parser met output it does not understand: say which, change nothing
        module.fail_json(
            msg=f"{iface}: cannot read ethtool output ({err}); report this with the output of "
            f"'{ethtool} -i/-l/-k/-x/-n {iface}'. Nothing was changed.",
            interface=iface,
        )
        raise


def restorable(nic: dict[str, Any]) -> dict[str, Any]:
    """What unmitigate puts back: changeable features, the RSS table, ntuple rules, IRQ affinities.

    Features are kernel features only (aggregates are derived from them), so feeding `features` to
    ethtool_features restores the exact state.
    """
    feats = nic["features"]
    return {
        "interface": nic["interface"],
        "features": {n: f["on"] for n, f in feats.items() if not f["fixed"] and n not in AGGREGATES},
        "rxfh": {"table": list(nic["rxfh"]["table"])} if nic.get("rxfh") else None,
        "ntuple": {"rules": list(nic["ntuple"]["rules"])} if nic["ntuple"]["supported"] else None,
        "irq_affinity": {str(e["irq"]): e["affinity_list"] for e in nic["irqs"] if e.get("affinity_list")},
    }
