"""Action plugin of floodgate_record: a task that runs on the controller itself writes its records in the worker.

floodgate_record on the controller (the batch's snapshots, the run summary, a failed host's outcome) is otherwise a
module run like any other: with mitogen, a Python interpreter started on the controller for it (~0.8 s of a run's
wall on a 2-CPU controller, the first time); with Ansible's own local connection, one per call. When the task's
connection is the local one and it does not become another user, this plugin validates the arguments against the
module's own argument spec and runs the module's code (module_utils/floodgate/records.py) in the worker: the
same files, result, diff, check mode and messages. Anything else - a host, become - runs the module as before.
FLOODGATE_RECORD_IN_WORKER=0 runs the module every time.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

_PACKAGE = "ansible.module_utils.floodgate"
_MODULE_UTILS = Path(__file__).resolve().parent.parent / "module_utils" / "floodgate"


def _records() -> Any:
    """module_utils/floodgate/records.py as the module imports it (ansible.module_utils.floodgate.records). The
    controller's Python has no such package (Ansible ships module_utils to hosts only): registered here, in this
    worker, from the repository's folder. (filter_plugins/floodgate_filters.py's _load() loads one standalone file
    under a private name; records.py imports its sibling files.py by the package's name, so the package itself is
    registered, and only in the worker that writes - never in the controller's main process.)"""
    if _PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _PACKAGE, _MODULE_UTILS / "__init__.py", submodule_search_locations=[str(_MODULE_UTILS)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[_PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(_PACKAGE + ".records")


class ActionModule(ActionBase):
    def _in_worker(self) -> bool:
        return (
            os.environ.get("FLOODGATE_RECORD_IN_WORKER", "1") != "0"
            and getattr(self._connection, "transport", None) == "local"
            and not self._play_context.become
        )

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if not self._in_worker():
            result.update(self._execute_module(module_args=self._task.args, task_vars=task_vars))
            return result
        records = _records()
        validated = ArgumentSpecValidator(records.ARGUMENT_SPEC).validate(dict(self._task.args))
        # the arguments as the module reports them (its invocation), then its result or its refusal
        result["invocation"] = {"module_args": validated.validated_parameters}
        if validated.error_messages:  # said as AnsibleModule says it: the first error
            msg = validated.errors.msg
            if isinstance(validated.errors[0], UnsupportedError):
                msg = f"Unsupported parameters for (floodgate_record) module: {msg}"
            return {**result, "failed": True, "msg": msg}
        try:
            result.update(
                records.apply(validated.validated_parameters, self._task.check_mode, self._task.diff)
            )
        except records.RecordError as err:
            return {**result, **err.result, "failed": True, "msg": err.msg}
        return result
