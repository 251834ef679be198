"""Offload features: parse `ethtool -k` and the "Actual changes:" report of `ethtool -K`, and plan changes.

Names follow ethtool's own printer (netlink/features.c dump_features in ethtool >= 5.6, the ioctl
dump_features before): the twelve legacy flags (ethtool's off_flag_def table) are printed under their long
names ("generic-receive-offload"); a legacy flag backed by several kernel features ("tx-checksumming") is
printed as an aggregate ("on" when any member is on) followed by its members, tab-indented, under their
kernel names. Everything else is printed under its kernel name. "Actual changes:" (netlink) names kernel
features only ("rx-gro", "tx-tcp-segmentation"), so KERNEL_TO_LEGACY maps them back to the -k names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

# ethtool's off_flag_def: short name -> (long name printed by -k, kernel feature name pattern).
LEGACY_FLAGS: dict[str, tuple[str, str]] = {
    "rx": ("rx-checksumming", "rx-checksum"),
    "tx": ("tx-checksumming", "tx-checksum-*"),
    "sg": ("scatter-gather", "tx-scatter-gather*"),
    "tso": ("tcp-segmentation-offload", "tx-tcp*-segmentation"),
    "ufo": ("udp-fragmentation-offload", "tx-udp-fragmentation"),
    "gso": ("generic-segmentation-offload", "tx-generic-segmentation"),
    "gro": ("generic-receive-offload", "rx-gro"),
    "lro": ("large-receive-offload", "rx-lro"),
    "rxvlan": ("rx-vlan-offload", "rx-vlan-hw-parse"),
    "txvlan": ("tx-vlan-offload", "tx-vlan-hw-insert"),
    "ntuple": ("ntuple-filters", "rx-ntuple-filter"),
    "rxhash": ("receive-hashing", "rx-hashing"),
}
# Kernel features that are the only member of their legacy flag: -k prints them under the long name.
KERNEL_TO_LEGACY: dict[str, str] = {
    pattern: long for long, pattern in LEGACY_FLAGS.values() if "*" not in pattern
}
SHORT_TO_LONG: dict[str, str] = {short: long for short, (long, _) in LEGACY_FLAGS.items()}

_LINE = re.compile(
    r"^(?P<indent>\t|\s+)?(?P<name>[\w.-]+): (?P<state>on|off)"
    r"(?: \[(?P<suffix>fixed|requested on|requested off|not requested)\])?\s*$"
)


class FeatureError(ValueError):
    """A request that cannot be applied (unknown or [fixed] features); nothing was changed."""


def parse_features(text: str) -> dict[str, dict[str, Any]]:
    """Parse `ethtool -k DEV` output.

    Returns {name: {"on": bool, "fixed": bool, "requested": bool, "parent": str | None}}: "requested" is
    the state the driver was asked for (differs from "on" where ethtool printed [requested on|off]);
    "parent" names the aggregate legacy flag a tab-indented member belongs to. Order is ethtool's.
    """
    features: dict[str, dict[str, Any]] = {}
    parent: str | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith(("Features for ", "Offload parameters for ")):
            continue
        m = _LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        on = m.group("state") == "on"
        suffix = m.group("suffix") or ""
        indented = m.group("indent") is not None
        requested = {"requested on": True, "requested off": False}.get(suffix, on)
        features[m.group("name")] = {
            "on": on,
            "fixed": suffix == "fixed",
            "requested": requested,
            "parent": parent if indented else None,
        }
        if not indented:
            parent = m.group("name")
    return features


def parse_actual_changes(text: str) -> dict[str, dict[str, Any]]:
    """Parse the "Actual changes:" block `ethtool -K` prints when the result differs from the request.

    Returns {name: {"on": bool, "requested": bool | None, "side_effect": bool}} with names mapped to the
    -k names. "side_effect" is true for "[not requested]" lines (the kernel changed a feature because of
    another one, e.g. tx off also turns TSO off); "requested" holds the refused wish of "[requested X]".
    An empty dict means ethtool reported nothing beyond what was asked.
    """
    changes: dict[str, dict[str, Any]] = {}
    started = False
    for raw in text.splitlines():
        if raw.startswith("Actual changes:"):
            started = True
            continue
        if not started:
            continue
        m = _LINE.match(raw)
        if not m:
            continue
        on = m.group("state") == "on"
        suffix = m.group("suffix") or ""
        requested: bool | None = None
        if suffix.startswith("requested "):
            requested = suffix == "requested on"
        name = KERNEL_TO_LEGACY.get(m.group("name"), m.group("name"))
        changes[name] = {"on": on, "requested": requested, "side_effect": suffix == "not requested"}
    return changes


def members(features: Mapping[str, Mapping[str, Any]], name: str) -> list[str]:
    """The kernel features an aggregate legacy flag stands for (itself when it has no members)."""
    subs = [n for n, f in features.items() if f.get("parent") == name]
    return subs or [name]


def resolve_name(features: Mapping[str, Any], name: str) -> str | None:
    """Map a user-given feature name (short alias, long name or kernel name) to its `ethtool -k` name."""
    for candidate in (name, SHORT_TO_LONG.get(name, ""), KERNEL_TO_LEGACY.get(name, "")):
        if candidate and candidate in features:
            return candidate
    return None


def is_satisfied(
    features: Mapping[str, Mapping[str, Any]], name: str, want: bool, subs: list[str] | None = None
) -> bool:
    """True when every changeable member of `name` (or of `subs`) is already `want` (fixed ones cannot move)."""
    subs = members(features, name) if subs is None else subs
    changeable = [s for s in subs if not features[s]["fixed"]]
    if not changeable:
        return all(features[s]["on"] == want for s in subs) or features[name]["on"] == want
    return all(features[s]["on"] == want for s in changeable)


def plan_changes(features: Mapping[str, Mapping[str, Any]], wanted: Mapping[str, bool]) -> dict[str, bool]:
    """Return {-k name: wanted state} for the features that must change, in request order.

    An aggregate named together with some of its members stands for the other members only, and is
    replaced in the plan by those of them that must change: ethtool applies a legacy flag (`tx`) over
    every member whatever else is on the `-K` line, so the aggregate itself must not be sent then.
    Raises FeatureError (before anything is changed) listing every unknown name, with close matches, and
    every [fixed] feature whose state would have to change.
    """
    unknown: list[str] = []
    fixed: list[str] = []
    resolved: dict[str, bool] = {}
    for given, want in wanted.items():
        name = resolve_name(features, given)
        if name is None:
            close = difflib.get_close_matches(given, [*features, *SHORT_TO_LONG], n=3, cutoff=0.6)
            unknown.append(f"{given}" + (f" (did you mean: {', '.join(close)}?)" if close else ""))
        else:
            resolved[name] = bool(want)
    plan: dict[str, bool] = {}
    for name, want in resolved.items():
        all_subs = members(features, name)
        subs = [s for s in all_subs if s == name or s not in resolved]
        if not subs:
            continue  # every member is named on its own
        if is_satisfied(features, name, want, subs):
            continue
        if all(features[s]["fixed"] for s in subs) or features[name]["fixed"]:
            fixed.append(f"{name}: {'on' if features[name]['on'] else 'off'} [fixed]")
            continue
        if len(subs) < len(all_subs):
            plan.update({s: want for s in subs if not features[s]["fixed"] and features[s]["on"] != want})
        else:
            plan[name] = want
    problems = []
    if unknown:
        problems.append("unknown feature(s): " + "; ".join(unknown))
    if fixed:
        problems.append("feature(s) fixed by the driver, cannot change: " + "; ".join(fixed))
    if problems:
        raise FeatureError(". ".join(problems))
    return plan


def set_args(plan: Mapping[str, bool]) -> list[str]:
    """The arguments of one `ethtool -K DEV ...` call for `plan`."""
    args: list[str] = []
    for name, want in plan.items():
        args += [name, "on" if want else "off"]
    return args


def states(features: Mapping[str, Mapping[str, Any]], names: Iterable[str] | None = None) -> dict[str, bool]:
    """{name: on} for `names` (all features when None): the shape of before/after and of the diff."""
    keys = list(features) if names is None else [n for n in names if n in features]
    return {n: bool(features[n]["on"]) for n in keys}


def changed_features(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Names whose on/off state differs between two parses (including side effects)."""
    return [n for n in after if n in before and before[n]["on"] != after[n]["on"]]
