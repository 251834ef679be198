"""A systemd unit's state and its start / stop through systemctl (standard library only; runs on target hosts).

For floodgate's modules that start or stop the receiver in the same call as their other work (on a fleet every
task is paid once per host on the controller): the decisions are ansible.builtin.systemd_service's (a unit is
running when active or activating; restarted and reloaded start a unit that is not running; stopped stops one
that is running or deactivating), read with one `systemctl show` instead of its show, is-enabled and action calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# run(argv) -> (rc, stdout, stderr): AnsibleModule.run_command.
Run = Callable[[list[str]], "tuple[int, str, str]"]

RUNNING = ("active", "activating")
STOPPABLE = ("active", "activating", "deactivating", "reloading")
START_STATES = ("started", "restarted", "reloaded")
# LoadStates a daemon-reload may cure: the unit's files are not (yet) in systemd's view of the unit folders.
STALE_LOAD = ("not-found", "bad-setting")


class SystemdError(Exception):
    """systemctl failed; the message says what was asked, systemd's answer and what to read."""


def unit_state(run: Run, systemctl: str, unit: str) -> dict[str, str]:
    """LoadState, ActiveState, UnitFileState and NeedDaemonReload of the unit (LoadState 'not-found' when there is
    no such unit; NeedDaemonReload 'yes' when its files changed on disk since systemd loaded it)."""
    rc, out, err = run(
        [
            systemctl,
            "show",
            unit,
            "-p",
            "LoadState",
            "-p",
            "ActiveState",
            "-p",
            "UnitFileState",
            "-p",
            "NeedDaemonReload",
        ]
    )
    if rc != 0:
        raise SystemdError(
            f"cannot read the state of {unit}: systemctl show exited {rc}: {(err or out).strip()}. "
            "Is systemd running on this host?"
        )
    state = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            state[key.strip()] = value.strip()
    return state


def start_action(state: dict[str, str], want: str) -> str | None:
    """The systemctl verb that brings a unit in `state` to `want` (started/restarted/reloaded); None: nothing to do."""
    running = state.get("ActiveState") in RUNNING
    if want == "started":
        return None if running else "start"
    return want[:-2] if running else "start"  # restarted -> restart, reloaded -> reload


def start_unit(
    run: Run, systemctl: str, unit: str, want: str, daemon_reload: bool, check_mode: bool
) -> dict[str, Any]:
    """daemon-reload if asked, then start, restart or reload the unit as systemd_service does with `enabled: false`
    (a unit enabled at boot is disabled: what floodgate changes does not survive a reboot). Blocks as systemctl
    does (a Type=notify unit until READY=1). Returns {'changed', 'action', 'disabled', 'reloaded'} ('reloaded': a
    daemon-reload ran, asked for or as the fallback below)."""
    if want not in START_STATES:
        raise SystemdError(f"unknown start state '{want}': give one of {', '.join(START_STATES)}")
    if daemon_reload and not check_mode:
        _systemctl(run, systemctl, "daemon-reload", None)
    reloaded = daemon_reload and not check_mode
    state = unit_state(run, systemctl, unit)
    stale = state.get("LoadState") in STALE_LOAD or state.get("NeedDaemonReload") == "yes"
    if stale and not daemon_reload and not check_mode:
        # A new unit file is found without a reload since systemd 246 (its unit cache is refreshed when a unit
        # is loaded after the unit folders changed; unmitigate no longer reloads after removing the files either);
        # older ones (245's cache, or any that had the unit referenced before its file existed) keep it not-found
        # until a reload, and one whose view of the folders were older than the instance's drop-in would load the
        # template without it (no ExecStart: bad-setting). And a unit systemd still holds from files since changed
        # (an instance left loaded, e.g. failed, while its files were removed and written again) would start as it
        # was loaded. Either way systemd says so: reload once and read again rather than fail or start a stale unit.
        _systemctl(run, systemctl, "daemon-reload", None)
        reloaded = True
        state = unit_state(run, systemctl, unit)
    if state.get("LoadState") == "not-found":
        raise SystemdError(
            f"there is no unit {unit} on this host (its unit file is missing): nothing was started"
        )
    disable = state.get("UnitFileState") == "enabled"
    action = start_action(state, want)
    if not check_mode:
        if disable:
            _systemctl(run, systemctl, "disable", unit)
        if action:
            _systemctl(run, systemctl, action, unit)
    return {"changed": bool(action or disable), "action": action, "disabled": disable, "reloaded": reloaded}


def stop(run: Run, systemctl: str, unit: str, check_mode: bool) -> dict[str, Any]:
    """Stop the unit if it is running or deactivating (no such unit: nothing to do). Returns {'changed', 'error',
    'state'}: a failed stop is returned as 'error' for the caller to report, not raised (the caller removes the
    unit's files either way, as the separate stop task with failed_when: false did); 'state' is what the one
    `systemctl show` read before (empty when it could not be read)."""
    try:
        state = unit_state(run, systemctl, unit)
    except SystemdError as err:
        return {"changed": False, "error": str(err), "state": {}}
    if state.get("LoadState") == "not-found" or state.get("ActiveState") not in STOPPABLE:
        return {"changed": False, "error": None, "state": state}
    if check_mode:
        return {"changed": True, "error": None, "state": state}
    try:
        _systemctl(run, systemctl, "stop", unit)
    except SystemdError as err:
        return {"changed": True, "error": str(err), "state": state}
    return {"changed": True, "error": None, "state": state}


def reset_failed(
    run: Run, systemctl: str, unit: str, stopped: dict[str, Any], check_mode: bool
) -> dict[str, Any]:
    """After stop() (its result `stopped`) and the removal of the unit's files: reset the unit's failed state if it is
    failed, so that systemd forgets the unit - what a daemon-reload was run for. Measured on the lab image's systemd
    252 (docs/fleet.md): a stopped (inactive) unit that nothing refers to is garbage-collected at once, files gone or
    not, and `systemctl show` then says LoadState=not-found; a failed one stays loaded, listed by
    `systemctl --failed` (NeedDaemonReload=yes once its files are gone) until reset-failed, after which it is
    collected too. A unit that was running is read again after its stop (a stop can end it failed: killed at
    TimeoutStopSec, or a non-zero exit). Returns {'changed', 'error'}; an error is returned, not raised (the
    caller reports it as a warning: the unit is only left listed as failed, and a later start of it reloads
    systemd first, as it does for NeedDaemonReload=yes)."""
    if stopped.get("error") and not stopped.get("state"):
        return {"changed": False, "error": None}  # the state could not be read: the stop reported it
    state = stopped.get("state") or {}
    if stopped.get("changed") and not check_mode:
        try:
            state = unit_state(run, systemctl, unit)
        except SystemdError as err:
            return {"changed": False, "error": str(err)}
    if state.get("ActiveState") != "failed":
        return {"changed": False, "error": None}
    if check_mode:
        return {"changed": True, "error": None}
    try:
        _systemctl(run, systemctl, "reset-failed", unit)
    except SystemdError as err:
        return {"changed": False, "error": str(err)}
    return {"changed": True, "error": None}


def daemon_reload(run: Run, systemctl: str) -> None:
    _systemctl(run, systemctl, "daemon-reload", None)


def _systemctl(run: Run, systemctl: str, verb: str, unit: str | None) -> None:
    argv = [systemctl, verb] + ([unit] if unit else [])
    rc, out, err = run(argv)
    if rc != 0:
        journal = f" See journalctl -u {unit}." if unit else ""
        raise SystemdError(
            f"systemctl {verb}{' ' + unit if unit else ''} failed (exit {rc}): {(err or out).strip().rstrip('.')}.{journal}"
        )
