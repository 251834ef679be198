#!/usr/bin/env python3
"""Fleet benchmark (issue 6, `make bench-fleet`): wall time of mitigate.yml, an idempotent re-run and
unmitigate.yml over N lab edges, with floodgate's Ansible settings and with Ansible's defaults, in one run.

Every column reaches the edges the way production does: over SSH (sshd in each fleet-lab edge, the
controller's lab key; lab/fleet/lab.sh), and runs the same playbooks with the same request.
"project": the project's fleet settings: ansible.cfg as committed (forks 50, no fact gathering, pipelining,
  ControlPersist) plus mitogen's linear strategy as floodgate_mitogen_linear (strategy_plugins/: without
  mitogen's CPU pinning on small controllers; mitogen==0.3.54 is in requirements.txt; one Python per host for the
  whole run instead of one per task).
"pipelining": ansible.cfg alone (linear strategy): what the project gives without mitogen.
"defaults": Ansible's own defaults put back through ANSIBLE_* overrides: forks 5, no pipelining, implicit
  fact gathering, Ansible's default ssh_args and timeout, linear strategy; floodgate's plays say
  `gather_facts: false` themselves, so a fact-gathering play runs in front (lab/fleet/with-facts-*.yml) to cost
  what a play written with the defaults would.
--connection podman runs the same columns over `podman exec` (containers.podman.podman, no pipelining;
mitogen_podman for the project column) instead.

The request: queue 4, af_xdp, receiver built once on the controller and copied, idle verification (no flood).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import edge_cpu  # lab/fleet/edge_cpu.py: the edges' CPU by cgroup and process
import yaml

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
    # Ansible's own ssh_args and connection timeout (ansible.cfg sets its own).
    "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s",
    "ANSIBLE_TIMEOUT": "10",
}
MODES = ("project", "pipelining", "defaults")
RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M
)


def lab_up(edges: int, connection: str) -> float:
    t = time.monotonic()
    subprocess.run([str(FLEET_LAB), "up", str(edges)], check=True)
    up = time.monotonic() - t
    subprocess.run([str(FLEET_LAB), "inventory", str(edges), str(INVENTORY), connection], check=True)
    return up


def mitogen_env() -> dict[str, str] | None:
    """Environment of mitogen's strategy, or None without the mitogen package in the venv."""
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
        # floodgate_mitogen_linear (strategy_plugins/): mitogen_linear without mitogen's CPU pinning, which on
        # a 2-CPU controller leaves Ansible, its workers and ssh one CPU.
        "ANSIBLE_STRATEGY_PLUGINS": f"{ROOT / 'strategy_plugins'}:{plugins / 'strategy'}",
        "ANSIBLE_CONNECTION_PLUGINS": str(plugins / "connection"),
        "ANSIBLE_STRATEGY": "floodgate_mitogen_linear",
    }


def mitogen_inventory(src: Path | str) -> Path:
    """A copy of podman inventory folder `src` (hosts.yml + group_vars link) whose hosts use mitogen_podman
    (mitogen_linear takes over ssh hosts by itself, not containers.podman.podman ones)."""
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


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores; /proc/stat, everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def control_dir(mode: str) -> Path:
    """Each column's own folder of SSH ControlPersist sockets (Ansible's control_path_dir; floodgate_mitogen_linear
    gives mitogen's ssh the same ControlPath Ansible's ssh would use): a column never goes through a master that
    another column opened, since both name a host's socket alike."""
    return OUT / f"cp-{mode}"


def ssh_masters(folder: Path) -> list[Path]:
    """The SSH ControlPersist sockets in a control folder (none when it does not exist)."""
    return sorted(p for p in folder.glob("*") if p.is_socket())


def close_ssh_masters(folder: Path) -> int:
    """Asks every master with a socket in the folder to exit; how many there were."""
    socks = ssh_masters(folder)
    for sock in socks:
        subprocess.run(
            ["ssh", "-O", "exit", "-S", str(sock), "x"], capture_output=True, timeout=30, check=False
        )
    return len(socks)


def receiver_install_paths() -> list[str]:
    """Where the receiver role installs the binary and builds it (its defaults; the fleet's inventory keeps them)."""
    defaults = yaml.safe_load((ROOT / "roles" / "receiver" / "defaults" / "main.yml").read_text())
    return [defaults["receiver_binary"], defaults["receiver_build_dir"]]


def remove_receiver_binary(edges: int) -> None:
    """Every edge without floodgate-rx (nor its build record): each column's mitigation is then a first one, which
    installs the receiver before its pre-flight (the previous column's unmitigation leaves the binary installed)."""
    name = os.environ.get("FLEET_NAME", "fleet")
    paths = receiver_install_paths()
    for i in range(1, edges + 1):
        subprocess.run(
            ["podman", "exec", f"fg-{name}-edge{i}", "rm", "-rf", *paths],
            capture_output=True,
            timeout=60,
            check=True,
        )


def close_masters(mode: str) -> int:
    """Closes the column's SSH masters (each column's mitigate starts without any, as a first run does); how many."""
    return close_ssh_masters(control_dir(mode))


# --cputime: lab/fleet/callback_plugins/fg_cputime.py writes the controller's CPU per task to each run's folder.
CPUTIME_ENV = {
    "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "lab" / "fleet" / "callback_plugins"),
    "ANSIBLE_CALLBACKS_ENABLED": "fg_cputime",
}


def play(
    mode: str,
    edges: int,
    step: str,
    extra_env: dict[str, str],
    connection: str,
    cputime: bool = False,
    tag: str = "",
) -> dict[str, object]:
    """Runs one playbook; returns its wall time, rc, per-host recap and the run summary's results."""
    action = "unmitigate" if step in ("unmitigate", "cleanup") else "mitigate"
    book = (
        ROOT / "lab" / "fleet" / f"with-facts-{action}.yml" if mode == "defaults" else ROOT / f"{action}.yml"
    )
    inventory = mitogen_inventory(INVENTORY) if mode == "project" and connection == "podman" else INVENTORY
    run_dir = OUT / f"{mode}-{edges}-{step}{tag}"
    run_dir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), CONTAINERS_CONF=str(STATE / "containers.conf")
    )
    env.update(extra_env)
    control_dir(mode).mkdir(mode=0o700, parents=True, exist_ok=True)
    env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = str(control_dir(mode))
    if cputime:
        (run_dir / "cputime.txt").unlink(missing_ok=True)
        env.update(CPUTIME_ENV, FG_CPUTIME_OUT=str(run_dir / "cputime.txt"))
    cmd = [
        str(PLAYBOOK),
        "-i",
        str(inventory),
        str(book),
        *REQUEST,
        "-e",
        f"fg_run_dir={run_dir}",
        "-e",
        f"nic_restore_controller_dir={OUT / 'controller'}",
    ]
    label = f"floodgate-{os.environ.get('FLEET_NAME', 'fleet')}=1"
    edges_before = edge_cpu.snap(label)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy()
    t = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - t
    busy = machine_busy() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    edges_after = edge_cpu.snap(label)
    (run_dir / "edge-cpu-before.json").write_text(json.dumps(edges_before))
    (run_dir / "edge-cpu-after.json").write_text(json.dumps(edges_after))
    edges_cpu = sum(edge_cpu.cpu_by_edge(edges_before, edges_after).values())
    # CPU seconds of ansible-playbook and everything it ran on the controller (workers, ssh, local modules);
    # the rest of the machine's two cores went to the edges (sshd, Python, ethtool, systemd, receivers).
    controller_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    (run_dir / "ansible.log").write_text(p.stdout + p.stderr)
    # Tasks a host went through (ok includes changed; skipped ones cost the controller nearly as much).
    recap = {
        m[0]: {
            "changed": int(m[2]),
            "unreachable": int(m[3]),
            "failed": int(m[4]),
            "tasks": int(m[1]) + int(m[4]) + int(m[5]),
        }
        for m in RECAP.findall(p.stdout)
    }
    results: dict[str, int] = {}
    for row in read_summary(run_dir / f"summary-{action}.json"):
        results[str(row["result"])] = results.get(str(row["result"]), 0) + 1
    edge_recap = {h: r for h, r in recap.items() if h.startswith("edge")}
    return {
        "wall": round(wall, 1),
        "controller_cpu": round(controller_cpu, 1),
        # The whole machine (controller, edges, their receivers, anything else running): at most 2 x wall here.
        "machine_cpu": round(busy, 1),
        # The edge containers' cgroups (sshd, the Python Ansible runs there, ethtool, systemd, receivers);
        # `lab/fleet/edge_cpu.py diff` breaks the saved snapshots down by unit and process.
        "edges_cpu": round(edges_cpu, 1),
        "rc": p.returncode,
        "changed_hosts": sum(1 for r in edge_recap.values() if r["changed"]),
        "failed_hosts": sum(1 for r in edge_recap.values() if r["failed"] or r["unreachable"]),
        # median: the first host also runs the run_once tasks (folders, build, summary)
        "tasks_per_host": statistics.median_low([r["tasks"] for r in edge_recap.values()] or [0]),
        "results": results,
        "log": str(run_dir / "ansible.log"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="20,50", help="edge counts, comma separated (lab maximum 50)")
    ap.add_argument("--modes", default="project,defaults", help="columns: " + ",".join(MODES))
    ap.add_argument("--steps", default="mitigate,rerun,unmitigate", help="which of mitigate,rerun,unmitigate")
    ap.add_argument(
        "--connection", choices=("ssh", "podman"), default="ssh", help="how the edges are reached"
    )
    ap.add_argument(
        "--defaults-steps",
        help="steps of the defaults column only (default: --steps); the slowest column, e.g. mitigate at 50 edges",
    )
    ap.add_argument("--keep-lab", action="store_true", help="leave the last lab up")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of every column per size, the columns' order reversed each round; the table gives medians",
    )
    ap.add_argument(
        "--cputime",
        action="store_true",
        help="write the controller's CPU per task to each run's cputime.txt (callback fg_cputime)",
    )
    a = ap.parse_args()
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    sizes = [int(s) for s in a.sizes.split(",")]
    modes = a.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown mode(s) {sorted(unknown)}: choose from {','.join(MODES)}")
    mitogen = mitogen_env()
    if mitogen is None and "project" in modes:
        print(
            "bench-fleet: the project column needs mitogen (pip install -r requirements.txt)", file=sys.stderr
        )
        return 2
    envs: dict[str, dict[str, str]] = {"project": mitogen or {}, "pipelining": {}, "defaults": DEFAULTS_ENV}
    # Controller copies of snapshots stay with this bench (the default run/<name>/ is shared with other labs).
    shutil.rmtree(OUT / "controller", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    # The receiver is built once on the controller before any timed run (receiver_build_on=controller): a stale
    # build would otherwise be compiled inside the first column's mitigate only (~40 CPU s of the two cores).
    t = time.monotonic()
    subprocess.run(["make", "--no-print-directory", "-C", str(ROOT / "csrc"), "install-bin"], check=True)
    print(f"bench-fleet: floodgate-rx built in {time.monotonic() - t:.0f} s (not timed)", file=sys.stderr)
    rows: list[dict[str, object]] = []
    cleanup = "project" if "project" in modes else modes[0]
    for n in sizes:
        up = lab_up(n, a.connection)
        print(
            f"bench-fleet: lab with {n} edges up in {up:.0f} s; load {os.getloadavg()}",
            file=sys.stderr,
            flush=True,
        )
        # Start from no mitigation on the fleet's edges (a previous interrupted run may have left one).
        play(cleanup, n, "cleanup", envs[cleanup], a.connection)
        # Round k runs the columns in the order given, round k+1 in reverse: a machine that slows or speeds up
        # during the bench weighs on every column alike, not on the one that happens to run first.
        rounds = [(k, modes if k % 2 == 0 else modes[::-1]) for k in range(a.rounds)]
        for k, mode in [(k, m) for k, order in rounds for m in order]:
            tag = f"-r{k + 1}" if a.rounds > 1 else ""
            steps = a.defaults_steps if mode == "defaults" and a.defaults_steps else a.steps
            closed = close_masters(mode)  # the column's first run opens its connections, as a first run does
            remove_receiver_binary(n)  # the same first mitigation in every column
            print(f"bench-fleet: {mode}: {closed} SSH master(s) closed before its first run", file=sys.stderr)
            for step in steps.split(","):
                load_before = os.getloadavg()[0]
                r = play(mode, n, step, envs[mode], a.connection, a.cputime, tag)
                r.update(
                    edges=n,
                    mode=mode,
                    step=step,
                    round=k + 1,
                    connection=a.connection,
                    lab_up=round(up, 1),
                    load_before=load_before,
                    load=os.getloadavg()[0],
                    ssh_masters=len(ssh_masters(control_dir(mode))),
                )
                rows.append(r)
                (OUT / "results.json").write_text(json.dumps(rows, indent=1) + "\n")  # kept if interrupted
                print(
                    f"bench-fleet: {n:3d} edges {mode:10s} {step:10s} round {k + 1} {r['wall']:7.1f} s (CPU s: controller {r['controller_cpu']}, edges {r['edges_cpu']}, machine {r['machine_cpu']}) rc={r['rc']} "
                    f"changed_hosts={r['changed_hosts']} failed_hosts={r['failed_hosts']} tasks/host={r['tasks_per_host']} "
                    f"{r['results']} "
                    f"load {load_before:.1f} -> {r['load']:.1f}, SSH masters after it {r['ssh_masters']}",
                    file=sys.stderr,
                    flush=True,
                )
            if "unmitigate" not in steps.split(","):  # the next column starts from unmitigated hosts too
                play(cleanup, n, "cleanup", envs[cleanup], a.connection)
        for mode in modes:  # this lab's hosts: the next size is a new lab
            close_masters(mode)
    (OUT / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print_table(rows, modes, a.connection)
    if not a.keep_lab:
        subprocess.run([str(FLEET_LAB), "down"], check=False)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


def print_table(rows: list[dict[str, object]], modes: list[str], connection: str) -> None:
    """The wall time per size, step and column - the median of its rounds - and the speed-up of the medians; with
    more than one round, each round's own speed-up too (its two columns ran next to each other)."""
    runs: dict[tuple[object, object, object], list[dict[str, object]]] = {}
    for r in rows:
        runs.setdefault((r["edges"], r["mode"], r["step"]), []).append(r)
    rounds = max((len(v) for v in runs.values()), default=1)
    what = "median of " + str(rounds) + " rounds, " if rounds > 1 else ""
    print(
        f"\nfleet wall time, seconds ({what}lab edges over {connection}; 2 cores; same request in every column)"
    )
    head = f"{'edges':>5} {'step':<11}" + "".join(f"{m:>11}" for m in modes)
    both = "defaults" in modes and "project" in modes
    if both:
        head += f"{'speed-up':>10}" + ("   each round" if rounds > 1 else "")
    print(head)

    def wall(key: tuple[object, object, object]) -> float:
        return statistics.median(float(r["wall"]) for r in runs[key])  # type: ignore[arg-type]

    for n in sorted({r["edges"] for r in rows}):  # type: ignore[type-var]
        for step in ("mitigate", "rerun", "unmitigate"):
            if not any((n, m, step) in runs for m in modes):
                continue
            line = f"{n:>5} {step:<11}"
            for m in modes:
                key = (n, m, step)
                ok = key in runs and all(r["rc"] == 0 for r in runs[key])
                line += f"{wall(key):>10.1f}{' ' if ok else '!'}" if key in runs else f"{'-':>11}"
            d, p = (n, "defaults", step), (n, "project", step)
            if both and d in runs and p in runs:
                line += f"{wall(d) / wall(p):>9.1f}x"
                if rounds > 1:
                    pairs = zip(runs[d], runs[p], strict=False)
                    line += "   " + " ".join(f"{float(x['wall']) / float(y['wall']):.1f}x" for x, y in pairs)  # type: ignore[arg-type]
            loads = [float(runs[(n, m, step)][-1]["load"]) for m in modes if (n, m, step) in runs]  # type: ignore[arg-type]
            line += "   load " + "/".join(f"{x:.1f}" for x in loads)
            print(line)
    print(
        "! = a run failed (see lab/.state/fleet/bench/*/ansible.log); rerun = mitigate.yml again (idempotent);\n"
        "load = 1-minute load average at the end of each column's (last) run (2 cores: above 2 the machine is shared)"
    )


if __name__ == "__main__":
    sys.exit(main())
