"""floodgate_record, floodgate_files and floodgate_host_facts run for real (`ansible localhost -m MODULE`) on temporary folders.

No NIC change: floodgate_host_facts reads the loopback interface with the real ethtool and compares with
nic_facts on the same interface; floodgate_record writes real files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from standin.nic import run_module


@pytest.fixture(params=["worker", "module"])
def record_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """floodgate_record on the controller both ways: written in the worker by its action plugin
    (action_plugins/floodgate_record.py, the default) and run as the module (FLOODGATE_RECORD_IN_WORKER=0)."""
    monkeypatch.setenv("FLOODGATE_RECORD_IN_WORKER", "1" if request.param == "worker" else "0")
    return str(request.param)


def nice(content: object) -> str:
    """A record as to_nice_json writes it (what the playbooks wrote before floodgate_record)."""
    return json.dumps(content, indent=4, sort_keys=True) + "\n"


def test_record_writes_into_a_new_folder_then_changes_nothing(tmp_path: Path, record_way: str) -> None:
    folder = tmp_path / "state" / "floodgate"
    records = [
        {"name": "state.json", "content": {"status": "applying", "interface": "eth3", "queue": 4}},
        {"name": "snapshot-eth3.json", "content": {"format": 1, "interface": "eth3", "restorable": {}}},
    ]
    first = run_module("floodgate_record", {"dir": str(folder), "records": records})
    assert first["changed"] is True and sorted(first["written"]) == ["snapshot-eth3.json", "state.json"]
    assert (folder / "state.json").read_text() == nice(records[0]["content"])
    assert oct((folder / "state.json").stat().st_mode & 0o777) == "0o644"
    assert not [p for p in folder.iterdir() if p.name.startswith(".floodgate-")], "temporary file left"
    again = run_module("floodgate_record", {"dir": str(folder), "records": records})
    assert again["changed"] is False and again["written"] == []


def test_record_check_mode_shows_the_diff_and_writes_nothing(tmp_path: Path, record_way: str) -> None:
    (tmp_path / "state.json").write_text(nice({"status": "applying"}))
    res = run_module(
        "floodgate_record",
        {"dir": str(tmp_path), "records": [{"name": "state.json", "content": {"status": "active"}}]},
        check=True,
        diff=True,
    )
    assert res["changed"] is True and res["written"] == ["state.json"]
    assert '"applying"' in res["diff"][0]["before"] and '"active"' in res["diff"][0]["after"]
    assert json.loads((tmp_path / "state.json").read_text()) == {"status": "applying"}


def test_record_merge_keeps_every_runs_additions(tmp_path: Path, record_way: str) -> None:
    rec = tmp_path / "rss_steering-eth3-rules.json"
    rec.write_text(nice({"interface": "eth3", "locations": [2045], "ntuple_enabled": True, "other": 1}))
    res = run_module(
        "floodgate_record",
        {
            "dir": str(tmp_path),
            "records": [
                {
                    "name": rec.name,
                    "content": {"interface": "eth3", "locations": [2045, 2044], "ntuple_enabled": False},
                    "merge": True,
                }
            ],
        },
    )
    want = {"interface": "eth3", "locations": [2045, 2044], "ntuple_enabled": True, "other": 1}
    assert res["changed"] is True and res["records"][rec.name] == want
    assert json.loads(rec.read_text()) == want


def test_record_refuses_bad_input_and_changes_nothing(tmp_path: Path, record_way: str) -> None:
    broken = tmp_path / "rules.json"
    broken.write_text("{not json")
    keep = tmp_path / "state.json"
    keep.write_text(nice({"status": "active"}))
    merge_into_garbage = run_module(
        "floodgate_record",
        {
            "dir": str(tmp_path),
            "records": [
                {"name": "state.json", "content": {"status": "gone"}},
                {"name": "rules.json", "content": {"locations": [1]}, "merge": True},
            ],
        },
    )
    assert merge_into_garbage.get("failed") is True
    assert "is not JSON" in merge_into_garbage["msg"] and "Nothing was changed" in merge_into_garbage["msg"]
    assert broken.read_text() == "{not json" and json.loads(keep.read_text()) == {"status": "active"}

    escape = run_module(
        "floodgate_record", {"dir": str(tmp_path), "records": [{"name": "../escape.json", "content": {}}]}
    )
    assert escape.get("failed") is True and "no '/'" in escape["msg"]
    assert not (tmp_path.parent / "escape.json").exists()

    mode = run_module(
        "floodgate_record",
        {"dir": str(tmp_path), "mode": "rw-r", "records": [{"name": "new.json", "content": {}}]},
    )
    assert mode.get("failed") is True and "octal mode" in mode["msg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.json", "state.json"]


def test_record_absent_removes_named_records_only(tmp_path: Path, record_way: str) -> None:
    for name in ("a.json", "b.json", "c.json"):
        (tmp_path / name).write_text("{}\n")
    args = {"dir": str(tmp_path), "absent": ["a.json", "b.json", "missing.json"]}
    check = run_module("floodgate_record", args, check=True)
    assert check["changed"] is True and sorted(check["removed"]) == ["a.json", "b.json"]
    assert len(list(tmp_path.iterdir())) == 3
    res = run_module("floodgate_record", args)
    assert res["changed"] is True and sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
    assert run_module("floodgate_record", args)["changed"] is False


def test_files_writes_into_new_folders_then_changes_nothing(tmp_path: Path) -> None:
    rules = tmp_path / "etc" / "floodgate" / "rules-eth3-4.conf"
    dropin = tmp_path / "systemd" / "floodgate-rx@eth3-4.service.d" / "10-instance.conf"
    files = [
        {"path": str(rules), "content": "default drop\n"},
        {"path": str(dropin), "content": "[Service]\nCPUAffinity=1\n", "mode": "0600"},
    ]
    first = run_module("floodgate_files", {"files": files})
    assert first["changed"] is True and first["written"] == [str(rules), str(dropin)]
    # new files (the receiver skips its daemon-reload then)
    assert first["created"] == [str(rules), str(dropin)]
    assert rules.read_text() == "default drop\n" and dropin.read_text() == "[Service]\nCPUAffinity=1\n"
    assert oct(rules.stat().st_mode & 0o777) == "0o644" and oct(dropin.stat().st_mode & 0o777) == "0o600"
    assert oct(dropin.parent.stat().st_mode & 0o777) == "0o755"
    assert not [p for p in rules.parent.iterdir() if p.name.startswith(".floodgate-")], "temporary file left"
    again = run_module("floodgate_files", {"files": files})
    assert again["changed"] is False and again["written"] == [] and again["removed"] == []
    # YAML makes 384 of an unquoted `mode: 0600`: the integer is the mode itself (not octal "384")
    as_int = run_module(
        "floodgate_files", {"files": [{"path": str(rules), "content": "default drop\n", "mode": 0o600}]}
    )
    assert as_int["changed"] is True and oct(rules.stat().st_mode & 0o777) == "0o600"
    rules.chmod(0o666)  # same text, other mode: the mode is put back
    fixed = run_module("floodgate_files", {"files": files})
    assert (
        fixed["changed"] is True and fixed["written"] == [] and oct(rules.stat().st_mode & 0o777) == "0o644"
    )
    changed = run_module("floodgate_files", {"files": [dict(files[0], content="default pass\n")]})
    assert changed["written"] == [str(rules)] and changed["created"] == []  # changed, not new


def test_files_check_mode_shows_the_diff_and_changes_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "rules.conf"
    conf.write_text("default pass\n")
    gone = tmp_path / "old.d"
    gone.mkdir()
    res = run_module(
        "floodgate_files",
        {"files": [{"path": str(conf), "content": "default drop\n"}], "absent": [str(gone)]},
        check=True,
        diff=True,
    )
    assert res["changed"] is True and res["written"] == [str(conf)] and res["removed"] == [str(gone)]
    assert res["diff"][0]["before"] == "default pass\n" and res["diff"][0]["after"] == "default drop\n"
    assert conf.read_text() == "default pass\n" and gone.is_dir()


def test_files_removes_an_instance_and_the_template_with_the_last_one(tmp_path: Path) -> None:
    unit = tmp_path / "floodgate-rx@.service"
    unit.write_text("[Service]\n")
    for inst in ("eth3-4", "eth3-5"):
        (tmp_path / f"floodgate-rx@{inst}.service.d").mkdir()
        (tmp_path / f"floodgate-rx@{inst}.service.d" / "10-instance.conf").write_text("x\n")
    stats = tmp_path / "rx-eth3-4.json"
    stats.write_text("{}\n")

    def remove(inst: str) -> dict[str, object]:
        return run_module(
            "floodgate_files",
            {
                "absent": [
                    str(tmp_path / f"floodgate-rx@{inst}.service.d"),
                    str(tmp_path / f"rx-{inst}.json"),
                ],
                "absent_if_unused": [
                    {"path": str(unit), "used_by": str(tmp_path / "floodgate-rx@?*.service.d")}
                ],
            },
        )

    first = remove("eth3-4")  # eth3-5 still uses the template
    assert first["changed"] is True and unit.exists() and not stats.exists()
    assert first["removed"] == [str(tmp_path / "floodgate-rx@eth3-4.service.d"), str(stats)]
    last = remove("eth3-5")
    assert last["changed"] is True and last["removed"][-1] == str(unit)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert remove("eth3-5")["changed"] is False


def test_files_stop_units_without_systemd_warns_removes_and_fails_the_reload(tmp_path: Path) -> None:
    # This controller has systemctl but no systemd as PID 1: the real systemctl refuses, so the stop is a warning
    # (as the separate stop task's failed_when: false let it pass), the files still go, and the reload after the
    # change fails saying so. Stopping and reloading a real instance runs in the lab's Molecule scenarios.
    conf = tmp_path / "floodgate-rx@eth3-4.service.d"
    conf.mkdir()
    (conf / "10-instance.conf").write_text("x\n")
    args = {"stop_units": ["floodgate-rx@eth3-4"], "absent": [str(conf)], "daemon_reload": True}
    check = run_module("floodgate_files", args, check=True)
    assert not check.get("failed") and check["changed"] is True and check["stopped"] == [] and conf.is_dir()
    assert any("could not stop floodgate-rx@eth3-4" in w for w in check.get("warnings", []))
    res = run_module("floodgate_files", args)
    assert res["failed"] is True and not conf.exists() and res["removed"] == [str(conf)]
    assert "the files were written or removed, but systemctl daemon-reload failed" in res["msg"]
    again = run_module("floodgate_files", args)  # nothing left, nothing running: no change, no reload
    assert not again.get("failed") and again["changed"] is False


def test_files_reset_failed_without_systemd_warns_once_and_still_removes(tmp_path: Path) -> None:
    # Without systemd as PID 1 the state cannot be read: the stop's warning says so, the reset adds nothing and
    # does not reload (the receiver's removal in unmitigate: reset_failed instead of daemon_reload). The real
    # systemd's answers are in test_rx_stats_module.py (recorded) and the receiver's lab scenario.
    conf = tmp_path / "floodgate-rx@eth3-4.service.d"
    conf.mkdir()
    args = {"stop_units": ["floodgate-rx@eth3-4"], "absent": [str(conf)], "reset_failed": True}
    res = run_module("floodgate_files", args)
    assert not res.get("failed") and res["changed"] is True and not conf.exists(), res
    assert res["removed"] == [str(conf)] and res["stopped"] == [] and res["reset"] == []
    assert [w for w in res.get("warnings", []) if "floodgate-rx@eth3-4" in w] == [
        w for w in res.get("warnings", []) if "could not stop floodgate-rx@eth3-4" in w
    ]
    again = run_module("floodgate_files", args)
    assert not again.get("failed") and again["changed"] is False and again["reset"] == []


def test_files_refuses_bad_input_and_changes_nothing(tmp_path: Path) -> None:
    keep = tmp_path / "keep.conf"
    keep.write_text("x\n")
    relative = run_module(
        "floodgate_files",
        {"files": [{"path": str(tmp_path / "new.conf"), "content": "y\n"}], "absent": ["keep.conf"]},
    )
    assert relative.get("failed") is True and "must be absolute" in relative["msg"]
    for bad in ("rw-r", "17777", 0o10000, True):  # not octal, above 0o7777 (string and integer), a boolean
        mode = run_module("floodgate_files", {"files": [{"path": str(keep), "content": "y\n", "mode": bad}]})
        assert (
            mode.get("failed") is True
            and "octal mode" in mode["msg"]
            and "Nothing was changed" in mode["msg"]
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.conf"] and keep.read_text() == "x\n"


def online_from_sysfs() -> list[int]:
    cpus: list[int] = []
    for part in Path("/sys/devices/system/cpu/online").read_text().strip().split(","):
        low, _, high = part.partition("-")
        cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def test_host_facts_reads_state_snapshot_cpus_and_the_nic_as_nic_facts_does(tmp_path: Path) -> None:
    state = {"status": "active", "interface": "lo", "queue": 0, "backend": "af_xdp"}
    snapshot = {"format": 1, "interface": "lo", "restorable": {"features": {}}}
    (tmp_path / "state.json").write_text(nice(state))
    (tmp_path / "snapshot-lo.json").write_text(nice(snapshot))
    res = run_module("floodgate_host_facts", {"state_dir": str(tmp_path)})  # no interface: the state's
    assert res["changed"] is False and res["interface"] == "lo" and res["exists"] is True
    assert res["state"] == state and res["snapshot"] == snapshot
    assert res["cpus_online"] == online_from_sysfs() and res["nproc"] == os.cpu_count()
    facts = run_module("nic_facts", {"interface": "lo"})
    assert res["nic"]["features"] == facts["nic"]["features"]
    assert res["restorable"] == facts["restorable"]


def test_nic_facts_checks_the_read_against_an_expected_state_in_the_same_call() -> None:
    """nic_restore's read-back and check in one call: the loopback as read is its own expected state; a snapshot
    that differs in one feature fails with the caller's message naming that part, with the read returned."""
    now = run_module("nic_facts", {"interface": "lo"})["restorable"]
    same = run_module("nic_facts", {"interface": "lo", "expect_restorable": now})
    assert same.get("failed") is not True and same["differ"] == [] and same["restorable"] == now
    name = sorted(now["features"])[0]
    snapshot = dict(now, features=dict(now["features"], **{name: not now["features"][name]}))
    bad = run_module(
        "nic_facts",
        {
            "interface": "lo",
            "expect_restorable": snapshot,
            "mismatch_msg": "lo not restored: {differ}Fix it.",
        },
    )
    assert bad.get("failed") is True and bad["differ"] == ["features"], bad
    # Each part as the assert's message rendered it: "KEY: now VALUE, snapshot VALUE; " (dicts in read order).
    msg = bad["msg"]
    assert msg.startswith("lo not restored: features: now {") and msg.endswith("}; Fix it."), msg
    assert f"'{name}': {now['features'][name]}" in msg.split(", snapshot ")[0]
    assert f"'{name}': {snapshot['features'][name]}" in msg.split(", snapshot ")[1]
    assert bad["restorable"] == now
    # a part the read has and the snapshot lacks (or the other way) is named too, not a failure with no reason
    older = {k: v for k, v in now.items() if k != "ntuple"}
    lacking = run_module("nic_facts", {"interface": "lo", "expect_restorable": older})
    assert lacking.get("failed") is True and lacking["differ"] == ["ntuple"], lacking
    assert "ntuple: now " in lacking["msg"] and ", snapshot None; " in lacking["msg"], lacking["msg"]
    extra = run_module("nic_facts", {"interface": "lo", "expect_restorable": dict(now, extra_part=[1])})
    assert extra.get("failed") is True and extra["differ"] == ["extra_part"], extra


def test_host_facts_reports_an_unknown_interface_and_empty_records(tmp_path: Path) -> None:
    res = run_module("floodgate_host_facts", {"state_dir": str(tmp_path / "none"), "interface": "fgnope0"})
    assert res.get("failed") is not True
    assert res["exists"] is False and res["nic"] is None and res["restorable"] is None
    assert res["state"] == {} and res["snapshot"] == {}


@pytest.mark.parametrize("name", ["../etc", "a/b"])
def test_host_facts_refuses_a_path_as_interface(tmp_path: Path, name: str) -> None:
    res = run_module("floodgate_host_facts", {"state_dir": str(tmp_path), "interface": name})
    assert res.get("failed") is True and "is not an interface name" in res["msg"]


@pytest.mark.parametrize("text", ['{"status": "act', "[1, 2]"])
def test_host_facts_fails_on_a_damaged_state_record(tmp_path: Path, text: str) -> None:
    (tmp_path / "state.json").write_text(text)
    res = run_module("floodgate_host_facts", {"state_dir": str(tmp_path), "interface": "lo"})
    assert res.get("failed") is True and f"{tmp_path}/state.json" in res["msg"]
    assert "Nothing was changed" in res["msg"]
    assert (tmp_path / "state.json").read_text() == text


def test_host_facts_and_nic_facts_fail_alike_on_a_bad_ethtool(tmp_path: Path) -> None:
    """One failure path for both modules: a missing ethtool, and an ethtool whose output no parser knows."""
    garbled = tmp_path / "ethtool"
    garbled.write_text("#!/bin/sh\necho 'Features for lo:'\necho 'this is not a feature line'\n")
    garbled.chmod(0o755)
    for module in ("floodgate_host_facts", "nic_facts"):
        missing = run_module(module, {"interface": "lo", "ethtool_path": str(tmp_path / "none")})
        assert missing.get("failed") is True and "is not an executable file" in missing["msg"], missing
        bad = run_module(module, {"interface": "lo", "ethtool_path": str(garbled)})
        assert bad.get("failed") is True, bad
        assert bad["msg"].startswith("lo: cannot read ethtool output (") and str(garbled) in bad["msg"], bad


def test_record_subdir_keeps_a_batch_in_one_call_and_refuses_a_path(tmp_path: Path, record_way: str) -> None:
    records = [
        {"subdir": host, "name": "snapshot-eth3.json", "content": {"format": 1, "host": host}}
        for host in ("edge1", "edge2")
    ]
    res = run_module("floodgate_record", {"dir": str(tmp_path / "run"), "records": records})
    assert res["changed"] is True
    assert sorted(res["written"]) == ["edge1/snapshot-eth3.json", "edge2/snapshot-eth3.json"]
    assert res["records"]["edge2/snapshot-eth3.json"] == {"format": 1, "host": "edge2"}
    assert (tmp_path / "run" / "edge1" / "snapshot-eth3.json").read_text() == nice(records[0]["content"])
    again = run_module("floodgate_record", {"dir": str(tmp_path / "run"), "records": records})
    assert again["changed"] is False
    bad = run_module(
        "floodgate_record",
        {"dir": str(tmp_path / "run"), "records": [{"subdir": "../x", "name": "a.json", "content": {}}]},
    )
    assert bad["failed"] is True and "'../x' must be a file name inside dir" in bad["msg"]
    assert not (tmp_path / "x").exists()


def test_host_facts_compiles_the_rules_with_the_receiver_on_the_host(tmp_path: Path) -> None:
    """The pre-flight's rules check: the rules compiled from stdin by the real receiver binary (csrc/floodgate-rx),
    src-file against rules_dir; a binary that is not there (a first mitigation) or predates --check-rules (it
    refuses the option) leaves them unchecked, not refused. Nothing is written."""
    binary = Path(__file__).resolve().parents[2] / "csrc" / "floodgate-rx"
    assert binary.exists(), f"{binary} missing: run `make -C csrc` (make pytest does)"
    (tmp_path / "clients.txt").write_text("198.51.100.0/24\n")
    good = "default drop\nrule clients pass src-file clients.txt udp dport 53 dns-valid\n"
    args = {"interface": "lo", "gather_nic": False, "rules_dir": str(tmp_path), "rules_binary": str(binary)}
    res = run_module("floodgate_host_facts", dict(args, rules=good))
    assert (res["rules_checked"], res["rules_error"]) == (True, None), res
    assert 0 < res["rules_memory_kib"] < 16 * 1024, res
    # the memory measured: a 4M-source rate limit's 64 MiB table; as a reload from the rules file in force
    # (rules_running), the running table shared when the limit is unchanged, a second one when it changes
    limit, table_kib = "rule lim ratelimit 100/s burst 200 table 4194304\n", 64 * 1024
    running = tmp_path / "rules-eth1-4.conf"
    res = run_module("floodgate_host_facts", dict(args, rules=good + limit, rules_running=str(running)))
    assert table_kib <= res["rules_memory_kib"] < table_kib + 16 * 1024, res  # no such file: a start
    assert res["rules_memory_reload"] is False
    running.write_text(good + limit)
    res = run_module("floodgate_host_facts", dict(args, rules=good + limit, rules_running=str(running)))
    assert table_kib <= res["rules_memory_kib"] < table_kib + 16 * 1024, res
    assert res["rules_memory_reload"] is True
    changed = good + limit.replace("100/s", "50/s")
    res = run_module("floodgate_host_facts", dict(args, rules=changed, rules_running=str(running)))
    assert 2 * table_kib <= res["rules_memory_kib"] < 2 * table_kib + 16 * 1024, res
    running.unlink()
    res = run_module("floodgate_host_facts", dict(args, rules=good.replace("clients.txt", "missing.txt")))
    assert res["rules_checked"] is True and res.get("failed") is not True
    assert res["rules_error"].startswith("stdin: line 2: rule 'clients': src-file 'missing.txt'"), res
    assert res["rules_memory_kib"] is None
    res = run_module(
        "floodgate_host_facts", dict(args, rules_binary=str(tmp_path / "none"), rules=good + "x\n")
    )
    assert (res["rules_checked"], res["rules_error"]) == (False, None), res
    old = tmp_path / "old-floodgate-rx"  # what a receiver from before --check-rules answers: it exits unread
    old.write_text("#!/bin/sh\necho \"floodgate-rx: unknown option '--check-rules'\" >&2\nexit 2\n")
    old.chmod(0o755)
    res = run_module("floodgate_host_facts", dict(args, rules_binary=str(old), rules=good))
    assert (res["rules_checked"], res["rules_error"]) == (False, None), res
    # rules bigger than a pipe's 64 KiB buffer: the module's write meets a closed pipe every time (a small file
    # met one only when the binary had exited first - CI's failure); a broken pipe is the binary's answer too
    big = good + "".join(f"# {n:06d} {'x' * 64}\n" for n in range(1500))
    # and under the kernel's 128 KiB for one argument, as `ansible -a` passes it
    assert 64 * 1024 < len(big) < 128 * 1024
    res = run_module("floodgate_host_facts", dict(args, rules_binary=str(old), rules=big))
    assert (res["rules_checked"], res["rules_error"]) == (False, None), res
    res = run_module("floodgate_host_facts", dict(args, rules=big))
    assert (res["rules_checked"], res["rules_error"]) == (True, None), res
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clients.txt", "old-floodgate-rx"]


def test_host_facts_checks_the_receivers_options_with_the_receiver_on_the_host(tmp_path: Path) -> None:
    """The pre-flight's options check: the unit's command line checked by the real receiver binary (--check-args),
    which opens nothing (no eth1 or rules file needed here); a binary that is not there or predates --check-args
    leaves them unchecked, not refused."""
    binary = Path(__file__).resolve().parents[2] / "csrc" / "floodgate-rx"
    assert binary.exists(), f"{binary} missing: run `make -C csrc` (make pytest does)"
    if b"built without the af_xdp backend" in binary.read_bytes():
        pytest.skip("this floodgate-rx was built without af_xdp (libxdp-dev): make deps installs it")
    live = [
        "--backend",
        "af_xdp",
        "--interface",
        "eth1",
        "--queue",
        "4",
        "--rules",
        "/etc/floodgate/rules-eth1-4.conf",
    ]
    args = {"interface": "lo", "gather_nic": False, "rules_binary": str(binary)}
    res = run_module("floodgate_host_facts", dict(args, receiver_args=[*live, "--zerocopy", "off"]))
    assert (res["args_checked"], res["args_error"]) == (True, None), res
    res = run_module("floodgate_host_facts", dict(args, receiver_args=[*live, "--zerocopy", "maybe"]))
    assert res["args_checked"] is True and res.get("failed") is not True, res
    assert res["args_error"] == "--zerocopy 'maybe': expected auto, on or off", res
    res = run_module("floodgate_host_facts", dict(args, receiver_args=[*live, "--no-such-option"]))
    assert res["args_error"] == "unknown option '--no-such-option'", res
    res = run_module("floodgate_host_facts", args)
    assert (res["args_checked"], res["args_error"]) == (False, None), res
    res = run_module(
        "floodgate_host_facts", dict(args, rules_binary=str(tmp_path / "none"), receiver_args=live)
    )
    assert (res["args_checked"], res["args_error"]) == (False, None), res
    old = tmp_path / "old-floodgate-rx"  # what a receiver from before --check-args answers
    old.write_text("#!/bin/sh\necho \"floodgate-rx: unknown option '--check-args'\" >&2\nexit 2\n")
    old.chmod(0o755)
    res = run_module("floodgate_host_facts", dict(args, rules_binary=str(old), receiver_args=live))
    assert (res["args_checked"], res["args_error"]) == (False, None), res
    assert [p.name for p in tmp_path.iterdir()] == ["old-floodgate-rx"]


def test_record_in_the_worker_gives_what_the_module_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same calls, one folder each way: the same results (written, removed, records, diff, check mode, the
    messages of bad input, including what the argument spec refuses) and the same files."""
    calls: list[tuple[dict[str, object], bool, bool]] = [
        ({"records": [{"name": "state.json", "content": {"status": "applying", "q": 4}}]}, False, True),
        ({"records": [{"name": "state.json", "content": {"status": "active"}}]}, True, True),
        ({"records": [{"name": "r.json", "content": {"l": [1], "on": True}, "merge": True}]}, False, False),
        ({"records": [{"name": "r.json", "content": {"l": [2], "on": False}, "merge": True}]}, False, True),
        (
            {"records": [{"subdir": "edge1", "name": "s.json", "content": [1, "x"]}], "mode": "0600"},
            False,
            False,
        ),
        ({"absent": ["r.json", "missing.json"]}, False, True),
        ({"records": [{"name": "../escape.json", "content": {}}]}, False, False),
        ({"records": [{"name": "a.json"}]}, False, False),
        ({"records": [{"name": "a.json", "content": 1}], "bogus": 1}, False, False),
        ({"records": "not a list"}, False, False),
        ({"mode": "rw-r", "records": [{"name": "a.json", "content": {}}]}, False, False),
    ]
    got: dict[str, list[dict[str, object]]] = {}
    for way in ("worker", "module"):
        folder = tmp_path / way
        monkeypatch.setenv("FLOODGATE_RECORD_IN_WORKER", "1" if way == "worker" else "0")
        got[way] = []
        for args, check, diff in calls:
            res = run_module("floodgate_record", {"dir": str(folder), **args}, check=check, diff=diff)
            got[way].append(json.loads(json.dumps(res).replace(str(folder), "DIR")))
    for call, worker, module in zip(calls, got["worker"], got["module"], strict=True):
        assert worker == module, call
    assert [r.get("failed", False) for r in got["worker"]] == [False] * 6 + [True] * 5
    files = {
        way: sorted(str(p.relative_to(tmp_path / way)) for p in (tmp_path / way).rglob("*")) for way in got
    }
    assert files["worker"] == files["module"] == ["edge1", "edge1/s.json", "state.json"]
    for name in ("state.json", "edge1/s.json"):
        assert (tmp_path / "worker" / name).read_text() == (tmp_path / "module" / name).read_text()
        assert (tmp_path / "worker" / name).stat().st_mode == (tmp_path / "module" / name).stat().st_mode


def test_record_in_the_worker_starts_no_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the controller the plugin writes the records itself: with an interpreter that does not exist the module
    cannot run, the plugin still writes; for a host (here: become), the module runs and fails on that interpreter."""
    missing = "ansible_python_interpreter=/nonexistent/python3"
    args = {"dir": str(tmp_path), "records": [{"name": "state.json", "content": {"status": "active"}}]}
    monkeypatch.setenv("FLOODGATE_RECORD_IN_WORKER", "1")
    res = run_module("floodgate_record", args, extra_vars=missing)
    assert res.get("failed") is not True and res["written"] == ["state.json"]
    monkeypatch.setenv("FLOODGATE_RECORD_IN_WORKER", "0")
    res = run_module("floodgate_record", {**args, "records": []}, extra_vars=missing)
    assert res.get("failed") is True and "/nonexistent/python3" in json.dumps(res)
