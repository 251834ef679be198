"""floodgate_record's work: write or remove floodgate's small JSON records in one folder.

Used by the floodgate_record module on hosts and, for a task that runs on the controller itself (the batch's
snapshots, the run summary), in the controller's worker by the floodgate_record action plugin, which saves the
run a Python interpreter on the controller. Standard library only (runs on hosts).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ansible.module_utils.floodgate.files import octal_mode, read_text, write_atomic

ARGUMENT_SPEC: dict[str, Any] = {
    "dir": {"type": "path", "required": True},
    "records": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "content": {"type": "raw", "required": True},
            "merge": {"type": "bool", "default": False},
            "subdir": {"type": "str"},
        },
    },
    "absent": {"type": "list", "elements": "str", "default": []},
    "mode": {"type": "raw", "default": "0644"},
}


class RecordError(Exception):
    """A refusal or a failed write: its message says what to do; `result` is what was worked out before."""

    def __init__(self, msg: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


def to_text(content: Any) -> str:
    """The record as C(to_nice_json) writes it, with a final newline."""
    return json.dumps(content, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def merged(existing: Any, new: Any) -> Any:
    """`new` merged into `existing` (see the module's description); anything but two dicts: `new`."""
    if not isinstance(existing, dict) or not isinstance(new, dict):
        return new
    out = dict(existing)
    for key, value in new.items():
        old = existing.get(key)
        if isinstance(old, list) and isinstance(value, list):
            out[key] = old + [v for v in value if v not in old]
        elif isinstance(old, bool) and isinstance(value, bool):
            out[key] = old or value
        else:
            out[key] = value
    return out


def _check_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise RecordError(
            f"record name '{name}' must be a file name inside dir (no '/'). Nothing was changed."
        )


def apply(params: dict[str, Any], check_mode: bool, diff: bool) -> dict[str, Any]:
    """Write and remove the records `params` (validated against ARGUMENT_SPEC) name; the module's result. Raises
    RecordError for bad input (nothing changed) and for a write that failed."""
    folder: str = params["dir"]
    try:
        mode = octal_mode(params["mode"])
    except ValueError:
        raise RecordError(
            f"mode '{params['mode']}' is not an octal mode such as 0644. Nothing was changed."
        ) from None
    for rec in params["records"]:
        _check_name(rec["name"])
        if rec["subdir"] is not None:
            _check_name(rec["subdir"])
    for name in params["absent"]:
        _check_name(name)

    plan: list[tuple[str, str, str | None]] = []  # name, new text, old text
    records: dict[str, Any] = {}
    for rec in params["records"]:
        rel = rec["name"] if rec["subdir"] is None else f"{rec['subdir']}/{rec['name']}"
        path = os.path.join(folder, rel)
        old = read_text(path)
        content = rec["content"]
        if rec["merge"] and old is not None:
            try:
                content = merged(json.loads(old), content)
            except ValueError:
                raise RecordError(
                    f"{path} is not JSON, so the new record cannot be merged into it: move it away and re-run. "
                    "Nothing was changed."
                ) from None
        records[rel] = content
        text = to_text(content)
        if text != old:
            plan.append((rel, text, old))
    gone = [n for n in params["absent"] if os.path.lexists(os.path.join(folder, n))]

    result: dict[str, Any] = {
        "changed": bool(plan or gone),
        "written": [n for n, _, _ in plan],
        "removed": gone,
        "records": records,
    }
    if diff:
        result["diff"] = [
            {
                "before_header": f"{folder}/{n}",
                "after_header": f"{folder}/{n}",
                "before": old or "",
                "after": text,
            }
            for n, text, old in plan
        ] + [
            {
                "before_header": f"{folder}/{n}",
                "after_header": f"{folder}/{n}",
                "before": "(record)\n",
                "after": "",
            }
            for n in gone
        ]
    if check_mode or not result["changed"]:
        return result
    try:
        for name, text, _ in plan:
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            write_atomic(path, text, mode)
        for name in gone:
            os.unlink(os.path.join(folder, name))
    except OSError as err:
        raise RecordError(
            f"cannot write the records in {folder}: {err}. Check the path and the disk.", result
        ) from None
    return result
