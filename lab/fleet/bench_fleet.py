#!/usr/bin/env python3
"""Fleet benchmark (issue 6, `make bench-fleet`): wall time of mitigate.yml, an idempotent re-run and
unmitigate.yml over N lab edges, with floodgate's Ansible settings and with Ansible's defaults, in one run.

"project": ansible.cfg as committed (forks 50, pipelining, gathering explicit / plays without facts).
"defaults": the same playbooks with Ansible's defaults put back through ANSIBLE_* overrides (forks 5, no
pipelining, implicit gathering) plus a fact-gathering play in front (lab/fleet/with-facts-*.yml), since
floodgate's plays say `gather_facts: false` themselves and a play written with defaults gathers facts.
"mitogen" (optional, needs `pip install mitogen==0.3.54`): project settings with strategy mitogen_linear and
the mitogen_podman connection (one Python per host for the whole run instead of 3-4 `podman exec` per task).
mitogen's module_utils scanner misses imports made inside functions (module_utils/floodgate/snapshot.py and
queue_check.py have three): this column runs a copy of module_utils with those imports also made at module
level, from lab/fleet/plain-*.yml (Ansible puts a module_utils/ beside the top playbook before the configured
path). Hoisting them in the real files makes the copy unnecessary.

Both runs use the same request (queue 4, af_xdp, receiver built once on the controller and copied, idle
verification: no flood). The lab connection is containers.podman.podman, which has no pipelining: say so.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLEET_LAB = ROOT / "lab" / "fleet" / "lab.sh"
# FLEET_NAME (lab/fleet/lab.sh) lets the bench run on its own fleet beside the Molecule scenario's.
STATE = ROOT / "lab" / ".state" / os.environ.get("FLEET_NAME", "fleet")
OUT = STATE / "bench"
# A folder: the generated hosts plus the lab's group_vars (interface, backend, front end, receiver rules).
INVENTORY = STATE / "inventory"
PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"
REQUEST = [
    "-e",
    "queue=4",
    "-e",
    "backend=af_xdp",
    "-e",
    "verify_min_packets=0",
    "-e",
    "receiver_build_on=controller",
]
DEFAULTS_ENV = {
    "ANSIBLE_FORKS": "5",
    "ANSIBLE_PIPELINING": "False",
    "ANSIBLE_SSH_PIPELINING": "False",
    "ANSIBLE_GATHERING": "implicit",
}
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def lab_up(edges: int) -> float:
    t = time.monotonic()
    subprocess.run([str(FLEET_LAB), "up", str(edges)], check=True)
    up = time.monotonic() - t
    subprocess.run([str(FLEET_LAB), "inventory", str(edges), str(INVENTORY)], check=True)
    return up


def mitogen_env() -> dict[str, str] | None:
    """Environment of the mitogen column, or None without the mitogen package in the venv."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    found = subprocess.run(
        [
            str(venv_python),
            "-c",
            "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))",
        ],
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        return None
    plugins = Path(found.stdout.strip()) / "plugins"
    return {
        "ANSIBLE_STRATEGY_PLUGINS": str(plugins / "strategy"),
        "ANSIBLE_CONNECTION_PLUGINS": str(plugins / "connection"),
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "ANSIBLE_MODULE_UTILS": str(hoisted_module_utils()),
    }


def hoisted_module_utils() -> Path:
    """A copy of module_utils whose function-level floodgate imports are repeated at module level."""
    dest = STATE / "module_utils"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ROOT / "module_utils", dest)
    local = re.compile(r"^[ \t]+(from ansible\.module_utils\.floodgate\.\S+ import [^#\n]+)", re.M)
    for f in (dest / "floodgate").glob("*.py"):
        text = f.read_text()
        hoist = [m.strip() for m in local.findall(text)]
        if hoist:
            text = text.replace(
                "from __future__ import annotations\n",
                "from __future__ import annotations\n" + "\n".join(hoist) + "\n",
                1,
            )
            f.write_text(text)
    return dest


def inventory_for(mode: str) -> Path:
    return mitogen_inventory(INVENTORY) if mode == "mitogen" else INVENTORY


def mitogen_inventory(src: Path | str) -> Path:
    """A copy of inventory folder `src` (hosts.yml + group_vars link) whose hosts use mitogen_podman."""
    src = Path(src)
    inv = src.parent / (src.name + "-mitogen")
    inv.mkdir(exist_ok=True)
    for name in ("group_vars", "host_vars"):
        if (src / name).exists() and not (inv / name).exists():
            (inv / name).symlink_to((src / name).resolve())
    hosts = (src / "hosts.yml").read_text()
    (inv / "hosts.yml").write_text(hosts.replace("containers.podman.podman", "mitogen_podman"))
    return inv


def read_summary(path: Path) -> list[dict[str, object]]:
    """The run summary's rows (tolerates a summary written as the text of a Python list)."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if isinstance(data, str):
        data = ast.literal_eval(data.strip())
    return list(data)


def play(mode: str, edges: int, step: str, extra_env: dict[str, str]) -> dict[str, object]:
    """Runs one playbook; returns its wall time, rc, per-host recap and the run summary's results."""
    action = "unmitigate" if step in ("unmitigate", "cleanup") else "mitigate"
    book = {
        "project": ROOT / f"{action}.yml",
        "defaults": ROOT / "lab" / "fleet" / f"with-facts-{action}.yml",
        "mitogen": ROOT / "lab" / "fleet" / f"plain-{action}.yml",
    }[mode]
    run_dir = OUT / f"{mode}-{edges}-{step}"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), CONTAINERS_CONF=str(STATE / "containers.conf")
    )
    env.update(extra_env)
    cmd = [
        str(PLAYBOOK),
        "-i",
        str(inventory_for(mode)),
        str(book),
        *REQUEST,
        "-e",
        f"fg_run_dir={run_dir}",
        "-e",
        f"nic_restore_controller_dir={OUT / 'controller'}",
    ]
    t = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - t
    (run_dir / "ansible.log").write_text(p.stdout + p.stderr)
    recap = {
        m[0]: {"changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
        for m in RECAP.findall(p.stdout)
    }
    results: dict[str, int] = {}
    for row in read_summary(run_dir / f"summary-{action}.json"):
        results[str(row["result"])] = results.get(str(row["result"]), 0) + 1
    edge_recap = {h: r for h, r in recap.items() if h.startswith("edge")}
    return {
        "wall": round(wall, 1),
        "rc": p.returncode,
        "changed_hosts": sum(1 for r in edge_recap.values() if r["changed"]),
        "failed_hosts": sum(1 for r in edge_recap.values() if r["failed"] or r["unreachable"]),
        "results": results,
        "log": str(run_dir / "ansible.log"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20,50", help="edge counts, comma separated (lab maximum 50)")
    ap.add_argument("--modes", default="project,defaults", help="project,defaults[,mitogen]")
    ap.add_argument("--steps", default="mitigate,rerun,unmitigate", help="which of mitigate,rerun,unmitigate")
    ap.add_argument("--keep-lab", action="store_true", help="leave the last lab up")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    modes = a.modes.split(",")
    envs: dict[str, dict[str, str]] = {"project": {}, "defaults": DEFAULTS_ENV}
    if "mitogen" in modes:
        m = mitogen_env()
        if m is None:
            print(
                "bench-fleet: mitogen is not installed in the venv; skipping the mitogen column",
                file=sys.stderr,
            )
            modes.remove("mitogen")
        else:
            envs["mitogen"] = m
    # Controller copies of snapshots stay with this bench (the default run/<name>/ is shared with other labs).
    shutil.rmtree(OUT / "controller", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    # Start from no mitigation on the fleet's edges (a previous interrupted run may have left one).
    for n in sizes:
        up = lab_up(n)
        print(
            f"bench-fleet: lab with {n} edges up in {up:.0f} s; load {os.getloadavg()}",
            file=sys.stderr,
            flush=True,
        )
        cleanup = "mitogen" if "mitogen" in envs else "project"
        play(cleanup, n, "cleanup", envs[cleanup])
        for mode in modes:
            for step in a.steps.split(","):
                r = play(mode, n, step, envs[mode])
                r.update(edges=n, mode=mode, step=step, lab_up=round(up, 1), load=os.getloadavg()[0])
                rows.append(r)
                (OUT / "results.json").write_text(json.dumps(rows, indent=1) + "\n")  # kept if interrupted
                print(
                    f"bench-fleet: {n:3d} edges {mode:9s} {step:10s} {r['wall']:7.1f} s rc={r['rc']} "
                    f"changed_hosts={r['changed_hosts']} failed_hosts={r['failed_hosts']} {r['results']} load={r['load']:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
            if "unmitigate" not in a.steps.split(","):  # the next column starts from unmitigated hosts too
                play(cleanup, n, "cleanup", envs[cleanup])
    (OUT / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print_table(rows, modes)
    if not a.keep_lab:
        subprocess.run([str(FLEET_LAB), "down"], check=False)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


def print_table(rows: list[dict[str, object]], modes: list[str]) -> None:
    by = {(r["edges"], r["mode"], r["step"]): r for r in rows}
    print("\nfleet wall time, seconds (lab edges over podman exec; 2 cores; same request in every column)")
    head = f"{'edges':>5} {'step':<11}" + "".join(f"{m:>11}" for m in modes)
    if "defaults" in modes and "project" in modes:
        head += f"{'speed-up':>10}"
    print(head)
    for n in sorted({r["edges"] for r in rows}):  # type: ignore[type-var]
        for step in ("mitigate", "rerun", "unmitigate"):
            if not any((n, m, step) in by for m in modes):
                continue
            line = f"{n:>5} {step:<11}"
            for m in modes:
                r = by.get((n, m, step))
                line += f"{r['wall']:>10.1f}{' ' if r['rc'] == 0 else '!'}" if r else f"{'-':>11}"
            d, p = by.get((n, "defaults", step)), by.get((n, "project", step))
            if d and p:
                line += f"{float(d['wall']) / float(p['wall']):>9.1f}x"  # type: ignore[arg-type]
            loads = [float(by[(n, m, step)]["load"]) for m in modes if (n, m, step) in by]  # type: ignore[arg-type]
            line += "   load " + "/".join(f"{x:.0f}" for x in loads)
            print(line)
    print(
        "! = the run failed (see lab/.state/fleet/bench/*/ansible.log); rerun = mitigate.yml again (idempotent);\n"
        "load = 1-minute load average at the end of each column's run (2 cores: above 2 the machine is shared)"
    )


if __name__ == "__main__":
    sys.exit(main())
