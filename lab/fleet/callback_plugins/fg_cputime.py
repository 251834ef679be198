"""Controller CPU per task (a bench tool: lab/fleet/bench_fleet.py --cputime, docs/fleet.md).

At each task's start it reads the CPU time of ansible-playbook and of every process under it, live or dead
(/proc/<pid>/stat: the process's own utime+stime, plus cutime+cstime, the children it has reaped), so the
difference between two task starts is what that task cost on the controller: the main process (its strategy,
the variables of each host, forking a worker per host) and the workers, ssh clients and mitogen's multiplexer
it ran. Written as a table to $FG_CPUTIME_OUT (appended) or printed at the end of the run. The tool's own /proc
walk (~10-40 ms per task on a 50-edge lab) is measured with the thread's CPU clock and left out.
"""

from __future__ import annotations

import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: fg_cputime
type: aggregate
short_description: controller CPU seconds per task (ansible-playbook and everything it started)
description:
  - Sums, per task, the CPU time of the ansible-playbook process and of all its descendants (workers, ssh,
    mitogen's multiplexer) read from /proc at each task start. Linux only.
  - Writes the table to the file named by FG_CPUTIME_OUT (appended), else prints it after the recap.
requirements:
  - enable with ANSIBLE_CALLBACKS_ENABLED=fg_cputime and ANSIBLE_CALLBACK_PLUGINS=lab/fleet/callback_plugins
"""

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, int, int] | None:
    """(ppid, own ticks, reaped children's ticks) of a process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    # comm may hold spaces and parentheses: the fields after the last ')' are fixed
    rest = raw[raw.rfind(b")") + 2 :].split()
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fg_cputime"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._root = os.getpid()
        self._rows: list[tuple[str, float, float, float]] = []
        self._overhead = 0.0
        self._cur: tuple[str, float, float, float] = ("(start to first task)", 0.0, 0.0, time.monotonic())
        self._cur = ("(start to first task)", *self._sample())

    def _sample(self) -> tuple[float, float, float]:
        """(main process CPU s, CPU s of everything under it, wall) - the walk's own CPU left out."""
        t0 = time.thread_time()
        parent: dict[str, int] = {}
        times: dict[str, tuple[int, int]] = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                s = _stat(pid)
                if s is not None:
                    parent[pid] = s[0]
                    times[pid] = (s[1], s[2])
        root = str(self._root)
        main_own, main_reaped = times.get(root, (0, 0))
        under = main_reaped
        for pid, (own, reaped) in times.items():
            p, hops = parent.get(pid, 0), 0
            while p > 1 and str(p) != root and hops < 64:
                p, hops = parent.get(str(p), 0), hops + 1
            if str(p) == root and pid != root:
                under += own + reaped
        self._overhead += time.thread_time() - t0
        return main_own / TICK - self._overhead, under / TICK, time.monotonic()

    def _mark(self, name: str) -> None:
        main, under, wall = self._sample()
        n0, m0, u0, w0 = self._cur
        self._rows.append((n0, main - m0, under - u0, wall - w0))
        self._cur = (name, main, under, wall)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._mark(task.get_name())

    def v2_playbook_on_handler_task_start(self, task):
        self._mark("handler: " + task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._mark("(end)")
        main = sum(r[1] for r in self._rows)
        under = sum(r[2] for r in self._rows)
        lines = [f"{'main':>7} {'under':>7} {'total':>7} {'wall':>7}  task (controller CPU s)"]
        lines += [f"{m:7.2f} {u:7.2f} {m + u:7.2f} {w:7.2f}  {n}" for n, m, u, w in self._rows]
        lines.append(
            f"{main:7.2f} {under:7.2f} {main + under:7.2f} {sum(r[3] for r in self._rows):7.2f}  TOTAL"
        )
        lines.append(f"(the tool's own /proc walks: {self._overhead:.2f} CPU s, not counted above)")
        out = os.environ.get("FG_CPUTIME_OUT")
        if out:
            with open(out, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        else:
            self._display.display("\n".join(lines))
