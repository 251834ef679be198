"""Running a Molecule scenario from pytest: the environment, the run and its saved log, in one place.

Each scenario asserts its own behaviour; the pytest test that drives it checks that it passed and reads the
figures it printed. Output is kept under run/molecule-NAME.log for whoever has to read a failure.

Every run gets a fresh Molecule state directory (MOLECULE_EPHEMERAL_DIRECTORY): Molecule's default one is named
after the project folder's basename and the scenario only, so a killed run's "created: true" would make the
next run of any clone at a folder of that name skip `create` and fail against hosts that are not there.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"


def molecule_env(**extra: str) -> dict[str, str]:
    """The caller's environment with the project's venv and ansible.cfg, colours off and wide lines."""
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        NO_COLOR="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        COLUMNS="250",
    )
    env.update(extra)
    return env


def molecule_test(
    name: str, env: dict[str, str], timeout: int, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`molecule test -s NAME` in CWD with a state directory of its own, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"molecule-{name}-") as state:
        return subprocess.run(
            [str(VENV_BIN / "molecule"), "test", "-s", name],
            cwd=cwd,
            env={**env, "MOLECULE_EPHEMERAL_DIRECTORY": state},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def run_scenario(name: str, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    """`molecule test -s NAME` from the repo root; its whole output is also written to run/molecule-NAME.log."""
    proc = molecule_test(name, env, timeout)
    (ROOT / "run").mkdir(exist_ok=True)
    (ROOT / "run" / f"molecule-{name}.log").write_text(proc.stdout + proc.stderr)
    return proc
