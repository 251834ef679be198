"""floodgate-rx's command line and pcap backend, and floodgate-replay, run as an operator would run them."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import engine_model as m
import pytest

RX = str(m.RX)
REPLAY = str(m.REPO / "bin" / "floodgate-replay")
RULES = """default drop
rule frags drop fragment
rule clients pass src 198.51.100.0/24,2001:db8::/32 udp dport 53 dns-valid
rule rnd drop qname-suffix example.com
rule limit ratelimit 2/s burst 2 table 1024
rule resolvers pass udp dport 53 dns-valid qtype A,AAAA
"""


def _frames() -> list[bytes]:
    q = m.dns_query
    out = [
        m.ether(m.ipv4("198.51.100.7", 17, m.udp(5353, 53, q("www.example.org"))), 0x0800),
        m.ether(m.ipv6("2001:db8::9", 17, m.udp(5353, 53, q("x.example.com", 28))), 0x86DD),
        m.ether(m.ipv4("198.51.100.7", 17, b"\0" * 16, frag=0x0010), 0x0800),
        m.ether(b"\x45\x00", 0x0800),  # malformed
    ]
    out += [
        m.ether(m.ipv4(f"203.0.113.{i % 50}", 17, m.udp(1, 53, q(f"r{i}.example.com"))), 0x0800)
        for i in range(100)
    ]
    out += [m.ether(m.ipv4("192.0.2.77", 17, m.udp(1, 53, q("ok.net"))), 0x0800) for _ in range(5)]
    return out


def _run(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([RX, *args], capture_output=True, text=True, timeout=60)
    if check_rc is not None:
        assert r.returncode == check_rc, (r.returncode, r.stdout, r.stderr)
    return r


@pytest.fixture
def capture(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    frames = _frames()
    pcap = tmp_path / "in.pcap"
    pcap.write_bytes(m.pcap_bytes(frames, step_us=10))
    rules = tmp_path / "rules.conf"
    rules.write_text(RULES)
    return pcap, rules, frames


def _records(pcap: bytes) -> list[bytes]:
    out, off = [], 24
    while off < len(pcap):
        caplen = struct.unpack_from("<I", pcap, off + 8)[0]
        out.append(pcap[off + 16 : off + 16 + caplen])
        off += 16 + caplen
    return out


def test_pcap_backend_stats_and_write_pass(capture: tuple[Path, Path, list[bytes]], tmp_path: Path) -> None:
    pcap, rules, frames = capture
    out = tmp_path / "pass.pcap"
    r = _run("--backend", "pcap", "--pcap", str(pcap), "--rules", str(rules), "--write-pass", str(out))
    stats = json.loads(r.stdout)
    # the reference model, fed the same frames with the capture's clock (first frame of each burst)
    model = m.Model(RULES)
    clocks = [1_700_000_000 * 10**9 + i * 64 * 10 * 1000 for i in range((len(frames) + 63) // 64)]
    verdicts, _ = model.classify(frames, clocks)
    assert {k: stats[k] for k in ("packets", "passed", "dropped", "malformed")} == model.c
    assert stats["backend"] == "pcap" and stats["interface"] is None and stats["queue"] is None
    assert [(x["name"], x["action"], x["hits"]) for x in stats["rules"]] == [
        (x.name, x.action, x.hits) for x in model.rules
    ]
    assert stats["rules"][3] == {
        "name": "limit",
        "action": "ratelimit",
        "hits": 3,
    }  # 192.0.2.77: 5 sent, burst 2
    # the passed frames, unchanged and in order, in a pcap with the input's header
    written = out.read_bytes()
    assert written[:24] == pcap.read_bytes()[:24]
    assert _records(written) == [f for f, v in zip(frames, verdicts, strict=True) if v]


def test_linux_cooked_capture(tmp_path: Path) -> None:
    """tcpdump -i any writes Linux cooked (SLL) captures: the engine sees through the 16-byte header."""
    f = m.ether(m.ipv4("198.51.100.7", 17, m.udp(5353, 53, m.dns_query("a.example.org"))), 0x0800)
    sll = struct.pack("!HHH8sH", 0, 1, 6, b"\2\0\0\0\0\1\0\0", 0x0800) + f[14:]
    data = bytearray(m.pcap_bytes([sll]))
    struct.pack_into("<I", data, 20, 113)
    (tmp_path / "sll.pcap").write_bytes(bytes(data))
    (tmp_path / "r").write_text("default drop\nrule c pass src 198.51.100.0/24 dns-valid\n")
    stats = json.loads(
        _run("--backend", "pcap", "--pcap", str(tmp_path / "sll.pcap"), "--rules", str(tmp_path / "r")).stdout
    )
    assert stats["passed"] == 1 and stats["rules"][0]["hits"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--backend is required"),
        (["--backend", "pcap"], "--rules FILE is required"),
        (["--backend", "pcap", "--rules", "/nonexistent"], "cannot read the rules file /nonexistent"),
        (["--backend", "bogus", "--rules", "RULES"], "--backend 'bogus': expected af_xdp, netmap or pcap"),
        (["--backend", "pcap", "--rules", "RULES"], "--backend pcap needs --pcap IN.pcap"),
        (
            ["--backend", "pcap", "--rules", "RULES", "--pcap", "X", "--queue", "1"],
            "--queue applies to the live",
        ),
        (
            ["--backend", "af_xdp", "--rules", "RULES", "--queue", "4x"],
            "--queue '4x': expected an RX queue number",
        ),
        (["--backend", "af_xdp", "--rules", "RULES", "--queue", "99999"], "--queue '99999'"),
        (["--backend", "af_xdp", "--rules", "RULES", "--queue", "1"], "--interface IF is required"),
        (["--backend", "af_xdp", "--rules", "RULES", "--interface", "eth1"], "--queue N is required"),
        (["--backend", "af_xdp", "--rules", "RULES", "--cpu", "-1"], "--cpu '-1'"),
        (["--backend", "af_xdp", "--rules", "RULES", "--zerocopy", "maybe"], "--zerocopy 'maybe'"),
        (["--backend", "af_xdp", "--rules", "RULES", "--stats-interval-ms", "0"], "--stats-interval-ms '0'"),
        (
            ["--backend", "af_xdp", "--rules", "RULES", "--write-pass", "o"],
            "--write-pass applies to --backend pcap only",
        ),
        (["--backend", "pcap", "--frobnicate"], "unknown option '--frobnicate'"),
        (["--backend"], "--backend needs a value"),
        (["--backend", "pcap", "stray"], "unexpected argument 'stray'"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str, capture: tuple[Path, Path, list[bytes]]) -> None:
    _, rules, _ = capture
    args = [str(rules) if a == "RULES" else a for a in args]
    r = _run(*args, check_rc=2)
    assert message in r.stderr, r.stderr
    assert r.stdout == ""


def test_bad_rules_and_captures(capture: tuple[Path, Path, list[bytes]], tmp_path: Path) -> None:
    pcap, _, _ = capture
    bad = tmp_path / "bad.conf"
    bad.write_text("default drop\nrule x pass dport 99999\n")
    r = _run("--backend", "pcap", "--pcap", str(pcap), "--rules", str(bad), check_rc=2)
    assert f"{bad}: line 2: rule 'x': bad dport '99999'" in r.stderr
    ng = tmp_path / "x.pcapng"
    ng.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)
    r = _run("--backend", "pcap", "--pcap", str(ng), "--rules", str(capture[1]), check_rc=2)
    assert "pcapng is not supported: convert it with `tcpdump -r" in r.stderr
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(pcap.read_bytes()[:-5])
    r = _run("--backend", "pcap", "--pcap", str(cut), "--rules", str(capture[1]))
    assert "the last record is cut short" in r.stderr
    assert json.loads(r.stdout)["packets"] == len(capture[2]) - 1
    r = _run(
        "--backend", "pcap", "--pcap", str(tmp_path / "none.pcap"), "--rules", str(capture[1]), check_rc=2
    )
    assert "cannot open the capture" in r.stderr


def test_replay_per_rule(capture: tuple[Path, Path, list[bytes]]) -> None:
    pcap, rules, _ = capture
    r = subprocess.run(
        [REPLAY, str(rules), str(pcap), "--json"], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(r.stdout)
    per = {x["rule"]: x for x in out["per_rule"]}
    assert per["rnd"]["dropped"] == 100 and per["rnd"]["top_domains"][0] == ["example.com.", 100]
    assert per["clients"]["passed"] == 2 and per["resolvers"]["passed"] == 2
    assert per["limit"]["dropped"] == 3 and per["(malformed)"]["dropped"] == 1
    assert out["packets"] == sum(x["dropped"] + x["passed"] for x in out["per_rule"])
    text = subprocess.run(
        [REPLAY, str(rules), str(pcap)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "would pass 4" in text.stdout and "rnd" in text.stdout
    bad = subprocess.run([REPLAY, "/nonexistent", str(pcap)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "cannot read the rules file" in bad.stderr


def test_check_rules_compiles_as_the_receiver_would(tmp_path: Path) -> None:
    """--check-rules: a rules file (src-file against its own directory) or the rules on stdin (src-file against
    --rules-dir, where the file will be written) compiled as the receiver compiles them, nothing else done."""
    etc, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    etc.mkdir()
    elsewhere.mkdir()
    (etc / "clients.txt").write_text("198.51.100.0/24\n")
    text = "default drop\nrule frags drop fragment\nrule clients pass src-file clients.txt udp dport 53 dns-valid\n"
    (etc / "rules.conf").write_text(text)
    r = _run("--check-rules", "--rules", str(etc / "rules.conf"))
    assert re.fullmatch(r"rules ok: 2 rules, peak memory \d+ KiB\n", r.stdout) and r.stderr == "", r

    def stdin(rules: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RX, "--check-rules", "--rules", "-", *args],
            input=rules,
            capture_output=True,
            text=True,
            timeout=60,
        )

    r = stdin(text, "--rules-dir", str(etc))
    assert r.returncode == 0 and re.fullmatch(r"rules ok: 2 rules, peak memory \d+ KiB\n", r.stdout), r
    r = stdin(
        text, "--rules-dir", str(elsewhere)
    )  # no clients.txt there: the path resolved against --rules-dir
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(
        "floodgate-rx: rules refused: stdin: line 3: rule 'clients': src-file 'clients.txt'"
    )
    assert str(elsewhere / "clients.txt") in r.stderr
    r = stdin("default drop\nrule bad pass src 198.51.100.0/33\n", "--rules-dir", str(etc))
    assert r.returncode == 2
    assert r.stderr == (
        "floodgate-rx: rules refused: stdin: line 2: rule 'bad': bad prefix '198.51.100.0/33': prefix length "
        "must be 0-32\n"
    )
    for args, message in (
        ([], "--rules - (stdin) needs --rules-dir DIR"),
        (
            ["--rules-dir", str(etc), "--backend", "pcap"],
            "--check-rules takes only --rules FILE|-, --rules-dir DIR and --reload-of FILE",
        ),
    ):
        r = stdin(text, *args)
        assert r.returncode == 2 and message in r.stderr, r.stderr
    r = stdin("#" * (16 << 20) + "\ndefault drop\n", "--rules-dir", str(etc))  # past the format's 16 MiB
    assert r.returncode == 2 and "stdin: larger than 16 MiB: put big prefix lists in src-files" in r.stderr
    r = _run("--check-rules", "--rules", str(etc / "rules.conf"), "--rules-dir", str(etc), check_rc=2)
    assert "--rules-dir is for --rules - only" in r.stderr
    r = _run("--check-rules", check_rc=2)
    assert "--check-rules needs --rules FILE" in r.stderr
    r = _run("--backend", "pcap", "--rules", str(etc / "rules.conf"), "--rules-dir", str(etc), check_rc=2)
    assert "--rules-dir applies to --check-rules only" in r.stderr
    r = _run("--backend", "pcap", "--rules", str(etc / "rules.conf"), "--reload-of", str(etc), check_rc=2)
    assert "--reload-of applies to --check-rules only" in r.stderr


def peak_kib(r: subprocess.CompletedProcess[str]) -> int:
    m = re.fullmatch(
        r"rules ok: \d+ rules, peak memory (\d+) KiB( \(a reload, both rule sets\))?\n", r.stdout
    )
    assert m and r.returncode == 0, r
    return int(m[1])


def test_check_rules_measures_the_memory_a_start_or_a_reload_takes(tmp_path: Path) -> None:
    """--check-rules says how much memory the compile took at its peak, measured in the process (VmHWM over the
    resident set before): a 4M-source rate-limit table (64 MiB, zeroed whole) is in it. --reload-of RUNNING
    measures a reload from the rules in force: both rule sets at once, where a rate limit that keeps its name,
    rate, burst and size shares the running table (no second 64 MiB) and a changed one has its own."""
    table_kib = 4_194_304 // 4 * 64 // 1024
    limit = "rule lim ratelimit 100/s burst 200 table 4194304\n"
    running = tmp_path / "running.conf"
    running.write_text("default drop\n" + limit)
    same = tmp_path / "same.conf"
    same.write_text("default drop\nrule ok pass udp dport 53\n" + limit)
    changed = tmp_path / "changed.conf"
    changed.write_text("default drop\n" + limit.replace("100/s", "50/s"))
    alone = peak_kib(_run("--check-rules", "--rules", str(running)))
    assert table_kib <= alone < table_kib + 16 * 1024
    shared = peak_kib(_run("--check-rules", "--rules", str(same), "--reload-of", str(running)))
    assert table_kib <= shared < table_kib + 16 * 1024, (alone, shared)
    both = peak_kib(_run("--check-rules", "--rules", str(changed), "--reload-of", str(running)))
    assert 2 * table_kib <= both < 2 * table_kib + 16 * 1024, (alone, both)
    r = subprocess.run(
        [RX, "--check-rules", "--rules", "-", "--rules-dir", str(tmp_path), "--reload-of", str(running)],
        input=changed.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 2 * table_kib <= peak_kib(r)
    (tmp_path / "broken.conf").write_text("rule x\n")
    # rules in force that do not compile (edited since the receiver read them): measured as a start, and said
    r = _run("--check-rules", "--rules", str(same), "--reload-of", str(tmp_path / "broken.conf"))
    assert re.fullmatch(r"rules ok: 2 rules, peak memory \d+ KiB\n", r.stdout), r
    assert r.stderr.startswith(f"floodgate-rx: --reload-of: {tmp_path / 'broken.conf'}: line 1: "), r.stderr
    assert r.stderr.endswith(": measured without it, as a start\n"), r.stderr


def _built(backend: str) -> bool:
    """Whether this build of floodgate-rx has the backend: a backend left out links the stub that says so."""
    return f"built without the {backend} backend".encode() not in Path(RX).read_bytes()


LIVE = ["--interface", "eth1", "--queue", "4", "--rules", "/nonexistent/rules-eth1-4.conf"]


@pytest.mark.parametrize("backend", ["af_xdp", "netmap"])
def test_check_args_answers_as_the_start_would_and_opens_nothing(backend: str, tmp_path: Path) -> None:
    """--check-args: a live receiver's command line checked as its start checks it (every option, the backend in
    this build), with no rules file and no NIC (eth1 need not exist here), and nothing written."""
    stats = tmp_path / "rx.json"
    args = [
        "--check-args",
        "--backend",
        backend,
        *LIVE,
        "--stats-json",
        str(stats),
        "--stats-interval-ms",
        "500",
    ]
    if backend == "af_xdp":
        args += ["--zerocopy", "off", "--coalesce-us", "20", "--xdp-takeover"]
    r = _run(*args, check_rc=None)
    if _built(backend):
        assert (r.returncode, r.stdout, r.stderr) == (
            0,
            f"args ok: backend {backend}, interface eth1, queue 4\n",
            "",
        )
    else:
        assert r.returncode == 2 and r.stdout == "", r
        assert r.stderr.startswith(f"floodgate-rx: built without the {backend} backend: "), r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "af_xdp", *LIVE, "--no-such-option"], "unknown option '--no-such-option'"),
        (["--backend", "af_xdp", *LIVE, "--coalesce-us", "5000"], "--coalesce-us '5000': expected 0-1000"),
        (["--backend", "af_xdp", *LIVE, "--zerocopy"], "--zerocopy needs a value"),
        (["--backend", "af_xdp", *LIVE, "--mlock=yes"], "'--mlock=yes': this option takes no value"),
        (
            ["--backend", "af_xdp", *LIVE, "--xdp"],
            "'--xdp': give the option's full name (e.g. --xdp-takeover)",
        ),
        (["--backend", "netmap", *LIVE, "--xdp-takeover"], "--xdp-takeover applies to --backend af_xdp only"),
        (["--backend", "af_xdp", *LIVE, "stray"], "unexpected argument 'stray'"),
        (["--backend", "af_xdp", "--queue", "4", "--rules", "r"], "--interface IF is required"),
        (["--backend", "pcap", "--pcap", "in.pcap", "--rules", "r"], "--check-args checks a live receiver's"),
        (["--check-rules", "--rules", "r"], "--check-rules and --check-args are two checks"),
    ],
)
def test_check_args_refuses_what_the_start_would_refuse(args: list[str], message: str) -> None:
    r = _run("--check-args", *args, check_rc=2)
    assert r.stderr.startswith(f"floodgate-rx: {message}"), r.stderr
    assert r.stdout == ""
