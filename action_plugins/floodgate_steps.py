"""Action plugin of floodgate_steps: several module calls on one host, in order, as one task.

On a fleet every task is paid once per host on the controller (a worker process forked, the task's variables
templated, its result sent back and shown): ~50 ms of controller CPU per host and task on the 2-CPU lab machine,
whatever the module does. The steps of an undo that always run together (remove the rules, put back the table)
are one task here: each step is still its own module run on the host - its own arguments, validation, check
mode, diff and result - only the controller's per-task cost is paid once. The first step that fails stops the
task: the steps after it do not run, and the task fails with the step's name in front of the module's message.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC: dict[str, Any] = {
    "steps": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True},
            "module": {"type": "str", "required": True},
            "args": {"type": "dict", "default": {}},
            "when": {"type": "bool", "default": True},
        },
    },
}

# Modules that have an action plugin of their own, which a step bypasses (it runs the module): only those whose
# plugin runs the module unchanged on a remote host. floodgate_record's runs it in the worker for a task on the
# controller only (the same code, files and result).
RUN_AS_MODULE = frozenset({"floodgate_record"})

# Keys of a module's result that are the task's own, not the failed step's details.
_TASK_KEYS = frozenset({"changed", "failed", "msg", "invocation", "diff", "warnings", "deprecations"})


def step_failed(result: dict[str, Any]) -> bool:
    """As the task executor decides it for a module's result: `failed`, else a non-zero `rc` (for old modules)."""
    if "failed" in result:
        return bool(result["failed"])
    return result.get("rc", 0) not in (0, "0")


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def _refuse_action_modules(self, steps: list[dict[str, Any]]) -> None:
        """A module with an action plugin (copy, template, fetch...) does part of its work on the controller: run
        as a bare module it would not do what its task does. Refused before any step runs."""
        loader = self._shared_loader_obj.action_loader
        for step in steps:
            short = step["module"].rsplit(".", 1)[-1]
            if short not in RUN_AS_MODULE and loader.has_plugin(
                step["module"], collection_list=self._task.collections
            ):
                raise AnsibleActionFail(
                    f"step {step['name']!r}: module {step['module']} has an action plugin, which a step would bypass;"
                    " give it a task of its own"
                )

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        steps: list[dict[str, Any]] = args["steps"]
        self._refuse_action_modules(steps)
        done: list[dict[str, Any]] = []
        diffs: list[Any] = []
        warnings: list[Any] = []
        deprecations: list[Any] = []
        result.update(changed=False, steps=done)
        try:
            for step in steps:
                if not step["when"]:
                    done.append({"name": step["name"], "module": step["module"], "skipped": True})
                    continue
                out = self._execute_module(
                    module_name=step["module"], module_args=step["args"], task_vars=task_vars
                )
                out.pop("invocation", None)
                done.append({"name": step["name"], "module": step["module"], "result": out})
                diff = out.get("diff")
                if diff:
                    diffs.extend(diff if isinstance(diff, list) else [diff])
                warnings.extend(out.get("warnings") or [])
                deprecations.extend(out.get("deprecations") or [])
                result["changed"] = result["changed"] or bool(out.get("changed"))
                if step_failed(out):
                    # The failed step's details (rc, stderr, cmd, the module's own fields) at the top, as its own
                    # task would have shown them; the steps after it never ran.
                    result.update({k: v for k, v in out.items() if k not in _TASK_KEYS})
                    result.update(
                        failed=True,
                        failed_step=step["name"],
                        msg=f"{step['name']}: {out.get('msg', 'failed')}",
                    )
                    break
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if diffs:
            result["diff"] = diffs
        if warnings:
            result["warnings"] = warnings
        if deprecations:
            result["deprecations"] = deprecations
        return result
