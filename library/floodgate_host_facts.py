#!/usr/bin/python
"""Ansible module floodgate_host_facts: in one call, everything a floodgate step reads on a host before it acts."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: floodgate_host_facts
short_description: Read a host's floodgate state, snapshot, online CPUs and one NIC's nic_facts in one call
description:
  - Reads, without changing anything, what the pre-flight, the snapshot and the restore need before they act,
    so that each of them costs one remote call per host instead of one per item (on a fleet, every task is
    paid once per host on the controller).
  - The mitigation state (C(STATE_DIR/state.json)), the interface to work on (I(interface), or the one the
    state names when I(interface) is empty), whether that interface exists (C(/sys/class/net/IF)), the
    host's snapshot of it (C(STATE_DIR/snapshot-IF.json)), the online CPUs (C(/sys/devices/system/cpu/online))
    and, when the interface exists and I(gather_nic) is true, the same C(nic) and C(restorable) as
    M(nic_facts).
  - A missing interface is reported (C(exists) false, C(nic) null), not a failure, so that the caller can
    refuse with its own message; a missing state or snapshot file reads as empty, a damaged one (not a JSON
    object) fails the task, saying which file to look at.
  - Fails, with a message that says what to do, when ethtool is missing or its output cannot be read.
version_added: "0.2.0"
author: floodgate
options:
  interface:
    description: Interface name, as in C(ip link). Empty means the interface recorded in C(state.json).
    type: str
    default: ""
  state_dir:
    description: Host directory of floodgate's C(state.json) and C(snapshot-IF.json).
    type: path
    default: /var/lib/floodgate
  gather_nic:
    description: Read the interface with ethtool (as M(nic_facts) does) when it exists.
    type: bool
    default: true
  ethtool_path:
    description: Path of the ethtool binary. Default is C(ethtool) from PATH, C(/usr/sbin) or C(/sbin).
    type: str
  rules:
    description:
      - The receiver's rules file as it would be written (rendered on the controller). When I(rules_binary) is
        on the host, the rules are compiled there as the receiver compiles them at start and on SIGHUP
        (C(floodgate-rx --check-rules --rules - --rules-dir RULES_DIR), from standard input, nothing written);
        C(rules_error) says why they do not compile.
      - Without the binary (a host's first mitigation installs it; its receiver then checks the rules at start)
        or with one that has no C(--check-rules), nothing is checked and C(rules_checked) is false.
    type: str
  rules_dir:
    description: Where the rules file will be written; its relative C(src-file) paths resolve there.
    type: path
    default: /etc/floodgate
  rules_binary:
    description: The receiver binary on the host.
    type: path
    default: /usr/local/sbin/floodgate-rx
  rules_running:
    description:
      - The rules file of the receiver instance these rules are for. When it exists (the receiver is configured,
        and a re-run reaches it by a reload), I(rules) are compiled as a reload from it would compile them
        (C(--reload-of)), and C(rules_memory_kib) is the reload's peak, both rule sets held at once.
    type: path
  receiver_args:
    description:
      - The receiver's command line as its unit will start it, without the binary (C(--backend B --interface IF
        --queue N --rules FILE ...) and the caller's extra options). When I(rules_binary) is on the host, it checks
        them as a start would (C(floodgate-rx --check-args ARGS), every option and its value and that this build
        of the receiver has the backend), opening nothing and reading no file; C(args_error) says why it would not
        start with them.
      - Without the binary, or with one that has no C(--check-args), nothing is checked and C(args_checked) is
        false (the receiver's start then checks them).
    type: list
    elements: str
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: nic_facts
  - module: floodgate_record
"""

EXAMPLES = r"""
- name: Read what the pre-flight checks
  floodgate_host_facts:
    interface: eth3
  register: host

- name: Refuse an unknown interface
  ansible.builtin.fail:
    msg: eth3 does not exist
  when: not host.exists

- name: Undo whatever state.json says was mitigated (no interface given)
  floodgate_host_facts:
    state_dir: /var/lib/floodgate
  register: restore
"""

RETURN = r"""
interface:
  description: The interface read (I(interface), or the state's when I(interface) is empty; empty when neither).
  returned: always
  type: str
  sample: eth3
exists:
  description: Whether C(/sys/class/net/INTERFACE) exists.
  returned: always
  type: bool
state:
  description: The content of C(state.json) (status, interface, queue, backend, cpu, flows, snapshot), or {}.
  returned: always
  type: dict
  sample: {"status": "active", "interface": "eth3", "queue": 4, "backend": "netmap"}
snapshot:
  description: The content of C(snapshot-INTERFACE.json) (format, host, interface, nic, restorable), or {}.
  returned: always
  type: dict
cpus_online:
  description: The host's online CPUs, from C(/sys/devices/system/cpu/online).
  returned: always
  type: list
  elements: int
  sample: [0, 1, 2, 3]
mem_total_kib:
  description: The host's memory (physical pages), in KiB; what a C(MemoryMax=N%) is a percentage of.
  returned: always
  type: int
  sample: 24731648
nproc:
  description: The number of online CPUs (C(getconf _NPROCESSORS_ONLN)).
  returned: always
  type: int
  sample: 4
nic:
  description: As M(nic_facts) returns it; null when the interface does not exist or I(gather_nic) is false.
  returned: always
  type: dict
restorable:
  description: As M(nic_facts) returns it; null when C(nic) is.
  returned: always
  type: dict
rules_checked:
  description: >-
    Whether I(rules) were compiled on the host (false without I(rules) or without a receiver binary that can).
  returned: always
  type: bool
rules_error:
  description: >-
    Why I(rules) do not compile, as the receiver says it (C(stdin: line N: ...)); null when they do or were not
    checked.
  returned: always
  type: str
  sample: "stdin: line 5: rule 'bad': bad prefix '10.0.0.0/33': prefix length must be 0-32"
rules_memory_kib:
  description: >-
    The memory the compile of I(rules) took at its peak on the host, measured by the receiver binary (a start's, or
    with I(rules_running) a reload's); null when the rules were not checked or the binary does not measure it.
  returned: always
  type: int
  sample: 262308
rules_memory_reload:
  description: Whether C(rules_memory_kib) is a reload's (from I(rules_running), both rule sets held at once).
  returned: always
  type: bool
args_checked:
  description: Whether I(receiver_args) were checked by the receiver binary on the host.
  returned: always
  type: bool
args_error:
  description: >-
    Why the receiver would not start with I(receiver_args), as it says it; null when it would or they were not
    checked.
  returned: always
  type: str
  sample: "--coalesce-us '5000': expected 0-1000 microseconds"
"""

import json
import os
import re
import subprocess
from typing import Any, NamedTuple

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.floodgate.snapshot import gather_or_fail, restorable


def read_json(module: AnsibleModule, path: str) -> dict[str, Any]:
    """The JSON object in `path`, or {} when there is no such file; a damaged record fails the task.

    A damaged state.json read as "nothing here" would let a second mitigation start, or an undo report "nothing
    to undo", on a NIC that is still changed: the operator has to look.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        module.fail_json(
            msg=f"{path} cannot be read as a floodgate record ({err}). Look at it (a full disk or an edit by hand?), "
            "fix or move it away, then re-run; the NIC's state before the mitigation is in snapshot-IF.json. "
            "Nothing was changed."
        )
    if not isinstance(data, dict):
        module.fail_json(
            msg=f"{path} holds {type(data).__name__}, not a floodgate record (a JSON object). Nothing was changed."
        )
    return data


def parse_cpu_list(text: str) -> list[int]:
    """A kernel CPU list ("0-3,8,10-11") as numbers; malformed parts are ignored."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def online_cpus(root: str = "/") -> list[int]:
    try:
        with open(os.path.join(root, "sys/devices/system/cpu/online"), encoding="ascii") as f:
            return parse_cpu_list(f.read())
    except OSError:
        return list(range(os.sysconf("SC_NPROCESSORS_ONLN")))


REFUSED = "floodgate-rx: rules refused: "
CHECK_TIMEOUT_S = 120  # a 1M-prefix src-file compiles in ~1 s
PEAK = re.compile(r"^rules ok: \d+ rules, peak memory (\d+) KiB( \(a reload)?", re.M)


class Checked(NamedTuple):
    checked: bool = False
    error: str | None = None
    peak_kib: int | None = None
    reload: bool = False


def check_rules(
    module: AnsibleModule, rules: str, rules_dir: str, binary: str, running: str | None
) -> Checked:
    """The rules compiled by the host's receiver binary from stdin, as a reload from running when that file
    exists; nothing written."""
    if not os.access(binary, os.X_OK):
        return Checked()
    cmd = [binary, "--check-rules", "--rules", "-", "--rules-dir", rules_dir]
    if running and os.path.isfile(running):
        cmd += ["--reload-of", running]
    try:
        # communicate(), not run_command(data=): a binary that exits without reading all of stdin (one from before
        # --check-rules, or rules past the 16 MiB limit) closes the pipe, which is its answer, not an error here
        proc = subprocess.run(
            cmd, input=rules.encode(), capture_output=True, timeout=CHECK_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        module.fail_json(
            msg=f"{binary} --check-rules took over {CHECK_TIMEOUT_S} s. Nothing was changed.", cmd=cmd
        )
    except OSError as err:
        module.fail_json(msg=f"cannot run {binary}: {err}. Nothing was changed.", cmd=cmd)
    rc, err = proc.returncode, proc.stderr.decode(errors="replace")
    if rc == 0:
        peak = PEAK.search(proc.stdout.decode(errors="replace"))
        return Checked(True, None, int(peak[1]), bool(peak[2])) if peak else Checked(True)
    first = err.strip().splitlines()[0] if err.strip() else ""
    if first.startswith(REFUSED):
        return Checked(True, first[len(REFUSED) :])
    return Checked()  # a receiver binary from before --check-rules (or --reload-of): its start checks them


ARGS_UNKNOWN = "floodgate-rx: unknown option '--check-args'"  # a receiver binary from before --check-args


def check_args(module: AnsibleModule, args: list[str], binary: str) -> Checked:
    """The receiver's start arguments checked by the host's binary (floodgate-rx --check-args): opens nothing."""
    if not os.access(binary, os.X_OK):
        return Checked()
    cmd = [binary, "--check-args", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=CHECK_TIMEOUT_S, check=False)
    except (subprocess.TimeoutExpired, OSError) as err:
        module.fail_json(msg=f"cannot run {binary} --check-args: {err}. Nothing was changed.", cmd=cmd)
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    first = lines[0] if lines else ""
    if proc.returncode == 0:
        return Checked(True)
    if proc.returncode == 2 and first.startswith("floodgate-rx: ") and not first.startswith(ARGS_UNKNOWN):
        return Checked(True, first[len("floodgate-rx: ") :])
    return Checked()  # no --check-args in this binary, or it failed in another way: its start checks them


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "default": ""},
            "state_dir": {"type": "path", "default": "/var/lib/floodgate"},
            "gather_nic": {"type": "bool", "default": True},
            "ethtool_path": {"type": "str"},
            "rules": {"type": "str"},
            "rules_dir": {"type": "path", "default": "/etc/floodgate"},
            "rules_binary": {"type": "path", "default": "/usr/local/sbin/floodgate-rx"},
            "rules_running": {"type": "path"},
            "receiver_args": {"type": "list", "elements": "str"},
        },
        supports_check_mode=True,
    )
    state_dir: str = module.params["state_dir"]
    state = read_json(module, os.path.join(state_dir, "state.json"))
    iface: str = module.params["interface"] or str(state.get("interface") or "")
    if "/" in iface or iface in (".", ".."):
        module.fail_json(msg=f"interface '{iface}' is not an interface name. Nothing was changed.")
    exists = bool(iface) and os.path.isdir(f"/sys/class/net/{iface}")
    snapshot = read_json(module, os.path.join(state_dir, f"snapshot-{iface}.json")) if iface else {}
    cpus = online_cpus()
    nic: dict[str, Any] | None = None
    if exists and module.params["gather_nic"]:
        nic = gather_or_fail(module, module.params["ethtool_path"], iface)
    rules: str | None = module.params["rules"]
    ck = (
        check_rules(
            module,
            rules,
            module.params["rules_dir"],
            module.params["rules_binary"],
            module.params["rules_running"],
        )
        if rules
        else Checked()
    )
    args: list[str] | None = module.params["receiver_args"]
    ak = check_args(module, args, module.params["rules_binary"]) if args else Checked()
    module.exit_json(
        changed=False,
        interface=iface,
        exists=exists,
        state=state,
        snapshot=snapshot,
        cpus_online=cpus,
        nproc=len(cpus),
        mem_total_kib=os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024,
        nic=nic,
        restorable=restorable(nic) if nic is not None else None,
        rules_checked=ck.checked,
        rules_error=ck.error,
        rules_memory_kib=ck.peak_kib,
        rules_memory_reload=ck.reload,
        args_checked=ak.checked,
        args_error=ak.error,
    )


if __name__ == "__main__":
    main()
