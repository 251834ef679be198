#!/usr/bin/env python3
"""Measures one lab edge: a legitimate DNS load (dnsperf on fg-wire from the allowlisted prefix 10.98.0.0/24)
against the edge's dnsmasq, the answered fraction and latency, and the edge's per-queue receive counters
(real veth counters, `ethtool -S eth1` rx_queue_N_xdp_packets) over the same interval.

usage: measure.py [--edge N] [--qps 2000] [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

WIRE = "fg-wire"
LEGIT_SOURCE = "10.98.0.10"
QUERIES = "/usr/local/share/floodgate-lab/legit-queries.txt"


def podman(*args: str, check: bool = True) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check).stdout


def queue_counters(edge: str) -> dict[int, int]:
    stats = podman("exec", edge, "ethtool", "-S", "eth1")
    return {int(q): int(v) for q, v in re.findall(r"rx_queue_(\d+)_xdp_packets:\s+(\d+)", stats)}


def parse_dnsperf(text: str) -> dict[str, float]:
    def num(pattern: str) -> float:
        m = re.search(pattern, text)
        if not m:
            raise RuntimeError(f"dnsperf output without {pattern!r}:\n{text}")
        return float(m.group(1))

    sent = num(r"Queries sent:\s+(\d+)")
    completed = num(r"Queries completed:\s+(\d+)")
    latency = re.search(r"Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)", text)
    return {
        "sent": sent,
        "answered": completed,
        "answered_fraction": completed / sent if sent else 0.0,
        "latency_avg_ms": float(latency.group(1)) * 1000 if latency else float("nan"),
        "latency_max_ms": float(latency.group(3)) * 1000 if latency else float("nan"),
    }


def flood_state(edge_no: int) -> str:
    pids = f"/run/fg-flood-e{edge_no}-*.pid"
    check = f"for f in {pids}; do [ -f $f ] && kill -0 $(cat $f) 2>/dev/null && exit 0; done; exit 1"
    rc = subprocess.run(
        ["podman", "exec", WIRE, "sh", "-c", check],
        capture_output=True,
        check=False,
    ).returncode
    return "running" if rc == 0 else "not running"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--edge", type=int, default=int(os.environ.get("EDGE", "1")))
    p.add_argument("--qps", type=int, default=2000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    a = p.parse_args()
    edge = f"fg-edge{a.edge}"
    server = f"10.99.{a.edge}.2"
    running = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Running}}", edge, WIRE],
        capture_output=True,
        text=True,
        check=False,
    )
    if running.stdout.split() != ["true", "true"]:
        sys.stderr.write(
            f"lab: error: {edge} or {WIRE} is not running (make lab-up, and EDGE within LAB_EDGES)\n"
        )
        return 1
    flood = flood_state(a.edge)
    before = queue_counters(edge)
    dnsperf = ["dnsperf", "-s", server, "-a", LEGIT_SOURCE, "-d", QUERIES, "-t", "1", "-q", "500"]
    run = subprocess.run(
        ["podman", "exec", WIRE, *dnsperf, "-l", str(a.seconds), "-Q", str(a.qps)],
        capture_output=True,
        text=True,
        check=False,
    )
    after = queue_counters(edge)
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        return 1
    legit = parse_dnsperf(run.stdout)
    queues = {q: after[q] - before.get(q, 0) for q in sorted(after)}
    result = {
        "edge": a.edge,
        "server": server,
        "flood": flood,
        "legit": {"source": LEGIT_SOURCE, "qps": a.qps, "seconds": a.seconds, **legit},
        "rx_queue_packets": queues,
    }
    if a.json:
        print(json.dumps(result))
        return 0
    print(
        f"edge{a.edge} ({server}) flood: {flood}\n"
        f"legit DNS from {LEGIT_SOURCE} at {a.qps} qps for {a.seconds} s: "
        f"answered {legit['answered_fraction'] * 100:.1f}% ({legit['answered']:.0f}/{legit['sent']:.0f}), "
        f"latency avg {legit['latency_avg_ms']:.2f} ms, max {legit['latency_max_ms']:.2f} ms\n"
        f"eth1 rx packets per queue during the measurement:\n  "
        + "  ".join(f"q{q}={n}" for q, n in queues.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
