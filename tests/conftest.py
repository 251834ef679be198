"""Shared pytest set-up for floodgate (keep it small and generic; areas add their own helpers elsewhere).

- The repo's module_utils are importable as ansible.module_utils.floodgate, as on a managed host.
- `fixture_text` reads a recorded command output from tests/fixtures, without its "# " label header.
- Tests marked `root` need root (network namespaces, real NICs); they are skipped, with the reason, for
  anyone else. CI runs as root, so there they always run.
"""

from __future__ import annotations

import os
from pathlib import Path

import ansible.module_utils
import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"

_MODULE_UTILS = str(REPO / "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)


def read_fixture(relpath: str) -> str:
    """tests/fixtures/RELPATH without the leading "# " lines that label it (NIC, driver, tool version)."""
    lines = (FIXTURES / relpath).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    return "".join(lines)


@pytest.fixture
def fixture_text():
    return read_fixture


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (network namespaces); CI runs as root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)
