"""The lab's ethtool launcher (lab/nicmodel/ethtool-launcher, a shell script): it may send straight to the real
ethtool only options the front end never models, and for those its output is the real ethtool's; everything else
reaches the front end (installed beside it as lab/up.sh installs it), whose output it does not change."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_nicmodel_frontend import ModelNic, Result

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "lab" / "nicmodel" / "ethtool-launcher"
FRONTEND = REPO / "lab" / "nicmodel" / "ethtool-frontend"
REAL = "/usr/sbin/ethtool"
needs_ethtool = pytest.mark.skipif(not Path(REAL).exists(), reason="needs ethtool (make deps)")


def never_modelled() -> set[str]:
    """The options of the launcher's pass-through `case` branch (the line after its NEVER_MODELLED comment)."""
    lines = LAUNCHER.read_text().splitlines()
    marker = next(i for i, line in enumerate(lines) if "# NEVER_MODELLED" in line)
    m = re.fullmatch(r"\s*([^)]*)\)\s*exec /usr/sbin/ethtool \"\$@\" ;;", lines[marker + 1])
    assert m, f"unexpected pass-through line: {lines[marker + 1]!r}"
    return {opt.strip() for opt in m.group(1).split("|")}


def test_launcher_passes_through_only_options_the_front_end_never_models() -> None:
    loader = importlib.machinery.SourceFileLoader("fg_nicmodel_frontend_l", str(FRONTEND))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    fe = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = fe
    loader.exec_module(fe)
    modelled = set(fe.SHOW_RXFH + fe.SET_RXFH + fe.SHOW_NFC + fe.SET_NFC + fe.SHOW_FEATURES + fe.SET_FEATURES)
    passed = never_modelled()
    assert passed >= {"-i", "-l", "-S"}, f"the launcher passes through {sorted(passed)}"
    assert not passed & modelled, f"the launcher would bypass the NIC model for {sorted(passed & modelled)}"


@needs_ethtool
def test_launcher_pass_through_output_is_real_ethtool() -> None:
    got = subprocess.run(["/bin/sh", str(LAUNCHER), "-i", "lo"], capture_output=True, text=True, check=False)
    real = subprocess.run([REAL, "-i", "lo"], capture_output=True, text=True, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)


@pytest.mark.root
@needs_ethtool
def test_installed_launcher_serves_the_model_and_passes_the_rest(tmp_path):
    """The layout lab/up.sh installs (sbin/ethtool, sbin/fg-nicmodel, lib/floodgate-lab/nicmodel_ethtool.py),
    in a netns with the model's maps: modelled calls print what the front end prints, fg-nicmodel works through
    its link, never-modelled options and other interfaces get the real ethtool's output."""
    nic = ModelNic(tmp_path, "eth3", 8)
    try:
        sbin, lib = tmp_path / "tree" / "sbin", tmp_path / "tree" / "lib" / "floodgate-lab"
        sbin.mkdir(parents=True)
        lib.mkdir(parents=True)
        shutil.copy(LAUNCHER, sbin / "ethtool")
        (sbin / "ethtool").chmod(0o755)
        (sbin / "fg-nicmodel").symlink_to("ethtool")
        shutil.copy(FRONTEND, lib / "nicmodel_ethtool.py")

        def run(program: str, *args: str) -> Result:
            env = {**os.environ, "FLOODGATE_NICMODEL_CONF": str(nic.conf), "LC_ALL": "C"}
            argv = ["ip", "netns", "exec", nic.netns, program, *args]
            p = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            return Result(p.returncode, p.stdout, p.stderr)

        def launched(*args: str) -> Result:
            return run(str(sbin / "ethtool"), *args)

        assert run(str(sbin / "fg-nicmodel"), "reset", "eth3").rc == 0
        writes = [
            ("-X", "eth3", "weight", "1", "1", "1", "1", "0", "1", "1", "1"),
            ("-K", "eth3", "ntuple", "on"),
            ("-N", "eth3", "flow-type", "udp4", "dst-port", "53", "action", "4"),
        ]
        for args in writes:
            got = launched(*args)
            assert got.rc == 0, (args, got)
        assert launched("-n", "eth3", "rule", "2045").stdout.endswith("\tAction: Direct to queue 4\n\n")
        reads = [
            ("-x",),
            ("-n",),
            ("-n", "rule", "2045"),
            ("-k",),
            ("-x", "context", "x"),
            ("-n", "rule", "9"),
        ]
        for args in reads:
            assert launched(args[0], "eth3", *args[1:]) == nic.ethtool(*args), args
        stats = run(str(sbin / "fg-nicmodel"), "stats", "eth3")
        assert stats.rc == 0
        assert stats.stdout.startswith('{"interface": "eth3", "model_steered": {"0": ')
        # Real ethtool for what the model never serves, and for interfaces it does not model.
        for args in [("-i", "eth3"), ("-l", "eth3"), ("-S", "eth3"), ("-k", "peer0"), ("-x", "peer0")]:
            assert launched(*args) == run(REAL, *args), args
    finally:
        nic.close()
