#!/usr/bin/python
# Read-only: which interfaces run a given driver, and whether the host's management path runs over one.
from __future__ import annotations

import json
import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: netmap_build_nic_drivers
short_description: Find a driver's interfaces and whether the management connection depends on them
description:
  - Resolves the interface that carries traffic to the controller (C(ip route get)), follows it down
    through VLANs, bonds, bridges and other stacked devices (sysfs C(lower_*) links) to the physical ports,
    and reports each port's kernel driver.
  - Lists every interface bound to O(driver), with its admin state, carrier and MTU.
  - Changes nothing; safe in check mode.
options:
  driver:
    description: Kernel driver name to look for (as in C(/sys/class/net/IF/device/driver)).
    type: str
    default: ixgbe
  controller_address:
    description:
      - Address of the controller as this host sees it. Empty means the default route's interface is
        taken as the management path.
    type: str
    default: ""
author: floodgate
"""

EXAMPLES = r"""
- name: Where does the SSH session run?
  netmap_build_nic_drivers:
    driver: ixgbe
    controller_address: "{{ ansible_env.SSH_CONNECTION.split()[0] }}"
  register: nics
"""

RETURN = r"""
mgmt_device:
  description: Interface the route to the controller (or the default route) leaves by; null if none.
  type: str
  returned: always
mgmt_path:
  description: That interface and every device below it, each with its driver (null for virtual devices).
  type: list
  elements: dict
  returned: always
mgmt_over_driver:
  description: True when a device on the management path is bound to O(driver).
  type: bool
  returned: always
mgmt_unknown:
  description: True when no management interface could be found (no route).
  type: bool
  returned: always
interfaces:
  description: Interfaces bound to O(driver), with name, up (admin), carrier, mtu.
  type: list
  elements: dict
  returned: always
"""

SYS_NET = "/sys/class/net"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


def driver_of(dev: str) -> str | None:
    link = os.path.join(SYS_NET, dev, "device", "driver")
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def lower_devices(dev: str) -> list[str]:
    """dev and every device stacked below it (VLAN -> bond -> ports ...), depth first, no repeats."""
    seen: list[str] = []
    stack = [dev]
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.append(cur)
        try:
            entries = sorted(os.listdir(os.path.join(SYS_NET, cur)))
        except OSError:
            continue
        stack.extend(e[len("lower_") :] for e in entries if e.startswith("lower_"))
    return seen


def interface_state(dev: str) -> dict:
    flags = int(_read(os.path.join(SYS_NET, dev, "flags")) or "0", 16)
    carrier = _read(os.path.join(SYS_NET, dev, "carrier"))
    mtu = _read(os.path.join(SYS_NET, dev, "mtu"))
    return {"name": dev, "up": bool(flags & 0x1), "carrier": carrier == "1", "mtu": int(mtu) if mtu else None}


def route_device(module: AnsibleModule, address: str) -> str | None:
    ip = module.get_bin_path("ip", required=True)
    cmd = [ip, "-j", "route", "get", address] if address else [ip, "-j", "route", "show", "default"]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        if address:
            module.fail_json(msg=f"ip route get {address} failed: {err.strip()}", cmd=cmd)
        return None
    routes = json.loads(out or "[]")
    return routes[0].get("dev") if routes else None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "driver": {"type": "str", "default": "ixgbe"},
            "controller_address": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    driver = module.params["driver"]
    mgmt = route_device(module, module.params["controller_address"].strip())
    path = [{"name": d, "driver": driver_of(d)} for d in lower_devices(mgmt)] if mgmt else []
    names = sorted(os.listdir(SYS_NET)) if os.path.isdir(SYS_NET) else []
    module.exit_json(
        changed=False,
        mgmt_device=mgmt,
        mgmt_path=path,
        mgmt_over_driver=any(p["driver"] == driver for p in path),
        mgmt_unknown=mgmt is None,
        interfaces=[interface_state(n) for n in names if driver_of(n) == driver],
    )


if __name__ == "__main__":
    main()
