"""Deterministic JSON/JSONL writing, and the content hash model cards quote.

DVC caches by content hash, so the same input must produce byte-identical files: keys are
sorted, Korean is written as UTF-8 (not \\u escapes) and files are replaced atomically so a
crash never leaves a half-written artifact behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: Path | str, records: Iterable[dict]) -> int:
    count = 0

    def write(fh):
        nonlocal count
        for record in records:
            fh.write(dumps(record) + "\n")
            count += 1

    _atomic_write(Path(path), write)
    return count


def write_json(path: Path | str, obj: Any) -> None:
    _atomic_write(
        Path(path),
        lambda fh: fh.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n"),
    )


def write_text(path: Path | str, text: str) -> None:
    _atomic_write(Path(path), lambda fh: fh.write(text))


def read_jsonl(path: Path | str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{line_no}: invalid JSON ({exc.msg})") from None


def data_hash(*files: Path | str) -> str:
    """First 16 hex digits of the sha256 of the files' bytes, in order (model cards record it)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]
