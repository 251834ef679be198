"""Live af_xdp backend on a real 8-queue veth NIC in two fresh network namespaces.

The wire side carries a tiny tc-BPF test tool that steers UDP/53 frames to RX queue (UDP source port & 7) and
everything else to queue 0, so the test chooses which frames land on the receiver's queue 4. Real kernel
sockets send and receive; the receiver's counters are checked against the kernel's per-queue counters.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
RX = Path(os.environ.get("FLOODGATE_RX", ROOT / "csrc" / "floodgate-rx"))
QUEUE = 4
EDGE_IP, WIRE_IP = "10.99.0.1", "10.99.0.2"
ALLOWED_SRC, FLOOD_SRC = "198.51.100.7", "203.0.113.9"
EDGE_IP6, WIRE_IP6 = "2001:db8:99::1", "2001:db8:99::2"
ALLOWED_SRC6, FLOOD_SRC6 = "2001:db8:100::7", "2001:db8:200::9"
# UDP source ports whose low 3 bits pick the RX queue (see STEER_BPF).
PORT_Q4_ALLOWED, PORT_Q4_FLOOD, PORT_Q1_FLOOD = 40004, 40012, 40001

# A test tool (not product code) that steers UDP/53 to RX queue (source port & 7), the rest to queue 0.
STEER_BPF = ROOT / "csrc" / "live" / "tools" / "steer_by_sport.bpf.c"
PASS_BPF = ROOT / "csrc" / "live" / "tools" / "xdp_pass.bpf.c"  # test tool: a pass-through XDP program

RULES = f"""# test rules: the allowlisted client prefix passes, the rest of queue {QUEUE} is dropped
default drop
rule clients pass src 198.51.100.0/24,2001:db8:100::/48 udp dport 53 dns-valid
"""
RULES_RELOADED = RULES + "rule partner pass src 203.0.113.0/24 udp dport 53 dns-valid\n"


def run(*cmd: str, ns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    return subprocess.run(full, check=check, capture_output=True, text=True)


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def socket_in(ns: str, addr: tuple[str, int], family: int = socket.AF_INET) -> socket.socket:
    """A UDP socket living in netns ns: created by a thread that joined ns (setns is per thread)."""
    box: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            with open(f"/run/netns/{ns}") as f:
                if _libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(addr)
            box.append(s)
        except BaseException as e:
            box.append(e)

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def dns_query(qid: int) -> bytes:
    qname = b"".join(bytes([len(p)]) + p for p in (b"www", b"example", b"com")) + b"\0"
    return struct.pack("!HHHHHH", qid & 0xFFFF, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def send(sock: socket.socket, count: int) -> None:
    # Paced in small bursts: veth's per-queue XDP ring holds 256 frames and the test wants exact counts.
    dst = EDGE_IP6 if sock.family == socket.AF_INET6 else EDGE_IP
    for i in range(count):
        sock.sendto(dns_query(i), (dst, 53))
        if i % 32 == 31:
            time.sleep(0.005)


def drain(sock: socket.socket, quiet: float = 1.0) -> dict[tuple[str, int], int]:
    got: dict[tuple[str, int], int] = {}
    sock.settimeout(quiet)
    with contextlib.suppress(TimeoutError):
        while True:
            _, src = sock.recvfrom(2048)
            got[src[:2]] = got.get(src[:2], 0) + 1
    return got


def queue_counters(ns: str) -> dict[int, int]:
    out = run("ethtool", "-S", "eth1", ns=ns).stdout
    return {int(q): int(v) for q, v in re.findall(r"rx_queue_(\d+)_xdp_packets:\s+(\d+)", out)}


def bpf_obj(src: Path, out: Path) -> Path:
    arch = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True, check=True).stdout.strip()
    run("clang", "-O2", "-g", "-target", "bpf", f"-I/usr/include/{arch}", "-c", str(src), "-o", str(out))
    return out


@pytest.fixture(scope="module")
def steer_obj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bpf_obj(STEER_BPF, tmp_path_factory.mktemp("bpf") / "steer.bpf.o")


@pytest.fixture
def nets(steer_obj: Path) -> Iterator[tuple[str, str]]:
    """edge netns (eth1, 8 queues: the receiver's NIC) and wire netns (eth1p: the sender, with the steering)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, XDP)")
    assert RX.exists(), f"{RX} is missing: build it with `make -C csrc`"
    tag = f"{os.getpid() % 100000}"
    edge, wire = f"fgx-edge-{tag}", f"fgx-wire-{tag}"
    for ns in (edge, wire):
        run("ip", "netns", "add", ns)
        # IPv6 off by default (as on hosts that turn it off), then on for the NICs only: the receiver's TUN
        # device must follow its NIC, not the default.
        run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
    try:
        run(
            "ip",
            "link",
            "add",
            "eth1",
            "numtxqueues",
            "8",
            "numrxqueues",
            "8",
            "netns",
            edge,
            "type",
            "veth",
            "peer",
            "name",
            "eth1p",
            "numtxqueues",
            "8",
            "numrxqueues",
            "8",
            "netns",
            wire,
        )
        for ns, dev, ip, ip6 in ((edge, "eth1", EDGE_IP, EDGE_IP6), (wire, "eth1p", WIRE_IP, WIRE_IP6)):
            run("ip", "link", "set", "lo", "up", ns=ns)
            run("sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=0", ns=ns)
            run("ip", "addr", "add", f"{ip}/24", "dev", dev, ns=ns)
            run("ip", "addr", "add", f"{ip6}/64", "dev", dev, "nodad", ns=ns)
            run("ip", "link", "set", dev, "up", ns=ns)
        for src in (ALLOWED_SRC, FLOOD_SRC):
            run("ip", "addr", "add", f"{src}/32", "dev", "eth1p", ns=wire)
        for src in (ALLOWED_SRC6, FLOOD_SRC6):
            run("ip", "addr", "add", f"{src}/128", "dev", "eth1p", "nodad", ns=wire)
        run("ip", "route", "add", "default", "via", WIRE_IP, ns=edge)  # a route back: rp_filter accepts
        run("ip", "-6", "route", "add", "default", "via", WIRE_IP6, ns=edge)
        # Static neighbours (no ARP on the wire) and no tx checksum offload (as on a real wire).
        for ns, dev, peer_ns, peer_dev, peer_ips in (
            (edge, "eth1", wire, "eth1p", (WIRE_IP, WIRE_IP6)),
            (wire, "eth1p", edge, "eth1", (EDGE_IP, EDGE_IP6)),
        ):
            mac = run("cat", f"/sys/class/net/{peer_dev}/address", ns=peer_ns).stdout.strip()
            for peer_ip in peer_ips:
                run("ip", "neigh", "replace", peer_ip, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)
        run("ethtool", "-K", "eth1p", "tx", "off", ns=wire)
        run("tc", "qdisc", "add", "dev", "eth1p", "clsact", ns=wire)
        run(
            "tc",
            "filter",
            "add",
            "dev",
            "eth1p",
            "egress",
            "bpf",
            "direct-action",
            "obj",
            str(steer_obj),
            "sec",
            "tc",
            ns=wire,
        )
        yield edge, wire
    finally:
        # A test that failed before stopping its receiver leaves it running in the edge: it goes with the netns.
        for pid in run("ip", "netns", "pids", edge, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        for ns in (edge, wire):
            run("ip", "netns", "del", ns, check=False)


class Receiver:
    """floodgate-rx on edge eth1 queue 4, with its own bpffs (libxdp keeps its dispatcher state there)."""

    def __init__(
        self,
        edge: str,
        d: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        rules: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.json, self.prom = d / "rx.json", d / "rx.prom"
        self.notify_path = d / f"notify-{time.monotonic_ns()}"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.settimeout(30)
        cmd = [
            "ip",
            "netns",
            "exec",
            edge,
            "sh",
            "-c",
            'mount -t bpf bpf /sys/fs/bpf && exec "$0" "$@"',
            str(RX),
            "--backend",
            "af_xdp",
            "--interface",
            "eth1",
            "--queue",
            str(QUEUE),
            "--rules",
            str(rules or d / "rules"),
            "--stats-json",
            str(self.json),
            "--stats-prom",
            str(self.prom),
            "--stats-interval-ms",
            "200",
            *extra,
        ]
        # Take-over only when the test asks for it (flag or env), never inherited from the caller.
        full_env = {k: v for k, v in os.environ.items() if k != "FLOODGATE_XDP_TAKEOVER"}
        full_env.update(NOTIFY_SOCKET=str(self.notify_path), **(env or {}))
        self.proc = subprocess.Popen(
            cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
        )

    def wait_state(self, state: str) -> None:
        while True:
            try:
                msg = self.notify.recv(4096).decode()
            except TimeoutError:
                self.proc.kill()
                raise AssertionError(f"no {state} from the receiver: {self.proc.communicate()}") from None
            if state in msg.split("\n"):
                return

    def stats(self) -> dict:
        return json.loads(self.json.read_text())

    def stats_after(self, cond, timeout: float = 10.0) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if cond(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.1)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        self.notify.close()
        return self.proc.returncode, err


def test_receiver_takes_queue_4_only_and_reinjects_passed(nets: tuple[str, str], tmp_path: Path) -> None:
    edge, wire = nets
    (tmp_path / "rules").write_text(RULES)
    listener = socket_in(edge, ("0.0.0.0", 53))
    allowed = socket_in(wire, (ALLOWED_SRC, PORT_Q4_ALLOWED))
    flood_q4 = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))
    flood_q1 = socket_in(wire, (FLOOD_SRC, PORT_Q1_FLOOD))

    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")
    before = queue_counters(edge)
    n_allowed, n_flood_q4, n_flood_q1 = 300, 500, 200
    send(allowed, n_allowed)
    send(flood_q4, n_flood_q4)
    send(flood_q1, n_flood_q1)
    got = drain(listener)
    s = rx.stats_after(lambda s: s["packets"] >= n_allowed + n_flood_q4)
    after = queue_counters(edge)

    # The kernel's own per-queue counters: queue 4 got exactly the steered frames, queue 1 the others.
    assert after[QUEUE] - before[QUEUE] == n_allowed + n_flood_q4
    assert after[1] - before[1] == n_flood_q1
    # The receiver saw queue 4 and nothing else; it passed the allowlisted prefix and dropped the rest.
    assert (s["packets"], s["passed"], s["dropped"]) == (n_allowed + n_flood_q4, n_allowed, n_flood_q4)
    assert s["injected"] == n_allowed and s["inject_errors"] == 0
    assert {r["name"]: r["hits"] for r in s["rules"]}["clients"] == n_allowed
    assert (s["backend"], s["interface"], s["queue"]) == ("af_xdp", "eth1", QUEUE)
    # The kernel's UDP socket: passed frames came out of the TUN, queue 1 was never touched, the flood on
    # queue 4 never reached it.
    assert got.get((ALLOWED_SRC, PORT_Q4_ALLOWED)) == n_allowed
    assert got.get((FLOOD_SRC, PORT_Q1_FLOOD)) == n_flood_q1
    assert (FLOOD_SRC, PORT_Q4_FLOOD) not in got

    prom = rx.prom.read_text()
    for metric, value in (("packets", s["packets"]), ("passed", s["passed"]), ("dropped", s["dropped"])):
        assert re.search(rf"^floodgate_rx_{metric}_total{{[^}}]*}} {value}$", prom, re.M), prom
    assert re.search(rf'^floodgate_rx_rule_hits_total{{[^}}]*rule="clients"[^}}]*}} {n_allowed}$', prom, re.M)

    # SIGHUP: a new rule set takes over between bursts, with every counter carried over.
    (tmp_path / "rules").write_text(RULES_RELOADED)
    rx.proc.send_signal(signal.SIGHUP)
    s2 = rx.stats_after(lambda s: s["reloads"] == 1)
    assert s2["reloads"] == 1 and s2["packets"] == s["packets"] and s2["passed"] == s["passed"]
    send(flood_q4, 100)
    got = drain(listener)
    s3 = rx.stats_after(lambda s: s["packets"] >= s2["packets"] + 100)
    hits = {r["name"]: r["hits"] for r in s3["rules"]}
    assert hits == {"clients": n_allowed, "partner": 100}
    assert (s3["packets"], s3["passed"]) == (s2["packets"] + 100, s2["passed"] + 100)
    assert got.get((FLOOD_SRC, PORT_Q4_FLOOD)) == 100

    # A bad rules file on SIGHUP changes nothing: the running rules stay.
    (tmp_path / "rules").write_text("this is not a rule\n")
    rx.proc.send_signal(signal.SIGHUP)
    s4 = rx.stats_after(lambda s: s["reload_errors"] == 1)
    assert s4["reload_errors"] == 1 and s4["reloads"] == 1 and len(s4["rules"]) == 2

    # SIGTERM: clean exit, STOPPING=1, and the queue is free for the next receiver at once.
    rx.proc.send_signal(signal.SIGTERM)
    rx.wait_state("STOPPING=1")
    code, err = rx.stop()
    assert code == 0, err
    assert "queue 4 released" in err
    (tmp_path / "rules").write_text(RULES)
    rx2 = Receiver(edge, tmp_path, "--cpu", "0", "--mlock")  # pinned and locked this time
    rx2.wait_state("READY=1")
    status = Path(f"/proc/{rx2.proc.pid}/status").read_text()
    assert re.search(r"^Cpus_allowed_list:\s+0$", status, re.M), status
    assert int(re.search(r"^VmLck:\s+(\d+) kB", status, re.M).group(1)) > 0, status
    send(allowed, 10)
    s5 = rx2.stats_after(lambda s: s["packets"] >= 10)
    assert s5["packets"] == 10 and s5["passed"] == 10
    code, err = rx2.stop()
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interface", "eth9", "--queue", "4"], "interface eth9 not found: check `ip link`"),
        (
            ["--interface", "eth1", "--queue", "9"],
            "queue 9 out of range: eth1 has 8 RX queues (ethtool -l eth1)",
        ),
        (
            ["--interface", "eth1", "--queue", "4", "--zerocopy", "on"],
            "zero-copy AF_XDP is not available on eth1",
        ),
        (["--interface", "eth1", "--queue", "4", "--cpu", "64"], "--cpu 64 is not a CPU of this host"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    nets: tuple[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    edge, _ = nets
    (tmp_path / "rules").write_text(RULES)
    r = run(str(RX), "--backend", "af_xdp", *args, "--rules", str(tmp_path / "rules"),
            "--stats-json", str(tmp_path / "rx.json"), ns=edge, check=False)  # fmt: skip
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert not (tmp_path / "rx.json").exists()
    # Nothing changed on the NIC: no XDP program attached, no TUN device left.
    links = run("ip", "-d", "link", "show", ns=edge).stdout
    assert "xdp" not in links and "fg4" not in links, links


def xdp_prog_id(ns: str) -> str | None:
    m = re.search(
        r"prog/xdp id (\d+) name (\S+)", run("ip", "-d", "link", "show", "dev", "eth1", ns=ns).stdout
    )
    return f"{m.group(1)}:{m.group(2)}" if m else None


@pytest.mark.parametrize(
    ("allow_args", "allow_env"),
    [(["--xdp-takeover"], {}), ([], {"FLOODGATE_XDP_TAKEOVER": "1"})],
    ids=["flag", "env"],
)
def test_xdp_program_outside_dispatcher_is_refused_or_taken_over_and_restored(
    nets: tuple[str, str], tmp_path: Path, allow_args: list[str], allow_env: dict[str, str]
) -> None:
    """A pass-through XDP program attached without libxdp's dispatcher (as on this kernel, where the dispatcher
    cannot load) blocks the receiver's program: refused by default with what to do; with take-over allowed
    (--xdp-takeover, or FLOODGATE_XDP_TAKEOVER=1), the receiver replaces it while it runs and re-attaches the
    very same program at exit."""
    edge, wire = nets
    (tmp_path / "rules").write_text(RULES)
    obj = bpf_obj(PASS_BPF, tmp_path / "xdp_pass.bpf.o")
    run("ip", "link", "set", "dev", "eth1", "xdpdrv", "obj", str(obj), "sec", "xdp", ns=edge)
    before = xdp_prog_id(edge)
    assert before and before.endswith(":xdp_pass_all")

    r = run(str(RX), "--backend", "af_xdp", "--interface", "eth1", "--queue", str(QUEUE), "--rules",
            str(tmp_path / "rules"), ns=edge, check=False)  # fmt: skip
    assert r.returncode != 0
    assert "already has XDP program 'xdp_pass_all'" in r.stderr
    assert "--xdp-takeover" in r.stderr and "FLOODGATE_XDP_TAKEOVER=1" in r.stderr
    assert xdp_prog_id(edge) == before

    allowed = socket_in(wire, (ALLOWED_SRC, PORT_Q4_ALLOWED))
    rx = Receiver(edge, tmp_path, *allow_args, env=allow_env)
    rx.wait_state("READY=1")
    assert xdp_prog_id(edge) != before
    send(allowed, 20)
    s = rx.stats_after(lambda s: s["packets"] >= 20)
    assert (s["packets"], s["passed"]) == (20, 20)
    code, err = rx.stop()
    assert code == 0, err
    assert "re-attached XDP program 'xdp_pass_all'" in err
    assert xdp_prog_id(edge) == before


def test_restart_after_sigkill_joins_the_programs_left_on_the_nic(
    nets: tuple[str, str], tmp_path: Path
) -> None:
    """A receiver killed with SIGKILL cannot clean up: its XSK program stays on the NIC (as the lab's own
    xsk_def_prog does). The next receiver joins that program, works, and leaves it as it found it.
    SIGUSR1 writes the stats files on demand."""
    edge, wire = nets
    (tmp_path / "rules").write_text(RULES)
    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")
    rx.proc.kill()
    rx.proc.communicate(timeout=30)
    rx.notify.close()
    left = xdp_prog_id(edge)
    assert (left or "").endswith(":xsk_def_prog")

    allowed = socket_in(wire, (ALLOWED_SRC, PORT_Q4_ALLOWED))
    rx2 = Receiver(edge, tmp_path, "--stats-interval-ms", "600000")  # stats only at start, on demand, at exit
    rx2.wait_state("READY=1")
    q4 = queue_counters(edge)[QUEUE]
    send(allowed, 20)
    deadline = time.monotonic() + 10
    while queue_counters(edge)[QUEUE] < q4 + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rx2.stats()["packets"] == 0  # the frames are in, the file is not rewritten yet
    rx2.proc.send_signal(signal.SIGUSR1)  # on demand
    s = rx2.stats_after(lambda s: s["packets"] >= 20)
    assert (s["packets"], s["passed"], s["injected"]) == (20, 20, 20)
    code, err = rx2.stop()
    assert code == 0, err
    assert xdp_prog_id(edge) == left


def test_ipv6_passed_frames_reach_the_kernel_through_the_tun(nets: tuple[str, str], tmp_path: Path) -> None:
    """IPv6 on queue 4: the allowlisted /48 comes out of the TUN into a kernel IPv6 socket, the flood does not.
    The TUN is created while net.ipv6.conf.default.disable_ipv6=1; it follows its NIC, which has IPv6 on."""
    edge, wire = nets
    (tmp_path / "rules").write_text(RULES)
    listener = socket_in(edge, ("::", 53), socket.AF_INET6)
    allowed = socket_in(wire, (ALLOWED_SRC6, PORT_Q4_ALLOWED), socket.AF_INET6)
    flood = socket_in(wire, (FLOOD_SRC6, PORT_Q4_FLOOD), socket.AF_INET6)
    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")
    send(allowed, 30)
    send(flood, 40)
    got = drain(listener)
    s = rx.stats_after(lambda s: s["packets"] >= 70)
    assert (s["packets"], s["passed"], s["dropped"], s["injected"]) == (70, 30, 40, 30)
    assert got == {(ALLOWED_SRC6, PORT_Q4_ALLOWED): 30}
    code, err = rx.stop()
    assert code == 0, err


def test_relative_src_file_resolves_against_the_rules_files_directory(
    nets: tuple[str, str], tmp_path: Path
) -> None:
    """`src-file clients.txt` is read from the rules file's directory, at start and on SIGHUP, whatever the
    receiver's cwd (/ under systemd). The cwd holds a clients.txt with the other prefix, so resolving against
    the cwd would pass the flood and drop the clients: the counts below tell the two apart."""
    edge, wire = nets
    etc, cwd = tmp_path / "etc", tmp_path / "elsewhere"
    etc.mkdir()
    cwd.mkdir()
    rules = etc / "rules"
    rules.write_text("default drop\nrule clients pass src-file clients.txt udp dport 53 dns-valid\n")
    (etc / "clients.txt").write_text("# the allowlisted clients\n198.51.100.0/24\n")
    (cwd / "clients.txt").write_text("203.0.113.0/24\n")  # the flood's prefix: a decoy
    listener = socket_in(edge, ("0.0.0.0", 53))
    allowed = socket_in(wire, (ALLOWED_SRC, PORT_Q4_ALLOWED))
    flood = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))

    rx = Receiver(edge, tmp_path, rules=rules, cwd=cwd)
    rx.wait_state("READY=1")
    assert os.readlink(f"/proc/{rx.proc.pid}/cwd") == str(cwd)
    send(allowed, 20)
    send(flood, 30)
    got = drain(listener)
    s = rx.stats_after(lambda s: s["packets"] >= 50)
    assert (s["packets"], s["passed"], s["dropped"]) == (50, 20, 30)
    assert got == {(ALLOWED_SRC, PORT_Q4_ALLOWED): 20}

    # SIGHUP re-reads the src-file from the same directory: swap the two files' prefixes.
    (etc / "clients.txt").write_text("203.0.113.0/24\n")
    (cwd / "clients.txt").write_text("198.51.100.0/24\n")
    rx.proc.send_signal(signal.SIGHUP)
    s = rx.stats_after(lambda s: s["reloads"] == 1)
    assert (s["reloads"], s["reload_errors"]) == (1, 0)
    send(allowed, 10)
    send(flood, 15)
    got = drain(listener)
    s = rx.stats_after(lambda s: s["packets"] >= 75)
    assert (s["packets"], s["passed"], s["dropped"]) == (75, 35, 40)
    assert got == {(FLOOD_SRC, PORT_Q4_FLOOD): 15}
    assert {r["name"]: r["hits"] for r in s["rules"]} == {"clients": 35}
    code, err = rx.stop()
    assert code == 0, err


def ratelimit_rules(burst: int, extra: str = "", table: int = 1024) -> str:
    """1 packet/s per source after a burst: the flood source is limited, what is within its rate passes."""
    return (
        "default drop\n"
        f"rule limit ratelimit 1/s burst {burst} table {table} src 203.0.113.0/24 udp dport 53\n"
        "rule flood pass src 203.0.113.0/24 udp dport 53 dns-valid\n" + extra
    )


def test_sighup_keeps_rate_limit_state(nets: tuple[str, str], tmp_path: Path) -> None:
    """A reload that leaves a ratelimit rule unchanged keeps its source table: a source that used up its burst
    stays limited right after the reload. Control: a reload that changes the rule (burst) starts a fresh table,
    and the same source gets a full burst again, which the first reload would also have shown had it lost the
    state. GCRA bounds what passes: at most BURST + RATE * elapsed (+1 for rounding) since the first frame."""
    edge, wire = nets
    burst, burst2 = 100, 150
    rules = tmp_path / "rules"
    rules.write_text(ratelimit_rules(burst))
    flood = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))
    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")

    t0 = time.monotonic()
    send(flood, 300)
    s1 = rx.stats_after(lambda s: s["packets"] >= 300)
    assert s1["packets"] == 300
    assert burst <= s1["passed"] <= burst + int(time.monotonic() - t0) + 1  # the burst, then limited

    # Reload with the limit rule unchanged (another rule added): the flood source stays limited.
    rules.write_text(ratelimit_rules(burst, "rule clients pass src 198.51.100.0/24 udp dport 53 dns-valid\n"))
    rx.proc.send_signal(signal.SIGHUP)
    assert rx.stats_after(lambda s: s["reloads"] == 1)["reloads"] == 1
    send(flood, 100)
    s2 = rx.stats_after(lambda s: s["packets"] >= 400)
    elapsed = time.monotonic() - t0
    assert s2["packets"] == 400
    bound = burst + int(elapsed) + 1
    # Lost state would pass at least min(100, burst) more frames on top of s1's: the bound must exclude that.
    assert bound < s1["passed"] + min(100, burst), (s1, elapsed)
    assert s2["passed"] <= bound, (s1, s2, elapsed)
    hits = {r["name"]: r["hits"] for r in s2["rules"]}
    assert hits == {"limit": s2["dropped"], "flood": s2["passed"], "clients": 0}

    # Control: a changed limit rule gets a fresh table, so the same source has a full burst again.
    rules.write_text(ratelimit_rules(burst2))
    rx.proc.send_signal(signal.SIGHUP)
    assert rx.stats_after(lambda s: s["reloads"] == 2)["reloads"] == 2
    send(flood, 200)
    s3 = rx.stats_after(lambda s: s["packets"] >= 600)
    assert s3["packets"] == 600
    assert s3["passed"] - s2["passed"] >= burst2
    code, err = rx.stop()
    assert code == 0, err


def status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM: the peak resident set), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


TABLE_16M_KIB = 16_777_216 // 4 * 64 // 1024  # a 16M-source rate-limit table: 4-way sets of 64 bytes, 256 MiB


def test_reload_leaves_an_unchanged_rate_limit_table_in_place(nets: tuple[str, str], tmp_path: Path) -> None:
    """A reload whose rate limit is unchanged gives the running table to the new rules without allocating a
    second one: the receiver's peak memory (VmHWM) stays within 32 MiB of what the 16M-source table (256 MiB,
    zeroed at start) made it, and the source that used up its burst stays limited. Before, the compile beside the
    running rules allocated and zeroed a twin table only to swap it out and free it: every reload took the peak
    up by the table's size (what the control shows: a reload that changes the burst allocates the new table while
    the old one runs, and frees the old one after the swap)."""
    edge, wire = nets
    burst, burst2, table = 100, 150, 16_777_216
    rules = tmp_path / "rules"
    rules.write_text(ratelimit_rules(burst, table=table))
    flood = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))
    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")
    pid = rx.proc.pid
    assert Path(f"/proc/{pid}/exe").resolve() == RX.resolve()
    start = status_kib(pid, "VmHWM")
    assert start >= TABLE_16M_KIB, start

    t0 = time.monotonic()
    send(flood, 300)
    s1 = rx.stats_after(lambda s: s["packets"] >= 300)
    assert burst <= s1["passed"] <= burst + int(time.monotonic() - t0) + 1

    extra = "rule clients pass src 198.51.100.0/24 udp dport 53 dns-valid\n"
    rules.write_text(ratelimit_rules(burst, extra, table=table))
    rx.proc.send_signal(signal.SIGHUP)
    assert rx.stats_after(lambda s: s["reloads"] == 1)["reloads"] == 1
    peak = status_kib(pid, "VmHWM")
    assert peak - start < 32 * 1024, (start, peak)
    send(flood, 100)
    s2 = rx.stats_after(lambda s: s["packets"] >= 400)
    assert s2["packets"] == 400
    assert s2["passed"] <= burst + int(time.monotonic() - t0) + 1, (s1, s2)  # still limited: the same table

    # Control: a changed limit compiles a table of its own beside the running one, which is freed after the swap.
    rules.write_text(ratelimit_rules(burst2, extra, table=table))
    rx.proc.send_signal(signal.SIGHUP)
    assert rx.stats_after(lambda s: s["reloads"] == 2)["reloads"] == 2
    assert status_kib(pid, "VmHWM") - peak >= TABLE_16M_KIB * 3 // 4, (peak, status_kib(pid, "VmHWM"))
    send(flood, 200)
    s3 = rx.stats_after(lambda s: s["packets"] >= 600)
    assert s3["passed"] - s2["passed"] >= burst2  # a fresh table: a full burst again
    deadline = time.monotonic() + 5
    while status_kib(pid, "VmRSS") - start > 32 * 1024 and time.monotonic() < deadline:
        time.sleep(0.05)  # the replaced engine is freed by a thread of its own, milliseconds after the swap
    assert status_kib(pid, "VmRSS") - start < 32 * 1024, (start, status_kib(pid, "VmRSS"))
    code, err = rx.stop()
    assert code == 0, err


def write_big_allowlist(path: Path, n: int = 1_048_000) -> None:
    """n random /32s (fixed seed), none of them a test source: near the most a rules file's src-files may hold
    (1,048,576 prefixes), scattered as spoofed sources are, which takes the engine a good part of a second to
    compile (sorted or packed addresses compile several times faster)."""
    rnd = random.Random(7)
    test_nets = {0xC6336400 >> 8, 0xCB007100 >> 8, 0x0A630000 >> 8}  # 198.51.100/24, 203.0.113/24, 10.99.0/24
    addrs: set[int] = set()
    while len(addrs) < n:
        a = rnd.getrandbits(32)
        if a >> 8 not in test_nets:
            addrs.add(a)
    path.write_text("".join(f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/32\n" for a in addrs))


def test_reload_compiles_beside_the_running_rules(nets: tuple[str, str], tmp_path: Path) -> None:
    """A SIGHUP's rules compile in a thread of their own while the loop goes on classifying with the rules in
    force: frames sent during a long compile (a 1M-prefix allowlist and a 16M-source rate-limit table, ~1 s here)
    are counted and dropped by the old rules
    before the swap (`reloading` true, no reload yet), none is missed, and once swapped the new rules pass the
    same flow. A SIGHUP during a compile is served after it, with the file as it is then; a SIGTERM during a
    compile stops the receiver cleanly, the compile left unswapped."""
    edge, wire = nets
    rules = tmp_path / "rules"
    rules.write_text(RULES)
    write_big_allowlist(tmp_path / "big.txt")
    big_rules = RULES + (
        "rule partner pass src-file big.txt udp dport 53 dns-valid\n"
        "rule flood pass src 203.0.113.0/24 udp dport 53 dns-valid\n"
        "rule limit ratelimit 1000/s burst 100 table 16777216\n"
    )
    flood = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))
    listener = socket_in(edge, ("0.0.0.0", 53))
    rx = Receiver(edge, tmp_path)
    rx.wait_state("READY=1")
    before = queue_counters(edge)[QUEUE]

    rules.write_text(big_rules)
    rx.proc.send_signal(signal.SIGHUP)
    rx.wait_state("RELOADING=1")
    send(flood, 100)
    rx.proc.send_signal(signal.SIGUSR1)  # stats now, not at the next interval
    during = rx.stats_after(lambda s: s["packets"] >= 100)
    assert (during["reloads"], during["packets"], during["dropped"]) == (0, 100, 100), during
    assert during["reloading"] is True, during
    assert drain(listener, quiet=0.3) == {}

    rx.wait_state("READY=1")
    after = rx.stats_after(lambda s: s["reloads"] == 1)
    assert (after["reloads"], after["reload_errors"], after["reloading"]) == (1, 0, False), after
    assert [r["name"] for r in after["rules"]] == ["clients", "partner", "flood", "limit"]
    send(flood, 50)
    got = drain(listener)
    s = rx.stats_after(lambda s: s["packets"] >= 150)
    assert got == {(FLOOD_SRC, PORT_Q4_FLOOD): 50}
    assert (s["packets"], s["passed"], s["dropped"], s["missed"]) == (150, 50, 100, 0), s
    assert queue_counters(edge)[QUEUE] - before == 150  # every frame of the queue classified, none missed

    # Two SIGHUPs, the second during the first's compile and after another edit: both served, the last file wins.
    rules.write_text(big_rules)
    rx.proc.send_signal(signal.SIGHUP)
    rx.wait_state("RELOADING=1")
    rules.write_text(RULES)
    rx.proc.send_signal(signal.SIGHUP)
    s = rx.stats_after(lambda s: s["reloads"] == 3 and not s["reloading"], timeout=30)
    assert (s["reloads"], s["reload_errors"]) == (3, 0), s
    assert [r["name"] for r in s["rules"]] == ["clients"]

    # SIGTERM while a reload compiles: a clean stop that releases the queue.
    rules.write_text(big_rules)
    rx.proc.send_signal(signal.SIGHUP)
    rx.wait_state("RELOADING=1")
    code, err = rx.stop()
    assert code == 0, err
    assert "queue 4 released" in err
    assert (
        len(re.findall(r"rules reloaded from .* compiled in [0-9.]+ ms beside the running ones", err)) == 3
    ), err


# The frames the kernel can queue for a receiver that is not reading: RX_SIZE, read from the backend's source.
RX_RING = int(re.search(r"^#define RX_SIZE (\d+)u\b", (ROOT / "csrc/live/fg_af_xdp.c").read_text(), re.M)[1])


@pytest.mark.parametrize("coalesce", [None, "0", "1000"], ids=["default", "off", "max"])
def test_missed_counts_what_the_kernel_dropped_while_the_receiver_was_held(
    nets: tuple[str, str], tmp_path: Path, coalesce: str | None
) -> None:
    """A receiver held (SIGSTOP, as a busy core would) while more frames than its RX ring holds reach its queue:
    the kernel drops the excess and the receiver reports exactly that as `missed`, every other frame classified
    once it runs again. Each frame the kernel counted on queue 4 is either classified or missed, with the loop's
    wakeup coalescing at its default, off and at its maximum."""
    edge, wire = nets
    (tmp_path / "rules").write_text(RULES)
    flood = socket_in(wire, (FLOOD_SRC, PORT_Q4_FLOOD))
    rx = Receiver(edge, tmp_path, *(["--coalesce-us", coalesce] if coalesce is not None else []))
    rx.wait_state("READY=1")
    assert rx.stats_after(lambda s: "missed" in s)["missed"] == 0
    before = queue_counters(edge)[QUEUE]
    n = RX_RING + 500
    os.kill(rx.proc.pid, signal.SIGSTOP)
    try:
        send(flood, n)
    finally:
        os.kill(rx.proc.pid, signal.SIGCONT)
    seen = queue_counters(edge)[QUEUE] - before
    assert seen == n  # the wire delivered every frame to queue 4: any loss below is the receiver's ring
    s = rx.stats_after(lambda s: s["packets"] + s["missed"] >= n)
    assert s["packets"] + s["missed"] == n, s
    assert s["missed"] >= n - RX_RING, s
    assert s["dropped"] == s["packets"], s
    assert re.search(rf"^floodgate_rx_missed_total{{[^}}]*}} {s['missed']}$", rx.prom.read_text(), re.M)
    # Running again, nothing more is missed.
    send(flood, 300)
    s2 = rx.stats_after(lambda t: t["packets"] >= s["packets"] + 300)
    assert (s2["packets"], s2["missed"]) == (s["packets"] + 300, s["missed"]), (s, s2)
    code, err = rx.stop()
    assert code == 0, err


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RX), *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "af_xdp", "--xdp-takeover=1"], "'--xdp-takeover=1': this option takes no value"),
        (["--backend", "af_xdp", "--xdp"], "'--xdp': give the option's full name (e.g. --xdp-takeover)"),
        (
            ["--backend", "netmap", "--interface", "eth1", "--queue", "4", "--xdp-takeover"],
            "--xdp-takeover applies to --backend af_xdp only",
        ),
        (
            ["--backend", "pcap", "--pcap", "IN.pcap", "--xdp-takeover"],
            "--xdp-takeover applies to the live backends only",
        ),
        # Accepted: parsing goes on to the runtime checks, which find no such interface.
        (
            ["--backend", "af_xdp", "--interface", "fgnone0", "--queue", "0", "--xdp-takeover"],
            "interface fgnone0 not found",
        ),
        (
            ["--backend", "af_xdp", "--coalesce-us", "1001"],
            "--coalesce-us '1001': expected 0-1000 microseconds",
        ),
        (["--backend", "af_xdp", "--coalesce-us", "-5"], "--coalesce-us '-5': expected 0-1000 microseconds"),
        (["--backend", "af_xdp", "--coalesce-us", "5x"], "--coalesce-us '5x': expected 0-1000 microseconds"),
        (
            ["--backend", "netmap", "--interface", "eth1", "--queue", "4", "--coalesce-us", "50"],
            "--coalesce-us applies to --backend af_xdp only",
        ),
        (
            ["--backend", "af_xdp", "--interface", "fgnone0", "--queue", "0", "--coalesce-us", "0"],
            "interface fgnone0 not found",
        ),
    ],
)
def test_af_xdp_only_option_parsing(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "rules").write_text(RULES)
    r = _cli(*args, "--rules", str(tmp_path / "rules"), "--stats-json", str(tmp_path / "rx.json"))
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "rx.json").exists()


def test_help_documents_every_option() -> None:
    """Every long option main.c accepts has its own line in --help (and appears in the usage synopsis)."""
    table = re.findall(r'\{"([a-z-]+)", (?:no|required)_argument', (ROOT / "csrc" / "main.c").read_text())
    assert "xdp-takeover" in table and len(table) >= 16, table
    r = _cli("--help")
    assert r.returncode == 0 and r.stderr == ""
    usage, _, options = r.stdout.partition("\n\n")
    for name in table:
        assert re.search(rf"^  --{name}\b", options, re.M), f"--{name} has no line in --help"
        assert f"--{name}" in usage, f"--{name} is missing from the usage synopsis"
