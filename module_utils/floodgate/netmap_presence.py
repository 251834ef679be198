"""Is netmap usable on this host? The character device and the loaded module, read from the filesystem.

No machine in floodgate's CI can load kernel modules, so on them both are False; the check is the same
on a real ixgbe host with netmap loaded.
"""

from __future__ import annotations

import os
from typing import Any


def netmap_presence(root: str = "/") -> dict[str, Any]:
    """{"device": /dev/netmap exists, "module": /sys/module/netmap exists, "version": its version or None}."""
    device = os.path.exists(os.path.join(root, "dev", "netmap"))
    module_dir = os.path.join(root, "sys", "module", "netmap")
    module = os.path.isdir(module_dir)
    version: str | None = None
    try:
        with open(os.path.join(module_dir, "version"), encoding="utf-8") as f:
            version = f.read().strip() or None
    except OSError:
        pass
    return {"device": device, "module": module, "version": version}
