"""A small, slow, obviously-correct Python model of the C filter engine, and frame builders.

The hypothesis tests (tests/unit/test_engine_model.py) run the same generated frames and rules through this
model and through the C engine (cffi binding) and require identical verdicts, deciding rules and counters.
It follows docs/rules-format.md, written independently of the C code (no src-file: text rules only).
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CSRC = REPO / "csrc"
RX = CSRC / "floodgate-rx"

DECIDED_DEFAULT = 0xFFFF
DECIDED_MALFORMED = 0xFFFE
BURST_MAX = 64
QTYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
    "NAPTR": 35, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "TLSA": 52, "SVCB": 64, "HTTPS": 65,
    "CAA": 257, "IXFR": 251, "AXFR": 252, "ANY": 255,
}  # fmt: skip
EXT_HEADERS = {0, 43, 60, 44, 51}
MASK64 = (1 << 64) - 1


def load_binding():  # type: ignore[no-untyped-def]
    """The cffi binding (csrc/python/floodgate_engine.py), built by `make -C csrc binding`."""
    sys.path.insert(0, str(CSRC / "python"))
    import floodgate_engine

    return floodgate_engine


def pcap_bytes(frames: list[bytes], start_s: int = 1_700_000_000, step_us: int = 10) -> bytes:
    """A classic little-endian pcap (Ethernet) holding frames, step_us apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        t = i * step_us
        out.append(struct.pack("<IIII", start_s + t // 1_000_000, t % 1_000_000, len(f), len(f)) + f)
    return b"".join(out)


# ---------------------------------------------------------------- frame builders


def dns_query(qname: str, qtype: int = 1, flags: int = 0x0100, qdcount: int = 1, qid: int = 0x1234) -> bytes:
    q = b"".join(bytes([len(label)]) + label.encode() for label in qname.split(".") if label) + b"\0"
    return struct.pack("!HHHHHH", qid, flags, qdcount, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 1024, 0, 0) + payload


def ipv4(
    src: str, proto: int, payload: bytes, frag: int = 0, options: bytes = b"", dst: str = "192.0.2.53"
) -> bytes:
    ihl = 5 + len(options) // 4
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        ihl * 4 + len(payload),
        1,
        frag,
        64,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return hdr + options + payload


def ipv6(src: str, nh: int, payload: bytes, dst: str = "2001:db8::53") -> bytes:
    return (
        struct.pack("!IHBB", 0x60000000, len(payload), nh, 64)
        + ipaddress.IPv6Address(src).packed
        + ipaddress.IPv6Address(dst).packed
        + payload
    )


def ether(l3: bytes, ethertype: int, vlans: int = 0) -> bytes:
    tags = b""
    for i in range(vlans):
        tpid = 0x88A8 if (vlans == 2 and i == 0) else 0x8100
        tags += struct.pack("!HH", tpid, 10 + i)
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02" + tags + struct.pack("!H", ethertype) + l3


# ---------------------------------------------------------------- packet facts (the parser's contract)


@dataclass
class Pkt:
    malformed: bool = False
    family: int = 0  # 0 not IP, 4, 6
    src: int = 0
    proto: int = 0
    l4: bool = False
    frag: bool = False
    sport: int = 0
    dport: int = 0
    dnsq: bool = False
    dnsok: bool = False
    qtype: int = 0
    labels: list[bytes] = field(default_factory=list)


def _dns(d: bytes, p: Pkt) -> None:
    if len(d) < 12:
        return
    qd = int.from_bytes(d[4:6], "big")
    if qd == 0:
        return
    off, wire, labels = 12, 0, []
    while True:
        if off >= len(d):
            return
        n = d[off]
        if n == 0:
            wire += 1
            off += 1
            break
        if n & 0xC0:
            return
        if wire + n + 2 > 255:
            return
        labels.append(d[off + 1 : off + 1 + n])
        wire += n + 1
        off += n + 1
    if off + 4 > len(d):
        return
    p.dnsq, p.labels, p.qtype = True, labels, int.from_bytes(d[off : off + 2], "big")
    p.dnsok = not (d[2] & 0x80) and ((d[2] >> 3) & 0xF) == 0 and qd == 1


def _l4(b: bytes, first_frag: bool, p: Pkt) -> None:
    if p.proto == 17:
        if len(b) < 8:
            p.malformed = True
            return
        ulen = int.from_bytes(b[4:6], "big")
        if ulen < 8 or (not first_frag and ulen > len(b)):
            p.malformed = True
            return
        p.sport, p.dport, p.l4 = int.from_bytes(b[0:2], "big"), int.from_bytes(b[2:4], "big"), True
        plen = len(b) - 8 if first_frag else ulen - 8
        _dns(b[8 : 8 + plen], p)
    elif p.proto == 6:
        if len(b) < 20 or (b[12] >> 4) * 4 < 20 or (b[12] >> 4) * 4 > len(b):
            p.malformed = True
            return
        p.sport, p.dport, p.l4 = int.from_bytes(b[0:2], "big"), int.from_bytes(b[2:4], "big"), True


def parse(f: bytes) -> Pkt:
    p = Pkt()
    if len(f) < 14:
        p.malformed = True
        return p
    off, tags = 12, 0
    et = int.from_bytes(f[12:14], "big")
    while et in (0x8100, 0x88A8):
        if tags == 2 or len(f) < off + 6:
            p.malformed = True
            return p
        off += 4
        tags += 1
        et = int.from_bytes(f[off : off + 2], "big")
    b = f[off + 2 :]
    if et == 0x0800:
        if len(b) < 20 or b[0] >> 4 != 4:
            p.malformed = True
            return p
        ihl, tot = (b[0] & 15) * 4, int.from_bytes(b[2:4], "big")
        if ihl < 20 or tot < ihl or tot > len(b):
            p.malformed = True
            return p
        p.family, p.proto, p.src = 4, b[9], int.from_bytes(b[12:16], "big")
        fo = int.from_bytes(b[6:8], "big")
        offset, mf = fo & 0x1FFF, bool(fo & 0x2000)
        p.frag = bool(offset or mf)
        if offset:
            return p
        _l4(b[ihl:tot], mf, p)
    elif et == 0x86DD:
        if len(b) < 40 or b[0] >> 4 != 6:
            p.malformed = True
            return p
        plen = int.from_bytes(b[4:6], "big")
        if plen > len(b) - 40:
            p.malformed = True
            return p
        p.family, p.src = 6, int.from_bytes(b[8:24], "big")
        nh, h, first_frag, count = b[6], b[40 : 40 + plen], False, 0
        while nh in EXT_HEADERS:
            if count == 8 or len(h) < 8:
                p.malformed = True
                return p
            count += 1
            if nh == 44:
                hl = 8
                fo = int.from_bytes(h[2:4], "big")
                p.frag = True
                if fo >> 3:
                    p.proto = h[0]
                    return p
                first_frag = bool(fo & 1)
            elif nh == 51:
                hl = (h[1] + 2) * 4
            else:
                hl = (h[1] + 1) * 8
            if hl > len(h):
                p.malformed = True
                return p
            nh, h = h[0], h[hl:]
        p.proto = nh
        _l4(h, first_frag, p)
    return p


# ---------------------------------------------------------------- rules


@dataclass
class Rule:
    name: str
    action: str
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None = None
    family: int = 0
    proto: int | None = None
    dports: set[int] | None = None
    sports: set[int] | None = None
    frag: bool = False
    dns_valid: bool = False
    qtypes: set[int] | None = None
    suffixes: list[list[bytes]] | None = None
    rate: int = 0
    burst: int = 0
    entries: int = 0
    hits: int = 0
    table: list[list[int]] = field(default_factory=list)  # sets of [key, tat] pairs
    evictions: int = 0


def _ports(v: str) -> set[int]:
    out: set[int] = set()
    for item in v.split(","):
        lo, _, hi = item.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def parse_rules(text: str) -> tuple[str, list[Rule]]:
    """The rules text -> (default action, rules). Valid text only: errors are the C parser's business."""
    default, rules = "pass", []
    for line in text.splitlines():
        toks = []
        for t in line.split():
            if t.startswith("#"):
                break
            toks.append(t)
        if not toks:
            continue
        if toks[0] == "default":
            default = toks[1]
            continue
        r = Rule(name=toks[1], action=toks[2])
        i = 3
        if r.action == "ratelimit":
            r.rate, r.burst, r.entries = int(toks[3][:-2]), int(toks[5]), 1048576
            i = 6
            if i < len(toks) and toks[i] == "table":
                r.entries, i = int(toks[i + 1]), i + 2
            n = 4
            while n < r.entries:
                n *= 2
            r.table = [[] for _ in range(n // 4)]
        while i < len(toks):
            k = toks[i]
            i += 1
            if k in ("ipv4", "ipv6"):
                r.family = int(k[-1])
            elif k in ("udp", "tcp"):
                r.proto = 17 if k == "udp" else 6
            elif k == "fragment":
                r.frag = True
            elif k == "dns-valid":
                r.dns_valid = True
            else:
                v = toks[i]
                i += 1
                if k == "src":
                    r.nets = (r.nets or []) + [ipaddress.ip_network(x) for x in v.split(",")]
                elif k == "proto":
                    r.proto = int(v)
                elif k == "dport":
                    r.dports = _ports(v)
                elif k == "sport":
                    r.sports = _ports(v)
                elif k == "qtype":
                    r.qtypes = {QTYPES[x] if x in QTYPES else int(x) for x in v.split(",")}
                elif k == "qname-suffix":
                    r.suffixes = [
                        [lb.lower().encode() for lb in d.rstrip(".").split(".")] for d in v.split(",")
                    ]
        rules.append(r)
    return default, rules


def _matches(r: Rule, p: Pkt) -> bool:
    if r.family and p.family != r.family:
        return False
    if r.proto is not None and (not p.family or p.proto != r.proto):
        return False
    if r.frag and not p.frag:
        return False
    if r.dports is not None and (not p.l4 or p.dport not in r.dports):
        return False
    if r.sports is not None and (not p.l4 or p.sport not in r.sports):
        return False
    if (r.dns_valid or r.qtypes is not None or r.suffixes is not None) and not p.dnsq:
        return False
    if r.dns_valid and not p.dnsok:
        return False
    if r.qtypes is not None and p.qtype not in r.qtypes:
        return False
    if r.nets is not None:
        if not p.family:
            return False
        addr = ipaddress.ip_address(p.src) if p.family == 4 else ipaddress.IPv6Address(p.src)
        if not any(addr.version == n.version and addr in n for n in r.nets):
            return False
    if r.suffixes is not None:
        labels = [lb.lower() for lb in p.labels]
        if not any(len(s) <= len(labels) and labels[len(labels) - len(s) :] == s for s in r.suffixes):
            return False
    return True


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK64
    k ^= k >> 33
    return k


def _conform(r: Rule, p: Pkt, now: int) -> bool:
    """GCRA over a 4-way set-associative table; evict the empty slot, else the smallest TAT (first)."""
    if p.family == 4:
        key = 0xFFFFFFFF00000000 | p.src
    else:  # the /64; ffff:ffff::/32 (multicast) is moved off the IPv4 keys to ffff:fffe::/32
        hi = p.src >> 64
        key = (hi ^ (1 << 32) if hi >> 32 == 0xFFFFFFFF else hi) or 1
    nsets = len(r.table)
    idx = _fmix64(key) >> (64 - (nsets.bit_length() - 1)) if nsets > 1 else 0
    s = r.table[idx]
    e = next((x for x in s if x[0] == key), None)
    if e is None:
        if len(s) < 4:
            e = [key, now]
            s.append(e)
        else:
            e = min(s, key=lambda x: x[1])  # min() returns the first of equals, as the C loop
            r.evictions += 1
            e[0], e[1] = key, now
    interval = 1_000_000_000 // r.rate
    tau = (r.burst - 1) * interval
    tat = max(e[1], now)
    if tat - now > tau:
        return False
    e[1] = tat + interval
    return True


class Model:
    def __init__(self, text: str) -> None:
        self.default, self.rules = parse_rules(text)
        self.c = {"packets": 0, "passed": 0, "dropped": 0, "malformed": 0}
        self.default_hits = 0

    def classify(self, frames: list[bytes], now_ns: int | list[int] = 0) -> tuple[list[int], list[int]]:
        verdicts, decided = [], []
        for i, f in enumerate(frames):
            now = now_ns if isinstance(now_ns, int) else now_ns[i // BURST_MAX]
            v, who = self._one(parse(f), now)
            verdicts.append(v)
            decided.append(who)
            self.c["packets"] += 1
            self.c["passed" if v else "dropped"] += 1
        return verdicts, decided

    def _one(self, p: Pkt, now: int) -> tuple[int, int]:
        if p.malformed:
            self.c["malformed"] += 1
            return 0, DECIDED_MALFORMED
        for k, r in enumerate(self.rules):
            if not _matches(r, p):
                continue
            if r.action == "ratelimit":
                if not p.family or _conform(r, p, now):
                    continue
                r.hits += 1
                return 0, k
            r.hits += 1
            return (1 if r.action == "pass" else 0), k
        self.default_hits += 1
        return (1 if self.default == "pass" else 0), DECIDED_DEFAULT
