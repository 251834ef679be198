"""Test support for floodgate's steering modules (stand-in NIC, module runner).

Importing this package also makes the repo's module_utils importable as ansible.module_utils.floodgate,
the way the modules import it on a host.
"""

from pathlib import Path

import ansible.module_utils

_MODULE_UTILS = str(Path(__file__).resolve().parents[2] / "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)
