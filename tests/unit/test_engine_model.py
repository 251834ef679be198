"""The C engine (through its cffi binding) against the Python reference model, on generated frames and rules.

Each example runs one batch through both, one cffi call per batch, and requires the same verdict and the same
deciding rule for every frame, the same counters, per-rule hits and rate-limit evictions.
"""

from __future__ import annotations

import ipaddress

import engine_model as m
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

fe = m.load_binding()

PREFIXES = ["198.51.100.0/24", "198.51.100.128/25", "10.0.0.0/8", "0.0.0.0/0", "203.0.113.7/32",
            "2001:db8::/32", "2001:db8:1::/48", "::/0", "2001:db8::1/128"]  # fmt: skip
SOURCES = ["198.51.100.1", "198.51.100.200", "10.9.8.7", "203.0.113.7", "203.0.113.8", "192.0.2.1",
           "2001:db8::1", "2001:db8:1::5", "2001:db8:2::1", "fe80::1", "ffff:ffff:c000:201::1"]  # fmt: skip
# (the last: a /64 whose rate-limit key would read like 192.0.2.1's)
NAMES = ["example.com", "www.example.com", "WWW.Example.COM", "notexample.com", "a.b.c.example.org", "",
         "x.y", "com", "deep." * 20 + "example.com"]  # fmt: skip
SUFFIXES = ["example.com", "com", "Example.ORG.", "b.c.example.org", "y"]
QTYPE_NAMES = ["A", "AAAA", "MX", "ANY", "255", "16", "0"]


@st.composite
def rule_lines(draw: st.DrawFn, idx: int) -> str:
    action = draw(st.sampled_from(["pass", "drop", "ratelimit"]))
    if action == "ratelimit":
        rate = draw(st.sampled_from([1, 10, 1000, 1_000_000]))
        action += f" {rate}/s burst {draw(st.integers(1, 5))} table 1024"
    terms: list[str] = []
    if draw(st.integers(0, 2)) == 0:
        terms.append("src " + ",".join(draw(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=3))))
    fam = draw(st.sampled_from(["", "", "", "ipv4", "ipv6"]))
    if fam:
        terms.append(fam)
    proto = draw(st.sampled_from(["", "", "", "udp", "tcp", "proto 1", "proto 17"]))
    if proto:
        terms.append(proto)
    if draw(st.integers(0, 3)) == 0:
        terms.append("dport " + draw(st.sampled_from(["53", "80,443", "1-1024", "53,5353"])))
    if draw(st.integers(0, 5)) == 0:
        terms.append("sport " + draw(st.sampled_from(["1024-65535", "53"])))
    if draw(st.integers(0, 6)) == 0:
        terms.append("fragment")
    if draw(st.integers(0, 2)) == 0:
        terms.append("dns-valid")
    if draw(st.integers(0, 3)) == 0:
        terms.append(
            "qtype " + ",".join(draw(st.lists(st.sampled_from(QTYPE_NAMES), min_size=1, max_size=3)))
        )
    if draw(st.integers(0, 2)) == 0:
        terms.append(
            "qname-suffix " + ",".join(draw(st.lists(st.sampled_from(SUFFIXES), min_size=1, max_size=3)))
        )
    draw(st.randoms()).shuffle(terms)
    return f"rule r{idx} {action} {' '.join(terms)}".rstrip()


@st.composite
def rule_sets(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 6))
    lines = [f"default {draw(st.sampled_from(['pass', 'drop']))}"] if draw(st.booleans()) else []
    lines += [draw(rule_lines(i)) for i in range(n)]
    return "\n".join(lines) + "\n"


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    src = draw(st.sampled_from(SOURCES))
    v6 = ":" in src
    kind = draw(st.sampled_from(["dns"] * 6 + ["tcp", "icmp", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=120))
    sport = draw(st.sampled_from([53, 1000, 40000]))
    dport = draw(st.sampled_from([53, 80, 5353]))
    if kind == "dns":
        flags = draw(st.sampled_from([0x0100, 0x0100, 0x0100, 0x8180, 0x2800, 0x0000]))
        qd = draw(st.sampled_from([1, 1, 1, 1, 0, 2]))
        qt = draw(st.sampled_from([1, 1, 28, 255, 16, 0]))
        l4 = m.udp(sport, dport, m.dns_query(draw(st.sampled_from(NAMES)), qt, flags, qd))
        proto = 17
    elif kind == "tcp":
        l4, proto = m.tcp(sport, dport), 6
    else:
        l4, proto = b"\x08\x00\x00\x00\x00\x01\x00\x01", (58 if v6 else 1)
    if v6:
        l3, et = m.ipv6(src, proto, l4), 0x86DD
    else:
        frag = draw(st.sampled_from([0] * 6 + [0x2000, 0x0010, 0x4000]))
        opts = draw(st.sampled_from([b"", b"", b"\x01\x01\x01\x00"]))
        l3, et = m.ipv4(src, proto, l4, frag=frag, options=opts), 0x0800
    f = m.ether(l3, et, vlans=draw(st.sampled_from([0, 0, 0, 1, 2])))
    mutate = draw(st.integers(0, 15))
    if mutate == 0:  # cut it short
        f = f[: draw(st.integers(0, len(f)))]
    elif mutate == 1:  # flip one byte
        i = draw(st.integers(0, len(f) - 1))
        f = f[:i] + bytes([draw(st.integers(0, 255))]) + f[i + 1 :]
    elif mutate == 2:  # Ethernet padding
        f += b"\0" * draw(st.integers(1, 20))
    return f


@st.composite
def batches(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(1, 150))
    return draw(st.lists(frames(), min_size=n, max_size=n))


def _compare(rules: str, batch: list[bytes], clocks: list[int]) -> None:
    eng = fe.Engine(rules)
    model = m.Model(rules)
    got = eng.classify(batch, clocks)
    want = model.classify(batch, clocks)
    assert got == want, f"rules:\n{rules}"
    assert eng.counters() == model.c
    assert [r.hits for r in eng.rules()] == [r.hits for r in model.rules]
    assert eng.default() == (model.default, model.default_hits)
    assert eng.evictions() == sum(r.evictions for r in model.rules)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), batch=batches(), start=st.integers(0, 2**40))
def test_engine_matches_model(rules: str, batch: list[bytes], start: int) -> None:
    nb = max(1, (len(batch) + 63) // 64)
    clocks = [start + i * 7_000_000 for i in range(nb)]
    _compare(rules, batch, clocks)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.sampled_from([1, 3, 100, 10_000]),
    burst=st.integers(1, 8),
    srcs=st.lists(st.integers(0, 40), min_size=1, max_size=300),
    step=st.sampled_from([0, 1_000, 1_000_000, 50_000_000]),
)
def test_rate_limit_matches_model(rate: int, burst: int, srcs: list[int], step: int) -> None:
    """Many sources in the smallest table: GCRA arithmetic and set eviction, frame by frame in time."""
    rules = f"default drop\nrule lim ratelimit {rate}/s burst {burst} table 1024\nrule ok pass udp\n"
    batch = [m.ether(m.ipv4(f"10.0.{s % 3}.{s}", 17, m.udp(1, 53, b"")), 0x0800) for s in srcs]
    # one frame per call so the clock can advance per frame
    eng, model = fe.Engine(rules), m.Model(rules)
    for i, f in enumerate(batch):
        assert eng.classify([f], 10**12 + i * step) == model.classify([f], 10**12 + i * step)
    assert eng.counters() == model.c


def test_table_eviction_matches_model() -> None:
    """100k spoofed sources through a 1024-entry table: the same victims, counted the same."""
    rules = "rule lim ratelimit 1/s burst 1 table 1024\nrule ok pass\n"
    batch = [
        m.ether(
            m.ipv4(str(ipaddress.IPv4Address((i * 2654435761) & 0xFFFFFFFF)), 17, m.udp(1, 53, b"")), 0x0800
        )
        for i in range(20000)
    ]
    # the last 3000 sources again: those still in their set (the 4 newest of it: which ones depends on the set
    # each source hashes to) are dropped, the evicted ones pass again
    batch += batch[-3000:]
    eng, model = fe.Engine(rules), m.Model(rules)
    clocks = [10**12 + i for i in range((len(batch) + 63) // 64)]
    got = eng.classify(batch, clocks)
    assert got == model.classify(batch, clocks)
    assert 0 < got[0][20000:].count(0) < 3000  # some still tracked (dropped), some evicted (passed)
    assert eng.evictions() == sum(r.evictions for r in model.rules) > 18000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n\nrul x\n", "line 3: unknown statement 'rul' (expected 'rule', 'default' or a '#' comment)"),
        (
            "\n\n\nrule clients pass dprt 53\n",
            "line 4: rule 'clients': unknown match term 'dprt' (expected src, src-file, ipv4, ipv6, udp, tcp, "
            "proto, dport, sport, fragment, dns-valid, qtype, qname-suffix)",
        ),
        (
            "\n\n\nrule clients pass src 198.51.100.1/24\n",
            "line 4: rule 'clients': bad prefix '198.51.100.1/24': host bits set (did you mean 198.51.100.0/24?)",
        ),
        (
            "\nrule clients pass\n\n\nrule clients drop\n",
            "line 5: rule 'clients' is already defined on line 2 (rule names must be unique)",
        ),
        (
            "\n" * 5 + "rule limit ratelimit 100 burst 1\n",
            "line 6: rule 'limit': bad rate '100' (expected RATE/s with RATE 1-1000000000, e.g. 100/s)",
        ),
        (
            "\n" * 8 + "rule x pass " + "x" * 5000 + "\n",
            "line 9: line longer than 4096 bytes (put long prefix lists in a src-file)",
        ),
        ("default drop\n" + "\n" * 9 + "default pass\n", "line 11: 'default' given twice (first on line 1)"),
    ],
)
def test_documented_error_messages(text: str, message: str) -> None:
    """The messages docs/rules-format.md shows are the ones the engine gives, word for word."""
    with pytest.raises(fe.RulesError) as err:
        fe.Engine(text)
    assert str(err.value) == message
    doc = (m.REPO / "docs" / "rules-format.md").read_text()
    assert message in doc


def test_src_file_error_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "partners.txt").write_text("\n" * 11 + "2001:db8::/129\n")
    text = "\n" * 6 + "rule partners pass src-file partners.txt\n"
    with pytest.raises(fe.RulesError) as err:
        fe.Engine(text, allow_files=True, base_dir=str(tmp_path))
    message = (
        "line 7: rule 'partners': src-file 'partners.txt': line 12: bad prefix '2001:db8::/129': "
        "prefix length must be 0-128"
    )
    assert str(err.value) == message
    assert message in (m.REPO / "docs" / "rules-format.md").read_text()


def test_documented_example_compiles() -> None:
    doc = (m.REPO / "docs" / "rules-format.md").read_text()
    example = doc.split("## Example")[1].split("```")[1]
    example = example.replace("src-file /etc/floodgate/partners.txt", "src 192.0.2.0/24")
    eng = fe.Engine(example)
    assert [r.name for r in eng.rules()] == ["frags", "clients", "partners", "rnd", "limit", "resolvers"]
