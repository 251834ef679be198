"""ntuple / flow-director rules: parse `ethtool -n`, validate requested rules, build `ethtool -N` arguments.

Output format: ethtool's rxclass.c (rxclass_print_nfc_rule, rxclass_rule_getall) and do_grxclass in
ethtool.c, identical in ethtool 5.x and 6.x except that 6.10+ prints RSS-context actions differently.

Masks. The kernel's ethtool_rx_flow_spec uses mask bit 1 = "compare this bit"; ethtool inverts masks at
both ends (rxclass_get_mask stores ~m, invert_flow_mask before printing), so on ethtool's command line
(`m 0.0.0.255`) and in `ethtool -n` output a mask bit of 1 means "ignore this bit". A field given without
a mask prints "mask: 0.0.0.0" / "mask: 0x0" (exact match); a field never given prints an all-ones mask.
This module keeps ethtool's convention everywhere: `*_mask` values are ignore-masks.

A canonical rule (normalize_rule / parse_ntuple_rules) is a dict with "flow_type", "action" (queue, or -1
for drop) and only the match fields that are set: "src_ip"/"dst_ip" (address with host bits cleared),
"src_ip_mask"/"dst_ip_mask" (only for partial masks), "src_port"/"dst_port", "src_port_mask"/
"dst_port_mask" (only for partial masks); parsed rules add "id" (the location), requested ones may have
"location".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

DROP = -1
WAKE_ON_LAN = -2

# Flow types floodgate manages: ethtool's name -> (IP version, the "Rule Type" text ethtool prints).
FLOW_TYPES: dict[str, tuple[int, str]] = {
    "tcp4": (4, "TCP over IPv4"),
    "udp4": (4, "UDP over IPv4"),
    "sctp4": (4, "SCTP over IPv4"),
    "tcp6": (6, "TCP over IPv6"),
    "udp6": (6, "UDP over IPv6"),
    "sctp6": (6, "SCTP over IPv6"),
}
# Every rule type ethtool can print, so foreign rules on the NIC are still read (and never matched).
RULE_TYPES: dict[str, str] = {
    **{label: name for name, (_, label) in FLOW_TYPES.items()},
    "IPSEC AH over IPv4": "ah4",
    "IPSEC ESP over IPv4": "esp4",
    "Raw IPv4": "ip4",
    "IPSEC AH over IPv6": "ah6",
    "IPSEC ESP over IPv6": "esp6",
    "Raw IPv6": "ip6",
    "Raw Ethernet": "ether",
}
MATCH_FIELDS = (
    "src_ip",
    "src_ip_mask",
    "dst_ip",
    "dst_ip_mask",
    "src_port",
    "src_port_mask",
    "dst_port",
    "dst_port_mask",
)
RULE_FIELDS = ("flow_type", *MATCH_FIELDS, "action", "location")
_ARG_NAMES = {"src_ip": "src-ip", "dst_ip": "dst-ip", "src_port": "src-port", "dst_port": "dst-port"}

_RINGS = re.compile(r"^(\d+) RX rings available\s*$")
_TOTAL = re.compile(r"^Total (\d+) rules\s*$")
_FILTER = re.compile(r"^Filter: (\d+)\s*$")
_FIELD = re.compile(r"^\t(?P<name>[^:\t]+): (?P<value>\S+) mask: (?P<mask>\S+)\s*$")
_ADDED = re.compile(r"Added rule with ID (\d+)")


class NtupleError(ValueError):
    """A rule that ethtool or the NIC would refuse, or output we cannot read."""


# ---------------------------------------------------------------------------------------------- parsing


def parse_ntuple_header(text: str) -> dict[str, int | None]:
    """The header of `ethtool -n DEV`: {"ring_count", "rule_count", "table_size"}.

    No ethtool version prints the rule table size (rmgr_init reads it internally to pick a free slot), so
    "table_size" is None unless a caller fills it from elsewhere.
    """
    ring_count: int | None = None
    rule_count: int | None = None
    for line in text.splitlines():
        m = _RINGS.match(line)
        if m:
            ring_count = int(m.group(1))
        m = _TOTAL.match(line)
        if m:
            rule_count = int(m.group(1))
    return {"ring_count": ring_count, "rule_count": rule_count, "table_size": None}


def _all_ones(mask: str) -> bool:
    """True for an all-ones mask as ethtool prints it: 255.255.255.255, ffff:...:ffff, 0xffff, FF:FF:..."""
    if mask.startswith("0x") or mask.startswith("0X"):
        digits = mask[2:]
        return bool(digits) and set(digits.lower()) == {"f"}
    try:
        addr = ipaddress.ip_address(mask)
    except ValueError:
        parts = mask.split(":")
        return all(p.lower() == "ff" for p in parts)
    return int(addr) == (1 << addr.max_prefixlen) - 1


def _ip_field(rule: dict[str, Any], key: str, value: str, mask: str) -> None:
    addr = ipaddress.ip_address(value)
    ignore = ipaddress.ip_address(mask)
    full = (1 << addr.max_prefixlen) - 1
    if int(ignore) == full:
        return  # wildcard: field not set
    rule[key] = str(type(addr)(int(addr) & ~int(ignore) & full))
    if int(ignore):
        rule[key + "_mask"] = str(ignore)


def _port_field(rule: dict[str, Any], key: str, value: str, mask: str) -> None:
    ignore = int(mask, 16)
    if ignore == 0xFFFF:
        return
    rule[key] = int(value) & ~ignore & 0xFFFF
    if ignore:
        rule[key + "_mask"] = ignore


def _action(rule: dict[str, Any], text: str) -> None:
    if text == "Drop":
        rule["action"] = DROP
    elif text == "Wake-on-LAN":
        rule["action"] = WAKE_ON_LAN
    elif m := re.match(r"Direct to queue (\d+)$", text):
        rule["action"] = int(m.group(1))
    elif m := re.match(r"Direct to VF (\d+) queue (\d+)$", text):
        rule["action"] = int(m.group(2))
        rule["vf"] = int(m.group(1))
    elif m := re.match(r"Direct to RSS Context (\d+)(?: \(queue base offset: (\d+)\))?$", text):
        rule["rss_context"] = int(m.group(1))
        rule["action"] = int(m.group(2) or 0)
    else:
        raise NtupleError(f"unknown action in ethtool -n output: {text!r}")


def parse_ntuple_rules(text: str) -> list[dict[str, Any]]:
    """The rules listed by `ethtool -n DEV` (or `ethtool -n DEV rule N`), in the order printed.

    Fields whose printed mask is all ones (never set) are left out. Set fields ethtool prints that floodgate
    does not manage (TOS, VLAN, user-defined, MAC, SPI, ...) go to "extra" as {name: [value, mask]}, so such
    a rule never equals a requested one.
    """
    rules: list[dict[str, Any]] = []
    rule: dict[str, Any] | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if m := _FILTER.match(line):
            rule = {"id": int(m.group(1))}
            rules.append(rule)
            continue
        if rule is None or not line.startswith("\t"):
            continue
        body = line.strip()
        if body.startswith("Rule Type: ") or body.startswith("Flow Type: "):
            label = body.split(": ", 1)[1]
            rule["flow_type"] = RULE_TYPES.get(label, label)
            continue
        if body.startswith("Unknown Flow type: "):
            rule["flow_type"] = "unknown"
            continue
        if body.startswith("Action: "):
            _action(rule, body[len("Action: ") :])
            continue
        if body.startswith("RSS Context ID: "):
            rule["rss_context"] = int(body.rsplit(" ", 1)[1])
            continue
        m = _FIELD.match(line)
        if not m:
            continue
        name, value, mask = m.group("name"), m.group("value"), m.group("mask")
        if name == "Src IP addr":
            _ip_field(rule, "src_ip", value, mask)
        elif name == "Dest IP addr":
            _ip_field(rule, "dst_ip", value, mask)
        elif name == "Src port":
            _port_field(rule, "src_port", value, mask)
        elif name == "Dest port":
            _port_field(rule, "dst_port", value, mask)
        elif not _all_ones(mask):
            rule.setdefault("extra", {})[name] = [value, mask]
    return rules


def parse_added_id(stdout: str) -> int | None:
    """The location ethtool chose: "Added rule with ID N" (printed only when no loc was given)."""
    m = _ADDED.search(stdout)
    return int(m.group(1)) if m else None


def ntuple_feature(features_text: str) -> tuple[bool, bool] | None:
    """(on, fixed) of the ntuple-filters feature in `ethtool -k DEV` output, None if not listed."""
    for line in features_text.splitlines():
        m = re.match(r"^\s*ntuple-filters:\s+(on|off)(\s+\[fixed\])?", line)
        if m:
            return m.group(1) == "on", bool(m.group(2))
    return None


# ------------------------------------------------------------------------------------------- validation


def _as_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise NtupleError(f"{what} must be an integer, not {value!r}")
    try:
        number = int(str(value), 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise NtupleError(f"{what} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise NtupleError(f"{what} {number} is out of range {low}..{high}")
    return number


def _norm_ip(rule: Mapping[str, Any], key: str, family: int, flow_type: str) -> dict[str, str]:
    value = rule.get(key)
    mask = rule.get(key + "_mask")
    if value is None or value == "":
        if mask not in (None, ""):
            raise NtupleError(f"{key}_mask given without {key}")
        return {}
    text = str(value).strip()
    try:
        if "/" in text:
            if mask not in (None, ""):
                raise NtupleError(f"{key} {text} is a prefix: give either a prefix or {key}_mask, not both")
            net = ipaddress.ip_network(text, strict=True)
            addr, ignore = net.network_address, int(net.hostmask)
        else:
            addr = ipaddress.ip_address(text)
            ignore = 0
            if mask not in (None, ""):
                ignore = int(ipaddress.ip_address(str(mask).strip()))
    except ValueError as exc:
        raise NtupleError(f"{key} {text!r}: {exc}") from None
    if addr.version != family:
        other = flow_type[:-1] + ("6" if family == 4 else "4")
        raise NtupleError(
            f"{key} {text} is IPv{addr.version} but flow_type {flow_type} is IPv{family}; use {other}"
        )
    full = (1 << addr.max_prefixlen) - 1
    if ignore > full:
        raise NtupleError(f"{key}_mask {mask} is not an IPv{family} mask")
    if ignore == full:
        return {}  # matches every address: same as not giving the field
    out = {key: str(type(addr)(int(addr) & ~ignore & full))}  # type(): ip_address(0) would be IPv4
    if ignore:
        out[key + "_mask"] = str(
            ipaddress.ip_address(ignore) if family == 4 else ipaddress.IPv6Address(ignore)
        )
    return out


def _norm_port(rule: Mapping[str, Any], key: str) -> dict[str, int]:
    value = rule.get(key)
    mask = rule.get(key + "_mask")
    if value is None or value == "":
        if mask not in (None, ""):
            raise NtupleError(f"{key}_mask given without {key}")
        return {}
    port = _as_int(value, key, 0, 65535)
    ignore = 0 if mask in (None, "") else _as_int(mask, key + "_mask", 0, 0xFFFF)
    if ignore == 0xFFFF:
        return {}
    out = {key: port & ~ignore & 0xFFFF}
    if ignore:
        out[key + "_mask"] = ignore
    return out


def normalize_action(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() == "drop":
        return DROP
    action = _as_int(value, "action", -1, 2**32 - 1)
    return action


def normalize_rule(rule: Mapping[str, Any], require_action: bool = True) -> dict[str, Any]:
    """Validate a requested rule and return its canonical form (see the module docstring)."""
    if not isinstance(rule, Mapping):
        raise NtupleError(f"a rule must be a mapping, not {type(rule).__name__}")
    flow_type = str(rule.get("flow_type") or "").strip()
    if flow_type not in FLOW_TYPES:
        raise NtupleError(f"flow_type {flow_type or '(missing)'!r} is not one of {', '.join(FLOW_TYPES)}")
    family = FLOW_TYPES[flow_type][0]
    unknown = sorted(k for k, v in rule.items() if k not in RULE_FIELDS and k != "id" and v is not None)
    if unknown:
        raise NtupleError(
            f"field {', '.join(unknown)} is not valid for flow_type {flow_type}; valid fields: {', '.join(RULE_FIELDS)}"
        )
    out: dict[str, Any] = {"flow_type": flow_type}
    out.update(_norm_ip(rule, "src_ip", family, flow_type))
    out.update(_norm_ip(rule, "dst_ip", family, flow_type))
    out.update(_norm_port(rule, "src_port"))
    out.update(_norm_port(rule, "dst_port"))
    if rule.get("action") is not None:
        out["action"] = normalize_action(rule["action"])
    elif require_action:
        raise NtupleError(f"rule {flow_type} has no action (a queue number, or 'drop')")
    location = rule.get("location", rule.get("id"))
    if location is not None:
        out["location"] = _as_int(location, "location", 0, 2**32 - 2)
    return out


def check_queue(rule: Mapping[str, Any], ring_count: int | None) -> None:
    action = rule.get("action")
    if action is None or action < 0 or ring_count is None:
        return
    if action >= ring_count:
        raise NtupleError(
            f"action queue {action} does not exist: the NIC has {ring_count} RX rings (0..{ring_count - 1})"
        )


# ----------------------------------------------------------------------------------- matching and args


def rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two rules the same filter (ignores location)."""
    return (rule.get("flow_type"), *(rule.get(f) for f in MATCH_FIELDS), rule.get("action"))


def rule_matches(existing: Mapping[str, Any], wanted: Mapping[str, Any], match_action: bool = True) -> bool:
    """Does a parsed rule (from ethtool -n) implement a canonical requested rule?"""
    if existing.get("extra") or existing.get("vf") or existing.get("rss_context") is not None:
        return False
    if wanted.get("location") is not None and existing.get("id") != wanted["location"]:
        return False
    if existing.get("flow_type") != wanted.get("flow_type"):
        return False
    if any(existing.get(f) != wanted.get(f) for f in MATCH_FIELDS):
        return False
    return not (match_action and "action" in wanted and existing.get("action") != wanted["action"])


def rule_to_args(rule: Mapping[str, Any]) -> list[str]:
    """`ethtool -N DEV` arguments for a rule: ["flow-type", "udp4", "dst-port", "53", "action", "4"]."""
    canon = normalize_rule(rule)
    args = ["flow-type", canon["flow_type"]]
    for key in ("src_ip", "dst_ip", "src_port", "dst_port"):
        if key not in canon:
            continue
        args += [_ARG_NAMES[key], str(canon[key])]
        mask = canon.get(key + "_mask")
        if mask is not None:
            args += ["m", mask if isinstance(mask, str) else f"0x{mask:x}"]
    args += ["action", str(canon["action"])]
    if canon.get("location") is not None:
        args += ["loc", str(canon["location"])]
    return args


def parse_rule_args(args: str | Sequence[str]) -> dict[str, Any]:
    """The inverse of rule_to_args: "flow-type udp4 dst-port 53 action 4" -> canonical rule."""
    words = args.split() if isinstance(args, str) else list(args)
    if len(words) < 2 or words[0] != "flow-type":
        raise NtupleError(f"a rule starts with 'flow-type TYPE': {' '.join(words)!r}")
    names = {v: k for k, v in _ARG_NAMES.items()}
    rule: dict[str, Any] = {"flow_type": words[1]}
    i = 2
    while i < len(words):
        word = words[i]
        if i + 1 >= len(words):
            raise NtupleError(f"option {word!r} has no value")
        value = words[i + 1]
        if word in names:
            rule[names[word]] = value
            i += 2
            if i + 1 < len(words) and words[i] in ("m", word + "-mask"):
                rule[names[word] + "_mask"] = words[i + 1]
                i += 2
        elif word == "action":
            rule["action"] = value
            i += 2
        elif word == "loc":
            rule["location"] = value
            i += 2
        else:
            raise NtupleError(f"option {word!r} is not supported by floodgate (flow-type {words[1]})")
    return normalize_rule(rule)


def format_rule(rule: Mapping[str, Any]) -> str:
    """A parsed/canonical rule as `ethtool -n` prints it (rxclass_print_nfc_rule, no FLOW_EXT block)."""
    family, label = FLOW_TYPES[rule["flow_type"]]
    zero = "0.0.0.0" if family == 4 else "::"
    ones = "255.255.255.255" if family == 4 else "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    lines = [f"Filter: {rule.get('id', rule.get('location', 0))}", f"\tRule Type: {label}"]
    for key, name in (("src_ip", "Src IP addr"), ("dst_ip", "Dest IP addr")):
        if key in rule:
            lines.append(f"\t{name}: {rule[key]} mask: {rule.get(key + '_mask', zero)}")
        else:
            lines.append(f"\t{name}: {zero} mask: {ones}")
    lines.append("\tTOS: 0x0 mask: 0xff" if family == 4 else "\tTraffic Class: 0x0 mask: 0xff")
    for key, name in (("src_port", "Src port"), ("dst_port", "Dest port")):
        if key in rule:
            lines.append(f"\t{name}: {rule[key]} mask: 0x{rule.get(key + '_mask', 0):x}")
        else:
            lines.append(f"\t{name}: 0 mask: 0xffff")
    action = rule["action"]
    lines.append("\tAction: Drop" if action == DROP else f"\tAction: Direct to queue {action}")
    return "\n".join(lines) + "\n\n"


def describe(rule: Mapping[str, Any]) -> str:
    """One line for messages: "udp4 dst-port 53 action 4 (id 2045)"."""
    try:
        text = " ".join(rule_to_args({k: v for k, v in rule.items() if k in RULE_FIELDS})[1:])
    except (NtupleError, KeyError):
        text = f"{rule.get('flow_type', '?')} (a rule floodgate does not manage)"
    return f"{text} (id {rule['id']})" if "id" in rule else text
