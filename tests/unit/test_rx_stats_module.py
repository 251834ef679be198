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
from ansible.module_utils.floodgate.systemd import (
    SystemdError,
    reset_failed,
    start_action,
    start_unit,
    stop,
    unit_state,
)
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
    # `systemctl show probe@x -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload` in a container of the
    # lab image (systemd 252.39-1~deb12u2), recorded 2026-11-26: a running instance whose template was rewritten
    # since systemd loaded it
    out = "LoadState=loaded\nActiveState=active\nUnitFileState=static\nNeedDaemonReload=yes\n"
    assert unit_state(lambda argv: (0, out, ""), "systemctl", "probe@x") == {
        "LoadState": "loaded",
        "ActiveState": "active",
        "UnitFileState": "static",
        "NeedDaemonReload": "yes",
    }
    # and an instance of a template that does not exist
    out = "LoadState=not-found\nActiveState=inactive\nUnitFileState=\nNeedDaemonReload=no\n"
    assert unit_state(lambda argv: (0, out, ""), "systemctl", "nosuch@y")["LoadState"] == "not-found"


class Systemctl:
    """A stand-in for systemctl (this controller has no systemd as PID 1), answering `show` as systemd does in the two
    cases the start reloads for, which the lab's scenarios do not produce: a systemd before 246 reports an instance
    of a template written since its last reload not-found until a daemon-reload (its unit cache; systemd's fix is
    systemd/systemd#15948, in 246); any systemd reports a unit it still holds from files changed since with
    NeedDaemonReload=yes. After a reload the unit is loaded (if its file exists) and inactive."""

    def __init__(self, file_exists: bool = True, loaded_before: bool = False) -> None:
        self.calls: list[str] = []
        self.reloaded = False
        self.file_exists = file_exists
        self.loaded_before = loaded_before  # held by systemd from files since removed and written again

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(" ".join(argv[1:3]))
        if argv[1] == "daemon-reload":
            self.reloaded = True
            return 0, "", ""
        if argv[1] == "show":
            if self.reloaded:
                load = "loaded" if self.file_exists else "not-found"
            else:
                load = "loaded" if self.loaded_before else "not-found"
            stale = "yes" if self.loaded_before and not self.reloaded else "no"
            out = (
                f"LoadState={load}\nActiveState=inactive\nUnitFileState=disabled\nNeedDaemonReload={stale}\n"
            )
            return 0, out, ""
        return 0, "", ""


def test_a_unit_systemd_has_not_found_yet_is_reloaded_once_then_started() -> None:
    run = Systemctl()
    done = start_unit(
        run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=False
    )
    assert run.calls == [
        "show floodgate-rx@eth3-4",
        "daemon-reload",
        "show floodgate-rx@eth3-4",
        "start floodgate-rx@eth3-4",
    ]
    assert done == {"changed": True, "action": "start", "disabled": False, "reloaded": True}


def test_an_asked_reload_is_not_repeated_and_check_mode_reloads_nothing() -> None:
    run = Systemctl()
    start_unit(run, "systemctl", "floodgate-rx@eth3-4", "restarted", daemon_reload=True, check_mode=False)
    assert run.calls == ["daemon-reload", "show floodgate-rx@eth3-4", "start floodgate-rx@eth3-4"]
    run = Systemctl()
    with pytest.raises(SystemdError, match="there is no unit floodgate-rx@eth3-4"):
        start_unit(run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=True)
    assert run.calls == ["show floodgate-rx@eth3-4"]


def test_a_unit_without_a_file_fails_after_one_reload_and_starts_nothing() -> None:
    run = Systemctl(file_exists=False)
    with pytest.raises(SystemdError, match="there is no unit floodgate-rx@eth3-4"):
        start_unit(run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=False)
    assert run.calls == ["show floodgate-rx@eth3-4", "daemon-reload", "show floodgate-rx@eth3-4"]


def test_a_unit_systemd_holds_from_changed_files_is_reloaded_before_the_start() -> None:
    run = Systemctl(loaded_before=True)
    start_unit(run, "systemctl", "floodgate-rx@eth3-4", "started", daemon_reload=False, check_mode=False)
    assert run.calls == [
        "show floodgate-rx@eth3-4",
        "daemon-reload",
        "show floodgate-rx@eth3-4",
        "start floodgate-rx@eth3-4",
    ]


def test_a_unit_systemd_loaded_unusable_is_reloaded_once() -> None:
    # `systemctl show probe@y` of a template without the instance's drop-in that carries ExecStart, recorded in the
    # lab image (systemd 252) 2026-11-26: what a systemd whose view of the unit folders were older than the drop-in
    # would load (252 refreshes it itself; measured, docs/fleet.md)
    shows = iter(
        [
            "LoadState=bad-setting\nActiveState=inactive\nUnitFileState=static\nNeedDaemonReload=no\n",
            "LoadState=loaded\nActiveState=inactive\nUnitFileState=static\nNeedDaemonReload=no\n",
        ]
    )
    calls: list[str] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        calls.append(" ".join(argv[1:3]))
        return (0, next(shows), "") if argv[1] == "show" else (0, "", "")

    start_unit(run, "systemctl", "floodgate-rx@eth3-5", "started", daemon_reload=False, check_mode=False)
    assert calls == [
        "show floodgate-rx@eth3-5",
        "daemon-reload",
        "show floodgate-rx@eth3-5",
        "start floodgate-rx@eth3-5",
    ]


# The receiver's stop in unmitigate: stop, then (its files removed) reset-failed only for a failed unit, no
# daemon-reload. `systemctl show UNIT -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload` as recorded
# in a container of the lab image (systemd 252.39-1~deb12u2) on 2026-11-26; the lab's receiver scenario
# (roles/receiver/molecule/default) checks the same on the real receiver.
SHOW_RUNNING = "LoadState=loaded\nActiveState=active\nUnitFileState=static\nNeedDaemonReload=no\n"
SHOW_STOPPED = "LoadState=loaded\nActiveState=inactive\nUnitFileState=static\nNeedDaemonReload=no\n"
# a unit whose stop ended failed (it ignored SIGTERM and was killed at TimeoutStopSec; systemctl stop exited 0)
SHOW_KILLED = "LoadState=loaded\nActiveState=failed\nUnitFileState=static\nNeedDaemonReload=no\n"
# a failed instance whose files were removed since: still loaded and listed by systemctl --failed until reset
SHOW_FAILED_GONE = "LoadState=loaded\nActiveState=failed\nUnitFileState=static\nNeedDaemonReload=yes\n"
# after reset-failed (or a stop) of a unit whose files are gone: systemd collected it
SHOW_GONE = "LoadState=not-found\nActiveState=inactive\nUnitFileState=\nNeedDaemonReload=no\n"


class Recorded:
    """systemctl answering `show` with the recorded outputs given, in order; every other verb succeeds."""

    def __init__(self, *shows: str) -> None:
        self.shows = list(shows)
        self.calls: list[str] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(" ".join(argv[1:3]))
        return (0, self.shows.pop(0), "") if argv[1] == "show" else (0, "", "")


@pytest.mark.parametrize(
    ("shows", "calls", "reset"),
    [
        # running: stopped, read again, inactive: nothing more (systemd collects it; no daemon-reload)
        ((SHOW_RUNNING, SHOW_STOPPED), ["show u@x", "stop u@x", "show u@x"], False),
        # running, its stop ended failed: reset
        ((SHOW_RUNNING, SHOW_KILLED), ["show u@x", "stop u@x", "show u@x", "reset-failed u@x"], True),
        # failed before (e.g. a receiver that never started): not stopped, reset
        ((SHOW_FAILED_GONE,), ["show u@x", "reset-failed u@x"], True),
        # nothing there (a second unmitigate): one read, nothing else
        ((SHOW_GONE,), ["show u@x"], False),
    ],
)
def test_stop_then_reset_failed_only_for_a_failed_unit(
    shows: tuple[str, ...], calls: list[str], reset: bool
) -> None:
    run = Recorded(*shows)
    stopped = stop(run, "systemctl", "u@x", check_mode=False)
    done = reset_failed(run, "systemctl", "u@x", stopped, check_mode=False)
    assert run.calls == calls
    assert done == {"changed": reset, "error": None}
    assert "daemon-reload" not in run.calls


def test_reset_failed_in_check_mode_runs_nothing_and_says_what_it_would_do() -> None:
    run = Recorded(SHOW_FAILED_GONE)
    assert reset_failed(run, "systemctl", "u@x", stop(run, "systemctl", "u@x", True), True)["changed"] is True
    run = Recorded(SHOW_RUNNING)
    assert (
        reset_failed(run, "systemctl", "u@x", stop(run, "systemctl", "u@x", True), True)["changed"] is False
    )
    assert run.calls == ["show u@x"]


def test_a_failed_reset_is_returned_not_raised() -> None:
    def run(argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "show":
            return 0, SHOW_FAILED_GONE, ""
        return 1, "", "Failed to reset failed state of unit u@x.service: Access denied"

    done = reset_failed(run, "systemctl", "u@x", stop(run, "systemctl", "u@x", False), False)
    assert done["changed"] is False and "systemctl reset-failed u@x failed (exit 1): " in done["error"]
    # a state that could not be read: the stop reported it, the reset adds nothing
    assert reset_failed(run, "systemctl", "u@x", {"changed": False, "error": "x", "state": {}}, False) == {
        "changed": False,
        "error": None,
    }
