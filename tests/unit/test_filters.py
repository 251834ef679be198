"""filter_plugins/floodgate_filters.py: rss_weights, ntuple_args, flow_spec (and its inverse)."""

from __future__ import annotations

import copy
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "filter_plugins"))
import floodgate_filters as ff  # noqa: E402


def test_rss_weights_issue_example() -> None:
    assert ff.rss_weights(8, exclude=[4]) == [1, 1, 1, 1, 0, 1, 1, 1]
    assert ff.rss_weights("4", exclude=3) == [1, 1, 1, 0]
    assert ff.rss_weights(3) == [1, 1, 1]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((8,), {"exclude": list(range(8))}, "excluding all 8 queues"),
        ((8,), {"exclude": [8]}, r"queue 8 does not exist: the NIC has 8 RX queues \(0..7\)"),
        ((8,), {"exclude": [-1]}, "queue -1 does not exist"),
        ((0,), {}, "must be >= 1"),
        ((True,), {}, "must be an integer"),
        ((8,), {"exclude": ["four"]}, "must be an integer"),
    ],
)
def test_rss_weights_refuses(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        ff.rss_weights(*args, **kwargs)


@given(count=st.integers(1, 64), data=st.data())
def test_property_rss_weights(count: int, data: st.DataObject) -> None:
    exclude = data.draw(st.sets(st.integers(0, count - 1), max_size=count - 1))
    weights = ff.rss_weights(count, exclude=sorted(exclude))
    assert len(weights) == count
    assert {q for q, w in enumerate(weights) if w == 0} == exclude


def test_ntuple_args_issue_example() -> None:
    assert (
        ff.ntuple_args({"flow_type": "udp4", "dst_port": 53, "action": 4})
        == "flow-type udp4 dst-port 53 action 4"
    )


def test_ntuple_args_full_rule() -> None:
    rule = {
        "flow_type": "tcp6",
        "src_ip": "2001:db8::/32",
        "dst_ip": "2001:db8:1::1",
        "src_port": 1024,
        "dst_port": 443,
        "action": "drop",
        "location": 7,
    }
    assert ff.ntuple_args(rule) == (
        "flow-type tcp6 src-ip 2001:db8:: m ::ffff:ffff:ffff:ffff:ffff:ffff dst-ip 2001:db8:1::1 "
        "src-port 1024 dst-port 443 action -1 loc 7"
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"flow_type": "udp4", "dst_port": 53}, "has no action"),
        ({"flow_type": "icmp4", "action": 1}, "flow_type 'icmp4' is not one of"),
        (
            {"flow_type": "udp4", "dst_ip": "2001:db8::1", "action": 1},
            "is IPv6 but flow_type udp4 is IPv4; use udp6",
        ),
        (
            {"flow_type": "udp6", "src_ip": "192.0.2.1", "action": 1},
            "is IPv4 but flow_type udp6 is IPv6; use udp4",
        ),
        ({"flow_type": "udp4", "dst_port": 70000, "action": 1}, "dst_port 70000 is out of range"),
        ({"flow_type": "udp4", "dst_ip": "198.51.100.1/24", "action": 1}, "has host bits set"),
        ({"flow_type": "udp4", "vlan": 5, "action": 1}, "field vlan is not valid for flow_type udp4"),
        ({"flow_type": "udp4", "dst_port_mask": 255, "action": 1}, "dst_port_mask given without dst_port"),
        ("udp4 53", "must be a mapping"),
    ],
)
def test_ntuple_args_refuses(rule: object, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        ff.ntuple_args(rule)


def test_flow_spec_issue_examples() -> None:
    assert ff.flow_spec("udp:53") == [{"flow_type": "udp4", "dst_port": 53}]
    assert ff.flow_spec("tcp:80,443") == [
        {"flow_type": "tcp4", "dst_port": 80},
        {"flow_type": "tcp4", "dst_port": 443},
    ]
    assert ff.flow_spec("udp:53@198.51.100.0/24") == [
        {"flow_type": "udp4", "dst_ip": "198.51.100.0", "dst_ip_mask": "0.0.0.255", "dst_port": 53}
    ]
    assert ff.flow_spec("udp6:53@2001:db8::/32") == [
        {
            "flow_type": "udp6",
            "dst_ip": "2001:db8::",
            "dst_ip_mask": "::ffff:ffff:ffff:ffff:ffff:ffff",
            "dst_port": 53,
        }
    ]
    # udp with an IPv6 prefix is udp6; a list (or several words) gives the union, without duplicates
    assert ff.flow_spec(["udp:53@2001:db8::/32", "udp:53"])[0]["flow_type"] == "udp6"
    assert ff.flow_spec("udp:53 udp:53 tcp:53") == [
        {"flow_type": "udp4", "dst_port": 53},
        {"flow_type": "tcp4", "dst_port": 53},
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("icmp:1", "protocol 'icmp' is not one of"),
        ("udp:53-60", "ranges are not supported"),
        ("udp:0", "not a number 1..65535"),
        ("udp:53@198.51.100.1/24", "has host bits set"),
        ("udp4:53@2001:db8::/32", "is IPv6 but flow_type udp4"),
        ("udp", "matches every udp4 packet"),
        ("", "expected a string"),
        (53, "expected a string"),
    ],
)
def test_flow_spec_refuses(spec: object, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        ff.flow_spec(spec)


ipv4_nets = st.builds(
    lambda a, p: ipaddress.IPv4Network((a, p), strict=False), st.integers(0, 2**32 - 1), st.integers(0, 32)
)
ipv6_nets = st.builds(
    lambda a, p: ipaddress.IPv6Network((a, p), strict=False), st.integers(0, 2**128 - 1), st.integers(0, 128)
)


@given(
    proto=st.sampled_from(["udp", "tcp"]),
    ports=st.lists(st.integers(1, 65535), min_size=1, max_size=4, unique=True),
    net=st.none() | ipv4_nets | ipv6_nets,
)
def test_property_flow_spec_round_trip(proto: str, ports: list[int], net: object) -> None:
    spec = f"{proto}:{','.join(map(str, ports))}" + (f"@{net}" if net is not None else "")
    rules = ff.flow_spec(spec)
    assert [r["dst_port"] for r in rules] == ports
    # text -> rules -> text -> rules is stable, and every rule is valid ethtool -N input once it has an action
    again = ff.flow_spec([ff.flow_spec_text(r) for r in rules])
    assert again == rules
    for rule in rules:
        assert ff.ntuple_args({**rule, "action": 4}).startswith(f"flow-type {rule['flow_type']} ")


def test_filters_load_in_ansible() -> None:
    """The filters work inside a real playbook run (plugin loading, module_utils by path)."""
    play = REPO / "tests" / "integration" / "playbooks" / "filters_smoke.yml"
    env = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": "/usr/bin:/bin",
        "ANSIBLE_LOCALHOST_WARNING": "0",
    }
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible-playbook"), "-i", "localhost,", "-c", "local", str(play)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "flow-type udp4 dst-port 53 action 4" in proc.stdout


def test_role_argument_errors_says_what_the_roles_own_check_says() -> None:
    """The receiver's real argument spec (roles/receiver/meta/argument_specs.yml), as its own task validates it."""
    good = {
        "receiver_rules": [{"name": "dns", "action": "pass", "match": "udp dport 53"}],
        "receiver_backend": "af_xdp",
        "receiver_queue": 4,
        "not_a_receiver_var": object(),
    }
    assert ff.role_argument_errors(good, "receiver", "started") == []
    errors = ff.role_argument_errors(
        {"receiver_rules": "drop everything", "receiver_build_on": "moon", "receiver_xdp_takeover": "maybe"},
        "receiver",
        "started",
    )
    assert len(errors) == 3
    assert any("receiver_rules" in e and "dict" in e for e in errors)
    assert any("receiver_build_on must be one of: host, controller, got: moon" in e for e in errors)
    assert any("receiver_xdp_takeover" in e and "bool" in e for e in errors)
    assert all(e.startswith("receiver (started): ") for e in errors)


def test_role_argument_names_and_errors_refuse_what_they_cannot_check() -> None:
    assert "receiver_rules" in ff.role_argument_names("receiver", "started")
    assert "receiver_instance" not in ff.role_argument_names(
        "receiver", "started"
    )  # a role var, not an input
    with pytest.raises(AnsibleFilterError, match="no entry point 'nope'"):
        ff.role_argument_names("receiver", "nope")
    with pytest.raises(AnsibleFilterError, match="expected a dict"):
        ff.role_argument_errors(["receiver_rules"], "receiver")


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [
        ("512M", None, 512 << 20),
        ("1G", None, 1 << 30),
        ("1.5G", None, 3 << 29),
        ("300K", None, 300 << 10),
        ("4096", None, 4096),
        ("4096B", None, 4096),
        (4096, None, 4096),
        ("2T", None, 2 << 40),
        ("infinity", None, None),
        ("", None, None),
        (None, None, None),
        ("50%", 8 << 30, 4 << 30),
    ],
)
def test_systemd_bytes_reads_memory_max_as_systemd_does(
    value: object, total: int | None, expected: int
) -> None:
    """MemoryMax= sizes (systemd.resource-control(5)): bytes, K/M/G/T suffixes in powers of 1024, a percentage of
    the host's memory, or infinity (no limit: None)."""
    assert ff.systemd_bytes(value, total) == expected


@pytest.mark.parametrize("value", ["5X", "512 M", "-1M", "512m", "5KB", "50%", "lots"])
def test_systemd_bytes_refuses_what_systemd_would_not_take(value: str) -> None:
    with pytest.raises(
        AnsibleFilterError, match=f"receiver_memory_max '{value}' is not a systemd memory size"
    ):
        ff.systemd_bytes(value)  # a percentage needs the host's memory


# A real floodgate_host_facts result (the fixture's _recorded says where from): veth eth1, 8 RX queues, ntuple on.
HOST_FACTS = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "host_facts" / "lab-veth-eth1.json").read_text()
)
MIB = 1024 * 1024


def _failed(
    facts: dict, queue: int = 4, backend: str = "af_xdp", cpu: object = 1, limit: object = 512 * MIB
) -> str:
    return ff.preflight_failed_check(facts, "eth1", queue, backend, cpu, limit, 64 * MIB)


def _with(**changes: object) -> dict:
    facts = copy.deepcopy(HOST_FACTS)
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = facts
        for p in parents:
            node = node[p]
        node[key] = value
    return facts


def test_preflight_failed_check_passes_the_lab_edge() -> None:
    assert _failed(HOST_FACTS) == ""
    assert _failed(HOST_FACTS, queue=0, cpu=None, limit=None) == ""
    assert _failed(HOST_FACTS, queue=7, cpu="0", limit="536870912") == ""  # as Jinja may hand them over


@pytest.mark.parametrize(
    ("facts", "kwargs", "check"),
    [
        (_with(exists=False), {}, "interface"),
        (_with(interface="eth2"), {}, "interface"),
        (_with(nic__rxfh__table=[]), {}, "rxfh"),
        (_with(nic__rxfh=None), {}, "rxfh"),
        (HOST_FACTS, {"queue": 8}, "queue"),
        (_with(nic__ntuple__supported=False), {}, "ntuple"),
        (HOST_FACTS, {"backend": "netmap"}, "netmap"),
        (_with(state={"status": "active", "interface": "eth1", "queue": 3}), {}, "conflict"),
        (_with(state={"status": "applying", "interface": "eth2", "queue": 4}), {}, "conflict"),
        (
            _with(state={"status": "active", "interface": "eth1", "queue": "four"}),
            {},
            "conflict",
        ),  # unreadable
        (HOST_FACTS, {"cpu": 2}, "cpu"),
        (_with(nic__irqs=[{"queue": 0, "irq": 40}, {"queue": 1, "irq": 41}]), {}, "irq"),
        (_with(args_error="unknown option '--x'"), {}, "args"),
        (_with(rules_error="stdin: line 1: ..."), {}, "rules"),
        (_with(rules_memory_kib=449 * 1024), {}, "memory"),  # 449 MiB + 64 MiB reserve > 512 MiB
        # the first failure wins: a wrong queue is said before the missing ntuple support and the bad rules
        (_with(nic__ntuple__supported=False, rules_error="x"), {"queue": 9}, "queue"),
    ],
)
def test_preflight_failed_check_names_the_first_failed_check(facts: dict, kwargs: dict, check: str) -> None:
    assert _failed(facts, **kwargs) == check


def test_preflight_failed_check_passes_what_the_checks_allow() -> None:
    # the same mitigation again (an update), one that ended, a NIC without per-queue IRQs (veth), the memory just fitting
    assert _failed(_with(state={"status": "active", "interface": "eth1", "queue": 4})) == ""
    assert _failed(_with(state={"status": "active", "interface": "eth1", "queue": "4"})) == ""
    assert _failed(_with(state={"status": "restored", "interface": "eth1", "queue": 3})) == ""
    assert _failed(_with(nic__irqs=[{"queue": 4, "irq": 44}])) == ""
    assert _failed(_with(rules_memory_kib=448 * 1024)) == ""
    assert _failed(_with(rules_memory_kib=None)) == ""
    assert _failed(_with(nic__netmap__device=True), backend="netmap") == ""
