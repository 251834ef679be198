"""The lab's ethtool on edges: the C client (lab/nicmodel/ethtool-client.c) and the NIC model's fork server
(lab/nicmodel/ethtool-server). The client may send straight to the real ethtool only options the front end never
models, and for those its output is the real ethtool's; every other call gets exactly what the front end
(lab/nicmodel/ethtool-frontend) prints and returns - through the server when it runs, by running the front end
itself when it does not - and a request the server cannot take changes nothing and loses nothing."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_nicmodel_frontend import ModelNic, Result

REPO = Path(__file__).resolve().parents[2]
CLIENT_SRC = REPO / "lab" / "nicmodel" / "ethtool-client.c"
SERVER = REPO / "lab" / "nicmodel" / "ethtool-server"
FRONTEND = REPO / "lab" / "nicmodel" / "ethtool-frontend"
REAL = "/usr/sbin/ethtool"
needs_ethtool = pytest.mark.skipif(not Path(REAL).exists(), reason="needs ethtool (make deps)")


def never_modelled() -> set[str]:
    """The options of the client's never_modelled[] (the line after its NEVER_MODELLED comment)."""
    lines = CLIENT_SRC.read_text().splitlines()
    marker = next(i for i, line in enumerate(lines) if "NEVER_MODELLED" in line)
    m = re.search(r"never_modelled\[\] = \{([^}]*)\}", lines[marker + 1])
    assert m, f"unexpected pass-through line: {lines[marker + 1]!r}"
    return {opt.strip().strip('"') for opt in m.group(1).split(",")} - {"NULL"}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Path:
    """The client built as lab/nicmodel/Makefile builds it (C11, -Wall -Wextra -Werror, static)."""
    out = tmp_path_factory.mktemp("client") / "ethtool"
    cmd = [
        "gcc",
        "-std=c11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-static",
        "-o",
        str(out),
        str(CLIENT_SRC),
    ]
    subprocess.run(cmd, check=True)
    return out


def test_client_passes_through_only_options_the_front_end_never_models() -> None:
    loader = importlib.machinery.SourceFileLoader("fg_nicmodel_frontend_c", str(FRONTEND))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    fe = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = fe
    loader.exec_module(fe)
    modelled = set(fe.SHOW_RXFH + fe.SET_RXFH + fe.SHOW_NFC + fe.SET_NFC + fe.SHOW_FEATURES + fe.SET_FEATURES)
    passed = never_modelled()
    assert passed >= {"-i", "-l", "-S"}, f"the client passes through {sorted(passed)}"
    assert not passed & modelled, f"the client would bypass the NIC model for {sorted(passed & modelled)}"


@needs_ethtool
def test_client_pass_through_output_is_real_ethtool(client: Path) -> None:
    got = subprocess.run([str(client), "-i", "lo"], capture_output=True, text=True, check=False)
    real = subprocess.run([REAL, "-i", "lo"], capture_output=True, text=True, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)


class Installed:
    """The layout lab/up.sh installs (sbin/ethtool = the client, sbin/fg-nicmodel, lib/floodgate-lab/ with the
    front end and the server), driven in the model NIC's netns; the server started on demand in that netns."""

    def __init__(self, tmp: Path, nic: ModelNic, client: Path) -> None:
        self.nic = nic
        self.sbin, lib = tmp / "tree" / "sbin", tmp / "tree" / "lib" / "floodgate-lab"
        self.sbin.mkdir(parents=True)
        lib.mkdir(parents=True)
        shutil.copy(client, self.sbin / "ethtool")
        (self.sbin / "fg-nicmodel").symlink_to("ethtool")
        shutil.copy(FRONTEND, lib / "nicmodel_ethtool.py")
        shutil.copy(SERVER, lib / "nicmodel_server.py")
        self.server_py = lib / "nicmodel_server.py"
        self.sock = tmp / "nicmodel.sock"
        self.env = {
            **os.environ,
            "FLOODGATE_NICMODEL_CONF": str(nic.conf),
            "FLOODGATE_NICMODEL_SOCK": str(self.sock),
            "LC_ALL": "C",
        }
        self.server: subprocess.Popen[bytes] | None = None

    def run(self, program: str, *args: str) -> Result:
        argv = ["ip", "netns", "exec", self.nic.netns, program, *args]
        p = subprocess.run(argv, capture_output=True, text=True, env=self.env, check=False)
        return Result(p.returncode, p.stdout, p.stderr)

    def ethtool(self, *args: str) -> Result:
        return self.run(str(self.sbin / "ethtool"), *args)

    def start_server(self) -> None:
        argv = ["ip", "netns", "exec", self.nic.netns, "/usr/bin/python3", "-I", "-S", str(self.server_py)]
        self.server = subprocess.Popen(argv, env=self.env, stderr=subprocess.PIPE)
        for _ in range(100):
            if self.sock.exists():
                return
            time.sleep(0.05)
        raise AssertionError("the server did not create its socket")

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=10)
            self.server = None


@pytest.fixture
def installed(tmp_path, client) -> Iterator[Installed]:
    nic = ModelNic(tmp_path, "eth3", 8)
    tree = Installed(tmp_path, nic, client)
    try:
        yield tree
    finally:
        tree.stop_server()
        nic.close()


WRITES = [
    ("-X", "eth3", "weight", "1", "1", "1", "1", "0", "1", "1", "1"),
    ("-K", "eth3", "ntuple", "on"),
    ("-N", "eth3", "flow-type", "udp4", "dst-port", "53", "action", "4"),
]
# What the model serves, its errors (a missing rule, bad arguments), and the real ethtool's answers: options the
# model never serves and interfaces it does not model (the front end then runs the real ethtool).
READS = [
    ("-x", "eth3"),
    ("-n", "eth3"),
    ("-n", "eth3", "rule", "2045"),
    ("-k", "eth3"),
    ("-x", "eth3", "context", "x"),
    ("-n", "eth3", "rule", "9"),
    ("-i", "eth3"),
    ("-l", "eth3"),
    ("-S", "eth3"),
    ("-k", "peer0"),
    ("-x", "peer0"),
]


def _served(tree: Installed) -> dict[tuple[str, ...], Result]:
    for args in WRITES:
        got = tree.ethtool(*args)
        assert got.rc == 0, (args, got)
    return {args: tree.ethtool(*args) for args in READS}


@pytest.mark.root
@needs_ethtool
def test_installed_client_serves_the_model_with_and_without_the_server(installed: Installed) -> None:
    """Without the server the client runs the front end: its answers are the front end's own. With the server,
    from a freshly reset model, every answer (stdout, stderr, exit code) is the same, and the model's state is."""
    nic, tree = installed.nic, installed
    assert tree.run(str(tree.sbin / "fg-nicmodel"), "reset", "eth3").rc == 0
    direct = _served(tree)
    assert direct[("-n", "eth3", "rule", "2045")].stdout.endswith("\tAction: Direct to queue 4\n\n")
    for args in [a for a in READS if a[1] == "eth3" and a[0] in ("-x", "-n", "-k")]:
        assert direct[args] == nic.ethtool(args[0], *args[2:]), args
    for args in [("-i", "eth3"), ("-l", "eth3"), ("-S", "eth3"), ("-k", "peer0"), ("-x", "peer0")]:
        assert direct[args] == tree.run(REAL, *args), args
    assert direct[("-n", "eth3", "rule", "9")].rc == 1

    tree.start_server()
    # The front end gone from the tree: only the server, which imported it at its start, can answer now.
    (tree.server_py.parent / "nicmodel_ethtool.py").unlink()
    assert tree.run(str(tree.sbin / "fg-nicmodel"), "reset", "eth3").rc == 0
    served = _served(tree)
    assert served == direct
    stats = tree.run(str(tree.sbin / "fg-nicmodel"), "stats", "eth3")
    assert stats.rc == 0 and stats.stdout.startswith('{"interface": "eth3", "model_steered": {"0": ')
    assert tree.server is not None and tree.server.poll() is None
    tree.stop_server()
    assert (
        "No module named 'nicmodel_ethtool'" in tree.ethtool("-x", "eth3").stderr
    )  # no server: the client's own run


@pytest.mark.root
@needs_ethtool
def test_server_refuses_a_request_that_is_not_one_and_keeps_serving(installed: Installed) -> None:
    """A connection without descriptors, or with an argv that is not NUL-terminated, gets no exit code (the client
    then says so instead of guessing), changes nothing, and the server goes on serving."""
    tree = installed
    tree.start_server()
    before = tree.ethtool("-x", "eth3")
    assert before.rc == 0
    for payload in (b"ethtool\0-X\0eth3\0equal\0" + b"2\0", b"ethtool\0-X\0eth3\0equal\0" + b"2"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(str(tree.sock))
            if payload.endswith(b"\0"):
                s.send(payload)  # no SCM_RIGHTS: no stdout to answer on
            else:
                s.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(12))])
            s.settimeout(10)
            assert s.recv(16) == b""
    assert tree.ethtool("-x", "eth3") == before  # the table was not equalised over 2 queues
    assert tree.server is not None and tree.server.poll() is None


@pytest.mark.root
@needs_ethtool
def test_client_reports_a_call_the_server_ended_without_an_exit_code(installed: Installed, tmp_path) -> None:
    """A server that closes a call without its exit code: the client fails it with a message saying where to
    look, and never runs it a second time."""
    tree = installed
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as fake:
        fake.bind(str(tree.sock))
        fake.listen(1)
        p = subprocess.Popen(
            [str(tree.sbin / "ethtool"), "-x", "eth3"],
            env=tree.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        conn, _ = fake.accept()
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(12))
        assert msg.split(b"\0")[1:] == [b"-x", b"eth3", b""]
        for _, _, data in anc:
            for fd in memoryview(data).cast("i"):
                os.close(fd)
        conn.close()
        out, err = p.communicate(timeout=10)
    assert p.returncode == 1 and out == b""
    assert b"ended the call without its exit code" in err and b"journalctl -u fg-nicmodel" in err
