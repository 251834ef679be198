"""The order of the NIC changes in mitigate.yml and unmitigate.yml, as ansible-playbook --list-tasks gives it
(the lab inventory; nothing is run): the receiver only ever holds a queue that is out of RSS, so its rules -
which drop what they do not know with the inventories' `default drop` - never meet normal traffic."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def listed_tasks(book: str) -> list[str]:
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", "inventories/lab", "--list-tasks", book],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # "      role : Task name\tTAGS: []" -> "role : Task name"
    return [line.split("\t")[0].strip() for line in proc.stdout.splitlines() if "\tTAGS:" in line]


def position(tasks: list[str], name: str) -> int:
    found = [i for i, task in enumerate(tasks) if task.endswith(name)]
    assert len(found) == 1, f"{name!r} listed {len(found)} times in {tasks}"
    return found[0]


def test_mitigate_takes_the_queue_out_of_rss_before_the_receiver_and_steers_after_it() -> None:
    tasks = listed_tasks("mitigate.yml")
    out_of_rss = position(tasks, "rss_steering : Take the queue out of the RSS table")
    receiver = position(
        tasks, "receiver : Start the instance (blocks until it sends READY=1) and check it took the queue"
    )
    steer = position(tasks, "rss_steering : Steer the flows to the queue")
    assert out_of_rss < receiver < steer, tasks


def test_unmitigate_stops_the_receiver_before_the_nic_is_put_back() -> None:
    tasks = listed_tasks("unmitigate.yml")
    stop = position(
        tasks,
        "receiver : Stop the instance, remove its files (and the unit template with the last instance), reset it if failed",
    )
    nic = position(
        tasks, "nic_restore : Put back the NIC from its snapshot, check it and forget the mitigation"
    )
    assert stop < nic, tasks
