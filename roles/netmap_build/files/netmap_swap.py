#!/usr/bin/python3
"""Swap a NIC driver for its netmap-patched build, or put the stock driver back.

Runs on the host, detached from Ansible (a systemd transient unit), so it finishes even when the swap cuts
the controller's connection. `swap` records the driver's interfaces (admin state, MTU, addresses), loads
netmap, replaces the driver and restores the interfaces; any failure falls back to the stock driver by
itself. `restore` (the dead-man timer, or the role's rescue) reloads the stock driver from /lib/modules and
restores the recorded interface state. Results go to a JSON file the role reads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SYS_NET = "/sys/class/net"


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def driver_interfaces(driver: str) -> list[str]:
    out = []
    for name in sorted(os.listdir(SYS_NET)):
        link = os.path.join(SYS_NET, name, "device", "driver")
        if os.path.islink(link) and os.path.basename(os.readlink(link)) == driver:
            out.append(name)
    return out


def snapshot(driver: str) -> list[dict]:
    state = []
    for name in driver_interfaces(driver):
        link = json.loads(run("ip", "-j", "addr", "show", "dev", name).stdout)[0]
        addrs = [
            f"{a['local']}/{a['prefixlen']}"
            for a in link.get("addr_info", [])
            if a.get("scope") == "global" and not a.get("dynamic")
        ]
        carrier = "UP" in link.get("flags", []) and has_carrier(name)
        state.append(
            {
                "name": name,
                "up": "UP" in link.get("flags", []),
                "carrier": carrier,
                "mtu": link["mtu"],
                "addrs": addrs,
                "routes": static_routes(name),
            }
        )
    return state


def static_routes(name: str) -> list[list[str]]:
    """The main-table routes over the interface that the kernel does not recreate with the addresses
    (a default route via this NIC is lost when its netdev goes away), as `ip route replace` arguments."""
    routes = json.loads(run("ip", "-j", "route", "show", "table", "main", "dev", name).stdout or "[]")
    out = []
    for r in routes:
        if r.get("protocol") == "kernel" or r.get("dst") is None:
            continue
        args = [r["dst"]]
        if r.get("gateway"):
            args += ["via", r["gateway"]]
        if r.get("metric") is not None:
            args += ["metric", str(r["metric"])]
        out.append(args)
    return out


def has_carrier(name: str) -> bool:
    try:
        with open(os.path.join(SYS_NET, name, "carrier"), encoding="ascii") as f:
            return f.read().strip() == "1"
    except OSError:  # reading carrier of an admin-down link fails with EINVAL
        return False


def module_loaded(name: str) -> bool:
    return os.path.isdir(f"/sys/module/{name}")


def reapply(state: list[dict], timeout: float) -> list[str]:
    """Bring the recorded interfaces back as they were; return the names that did not come back."""
    deadline = time.monotonic() + timeout
    missing = [i["name"] for i in state]
    while missing and time.monotonic() < deadline:
        missing = [n for n in missing if not os.path.isdir(os.path.join(SYS_NET, n))]
        if missing:
            time.sleep(0.5)
    for iface in state:
        name = iface["name"]
        if name in missing:
            continue
        run("ip", "link", "set", "dev", name, "mtu", str(iface["mtu"]), check=False)
        for addr in iface["addrs"]:
            run("ip", "addr", "replace", addr, "dev", name, check=False)
        if iface["up"]:
            run("ip", "link", "set", "dev", name, "up", check=False)
        for route in iface.get("routes", []):
            run("ip", "route", "replace", *route, "dev", name, check=False)
    waiting = [i["name"] for i in state if i["carrier"] and i["name"] not in missing]
    while waiting and time.monotonic() < deadline:
        waiting = [n for n in waiting if not has_carrier(n)]
        if waiting:
            time.sleep(0.5)
    return missing + waiting


def restore_stock(driver: str, state: list[dict], timeout: float, replaced: bool = True) -> list[str]:
    """Back to the stock driver. replaced=False: the stock driver was never removed, leave it alone."""
    if replaced and module_loaded(driver):
        run("rmmod", driver, check=False)
    if module_loaded("netmap") and not module_loaded(driver):
        run("rmmod", "netmap", check=False)
    if replaced or not module_loaded(driver):
        run("modprobe", driver)  # the stock driver: the patched one is never installed under /lib/modules
    return reapply(state, timeout)


def cmd_swap(args: argparse.Namespace) -> int:
    state = snapshot(args.driver)
    write_json(args.state, {"driver": args.driver, "interfaces": state, "time": time.time()})
    replaced = False  # set once the stock driver is out: only then does the fallback reload it
    try:
        depends = run("modinfo", "-F", "depends", args.driver_ko).stdout.strip()
        for dep in filter(None, depends.split(",")):
            if dep != "netmap":
                run("modprobe", dep)
        if not module_loaded("netmap"):
            run("insmod", args.netmap_ko)
        if module_loaded(args.driver):
            replaced = True
            run("rmmod", args.driver)
        replaced = True
        run("insmod", args.driver_ko)
        lost = reapply(state, args.timeout)
        if lost:
            raise RuntimeError(
                f"interfaces did not come back with link up in {args.timeout}s: {', '.join(lost)}"
            )
        if not os.path.exists("/dev/netmap"):
            raise RuntimeError("/dev/netmap is missing after loading netmap")
    except (RuntimeError, OSError, ValueError) as exc:
        lost = restore_stock(args.driver, state, args.timeout, replaced)
        note = f"; after the fallback still down: {', '.join(lost)}" if lost else ""
        write_json(
            args.result, {"result": "failed", "error": str(exc), "fallback": "stock driver reloaded" + note}
        )
        return 1
    write_json(args.result, {"result": "ok", "interfaces": [i["name"] for i in state]})
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    try:
        with open(args.state, encoding="utf-8") as f:
            state = json.load(f)["interfaces"]
    except (OSError, ValueError, KeyError):  # the swap died before recording: reload, nothing to reapply
        state = []
    lost = restore_stock(args.driver, state, args.timeout)
    write_json(args.result, {"result": "restored", "still_down": lost})
    return 1 if lost else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("action", choices=["swap", "restore"])
    p.add_argument("--driver", default="ixgbe")
    p.add_argument("--netmap-ko")
    p.add_argument("--driver-ko")
    p.add_argument("--state", required=True, help="interface state recorded before the swap")
    p.add_argument("--result", required=True)
    p.add_argument("--timeout", type=float, default=90)
    args = p.parse_args()
    if args.action == "swap" and not (args.netmap_ko and args.driver_ko):
        p.error("swap needs --netmap-ko and --driver-ko")
    return cmd_swap(args) if args.action == "swap" else cmd_restore(args)


if __name__ == "__main__":
    sys.exit(main())
