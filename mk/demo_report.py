"""Prints `make demo`'s before/after table from two lab/measure.py --json results and status.yml's JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load(path: str) -> Any:
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


def main(before_path: str, after_path: str, queue: str, status_path: str) -> int:
    before, after, status = _load(before_path), _load(after_path), _load(status_path) or []
    q = int(queue)
    print(f"\n{'':34}{'before':>12}{'after':>12}")
    for label, key in (
        ("legit DNS answered", "answered_fraction"),
        ("legit latency avg (ms)", "latency_avg_ms"),
    ):
        b, a = before["legit"][key], after["legit"][key]
        fmt = (lambda v: f"{v * 100:.1f}%") if key == "answered_fraction" else (lambda v: f"{v:.2f}")
        print(f"{label:34}{fmt(b):>12}{fmt(a):>12}")
    print(f"{'flood':34}{before['flood']:>12}{after['flood']:>12}")
    print("\neth1 rx packets per queue during each measurement (real veth counters):")
    for name, m in (("before", before), ("after", after)):
        queues = {int(k): v for k, v in m["rx_queue_packets"].items()}
        others = sum(v for k, v in queues.items() if k != q)
        cells = "  ".join(f"q{k}={v}" for k, v in sorted(queues.items()))
        print(f"  {name:7} {cells}\n          queue {q}: {queues.get(q, 0)}  all other queues: {others}")
    for host in status:
        rx = host.get("receiver") or {}
        print(
            f"\n{host['host']}: mitigation {'ACTIVE' if host.get('active') else host.get('status')} on "
            f"{host.get('interface')} queue {host.get('queue')} ({host.get('backend')}), receiver "
            f"{host.get('receiver_unit')}: packets {rx.get('packets')} passed {rx.get('passed')} "
            f"dropped {rx.get('dropped')} malformed {rx.get('malformed')}"
            + (
                f" missed {rx['missed']} (dropped by the kernel before the receiver read them)"
                if "missed" in rx
                else ""
            )
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: demo_report.py BEFORE.json AFTER.json QUEUE STATUS.json")
    sys.exit(main(*sys.argv[1:]))
