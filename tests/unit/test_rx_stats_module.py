"""floodgate_rx_stats runs for real (`ansible localhost -m floodgate_rx_stats`) on stats files in a temporary folder.

The files have the shape floodgate-rx writes (csrc/, /run/floodgate/rx-IF-Q.json); a writer thread stands in for a
receiver that gets ready while the module waits.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from ansible.module_utils.floodgate.systemd import SystemdError, start_action, start_unit, unit_state
from standin.nic import run_module

STATS = {
    "interface": "eth3",
    "queue": 4,
    "backend": "netmap",
    "packets": 1200,
    "dropped": 1100,
    "passed": 100,
}
EXPECT = {"interface": "eth3", "queue": 4, "backend": "netmap"}


def test_reads_a_matching_file_and_returns_its_counters(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"
    path.write_text(json.dumps(STATS))
    res = run_module(
        "floodgate_rx_stats", {"path": str(path), "expect": EXPECT, "unit": "floodgate-rx@eth3-4"}
    )
    assert not res.get("failed") and res["changed"] is False
    assert res["found"] is True and res["stats"] == STATS


def test_waits_for_the_file_to_appear(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"

    # Written 5 s after the start: `ansible` starts the module well before that (1-2 s here, even under load), so
    # the module finds no file at first and must wait for it (no timing is asserted).
    def ready_later() -> None:
        time.sleep(5)
        tmp = tmp_path / ".rx.tmp"
        tmp.write_text(json.dumps(STATS))
        tmp.rename(path)

    writer = threading.Thread(target=ready_later)
    writer.start()
    res = run_module("floodgate_rx_stats", {"path": str(path), "timeout": 20, "expect": EXPECT})
    writer.join()
    assert not res.get("failed"), res
    assert res["found"] is True and res["stats"]["packets"] == 1200


def test_a_receiver_on_another_queue_fails_with_what_it_reports(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"
    path.write_text(json.dumps(dict(STATS, queue=3, backend="af_xdp")))
    res = run_module(
        "floodgate_rx_stats", {"path": str(path), "expect": EXPECT, "unit": "floodgate-rx@eth3-4"}
    )
    assert res["failed"] is True
    assert "floodgate-rx@eth3-4 reports" in res["msg"] and "not netmap on eth3 queue 4" in res["msg"]
    assert "queue, backend differ" in res["msg"] and "journalctl -u floodgate-rx@eth3-4" in res["msg"]


def test_no_file_within_the_timeout_fails_and_says_which_journal(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"
    res = run_module("floodgate_rx_stats", {"path": str(path), "timeout": 1, "unit": "floodgate-rx@eth3-4"})
    assert res["failed"] is True and res["found"] is False
    assert (
        f"wrote no stats file {path} within 1 s" in res["msg"]
        and "journalctl -u floodgate-rx@eth3-4" in res["msg"]
    )


def test_missing_ok_reports_no_receiver(tmp_path: Path) -> None:
    res = run_module("floodgate_rx_stats", {"path": str(tmp_path / "rx-eth3-4.json"), "missing_ok": True})
    assert not res.get("failed") and res["found"] is False and res["stats"] == {}


def test_an_unknown_expected_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"
    path.write_text(json.dumps(STATS))
    res = run_module("floodgate_rx_stats", {"path": str(path), "expect": {"cpu": 1}})
    assert res["failed"] is True and "unknown field(s) ['cpu']" in res["msg"]


# start: the systemd part. This controller has systemctl but no systemd as PID 1, so the real systemctl refuses
# here; starting a real instance (start, restart, reload, READY=1, then the stats file) runs in the lab's Molecule
# scenarios (molecule/fleet, molecule/mitigation, roles/receiver/molecule/default) on systemd hosts.
def test_start_without_systemd_fails_clearly_and_does_not_read(tmp_path: Path) -> None:
    path = tmp_path / "rx-eth3-4.json"
    path.write_text(json.dumps(STATS))
    res = run_module(
        "floodgate_rx_stats",
        {
            "path": str(path),
            "expect": EXPECT,
            "unit": "floodgate-rx@eth3-4",
            "start": "started",
            "timeout": 5,
        },
    )
    assert res["failed"] is True and res["found"] is False and res["stats"] == {}
    assert "cannot read the state of floodgate-rx@eth3-4" in res["msg"] and "Is systemd running" in res["msg"]


def test_an_unknown_start_state_is_refused(tmp_path: Path) -> None:
    res = run_module("floodgate_rx_stats", {"path": str(tmp_path / "rx.json"), "start": "stopped"})
    assert res["failed"] is True and "start" in res["msg"] and "stopped" in res["msg"]


@pytest.mark.parametrize(
    ("active", "want", "verb"),
    [
        ("active", "started", None),
        ("activating", "started", None),
        ("inactive", "started", "start"),
        ("failed", "started", "start"),
        ("active", "restarted", "restart"),
        ("inactive", "restarted", "start"),
        ("active", "reloaded", "reload"),
        ("failed", "reloaded", "start"),
    ],
)
def test_start_decides_as_systemd_service_does(active: str, want: str, verb: str | None) -> None:
    assert start_action({"LoadState": "loaded", "ActiveState": active}, want) == verb


def test_unit_state_parses_systemctl_show() -> None:
    # `systemctl show floodgate-rx@eth1-4 -p LoadState -p ActiveState -p UnitFileState` on a lab edge (systemd 252)
    out = "LoadState=loaded\nActiveState=active\nUnitFileState=disabled\n"
    assert unit_state(lambda argv: (0, out, ""), "systemctl", "floodgate-rx@eth1-4") == {
        "LoadState": "loaded",
        "ActiveState": "active",
        "UnitFileState": "disabled",
    }


class OldSystemd:
    """systemctl's answers, as recorded on systemd 245 (Ubuntu 20.04), for an instance of a template unit written
    after systemd last looked for it: `show` says not-found until a daemon-reload; then it is loaded and inactive.
    A stand-in for systemctl because this controller has no systemd as PID 1; the lab's systemd 252 finds a new
    unit file without a reload, so the reload below is only reached on older systemd."""

    def __init__(self, file_exists: bool = True) -> None:
        self.calls: list[str] = []
        self.reloaded = False
        self.file_exists = file_exists

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(" ".join(argv[1:3]))
        if argv[1] == "daemon-reload":
            self.reloaded = True
            return 0, "", ""
        if argv[1] == "show":
            load = "loaded" if self.reloaded and self.file_exists else "not-found"
            active = "inactive"
            return (
                0,
                f"LoadState={load}\nActiveState={active}\nUnitFileState={'disabled' if load == 'loaded' else ''}\n",
                "",
            )
        return 0, "", ""


def test_a_unit_systemd_has_not_found_yet_is_reloaded_once_then_started() -> None:
    run = OldSystemd()
    done = start_unit(
        run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=False
    )
    assert run.calls == [
        "show floodgate-rx@eth3-4",
        "daemon-reload",
        "show floodgate-rx@eth3-4",
        "start floodgate-rx@eth3-4",
    ]
    assert done == {"changed": True, "action": "start", "disabled": False}


def test_an_asked_reload_is_not_repeated_and_check_mode_reloads_nothing() -> None:
    run = OldSystemd()
    start_unit(run, "systemctl", "floodgate-rx@eth3-4", "restarted", daemon_reload=True, check_mode=False)
    assert run.calls == ["daemon-reload", "show floodgate-rx@eth3-4", "start floodgate-rx@eth3-4"]
    run = OldSystemd()
    with pytest.raises(SystemdError, match="there is no unit floodgate-rx@eth3-4"):
        start_unit(run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=True)
    assert run.calls == ["show floodgate-rx@eth3-4"]


def test_a_unit_without_a_file_fails_after_one_reload_and_starts_nothing() -> None:
    run = OldSystemd(file_exists=False)
    with pytest.raises(SystemdError, match="there is no unit floodgate-rx@eth3-4"):
        start_unit(run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=False)
    assert run.calls == ["show floodgate-rx@eth3-4", "daemon-reload", "show floodgate-rx@eth3-4"]
