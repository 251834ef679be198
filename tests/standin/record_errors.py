"""Record the ethtool error texts floodgate's steering modules must recognise (run as root, by hand).

    .venv/bin/python tests/standin/record_errors.py

Writes tests/fixtures/ethtool/veth/ethtool-<ver>_steering_errors.json (real ethtool on a real 8-queue veth
in a throw-away netns: no -x/-X/-n/-N support, ntuple fixed off) and
tests/fixtures/ethtool/standin/ethtool-<ver>_errors.json (real ethtool against the stand-in NIC: bad queue,
rule table full, unknown rule). Each file says how it was recorded.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from standin import nic

OUT = nic.REPO / "tests" / "fixtures" / "ethtool"


def run(argv: list[str]) -> dict[str, object]:
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}, check=False
    )
    return {"args": " ".join(argv[1:]), "rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def main() -> None:
    ethtool = nic.real_ethtool() or "ethtool"
    version = subprocess.run(
        [ethtool, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    ns = "fg-record"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        inns = ["ip", "netns", "exec", ns]
        subprocess.run(
            [
                *inns,
                "ip",
                "link",
                "add",
                "eth3",
                "numtxqueues",
                "8",
                "numrxqueues",
                "8",
                "type",
                "veth",
                "peer",
                "name",
                "eth3p",
                "numtxqueues",
                "8",
                "numrxqueues",
                "8",
            ],
            check=True,
        )
        cases = {
            "x": [ethtool, "-x", "eth3"],
            "X_weight": [ethtool, "-X", "eth3", "weight", "1", "1", "1", "1", "0", "1", "1", "1"],
            "n": [ethtool, "-n", "eth3"],
            "N_insert": [ethtool, "-N", "eth3", "flow-type", "udp4", "dst-port", "53", "action", "4"],
            "N_insert_loc": [
                ethtool,
                "-N",
                "eth3",
                "flow-type",
                "udp4",
                "dst-port",
                "53",
                "action",
                "4",
                "loc",
                "5",
            ],
            "N_delete": [ethtool, "-N", "eth3", "delete", "5"],
            "K_ntuple_on": [ethtool, "-K", "eth3", "ntuple", "on"],
            "k_ntuple": [ethtool, "-k", "eth3"],
            "x_unknown_dev": [ethtool, "-x", "nosuch0"],
        }
        veth = {name: run([*inns, *argv]) for name, argv in cases.items()}
        for case in veth.values():
            case["args"] = " ".join(str(case["args"]).split()[4:])  # drop "netns exec NS ethtool"
        veth["k_ntuple"]["stdout"] = "".join(
            line + "\n" for line in str(veth["k_ntuple"]["stdout"]).splitlines() if "ntuple" in line
        )
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    label = f"ethtool {version} ({ethtool}), real veth (8 queues) in a netns, kernel {platform.release()}"
    (OUT / "veth" / f"ethtool-{version}_steering_errors.json").write_text(
        json.dumps({"recorded_with": label, "cases": veth}, indent=1) + "\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        lib = nic.build(Path(tmp))
        script = nic.make_ethtool(Path(tmp) / "nic", lib, rings=16, rule_capacity=1)
        stand = {
            "N_bad_queue": [
                str(script),
                "-N",
                nic.NAME,
                "flow-type",
                "udp4",
                "dst-port",
                "53",
                "action",
                "16",
            ],
            "N_first": [str(script), "-N", nic.NAME, "flow-type", "udp4", "dst-port", "53", "action", "4"],
            "N_table_full": [
                str(script),
                "-N",
                nic.NAME,
                "flow-type",
                "udp4",
                "dst-port",
                "123",
                "action",
                "4",
            ],
            "N_delete_missing": [str(script), "-N", nic.NAME, "delete", "7"],
            "X_weight_too_many_queues": [str(script), "-X", nic.NAME, "weight", *["1"] * 17],
            "X_weight_all_zero": [str(script), "-X", nic.NAME, "weight", "0", "0"],
        }
        recorded = {name: run(argv) for name, argv in stand.items()}
    (OUT / "standin").mkdir(exist_ok=True)
    (OUT / "standin" / f"ethtool-{version}_errors.json").write_text(
        json.dumps(
            {
                "recorded_with": f"REAL ethtool {version} messages; the driver below it is the test STAND-IN "
                "(tests/standin/nic_ioctl_standin.c: 16 rings, 2046 slots, hardware capacity 1 rule), errno "
                "values as ixgbe returns them (EINVAL bad queue, ENOSPC full, ENOENT unknown rule)",
                "cases": recorded,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
