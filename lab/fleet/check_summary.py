#!/usr/bin/env python3
"""Checks a fleet run summary (RUN/summary-mitigate.json) against what the fleet scenario injected.

  check_summary.py SUMMARY --mitigated edge1,edge2 --rolled-back edge4:receiver --refused edge8:ntuple
                   --unreachable edge10

Each --rolled-back/--refused entry is HOST:WORD, WORD a case-insensitive word the reason must contain
(alternatives separated by |). A host
marked unreachable must be reported (never dropped) with a reason. Prints the table; exit 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path


def load(path: Path) -> dict[str, dict[str, object]]:
    data = json.loads(path.read_text())
    if isinstance(data, str):  # a list rendered as text by the summary's template
        data = ast.literal_eval(data.strip())
    return {str(row["host"]): row for row in data}


def pairs(spec: str) -> list[tuple[str, str]]:
    return [tuple(item.split(":", 1)) if ":" in item else (item, "") for item in spec.split(",") if item]  # type: ignore[misc]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("summary", type=Path)
    ap.add_argument("--mitigated", default="")
    ap.add_argument("--rolled-back", default="")
    ap.add_argument("--refused", default="")
    ap.add_argument("--unreachable", default="")
    a = ap.parse_args()
    rows = load(a.summary)
    for host, row in sorted(rows.items()):
        print(f"{host:10} {row.get('result', '?'):26} {str(row.get('reason', ''))[:150]}")
    errors = []
    for host in filter(None, a.mitigated.split(",")):
        if rows.get(host, {}).get("result") != "mitigated":
            errors.append(f"{host}: expected mitigated, got {rows.get(host, {}).get('result')}")
    expected = [("rolled back", h, w) for h, w in pairs(a.rolled_back)]
    expected += [("refused", h, w) for h, w in pairs(a.refused)]
    expected += [("unreachable", h, w) for h, w in pairs(a.unreachable)]
    for result, host, word in expected:
        row = rows.get(host)
        if row is None:
            errors.append(f"{host}: missing from the summary (must be reported, not dropped)")
            continue
        got, reason = str(row.get("result", "")), str(row.get("reason", ""))
        if result not in got:
            errors.append(f"{host}: expected '{result}', got '{got}' ({reason[:200]})")
        elif not reason or not any(w.lower() in reason.lower() for w in word.split("|")):
            errors.append(f"{host}: reason does not say '{word}': '{reason[:200]}'")
    for e in errors:
        print("MISMATCH", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
