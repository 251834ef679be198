"""The lab's ethtool launcher (lab/nicmodel/ethtool-launcher): it may send straight to the real ethtool only
options the front end never models, and for those its output is the real ethtool's."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "lab" / "nicmodel" / "ethtool-launcher"
FRONTEND = REPO / "lab" / "nicmodel" / "ethtool-frontend"


def never_modelled() -> set[str]:
    for node in ast.parse(LAUNCHER.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "NEVER_MODELLED":
            return set(ast.literal_eval(node.value))
    raise AssertionError("NEVER_MODELLED not found in the launcher")


def test_launcher_passes_through_only_options_the_front_end_never_models() -> None:
    loader = importlib.machinery.SourceFileLoader("fg_nicmodel_frontend_l", str(FRONTEND))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    fe = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = fe
    loader.exec_module(fe)
    modelled = set(fe.SHOW_RXFH + fe.SET_RXFH + fe.SHOW_NFC + fe.SET_NFC + fe.SHOW_FEATURES + fe.SET_FEATURES)
    passed = never_modelled()
    assert passed, "the launcher passes nothing through"
    assert not passed & modelled, f"the launcher would bypass the NIC model for {sorted(passed & modelled)}"


@pytest.mark.skipif(not Path("/usr/sbin/ethtool").exists(), reason="needs ethtool (make deps)")
def test_launcher_pass_through_output_is_real_ethtool() -> None:
    python = shutil.which("python3") or sys.executable
    got = subprocess.run([python, str(LAUNCHER), "-i", "lo"], capture_output=True, text=True, check=False)
    real = subprocess.run(["/usr/sbin/ethtool", "-i", "lo"], capture_output=True, text=True, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)
