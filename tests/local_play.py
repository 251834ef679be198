"""Running a small play over three local hosts (h1, h2, h3) for the strategy plugin's tests: the play's folder,
its inventory, the run, and each host's JSON output file read back, in one place; rerun_local_play runs it again
(e.g. in check mode) and gives its recap too.

The play writes `{{ outdir }}/{{ inventory_hostname }}.json`; env_extra selects the strategy (mitogen_env() of
lab/fleet/bench_fleet.py for floodgate_mitogen_linear) and its switches.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_local_play(
    play_dir: Path, play: str, outdir: Path, env_extra: dict[str, str], extra_vars: str = ""
) -> dict[str, dict[str, object]]:
    """Writes play.yml and hosts.ini into play_dir, runs ansible-playbook with the project's ansible.cfg and
    returns {host: its output file's JSON}; fails the test with the run's output when it fails."""
    play_dir.mkdir(parents=True, exist_ok=True)
    (play_dir / "play.yml").write_text(play)
    (play_dir / "hosts.ini").write_text(
        "".join(
            f"h{i} ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n" for i in (1, 2, 3)
        )
    )
    return rerun_local_play(play_dir, outdir, env_extra, extra_vars)[0]


def rerun_local_play(
    play_dir: Path, outdir: Path, env_extra: dict[str, str], extra_vars: str = "", *args: str
) -> tuple[dict[str, dict[str, object]], str]:
    """Runs the play already in play_dir (with `args`, e.g. --check) into a new outdir: {host: its output file's
    JSON} and the run's stdout (its recap); fails the test with the run's output when it fails."""
    outdir.mkdir()
    # HOME in the play's folder: the local "hosts" (this controller) keep floodgate_mitogen_linear's cache of compiled
    # code under ~/.cache (docs/fleet.md), which a test must not leave in the user's home.
    env = dict(
        os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), **{"HOME": str(play_dir / "home"), **env_extra}
    )
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            "hosts.ini",
            "play.yml",
            "-e",
            f"outdir={outdir} {extra_vars}".strip(),
            *args,
        ],
        cwd=play_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {p.stem: json.loads(p.read_text()) for p in sorted(outdir.glob("*.json"))}, proc.stdout
