"""The lab NIC model's RSS hash and map layouts (lab/nicmodel): Toeplitz against the Microsoft RSS
verification suite, the BPF program's per-byte lookup table against the bit-serial definition, the front
end's weight tables against ethtool 6.1's recorded ones, and the front end's struct layouts against the
BTF of the compiled BPF object."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "lab" / "nicmodel" / "ethtool-frontend"
BPF_OBJ = REPO / "lab" / ".state" / "build" / "nicmodel.bpf.o"


def load_frontend():
    loader = importlib.machinery.SourceFileLoader("fg_nicmodel_frontend", str(FRONTEND))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


fe = load_frontend()

# Microsoft "Verifying the RSS Hash Calculation" (IPv4 part): source, sport, destination, dport, the hash
# of the 4-tuple (TCP) and of the 2-tuple (addresses only), with the default key.
MS_IPV4 = [
    ("66.9.149.187", 2794, "161.142.100.80", 1766, 0x51CCC178, 0x323E8FC2),
    ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xC626B0EA, 0xD718262A),
    ("24.19.198.95", 12898, "12.22.207.184", 38024, 0x5C2B394A, 0xD2D0A5DE),
    ("38.27.205.30", 48228, "209.142.163.6", 2217, 0xAFC7327F, 0x82989176),
    ("153.39.163.191", 44251, "202.188.127.2", 1303, 0x10E828A2, 0x5D1809C5),
]
MS_IPV6 = [
    ("3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x40207D3D, 0x2CC18CD5),
    ("3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0xDDE51BBF, 0x0F0C461C),
    ("3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x02D1FEEF, 0x4B61E985),
]


def _input(family: int, src: str, sport: int, dst: str, dport: int) -> bytes:
    return socket.inet_pton(family, src) + socket.inet_pton(family, dst) + struct.pack("!HH", sport, dport)


@pytest.mark.parametrize(("family", "vectors"), [(socket.AF_INET, MS_IPV4), (socket.AF_INET6, MS_IPV6)])
def test_toeplitz_matches_microsoft_verification_suite(family, vectors):
    for src, sport, dst, dport, four_tuple, two_tuple in vectors:
        data = _input(family, src, sport, dst, dport)
        assert fe.toeplitz(fe.MS_KEY, data) == four_tuple, (src, dst)
        assert fe.toeplitz(fe.MS_KEY, data[:-4]) == two_tuple, (src, dst)


@pytest.mark.parametrize("key", [fe.MS_KEY, bytes(range(40)), bytes.fromhex("b1" * 40)])
def test_lookup_table_equals_bitwise_toeplitz(key):
    table = struct.unpack(f"<{fe.LUT_BYTES * 256}I", fe.toeplitz_lut(key))
    for src, sport, dst, dport, _, _ in MS_IPV6:
        data = _input(socket.AF_INET6, src, sport, dst, dport)
        by_table = 0
        for i, b in enumerate(data):
            by_table ^= table[i * 256 + b]
        assert by_table == fe.toeplitz(key, data)


def test_weight_tables_match_recorded_ethtool():
    """ethtool 6.1's fill_indir_table, recorded for several sizes; the model's table has 128 entries."""
    path = REPO / "tests" / "fixtures" / "ethtool" / "weight_tables.ethtool-6.1.jsonl"
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    checked = 0
    for case in cases:
        if case["size"] != fe.TABLE_SIZE:
            continue
        assert fe.weights_table(case["weights"], 0) == case["table"], case["weights"]
        checked += 1
    assert checked >= 5


def _btf_struct_sizes() -> dict[str, int]:
    if not BPF_OBJ.exists():
        subprocess.run(["make", "-s", "-C", str(REPO / "lab" / "nicmodel")], check=True)
    raw = subprocess.run(
        ["bpftool", "btf", "dump", "file", str(BPF_OBJ), "format", "raw"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name: int(size) for name, size in re.findall(r"STRUCT '(\w+)' size=(\d+)", raw)}


def test_frontend_layouts_match_bpf_object():
    sizes = _btf_struct_sizes()
    assert sizes["fg_rule"] == struct.calcsize(fe.RULE_FMT)
    assert sizes["fg_config"] == struct.calcsize(fe.CONFIG_FMT)
    assert sizes["fg_lut"] == len(fe.toeplitz_lut(fe.MS_KEY))
