"""Small text files written whole: read one (None when missing), write one atomically.

Shared by the floodgate_record and floodgate_files modules (the records of what a run changed; a service's rules,
unit and drop-in): a reader, or a host losing power, never sees half a file.
"""

from __future__ import annotations

import os
import tempfile


def octal_mode(value: object) -> int:
    """A file mode given as an octal string ("0644", "600") or as the integer YAML makes of an unquoted 0644
    (420, taken as is, as ansible's file module does). Raises ValueError for anything else or above 0o7777."""
    if isinstance(value, bool):
        raise ValueError(value)
    mode = value if isinstance(value, int) else int(str(value), 8)
    if not 0 <= mode <= 0o7777:
        raise ValueError(value)
    return mode


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomic(path: str, text: str, mode: int) -> None:
    """Write text to a temporary file in the same folder, flushed to disk, then rename it over path."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".floodgate-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
