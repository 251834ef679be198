"""Per-role Molecule scenarios (roles/ROLE/molecule/default) and playbook-level tests, against one lab bring-up.

Each role scenario tests its role alone on lab edge1 through the role's own variables and asserts, itself, the
role's real effect (ethtool output, nic_facts, systemd), idempotence, the exact undo and refused bad input; the
shared create/destroy (molecule/shared/) leave the lab alone here (FG_LAB_MANAGED=1), so the lab is brought up once for
this module and taken down at its end. Run alone, `cd roles/ROLE && molecule test` brings it up and down itself.

The playbook tests then run mitigate.yml --check --diff (shows the exact ethtool changes, changes nothing),
status.yml (no mitigation / active with the receiver's counters), a real mitigate.yml and unmitigate.yml on
edge1 (nic_facts back exactly, no floodgate-rx unit file left).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from molecule_run import molecule_env, molecule_test

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
LAB_ROLES = ["preflight", "nic_offloads", "rss_steering", "receiver", "nic_restore"]
# What each scenario's verify prints when its checks pass (the scenario asserts; this proves they ran).
EXPECTED = {
    "preflight": ["preflight: 6 bad inputs refused; nic_facts unchanged"],
    "nic_offloads": [
        "nic_offloads: nic_facts after present -> restored equals before",
        "nic_offloads: 3 bad inputs refused; nic_facts unchanged",
    ],
    "rss_steering": [
        "rss_steering: DNS flood per queue",
        "rss_steering: RSS table, ntuple rules and features after present -> restored equal before",
        "rss_steering: 3 bad inputs refused; nic_facts unchanged",
    ],
    "receiver": [
        "receiver: active on eth1 queue 4 (af_xdp, CPU 1, --xdp-takeover)",
        "receiver: new rules reloaded into the same process (SIGHUP, counters kept)",
        "receiver: stopped; no floodgate-rx unit, template, rules or stats file left; nic_facts as before",
        "receiver: no daemon-reload on stop; queue 5 then queue 4 started with their new files without a reload",
        "receiver: 3 bad inputs refused; nothing created",
    ],
    "nic_restore": [
        "nic_restore: nic_facts after change -> restore equals the snapshot",
        "nic_restore: no state.json -> the snapshot kept on the host was not applied again",
        "nic_restore: host snapshot lost -> controller copy restored nic_facts exactly",
        "nic_restore: no state.json -> the controller copy was not applied",
        "nic_restore: 1 bad input refused; nic_facts unchanged",
    ],
}

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.lab]


def plain(text: str) -> str:
    """Molecule/Ansible output without colours, box-drawing margins and line wrapping."""
    text = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;;[^\x1b]*\x1b\\", "", text)
    return " ".join(line.strip().lstrip("│└─").strip() for line in text.splitlines())


def save_log(name: str, proc: subprocess.CompletedProcess[str]) -> None:
    (ROOT / "run").mkdir(exist_ok=True)
    (ROOT / "run" / f"{name}.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, str]]:
    """The lab up once for the module (lab/up.sh), down at the end (lab/down.sh fails if anything is left)."""
    for tool in ("podman", "runc", "bpftool", "clang"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make deps installs it)")
    env = molecule_env(FG_LAB_MANAGED="1", CONTAINERS_CONF=str(ROOT / "lab" / ".state" / "containers.conf"))
    start = time.monotonic()
    try:
        up = subprocess.run(
            [str(ROOT / "lab" / "up.sh")], env=env, capture_output=True, text=True, check=False
        )
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"lab up: {time.monotonic() - start:.1f} s")
        yield env
    finally:
        # Down even after a failed lab-up: what it started must not be left to the next test module.
        start = time.monotonic()
        down = subprocess.run(
            [str(ROOT / "lab" / "down.sh")], env=env, capture_output=True, text=True, check=False
        )
        print(f"lab down: {time.monotonic() - start:.1f} s")
        assert down.returncode == 0, down.stdout + down.stderr


@pytest.mark.parametrize("role", LAB_ROLES)
def test_role_scenario(lab: dict[str, str], role: str) -> None:
    start = time.monotonic()
    proc = molecule_test("default", lab, timeout=900, cwd=ROOT / "roles" / role)
    took = time.monotonic() - start
    save_log(f"molecule-role-{role}", proc)
    out = plain(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"molecule test ({role}) failed (rc {proc.returncode}):\n{out[-8000:]}"
    for stage in ("prepare", "converge", "idempotence", "verify", "cleanup"):
        assert f"default > {stage}: Executed: Successful" in out, (
            f"{role}: {stage} did not run\n{out[-3000:]}"
        )
    for message in EXPECTED[role]:
        assert message in out, f"{role}: '{message}' not in the output\n{out[-4000:]}"
    print(f"role scenario {role}: {took:.1f} s")


def ansible(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook from the repo root against the lab inventory, as an operator runs it."""
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / "lab" / "hosts.yml"), *args],
        cwd=ROOT,
        env={**lab_env(env), "ANSIBLE_STDOUT_CALLBACK": "default"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def lab_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "ANSIBLE_DISPLAY_OK_HOSTS": "true", "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "false"}


def nic_facts(env: dict[str, str], out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    proc = ansible(
        env,
        str(ROOT / "tests" / "integration" / "playbooks" / "nic_facts_save.yml"),
        "-l",
        "edge1",
        "-e",
        f"fg_out={out}",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((out / "edge1.json").read_text())


def edge1(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "exec", "fg-edge1", *cmd],
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "CONTAINERS_CONF": str(ROOT / "lab" / ".state" / "containers.conf"),
        },
    )


RULES_FILE = "/etc/floodgate/rules-eth1-4.conf"


def floodgate_files() -> list[str]:
    """floodgate's state, units and receiver files on edge1."""
    proc = edge1(
        "sh",
        "-c",
        "ls -d /var/lib/floodgate/state.json /etc/systemd/system/floodgate-rx@* "
        "/etc/floodgate/rules-* /run/floodgate/rx-* 2>/dev/null; true",
    )
    return proc.stdout.split()


def status(env: dict[str, str]) -> tuple[str, list[dict]]:
    proc = ansible(env, str(ROOT / "status.yml"), "-l", "edge1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return plain(proc.stdout), json.loads((ROOT / "run" / "status.json").read_text())


BAD_RULES = json.dumps(
    {"receiver_rules": [{"name": "bad", "action": "pass", "match": "src 198.51.100.0/33 udp dport 53"}]}
)


def refused_bad_rules(env: dict[str, str], log: str) -> None:
    """mitigate.yml on edge1 with rules that do not compile: refused by the pre-flight with the compiler's message,
    before any change (no rollback)."""
    proc = ansible(env, str(ROOT / "mitigate.yml"), "-l", "edge1", "-e", "queue=4", "-e", BAD_RULES)
    save_log(log, proc)
    out = plain(proc.stdout)
    assert proc.returncode != 0, out[-6000:]
    assert "PREFLIGHT rules refused: the receiver's rules for eth1 queue 4 on edge1 do not compile" in out, (
        out[-6000:]
    )
    assert "line 5: rule 'bad': bad prefix '198.51.100.0/33': prefix length must be 0-32" in out, out[-6000:]
    assert "MITIGATION FAILED" not in out and "rolled back" not in out, out[-6000:]


def test_mitigate_check_diff_status_and_undo(lab: dict[str, str], tmp_path: Path) -> None:
    """--check --diff previews the exact ethtool changes and changes nothing; status.yml before, during and
    after a real mitigation; unmitigate.yml puts nic_facts back exactly and leaves no floodgate-rx unit."""
    timings = {}
    before = nic_facts(lab, tmp_path / "before")
    assert floodgate_files() == []

    text, report = status(lab)
    assert "edge1: no mitigation" in text, text[-3000:]
    assert report[0]["host"] == "edge1" and report[0]["active"] is False and report[0]["status"] == "none"

    start = time.monotonic()
    # -v: each module's result, with the exact command (cmd / commands) it would run
    preview = ansible(
        lab, str(ROOT / "mitigate.yml"), "-l", "edge1", "-e", "queue=4", "--check", "--diff", "-v"
    )
    timings["mitigate --check --diff"] = time.monotonic() - start
    save_log("playbook-mitigate-check", preview)
    out = plain(preview.stdout)
    assert preview.returncode == 0, out[-6000:]
    eth = "/usr/local/sbin/ethtool"
    features = re.search(rf"{re.escape(eth)} -K eth1((?: \S+ (?:on|off))+)", out)
    assert features, out[-6000:]
    # veth starts with GRO off: the command names only the offloads that are on
    wanted = {
        "tcp-segmentation-offload off",
        "generic-segmentation-offload off",
        "rx-checksumming off",
        "tx-checksumming off",
    }
    assert wanted <= set(re.findall(r"\S+ (?:on|off)", features.group(1))), features.group(1)
    assert f"{eth} -X eth1 weight 1 1 1 1 0 1 1 1" in out, out[-6000:]
    assert f"{eth} -K eth1 ntuple on" in out, out[-6000:]
    assert f"{eth} -N eth1 flow-type udp4 dst-port 53 action 4" in out, out[-6000:]
    # and the diffs: features, the RSS table, the new rule
    assert "+tcp-segmentation-offload: off" in out and "+generic-segmentation-offload: off" in out, out[
        -6000:
    ]
    assert "+++ after: ethtool -x eth1 (after -X eth1 weight 1 1 1 1 0 1 1 1)" in out, out[-6000:]
    assert "+udp4 dst-port 53 action 4 (new, id chosen by the driver)" in out, out[-6000:]
    assert nic_facts(lab, tmp_path / "after-check") == before
    assert floodgate_files() == []

    # A first mitigation (no receiver binary on the host yet) whose rules do not compile: the receiver is installed
    # before the pre-flight's read, which compiles them with it, before the NIC is touched: refused with the
    # compiler's message, no rollback, the NIC and floodgate's files as they were (the binary stays installed).
    assert edge1("rm", "-f", "/usr/local/sbin/floodgate-rx").returncode == 0
    refused_bad_rules(lab, "playbook-mitigate-first-bad-rules")
    assert nic_facts(lab, tmp_path / "after-first-bad-rules") == before
    assert floodgate_files() == []
    assert edge1("test", "-x", "/usr/local/sbin/floodgate-rx").returncode == 0
    # A receiver that cannot be built fails before the NIC is touched too, and says so with its task.
    failed = ansible(
        lab,
        str(ROOT / "mitigate.yml"),
        "-l",
        "edge1",
        "-e",
        "queue=4",
        "-e",
        "receiver_build_on=controller",
        "-e",
        "receiver_src_dir=/nonexistent-floodgate-src",
    )
    save_log("playbook-mitigate-no-build", failed)
    out = plain(failed.stdout)
    assert failed.returncode != 0, out[-6000:]
    # make[1] when the tests run under make (CI)
    assert re.search(
        r'NOT APPLIED: "Build floodgate-rx on the controller" failed: non-zero return code: make(\[\d+\])?: '
        r"\*\*\* /nonexistent-floodgate-src: No such file or directory\.  Stop\. Nothing on the NIC was changed\.",
        out,
    ), out[-6000:]
    assert "MITIGATION FAILED" not in out and "rolled back" not in out, out[-6000:]
    assert nic_facts(lab, tmp_path / "after-no-build") == before
    assert floodgate_files() == []

    start = time.monotonic()
    applied = ansible(
        lab, str(ROOT / "mitigate.yml"), "-l", "edge1", "-e", "queue=4", "-e", "verify_min_packets=0"
    )
    timings["mitigate"] = time.monotonic() - start
    save_log("playbook-mitigate", applied)
    assert applied.returncode == 0, plain(applied.stdout)[-6000:]

    text, report = status(lab)
    row = report[0]
    assert re.search(
        r"edge1: ACTIVE on eth1 queue 4 \(af_xdp\), receiver active, packets \d+ passed \d+ dropped \d+", text
    ), text[-3000:]
    assert row["active"] is True and str(row["queue"]) == "4" and row["receiver_unit"] == "active"
    assert {"packets", "passed", "dropped"} <= set(row["receiver"]), row
    assert set(row["queue_rx_packets"]) == {str(q) for q in range(8)}, row

    # New rules that do not compile, on the mitigated host: refused by the pre-flight with the compiler's message
    # (a reload would keep the old rules while the run reported success); nothing changes, the receiver runs on.
    unit = "floodgate-rx@eth1-4"
    pid, rules = edge1("systemctl", "show", "-p", "MainPID", unit).stdout, edge1("cat", RULES_FILE).stdout
    refused_bad_rules(lab, "playbook-mitigate-bad-rules")
    assert edge1("systemctl", "show", "-p", "MainPID", unit).stdout == pid
    assert edge1("cat", RULES_FILE).stdout == rules
    stats = json.loads(edge1("cat", "/run/floodgate/rx-eth1-4.json").stdout)
    assert (stats["reloads"], stats["reload_errors"]) == (0, 0), stats

    # Rules that compile but whose memory (a 4M-source rate limit: a 64 MiB table, measured by the compile on the
    # host, as a reload from the rules in force) and the receiver's own do not fit the unit's MemoryMax: refused
    # before the OOM killer would stop the receiver in the middle of the reload; nothing changes.
    limit = {"name": "lim", "action": "ratelimit 100/s burst 200 table 4194304", "match": "udp dport 53"}
    big = json.dumps(
        {
            "receiver_rules": [
                {"name": "dns_queries", "action": "pass", "match": "udp dport 53 dns-valid"},
                limit,
            ],
            "receiver_memory_max": "100M",
        }
    )
    refused = ansible(lab, str(ROOT / "mitigate.yml"), "-l", "edge1", "-e", "queue=4", "-e", big)
    save_log("playbook-mitigate-memory", refused)
    out = plain(refused.stdout)
    assert refused.returncode != 0, out[-6000:]
    m = re.search(
        r"PREFLIGHT rules need more memory than the receiver may use: compiled on edge1 \(\S+ --check-rules, as a "
        r"reload from the rules in force, both sets held at once\), the rules for eth1 queue 4 took ([0-9.]+) MiB at "
        r"their peak; with the receiver's own 64M that is over its unit's MemoryMax=100M \(100.0 MiB\)",
        out,
    )
    assert m and 64 <= float(m[1]) < 80, out[-6000:]
    assert "MITIGATION FAILED" not in out and "rolled back" not in out, out[-6000:]
    assert edge1("systemctl", "show", "-p", "MainPID", unit).stdout == pid
    assert edge1("cat", RULES_FILE).stdout == rules
    stats = json.loads(edge1("cat", "/run/floodgate/rx-eth1-4.json").stdout)
    assert (stats["reloads"], stats["reload_errors"]) == (0, 0), stats

    # An option the receiver refuses, on the mitigated host: the new unit would restart the receiver, which would not
    # start (the mitigation then rolled back); refused by the pre-flight with the receiver's own message, nothing
    # changes and the receiver runs on with its options.
    dropin = "/etc/systemd/system/floodgate-rx@eth1-4.service.d/10-instance.conf"
    unit_text = edge1("cat", dropin).stdout
    bad_args = json.dumps({"receiver_extra_args": ["--coalesce-us", "5000"]})
    refused = ansible(lab, str(ROOT / "mitigate.yml"), "-l", "edge1", "-e", "queue=4", "-e", bad_args)
    save_log("playbook-mitigate-bad-args", refused)
    out = plain(refused.stdout)
    assert refused.returncode != 0, out[-6000:]
    assert re.search(
        r"PREFLIGHT receiver options refused: the receiver for eth1 queue 4 on edge1 would not start with its "
        r"command line \(\S+ --check-args --backend af_xdp --interface eth1 --queue 4 --rules "
        r"/etc/floodgate/rules-eth1-4.conf .* --coalesce-us 5000\): --coalesce-us '5000': expected 0-1000 "
        r"microseconds\.",
        out,
    ), out[-6000:]
    assert "MITIGATION FAILED" not in out and "rolled back" not in out, out[-6000:]
    assert edge1("systemctl", "show", "-p", "MainPID", unit).stdout == pid
    assert edge1("cat", dropin).stdout == unit_text

    start = time.monotonic()
    undone = ansible(lab, str(ROOT / "unmitigate.yml"), "-l", "edge1")
    timings["unmitigate"] = time.monotonic() - start
    save_log("playbook-unmitigate", undone)
    assert undone.returncode == 0, plain(undone.stdout)[-6000:]
    assert nic_facts(lab, tmp_path / "after-undo") == before
    left = [f for f in floodgate_files() if f != "/var/lib/floodgate/state.json"]
    assert left == [] and "/var/lib/floodgate/state.json" not in floodgate_files(), left
    text, report = status(lab)
    assert "edge1: no mitigation" in text and report[0]["active"] is False, text[-3000:]
    print("playbooks: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
