"""floodgate's Jinja2 filters: RSS weights, ethtool -N arguments and the operator's short flow syntax.

    {{ 8 | rss_weights(exclude=[4]) }}                       -> [1, 1, 1, 1, 0, 1, 1, 1]
    {{ {'flow_type': 'udp4', 'dst_port': 53, 'action': 4} | ntuple_args }}
                                                             -> "flow-type udp4 dst-port 53 action 4"
    {{ 'udp:53@198.51.100.0/24' | flow_spec }}               -> [{flow_type: udp4, dst_port: 53,
                                                                  dst_ip: 198.51.100.0, dst_ip_mask: 0.0.0.255}]
    {{ {'receiver_rules': 'x'} | role_argument_errors('receiver', 'started') }}
                                                             -> ["Validation of arguments failed: ..."]
    {{ '512M' | systemd_bytes }}                             -> 536870912 (None for infinity)
    {{ preflight_facts | preflight_failed_check('eth1', 4, 'af_xdp', 1, 536870912, 67108864) }}
                                                             -> "" (or the first check that fails: "queue", ...)

The rule logic lives in module_utils/floodgate/ntuple.py (standard library only) so the filters and the
ethtool_ntuple module validate rules identically; it is loaded by path because controller-side plugins do
not get Ansible's module_utils import hook.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator


def _load(name: str) -> ModuleType:
    key = f"_floodgate_{name}"
    if key in sys.modules:
        return sys.modules[key]
    path = Path(__file__).resolve().parent.parent / "module_utils" / "floodgate" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with the repo
        raise AnsibleFilterError(f"floodgate filters: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


ntuple = _load("ntuple")

# Short protocol names of flow_spec and the flow type each gives for an IPv4 / IPv6 destination.
_PROTOCOLS = {"udp": ("udp4", "udp6"), "tcp": ("tcp4", "tcp6")}


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise AnsibleFilterError(f"{what} must be an integer, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise AnsibleFilterError(f"{what} must be an integer, not {value!r}") from None


def rss_weights(queues: Any, exclude: Any = (), weight: Any = 1) -> list[int]:
    """Weights for `ethtool -X weight`: `weight` for every one of `queues` RX queues, 0 for `exclude`."""
    count = _int(queues, "rss_weights: the number of RX queues")
    if count < 1:
        raise AnsibleFilterError(f"rss_weights: the number of RX queues must be >= 1, not {count}")
    each = _int(weight, "rss_weights: weight")
    if each < 1:
        raise AnsibleFilterError(f"rss_weights: weight must be >= 1, not {each}")
    if isinstance(exclude, int | str):
        exclude = [exclude]
    if not isinstance(exclude, Iterable):
        raise AnsibleFilterError(f"rss_weights: exclude must be a list of queue numbers, not {exclude!r}")
    excluded = {_int(q, "rss_weights: excluded queue") for q in exclude}
    missing = sorted(q for q in excluded if not 0 <= q < count)
    if missing:
        raise AnsibleFilterError(
            f"rss_weights: queue {', '.join(map(str, missing))} does not exist: the NIC has {count} RX queues "
            f"(0..{count - 1}); check the queue number against 'ethtool -l'"
        )
    if len(excluded) == count:
        raise AnsibleFilterError(
            f"rss_weights: excluding all {count} queues leaves no queue for normal traffic; exclude fewer"
        )
    return [0 if q in excluded else each for q in range(count)]


def ntuple_args(rule: Any) -> str:
    """`ethtool -N DEV` arguments for one rule in the ethtool_ntuple shape (action required)."""
    try:
        return " ".join(ntuple.rule_to_args(rule))
    except ntuple.NtupleError as err:
        raise AnsibleFilterError(f"ntuple_args: {err}") from None


def _ports(text: str, spec: str) -> list[int | None]:
    if not text:
        return [None]
    ports: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) <= 65535:
            raise AnsibleFilterError(
                f"flow_spec {spec!r}: port {part!r} is not a number 1..65535 (ranges are not supported: "
                "ntuple rules match single ports; list them, e.g. tcp:80,443)"
            )
        if int(part) not in ports:
            ports.append(int(part))
    return ports


def _parse_one(spec: str) -> list[dict[str, Any]]:
    text = spec.strip()
    head, _, prefix = text.partition("@")
    proto, _, ports = head.partition(":")
    proto = proto.strip().lower()
    network = None
    if prefix:
        try:
            network = ipaddress.ip_network(prefix.strip(), strict=True)
        except ValueError as err:
            raise AnsibleFilterError(f"flow_spec {spec!r}: destination {prefix!r}: {err}") from None
    if proto in _PROTOCOLS:
        flow_type = _PROTOCOLS[proto][network is not None and network.version == 6]
    elif proto in ntuple.FLOW_TYPES:
        flow_type = proto
    else:
        raise AnsibleFilterError(
            f"flow_spec {spec!r}: protocol {proto!r} is not one of udp, tcp, udp4, tcp4, udp6, tcp6 "
            "(form: PROTO[:PORT[,PORT...]][@PREFIX], e.g. udp:53@198.51.100.0/24)"
        )
    rules = []
    for port in _ports(ports.strip(), spec):
        rule: dict[str, Any] = {"flow_type": flow_type}
        if port is not None:
            rule["dst_port"] = port
        if network is not None:
            rule["dst_ip"] = str(network)
        try:
            rules.append(ntuple.normalize_rule(rule, require_action=False))
        except ntuple.NtupleError as err:
            raise AnsibleFilterError(f"flow_spec {spec!r}: {err}") from None
    if len(rules) == 1 and "dst_port" not in rules[0] and "dst_ip" not in rules[0]:
        raise AnsibleFilterError(
            f"flow_spec {spec!r} matches every {flow_type} packet: give a port or a destination prefix"
        )
    return rules


def flow_spec(specs: Any) -> list[dict[str, Any]]:
    """Rules (ethtool_ntuple shape, no action) for `PROTO[:PORT[,PORT...]][@PREFIX]`, or a list of them.

    The prefix is the flooded destination; `udp`/`tcp` become udp6/tcp6 when it is an IPv6 prefix.
    """
    if isinstance(specs, str):
        specs = [s for s in specs.split() if s]
    if not isinstance(specs, Sequence) or not specs or not all(isinstance(s, str) for s in specs):
        raise AnsibleFilterError(
            f"flow_spec: expected a string like 'udp:53' or a list of them, not {specs!r}"
        )
    rules: list[dict[str, Any]] = []
    for spec in specs:
        for rule in _parse_one(spec):
            if rule not in rules:
                rules.append(rule)
    return rules


def flow_spec_text(rule: dict[str, Any]) -> str:
    """The short form of one rule (the inverse of flow_spec for rules it can express)."""
    text = str(rule["flow_type"])
    if "dst_port" in rule:
        text += f":{rule['dst_port']}"
    if "dst_ip" in rule:
        mask = rule.get("dst_ip_mask")
        width = 32 if ":" not in str(rule["dst_ip"]) else 128
        bits = width - int(ipaddress.ip_address(mask)).bit_length() if mask else width
        text += f"@{rule['dst_ip']}/{bits}"
    return text


_ROLES = Path(__file__).resolve().parent.parent / "roles"
_SPECS: dict[tuple[str, str], dict[str, Any]] = {}
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _role_options(role: str, entry: str) -> dict[str, Any]:
    """The options of `role`'s argument spec entry point (roles/ROLE/meta/argument_specs.yml), read once."""
    key = (role, entry)
    if key not in _SPECS:
        path = _ROLES / role / "meta" / "argument_specs.yml"
        try:
            # libyaml's parser when present: this runs in each of Ansible's per-host worker processes.
            specs = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)["argument_specs"]
            _SPECS[key] = specs[entry]["options"]
        except (OSError, KeyError, TypeError, yaml.YAMLError) as err:
            raise AnsibleFilterError(
                f"role_argument_errors: no entry point {entry!r} in {path}: {err}"
            ) from None
    return _SPECS[key]


def _plain(value: Any) -> Any:
    """`value` as plain dicts, lists and scalars (the validator deep-copies what it is given; Ansible's templated
    containers are far slower to copy)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def role_argument_errors(values: Any, role: str, entry: str = "main") -> list[str]:
    """What the role's own argument-spec task would say about `values` (a dict of its variables), as a list
    of messages ([] = valid). The same validator and spec as Ansible's "Validating arguments against arg spec"
    task, for a caller that checks a role's inputs before any change instead of in a task per host once the
    role runs. Variables the spec does not name are ignored, as that task ignores them."""
    if not isinstance(values, dict):
        raise AnsibleFilterError(
            f"role_argument_errors: expected a dict of the role's variables, not {values!r}"
        )
    options = _role_options(str(role), str(entry))
    given = {name: _plain(value) for name, value in values.items() if name in options}
    result = ArgumentSpecValidator(options).validate(given, validate_role_argument_spec=True)
    return [f"{role} ({entry}): {message}" for message in result.error_messages]


def role_argument_names(role: str, entry: str = "main") -> list[str]:
    """The variable names `role`'s argument spec entry point defines (to gather their values for
    role_argument_errors without templating the role's other variables)."""
    return sorted(_role_options(str(role), str(entry)))


_SIZE = re.compile(r"(\d+(?:\.\d+)?)([BKMGTPE]?)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def systemd_bytes(value: Any, total: Any = None, what: str = "receiver_memory_max") -> int | None:
    """A systemd memory size (MemoryMax=) in bytes: bytes with an optional B, K, M, G, T, P or E suffix (powers
    of 1024, upper case, as systemd's parse_size reads them), or N% of `total` (the host's memory); None for no
    limit ("infinity" or empty)."""
    text = str(value if value is not None else "").strip()
    if text in ("", "infinity"):
        return None
    m = _SIZE.fullmatch(text)
    if m:
        return int(float(m[1]) * 1024 ** "BKMGTPE".index(m[2] or "B"))
    m = _PERCENT.fullmatch(text)
    if m and total is not None:
        return int(int(total) * float(m[1]) / 100)
    raise AnsibleFilterError(
        f"{what} '{text}' is not a systemd memory size: give bytes with a K, M, G or T suffix (512M), a percentage"
        " of the host's memory (50%) or infinity"
    )


def _num(value: Any) -> int | None:
    """An integer from a record's field, None from anything else (Jinja's `| int` read 0 there)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _online(cpu: Any, online: Iterable[Any]) -> bool:
    return _num(cpu) is not None and _num(cpu) in {_num(c) for c in online}


def preflight_failed_check(
    facts: Any,
    interface: Any,
    queue: Any,
    backend: Any,
    cpu: Any = None,
    memory_limit: Any = None,
    memory_reserve: Any = 0,
) -> str:
    """The first of the pre-flight's checks (roles/preflight/vars/main.yml: preflight_msg_NAME) that the host's
    floodgate_host_facts result fails, or "" when it passes them all. In Python rather than Jinja: the controller
    works it out once per host of a fleet, and the same checks as Jinja expressions cost ~50 ms a host."""
    # only the parts read, as plain data (the whole result, the NIC's features and stats, is ~100 times more)
    f = {
        k: facts.get(k)
        for k in ("exists", "interface", "cpus_online", "args_error", "rules_error", "rules_memory_kib")
    }
    nic, state, queue = facts.get("nic") or {}, _plain(facts.get("state") or {}), int(queue)
    rxfh, ntuple, netmap = (_plain(nic.get(k) or {}) for k in ("rxfh", "ntuple", "netmap"))
    irqs = _plain(nic.get("irqs") or [])
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("interface", lambda: not f.get("exists") or f.get("interface") != interface),
        ("rxfh", lambda: not rxfh.get("table")),
        ("queue", lambda: not 0 <= queue < (_num(rxfh.get("ring_count")) or 0)),
        ("ntuple", lambda: not ntuple.get("supported")),
        ("netmap", lambda: backend == "netmap" and not netmap.get("device")),
        (
            "conflict",
            lambda: (
                state.get("status") in ("applying", "active")
                and (state.get("interface") != interface or _num(state.get("queue")) != queue)
            ),
        ),
        ("cpu", lambda: cpu is not None and not _online(cpu, f.get("cpus_online") or [])),
        ("irq", lambda: bool(irqs) and not any(_num(i.get("queue")) == queue for i in irqs)),
        ("args", lambda: bool(f.get("args_error"))),
        ("rules", lambda: bool(f.get("rules_error"))),
        (
            "memory",
            lambda: (
                f.get("rules_memory_kib") is not None
                and memory_limit not in (None, "", "None")
                and int(f["rules_memory_kib"]) * 1024 + int(memory_reserve) > int(memory_limit)
            ),
        ),
    ]
    return next((name for name, failed in checks if failed()), "")


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "rss_weights": rss_weights,
            "ntuple_args": ntuple_args,
            "flow_spec": flow_spec,
            "flow_spec_text": flow_spec_text,
            "role_argument_errors": role_argument_errors,
            "role_argument_names": role_argument_names,
            "systemd_bytes": systemd_bytes,
            "preflight_failed_check": preflight_failed_check,
        }
