"""Appending feedback events so that none is ever lost or torn.

Each event is one JSON line written with a single ``write`` on a file opened in append mode,
under an exclusive ``flock`` (several app processes may share the file) and fsynced before the
call returns: a crash leaves at most a partial *last* line, which the ``qa`` stage skips
(``pdfqa.qa.feedback.read_events``), never a corrupted earlier one.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

_lock = threading.Lock()


def append(path: Path | str, event: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    with _lock:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # a previous crash may have left a torn line: start on a fresh line
            if os.fstat(fd).st_size and _last_byte(path) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)
