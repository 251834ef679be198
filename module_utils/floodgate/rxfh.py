"""RSS indirection table: parse `ethtool -x`, and build the tables `ethtool -X` builds.

Formats follow ethtool's own printers (print_indir_table / print_rss_hkey in ethtool.c, common.c and
netlink/rss.c): ethtool 5.x and 6.0-6.1 print over ioctl, 6.2+ over netlink with the same text, 6.9+ add
"RSS input transformation" (symmetric-xor), 6.14+ add symmetric-or-xor.

`weights_to_table` and `equal_table` are the exact integer arithmetic of ethtool's fill_indir_table(), so
the module can predict the table the kernel will hold after `ethtool -X ... weight ...` and stay idempotent.
ethtool has no way to load an arbitrary table: `table_to_spec` finds the weight/equal arguments that
rebuild a given table, which is how a saved table is restored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from math import gcd
from typing import Any

_HEADER = re.compile(
    r"^RX flow hash indirection table for (?P<dev>\S+) with (?P<rings>\d+) RX ring\(s\):\s*$"
)
_ROW = re.compile(r"^\s*(?P<index>\d+):(?P<values>(?:\s+\d+)+)\s*$")
_FUNC = re.compile(r"^\s+(?P<name>[\w-]+):\s+(?P<state>on|off)\s*$")
_KEY = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2})*$")


class RxfhError(ValueError):
    """Input that ethtool -X would refuse, or output we cannot read."""


def parse_rxfh(text: str) -> dict[str, Any]:
    """Parse `ethtool -x DEV` output.

    Returns {"device", "ring_count", "table", "hash_key", "hash_funcs", "input_xfrm"}: ring_count is None
    when no header was printed; table is [] and hash_key None where ethtool printed "Operation not
    supported"; hash_funcs maps each hash function name to on/off; input_xfrm (ethtool >= 6.9) likewise.
    """
    device: str | None = None
    ring_count: int | None = None
    table: list[int] = []
    hash_key: str | None = None
    hash_funcs: dict[str, bool] = {}
    input_xfrm: dict[str, bool] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _HEADER.match(line)
        if m:
            device, ring_count, section = m.group("dev"), int(m.group("rings")), "table"
            continue
        if line.startswith("RSS hash key:"):
            section = "key"
            continue
        if line.startswith("RSS hash function:"):
            section = "func"
            continue
        if line.startswith("RSS input transformation:"):
            section = "xfrm"
            continue
        if section == "table":
            m = _ROW.match(line)
            if m:
                index = int(m.group("index"))
                if index != len(table):
                    raise RxfhError(f"indirection table row {index} follows {len(table)} entries")
                table.extend(int(v) for v in m.group("values").split())
            elif "Operation not supported" not in line:
                raise RxfhError(f"unexpected line in indirection table: {line!r}")
        elif section == "key":
            if _KEY.match(line.strip()):
                hash_key = line.strip().lower()
        elif section in ("func", "xfrm"):
            m = _FUNC.match(line)
            if m:
                target = hash_funcs if section == "func" else input_xfrm
                target[m.group("name")] = m.group("state") == "on"
    if ring_count is None and not table:
        raise RxfhError("no 'RX flow hash indirection table' header in ethtool -x output")
    return {
        "device": device,
        "ring_count": ring_count,
        "table": table,
        "hash_key": hash_key,
        "hash_funcs": hash_funcs,
        "input_xfrm": input_xfrm,
    }


def format_table(table: Sequence[int]) -> str:
    """The table as ethtool prints it (8 per row), for --diff output."""
    lines = []
    for row in range(0, len(table), 8):
        values = "".join(f" {v:5d}" for v in table[row : row + 8])
        lines.append(f"{row:5d}: {values}")
    return "\n".join(lines) + ("\n" if lines else "")


def check_weights(weights: Sequence[int], size: int) -> None:
    """Raise RxfhError for weights ethtool's fill_indir_table refuses."""
    if size <= 0:
        raise RxfhError("the NIC reports no indirection table (size 0)")
    if not weights:
        raise RxfhError("weights must not be empty")
    if any(int(w) < 0 for w in weights):
        raise RxfhError("weights must be >= 0")
    total = sum(int(w) for w in weights)
    if total == 0:
        raise RxfhError(
            "at least one weight must be non-zero (ethtool: 'At least one weight must be non-zero')"
        )
    if total > size:
        raise RxfhError(
            f"total weight {total} exceeds the indirection table size {size} "
            "(ethtool: 'Total weight exceeds the size of the indirection table')"
        )


def weights_to_table(weights: Sequence[int], size: int, start: int = 0) -> list[int]:
    """The table `ethtool -X DEV [start S] weight W0 W1 ...` writes, for a table of `size` entries.

    Same integer arithmetic as ethtool's fill_indir_table (unchanged from 3.x to 6.15): entry i goes to the
    first queue j whose running weight sum satisfies i < size * partial(j) / sum, so each queue gets a
    contiguous run of about size * w_j / sum entries, and zero-weight queues get none.
    """
    check_weights(weights, size)
    total = sum(int(w) for w in weights)
    table: list[int] = []
    j = -1
    partial = 0
    for i in range(size):
        while i >= size * partial // total:
            j += 1
            partial += int(weights[j])
        table.append(start + j)
    return table


def equal_table(count: int, size: int, start: int = 0) -> list[int]:
    """The table `ethtool -X DEV equal N` writes: entry i goes to queue start + i % N."""
    if count < 1:
        raise RxfhError("equal must be >= 1")
    return [start + i % count for i in range(size)]


def table_to_spec(table: Sequence[int]) -> tuple[str, list[int]] | None:
    """Find ethtool -X arguments that rebuild `table` exactly: ("equal", [N]), ("equal", [N, START]) or
    ("weight", [w...]).

    ethtool cannot load an arbitrary table, so a saved table can be restored only when it is one of the
    tables ethtool builds: `equal N` (the kernel default for most drivers, i % N) or a weight table
    (queues in ascending order, each a contiguous run). Returns None when no argument list fits.
    """
    size = len(table)
    if size == 0:
        return None
    low = min(table)
    if list(table) == equal_table(max(table) - low + 1, size, low):
        # `equal N` ([N]), or `start S equal N` ([N, S]) for a table written with ethtool's start
        return ("equal", [max(table) - low + 1] if low == 0 else [max(table) - low + 1, low])
    count = max(table) + 1
    # A weight table is non-decreasing; run lengths are the weights (size * partial / size is exact).
    if any(b < a for a, b in pairwise(table)):
        return None
    counts = [0] * count
    for q in table:
        counts[q] += 1
    # Prefer the smallest weights that rebuild the table (what an operator typed: "weight 1 1 1 1 0 1 ..."),
    # trying totals up to a few per queue; the exact run lengths (divided by their gcd) always work.
    for total in range(1, min(size, 4 * count) + 1):
        weights = [max(1, round(c * total / size)) if c else 0 for c in counts]
        if sum(weights) == total and weights_to_table(weights, size) == list(table):
            return ("weight", weights)
    divisor = 0
    for c in counts:
        divisor = gcd(divisor, c)
    weights = [c // divisor for c in counts]
    if weights_to_table(weights, size) == list(table):
        return ("weight", weights)
    return None  # pragma: no cover - a non-decreasing table always matches its run lengths


def spec_args(spec: tuple[str, Sequence[int]]) -> list[str]:
    """ethtool -X arguments for a table_to_spec result."""
    kind, values = spec
    if kind == "equal" and len(values) == 2:
        return ["start", str(values[1]), "equal", str(values[0])]
    return [kind, *(str(v) for v in values)]
