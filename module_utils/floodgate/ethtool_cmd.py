"""Running the ethtool CLI from a module, with errors that say what to do.

Every floodgate module talks to the NIC through `run_ethtool`, so the command line it ran, ethtool's own
message and a hint for the operator reach the task result the same way everywhere.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

DEFAULT_ETHTOOL = "ethtool"


class EthtoolError(Exception):
    """A failed ethtool call: the command, its exit code and output, and a hint for the operator."""

    def __init__(self, cmd: Sequence[str], rc: int, stdout: str, stderr: str, hint: str = "") -> None:
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.hint = hint
        super().__init__(self.message)

    @property
    def command(self) -> str:
        return shlex.join(self.cmd)

    @property
    def message(self) -> str:
        detail = (self.stderr or self.stdout).strip() or f"exit code {self.rc}"
        text = f"'{self.command}' failed: {detail}"
        return f"{text}. {self.hint}" if self.hint else text

    def as_result(self) -> dict[str, Any]:
        """Keyword arguments for module.fail_json."""
        return {
            "msg": self.message,
            "cmd": self.command,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


def ethtool_argv(ethtool_path: str | None, *args: str) -> list[str]:
    return [ethtool_path or DEFAULT_ETHTOOL, *args]


def run_ethtool(module: Any, ethtool_path: str | None, *args: str, hint: str = "") -> str:
    """Run ethtool with `args` and return stdout; raise EthtoolError on a non-zero exit.

    `module` is an AnsibleModule (anything with run_command). LC_ALL=C keeps the output parseable.
    """
    cmd = ethtool_argv(ethtool_path, *args)
    rc, out, err = module.run_command(cmd, environ_update={"LC_ALL": "C"})
    if rc != 0:
        raise EthtoolError(cmd, rc, out, err, hint)
    return out
