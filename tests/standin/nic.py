"""Test helpers: the STAND-IN NIC (real ethtool + nic_ioctl_standin.so) and running floodgate modules.

The stand-in is for tests only. It models the driver below ethtool for -x/-X/-n/-N on one made-up
interface; ethtool itself (argument parsing, fill_indir_table, rule placement, printing) is the real
Debian binary. See nic_ioctl_standin.c.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SOURCE = HERE / "nic_ioctl_standin.c"
NAME = "fgnic0"


def real_ethtool() -> str | None:
    return shutil.which("ethtool") or next(
        (p for p in ("/usr/sbin/ethtool", "/sbin/ethtool") if os.path.exists(p)), None
    )


def build(out_dir: Path) -> Path:
    """Compile the stand-in into out_dir (gcc, -Werror) and return the .so path."""
    lib = out_dir / "nic_ioctl_standin.so"
    subprocess.run(
        [
            "gcc",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O2",
            "-shared",
            "-fPIC",
            "-o",
            str(lib),
            str(SOURCE),
            "-ldl",
        ],
        check=True,
    )
    return lib


def make_ethtool(directory: Path, lib: Path, name: str = NAME, **knobs: int) -> Path:
    """An executable `ethtool` wrapper: real ethtool with the stand-in NIC `name` preloaded.

    knobs: rings, indir_size, rule_slots, rule_capacity (see nic_ioctl_standin.c). State lives next to it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    env = {"LD_PRELOAD": str(lib), "FG_NIC_NAME": name, "FG_NIC_STATE": str(directory / "nic.state")}
    env.update({f"FG_NIC_{k.upper()}": str(v) for k, v in knobs.items()})
    script = directory / "ethtool"
    exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    script.write_text(
        "#!/bin/sh\n# STAND-IN NIC for tests: real ethtool, driver answers modelled by nic_ioctl_standin.so\n"
        f'{exports}exec {real_ethtool()} "$@"\n'
    )
    script.chmod(0o755)
    return script


def ethtool(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script), *args], capture_output=True, text=True, check=False)


def run_module(
    module: str,
    args: dict[str, Any],
    check: bool = False,
    diff: bool = False,
    netns: str | None = None,
    extra_vars: str = "ansible_python_interpreter=/usr/bin/python3",
) -> dict[str, Any]:
    """Run a floodgate module for real: `ansible localhost -m MODULE -a JSON` (inside network namespace
    `netns` when given), returning its result."""
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    cmd = ["ip", "netns", "exec", netns] if netns else []
    cmd += [str(REPO / ".venv/bin/ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", module]
    # the host side of a module runs on the system Python, as on a managed host
    cmd += ["-e", extra_vars]
    cmd += ["-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise AssertionError(
            f"ansible printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        ) from err
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def module_utils(name: str) -> Any:
    """ansible.module_utils.floodgate.NAME from this repo (the package __init__ adds the path)."""
    import importlib

    return importlib.import_module(f"ansible.module_utils.floodgate.{name}")
