"""Turn ethtool's terse failures into messages that tell the operator what to do.

ethtool words the same problem differently over netlink and ioctl ("netlink error: no device matches name"
vs "Cannot get device feature settings: No such device"), so we recognise both.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from ansible.module_utils.floodgate.ethtool_cmd import EthtoolError, run_ethtool

_NO_DEVICE = ("no such device", "no device matches name", "does not exist")
_NOT_SUPPORTED = ("operation not supported", "not supported")
_NOT_PERMITTED = ("operation not permitted", "permission denied")


def hint_for(err: EthtoolError, iface: str, action: str) -> str:
    """A hint for `err`, raised while `action` (e.g. "reading offload features") on `iface`."""
    text = f"{err.stderr}\n{err.stdout}".lower()
    if any(s in text for s in _NO_DEVICE):
        return (
            f"Interface '{iface}' does not exist on this host: check the name with `ip -br link` "
            f"(and the network namespace). Nothing was changed."
        )
    if any(s in text for s in _NOT_PERMITTED):
        return f"{action} on '{iface}' needs root (CAP_NET_ADMIN): use become: true. Nothing was changed."
    if any(s in text for s in _NOT_SUPPORTED):
        return f"The driver of '{iface}' does not support {action}. Nothing was changed."
    return f"ethtool failed while {action} on '{iface}'."


def find_ethtool(module: Any, ethtool_path: str | None) -> str:
    """The ethtool binary to run: `ethtool_path` if given, else ethtool from PATH, then the sbin folders.

    PATH comes first (get_bin_path would search opt_dirs first), so an ethtool earlier on PATH — e.g. a
    vendor build in /usr/local/sbin — wins over /usr/sbin/ethtool, as it does for an operator's shell.
    Fails the module with a clear message when there is none (run_command would only say ENOENT).
    """
    if ethtool_path and "/" not in ethtool_path:  # a bare name: look it up like the default
        ethtool_path = _which(ethtool_path) or ethtool_path
    if ethtool_path:
        if os.path.isfile(ethtool_path) and os.access(ethtool_path, os.X_OK):
            return ethtool_path
        module.fail_json(
            msg=f"ethtool_path '{ethtool_path}' is not an executable file: fix ethtool_path. Nothing was changed."
        )
    found = _which("ethtool")
    if not found:
        module.fail_json(
            msg="ethtool is not installed on this host: install the ethtool package. Nothing was changed."
        )
    return str(found)


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "")
    return shutil.which(name, path=os.pathsep.join([path, "/usr/local/sbin", "/usr/sbin", "/sbin"]))


def run(module: Any, ethtool_path: str | None, iface: str, action: str, *args: str) -> str:
    """run_ethtool, with a hint chosen from ethtool's own error text."""
    try:
        return run_ethtool(module, ethtool_path, *args)
    except EthtoolError as err:
        err.hint = hint_for(err, iface, action)
        raise


def fail(module: Any, err: EthtoolError, **extra: Any) -> None:
    """fail_json with the command, ethtool's output and the hint."""
    module.fail_json(**{**err.as_result(), **extra})
