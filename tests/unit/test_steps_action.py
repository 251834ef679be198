"""floodgate_steps run for real (`ansible localhost -m floodgate_steps`): its steps are real floodgate_record and
ansible.builtin.stat runs on a temporary folder, so what each step did is read back from the files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from standin.nic import run_module


def record(folder: Path, name: str, content: object) -> dict[str, Any]:
    """A floodgate_record step writing one record into `folder`."""
    return {
        "name": f"write {name}",
        "module": "floodgate_record",
        "args": {"dir": str(folder), "records": [{"name": name, "content": content}]},
    }


def test_steps_run_in_order_skip_when_false_and_report_each_result(tmp_path: Path) -> None:
    skipped = record(tmp_path, "b.json", {"b": 1}) | {"when": False}
    stat = {
        "name": "stat a.json",
        "module": "ansible.builtin.stat",
        "args": {"path": str(tmp_path / "a.json")},
    }
    steps = [record(tmp_path, "a.json", {"a": 1}), skipped, stat]
    out = run_module("floodgate_steps", {"steps": steps}, diff=True)
    assert not out.get("failed"), out
    assert out["changed"] is True
    assert json.loads((tmp_path / "a.json").read_text()) == {"a": 1}
    assert not (tmp_path / "b.json").exists()
    assert [(s["name"], s.get("skipped", False)) for s in out["steps"]] == [
        ("write a.json", False),
        ("write b.json", True),
        ("stat a.json", False),
    ]
    # the stat ran after the write: it found the file the first step wrote
    assert out["steps"][2]["result"]["stat"]["exists"] is True
    assert out["steps"][0]["result"]["written"] == ["a.json"]
    # the steps' diffs, in order (the stat has none)
    assert [d["after_header"] for d in out["diff"]] == [str(tmp_path / "a.json")]
    # a second run changes nothing
    again = run_module("floodgate_steps", {"steps": steps})
    assert again["changed"] is False and not again.get("failed"), again


def test_a_failed_step_stops_the_rest_and_names_itself(tmp_path: Path) -> None:
    bad = record(tmp_path, "x/y.json", {}) | {"name": "a bad record"}
    steps = [record(tmp_path, "a.json", {"a": 1}), bad, record(tmp_path, "c.json", {"c": 1})]
    out = run_module("floodgate_steps", {"steps": steps})
    assert out["failed"] is True
    assert out["failed_step"] == "a bad record"
    msg = out["msg"]
    assert msg.startswith("a bad record: record name 'x/y.json' must be a file name inside dir"), msg
    # the step before it ran (and is reported as a change), the one after it never did
    assert out["changed"] is True and (tmp_path / "a.json").exists()
    assert not (tmp_path / "c.json").exists()
    assert [s["name"] for s in out["steps"]] == ["write a.json", "a bad record"]


def test_check_mode_reaches_every_step_and_writes_nothing(tmp_path: Path) -> None:
    steps = [record(tmp_path, "a.json", {"a": 1}), record(tmp_path, "b.json", {"b": 2})]
    out = run_module("floodgate_steps", {"steps": steps}, check=True, diff=True)
    assert not out.get("failed"), out
    assert out["changed"] is True
    assert [s["result"]["written"] for s in out["steps"]] == [["a.json"], ["b.json"]]
    assert [d["after_header"] for d in out["diff"]] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    assert list(tmp_path.iterdir()) == []


def test_a_module_with_an_action_plugin_is_refused_before_any_step(tmp_path: Path) -> None:
    copy = {
        "name": "copy a file",
        "module": "ansible.builtin.copy",
        "args": {"content": "x", "dest": str(tmp_path / "copied")},
    }
    out = run_module("floodgate_steps", {"steps": [record(tmp_path, "a.json", {}), copy]})
    assert out["failed"] is True
    assert "copy a file" in out["msg"] and "has an action plugin" in out["msg"], out["msg"]
    assert list(tmp_path.iterdir()) == []


def test_a_step_without_a_module_is_refused_before_any_step(tmp_path: Path) -> None:
    out = run_module("floodgate_steps", {"steps": [record(tmp_path, "a.json", {}), {"name": "no module"}]})
    assert out["failed"] is True
    assert "module" in out["msg"] and "steps" in out["msg"], out["msg"]
    assert list(tmp_path.iterdir()) == []
