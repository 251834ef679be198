"""The engine's fast path (untagged IPv4/UDP frames, specialised rule list) against its general path and the model.

Every example runs the same batch through three classifiers: the C engine as shipped (fast path on; asked for the
deciding rules, and not, as the live backends call it), the C engine with the fast path turned off (every frame
through the general parser and evaluator) and the Python reference model, and requires the same verdict and deciding rule per frame, the same counters, per-rule hits, default hits
and rate-limit evictions. The frames are mostly of the fast path's shape, with the edges where a frame leaves it
(a length one byte off, DF vs MF, one option word, a VLAN tag, TCP), mixed in the same bursts.
"""

from __future__ import annotations

import struct

import engine_model as m
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_model import rule_sets

fe = m.load_binding()

SOURCES = ["198.51.100.1", "198.51.100.200", "10.9.8.7", "203.0.113.7", "192.0.2.1", "0.0.0.1", "255.1.2.3"]
NAMES = ["example.com", "www.example.com", "WWW.Example.COM", "notexample.com", "a.b.c.example.org", "", "x.y",
         "com", "deep." * 20 + "example.com", "a-very-long-label-name.another-long-label.example.org",
         "x." + "a-very-long-label-name.another-long-label.example.org", "y" * 63 + ".example.com",
         "x\x07example.com", "x\x03com", "xnother-long-label.example.org", "label.example.org"]  # fmt: skip
# "x\x07example.com" ends in the wire bytes of example.com without a label starting there: only the label
# boundary test tells it apart. Single suffixes of up to 16 and of 17-32 bytes take the
# fast path's two- and four-word compares; lists and suffixes over 32 bytes the general one
SUFFIX_TERMS = ["example.com", "com", "Example.ORG.", "y", "example.com,y",
                "a-very-long-label-name.another-long-label.example.org", "example.org,another-long-label.example.org",
                "another-long-label.example.org", "label.example.org"]  # fmt: skip
TERMS = ["src 198.51.100.0/24,10.0.0.0/8", "src 0.0.0.0/0", "src 2001:db8::/32", "ipv4", "ipv6", "udp", "tcp",
         "proto 17", "proto 1", "dport 53", "dport 80,443", "sport 1024-65535", "fragment", "dns-valid",
         "qtype A,AAAA", "qtype ANY"]  # fmt: skip


@st.composite
def fast_frames(draw: st.DrawFn, pure: bool = False) -> bytes:
    """Untagged IPv4/UDP/DNS frames, and the same with one field at the fast path's edge.

    pure: only frames the fast path takes (cut-short questions and padded frames still among them), so that
    whole bursts go rule by rule.
    """
    src = draw(st.sampled_from(SOURCES))
    flags = draw(st.sampled_from([0x0100, 0x0100, 0x8180, 0x2800, 0x0000]))
    qd = draw(st.sampled_from([1, 1, 1, 0, 2]))
    qt = draw(st.sampled_from([1, 28, 255, 16, 0]))
    dport = draw(st.sampled_from([53, 53, 80, 5353]))
    payload = m.dns_query(draw(st.sampled_from(NAMES)), qt, flags, qd)
    if draw(st.integers(0, 5)) == 0:  # the question cut short, or no DNS at all
        payload = payload[: draw(st.integers(0, len(payload)))]
    seg = m.udp(draw(st.sampled_from([53, 1000, 40000])), dport, payload)
    edges = (
        ["none"] * 6 + ["pad"]
        if pure
        else ["none"] * 6 + ["ulen", "tot", "frag", "opts", "proto", "vlan", "short", "pad"]
    )
    edge = draw(st.sampled_from(edges))
    frag = draw(st.sampled_from([0x4000, 0x2000, 0x0001, 0x8000])) if edge == "frag" else 0
    opts = b"\x01\x01\x01\x00" if edge == "opts" else b""
    proto = draw(st.sampled_from([6, 1, 16])) if edge == "proto" else 17
    ip = bytearray(m.ipv4(src, proto, seg, frag=frag, options=opts))
    if edge == "ulen":  # UDP length from 0 to past the datagram
        ulen = draw(st.integers(0, len(seg) + 3))
        ip[20 + 4 : 20 + 6] = struct.pack("!H", ulen)
    elif edge == "tot":  # IP total length from 0 to past the frame
        ip[2:4] = struct.pack("!H", draw(st.integers(0, len(ip) + 3)))
    f = m.ether(bytes(ip), 0x0800, vlans=1 if edge == "vlan" else 0)
    if edge == "short":
        f = f[: draw(st.integers(0, len(f)))]
    elif edge == "pad":
        f += b"\0" * draw(st.integers(1, 30))
    return f


@st.composite
def fast_batches(draw: st.DrawFn, pure: bool = False) -> list[bytes]:
    n = draw(st.integers(1, 150))
    return draw(st.lists(fast_frames(pure), min_size=n, max_size=n))


@st.composite
def fast_rule_sets(draw: st.DrawFn) -> str:
    """Rules that exercise what the fast path drops, keeps and specialises."""
    lines = [f"default {draw(st.sampled_from(['pass', 'drop']))}"]
    for i in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["pass", "drop", "ratelimit"]))
        if action == "ratelimit":
            action += f" {draw(st.sampled_from([1, 1000]))}/s burst {draw(st.integers(1, 3))} table 1024"
        terms = draw(
            st.lists(
                st.sampled_from(TERMS),
                max_size=3,
                unique_by=lambda t: t.split()[0],
            )
        )
        if draw(st.booleans()):
            terms.append("qname-suffix " + draw(st.sampled_from(SUFFIX_TERMS)))
        fam = {t for t in terms if t in ("ipv4", "ipv6")}
        if len(fam) == 2:
            terms.remove("ipv6")
        protos = [t for t in terms if t in ("udp", "tcp") or t.startswith("proto")]
        for t in protos[1:]:
            terms.remove(t)
        lines.append(f"rule r{i} {action} {' '.join(terms)}".rstrip())
    return "\n".join(lines) + "\n"


def _three_way(rules: str, batch: list[bytes], clocks: list[int]) -> None:
    fast, general, model = fe.Engine(rules), fe.Engine(rules, fast_path=False), m.Model(rules)
    plain = fe.Engine(rules)  # fast path, verdicts only: the copy the live backends run
    got_fast = fast.classify(batch, clocks)
    got_general = general.classify(batch, clocks)
    got_plain = plain.classify(batch, clocks, explain=False)
    want = model.classify(batch, clocks)
    assert got_fast == got_general == want, f"rules:\n{rules}"
    assert got_plain == (want[0], [])
    for eng in (fast, general, plain):
        assert eng.counters() == model.c
        assert [r.hits for r in eng.rules()] == [r.hits for r in model.rules]
        assert eng.default() == (model.default, model.default_hits)
        assert eng.evictions() == sum(r.evictions for r in model.rules)


def _clocks(n: int, start: int) -> list[int]:
    return [start + i * 7_000_000 for i in range(max(1, (n + 63) // 64))]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=fast_rule_sets(), batch=fast_batches(), start=st.integers(0, 2**40))
def test_fast_path_matches_general_path_and_model(rules: str, batch: list[bytes], start: int) -> None:
    _three_way(rules, batch, _clocks(len(batch), start))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=fast_rule_sets(), batch=fast_batches(pure=True), start=st.integers(0, 2**40))
def test_rule_by_rule_bursts_match_general_path_and_model(rules: str, batch: list[bytes], start: int) -> None:
    """Batches of fast-shaped frames only: every burst of 64 goes rule by rule (one mask per rule)."""
    _three_way(rules, batch, _clocks(len(batch), start))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), batch=fast_batches(), start=st.integers(0, 2**40))
def test_fast_path_with_any_rule_set(rules: str, batch: list[bytes], start: int) -> None:
    """The general generator's rule sets (IPv6, TCP and fragment rules, lists), on fast-shaped frames."""
    _three_way(rules, batch, _clocks(len(batch), start))


DNS = m.ether(m.ipv4("198.51.100.1", 17, m.udp(4000, 53, m.dns_query("www.example.com"))), 0x0800)
DNS_VLAN = m.ether(
    m.ipv4("198.51.100.1", 17, m.udp(4000, 53, m.dns_query("www.example.com"))), 0x0800, vlans=1
)
DNS_V6 = m.ether(m.ipv6("2001:db8::1", 17, m.udp(4000, 53, m.dns_query("www.example.com"))), 0x86DD)


@pytest.mark.parametrize(
    "rules",
    [
        # no rule can match a fast-path frame: its rule list is empty, the default decides them
        "default pass\nrule a drop ipv6\nrule b drop tcp\nrule c drop fragment\nrule d drop proto 1\n",
        # the first rate limit of the general list is one the fast list leaves out (ipv6)
        "default drop\nrule v6lim ratelimit 1/s burst 1 table 1024 ipv6\nrule v4lim ratelimit 1/s burst 2 table 1024\n"
        "rule ok pass udp\n",
        # suffix lists and a suffix over 32 bytes: the general suffix compare inside the fast path
        "default pass\nrule rnd drop qname-suffix example.org,example.com\n"
        "rule long drop qname-suffix a-very-long-label-name.another-long-label.example.org\n",
        # no DNS term: the question is not parsed on either path
        "default drop\nrule ok pass udp dport 53 src 198.51.100.0/24\n",
    ],
)
def test_rule_sets_the_fast_list_reshapes(rules: str) -> None:
    long_name = m.dns_query("x.a-very-long-label-name.another-long-label.example.org")
    batch = [DNS, DNS_VLAN, DNS_V6] * 10 + [
        m.ether(m.ipv4("198.51.100.7", 17, m.udp(4000, 53, long_name)), 0x0800),
        m.ether(m.ipv4("198.51.100.7", 17, m.udp(4000, 53, m.dns_query("a.example.org"))), 0x0800),
    ] * 20
    _three_way(rules, batch, _clocks(len(batch), 10**12))


def test_fast_path_is_on_by_default_and_takes_the_flood() -> None:
    """Both engines agree on a 1,000-frame flood burst by burst, in time, with a rate limit that bites."""
    rules = (
        "default drop\nrule frags drop fragment\nrule clients pass src 198.51.100.0/24 udp dport 53 dns-valid\n"
        "rule rnd drop qname-suffix example.com\nrule limit ratelimit 10/s burst 3 table 1024\n"
        "rule resolvers pass udp dport 53 dns-valid qtype A,AAAA\n"
    )
    batch = []
    for i in range(1000):
        src = f"203.0.113.{i % 3}" if i % 10 else f"198.51.100.{i % 200}"
        name = f"r{i}.example.com" if i % 3 == 0 else f"host{i % 5}.example.net"
        batch.append(
            m.ether(m.ipv4(src, 17, m.udp(1024 + i, 53, m.dns_query(name, 1 if i % 4 else 28))), 0x0800)
        )
    clocks = [10**12 + i * 50_000_000 for i in range((len(batch) + 63) // 64)]
    _three_way(rules, batch, clocks)
    eng = fe.Engine(rules)
    eng.classify(batch, clocks)
    hits = {r.name: r.hits for r in eng.rules()}
    assert hits["clients"] > 0 and hits["rnd"] > 0 and hits["limit"] > 0 and hits["resolvers"] > 0
