#!/usr/bin/env python3
"""Where the fleet lab's edges spend CPU (docs/fleet.md "Where the time goes"): `edge_cpu.py snap OUT.json`
records, for every running fleet-lab container, the CPU time of its cgroup and of each cgroup below it
(cgroup v1 cpuacct.usage, ns: the container's systemd units - ssh.service with sshd and the Python that Ansible
or mitogen starts, the receiver's unit, journald, ...) and of each live process in it (utime+stime of the
process and of its waited-for children). `edge_cpu.py diff A.json B.json` prints what was spent between two
snapshots, summed over the edges, by unit and by command name.

Lab only, for measurement: nothing here changes a host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
TICK = os.sysconf("SC_CLK_TCK")


def containers(label: str) -> dict[str, str]:
    out = subprocess.run(
        ["podman", "ps", "--filter", f"label={label}", "--format", "{{.ID}} {{.Names}}", "--no-trunc"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split()[::-1] for line in out.splitlines() if line.strip())


def cgroup_dirs(ids: dict[str, str]) -> dict[str, Path]:
    """name -> the container's cpuacct cgroup directory (found by its id in the directory name)."""
    found: dict[str, Path] = {}
    for dirpath, dirnames, _ in os.walk(CPUACCT):
        for d in list(dirnames):
            for name, cid in ids.items():
                if cid in d and name not in found:
                    found[name] = Path(dirpath) / d
                    dirnames.remove(d)  # its subtree is read below
                    break
    return found


def snap(label: str) -> dict[str, object]:
    ids = containers(label)
    dirs = cgroup_dirs(ids)
    cg: dict[str, dict[str, int]] = {}
    for name, top in dirs.items():
        units: dict[str, int] = {}
        for dirpath, _, files in os.walk(top):
            if "cpuacct.usage" in files:
                rel = os.path.relpath(dirpath, top)
                units[rel] = int(Path(dirpath, "cpuacct.usage").read_text())
        cg[name] = units
    # processes: which container (by cgroup path), command, own and children's CPU ticks
    procs: dict[str, dict[str, list[object]]] = defaultdict(dict)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cgl = Path(f"/proc/{pid}/cgroup").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = (
                Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
            )
        except OSError:
            continue
        for name, cid in ids.items():
            if cid in cgl:
                f = stat.rsplit(")", 1)[1].split()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                own = (int(f[11]) + int(f[12])) / TICK
                kids = (int(f[13]) + int(f[14])) / TICK
                # the systemd unit the process runs in (the named systemd hierarchy: cpuacct has no per-unit
                # cgroups inside the containers on this cgroup-v1 host)
                unit = next(
                    (ln.rsplit("/", 1)[1] for ln in cgl.splitlines() if ":name=systemd:" in ln and cid in ln),
                    "?",
                )
                procs[name][pid] = [comm, own, kids, cmd, int(f[19]), unit]
                break
    return {"time": time.time(), "cgroups": cg, "procs": procs}


def cpu_by_edge(a: dict, b: dict) -> dict[str, float]:
    """CPU seconds each container's cgroup used between snapshots a and b (containers in both)."""
    return {
        n: (ub.get(".", 0) - a["cgroups"][n].get(".", 0)) / 1e9
        for n, ub in b["cgroups"].items()
        if n in a["cgroups"]
    }


def diff(a: dict, b: dict) -> None:
    per_edge = cpu_by_edge(a, b)
    edges = list(per_edge)
    wall = b["time"] - a["time"]
    total = sum(per_edge.values())
    units: dict[str, float] = defaultdict(float)
    for n in edges:
        ua, ub = a["cgroups"][n], b["cgroups"][n]
        for u, v in ub.items():
            if u != ".":
                units[u] += (v - ua.get(u, 0)) / 1e9
    print(f"{len(edges)} containers, {wall:.1f} s apart: {total:.1f} CPU s in their cgroups")
    busiest = sorted(per_edge.items(), key=lambda kv: -kv[1])
    top, mid, low = busiest[0], busiest[len(busiest) // 2], busiest[-1]
    print(f"  per container: max {top[1]:.2f} ({top[0]}), median {mid[1]:.2f}, min {low[1]:.2f}")
    print("  by cgroup below the container (leaf and parent cgroups both listed; parents include children):")
    for u, v in sorted(units.items(), key=lambda kv: -kv[1])[:25]:
        if v >= 0.05:
            print(f"    {v:8.2f}  {u}")
    # Processes alive at the second snapshot: what they (and their reaped children: ethtool, module runs) used
    # since the first, by systemd unit and command. Processes that ended in between are only in the total.
    comm: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    by_unit: dict[str, float] = defaultdict(float)
    for n in edges:
        pa, pb = a["procs"].get(n, {}), b["procs"].get(n, {})
        for pid, (c, own, kids, cmd, start, *rest) in pb.items():
            unit = rest[0] if rest else "?"
            old = pa.get(pid)
            new = not (old and old[4] == start)
            d_own, d_kids = (own, kids) if new else (own - old[1], kids - old[2])
            key = f"{unit}: {'new ' if new else ''}" + (c if "python" not in c else "python " + cmd[:50])
            comm[key][0] += d_own
            comm[key][1] += d_kids
            comm[key][2] += 1
            by_unit[unit] += d_own + d_kids
    seen = sum(by_unit.values())
    print(
        f"  by systemd unit (live processes, {seen:.1f} CPU s; the other {total - seen:.1f} in processes that ended):"
    )
    for u, v in sorted(by_unit.items(), key=lambda kv: -kv[1]):
        if v >= 0.05:
            print(f"    {v:8.2f}  {u}")
    print("  by process (own CPU s, CPU s of its reaped children, count):")
    for k, (own, kids, cnt) in sorted(comm.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:20]:
        if own + kids >= 0.05:
            print(f"    {own:8.2f} {kids:8.2f} {cnt:4d}  {k}")


def main() -> int:
    label = os.environ.get("FLEET_LABEL", "floodgate-fleet=1")
    if len(sys.argv) == 3 and sys.argv[1] == "snap":
        Path(sys.argv[2]).write_text(json.dumps(snap(label)))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "diff":
        diff(json.loads(Path(sys.argv[2]).read_text()), json.loads(Path(sys.argv[3]).read_text()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
