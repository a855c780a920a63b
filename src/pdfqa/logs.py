"""Console logging for stages: one short line per event, no timestamps (DVC adds context)."""

from __future__ import annotations

import logging
import sys


def setup(level: int = logging.INFO) -> None:
    root = logging.getLogger("pdfqa")
    if not any(getattr(h, "_pdfqa", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        handler._pdfqa = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
