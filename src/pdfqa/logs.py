"""Console logging for stages: one short line per event, no timestamps (DVC adds context)."""

from __future__ import annotations

import logging
import os
import sys


def setup(level: int = logging.INFO) -> None:
    root = logging.getLogger("pdfqa")
    if not any(getattr(h, "_pdfqa", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        world = os.environ.get("WORLD_SIZE", "1")  # under torchrun: say which rank speaks
        rank = f"[rank {os.environ.get('RANK', '0')}/{world}] " if world != "1" else ""
        handler.setFormatter(logging.Formatter(f"%(levelname)s {rank}%(message)s"))
        handler._pdfqa = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # under torchrun only rank 0 narrates; the other ranks report warnings and errors
    root.setLevel(level if os.environ.get("RANK", "0") == "0" else max(level, logging.WARNING))
    root.propagate = False


def quiet(log_file: str = "logs/pdfqa.log", verbose: bool = False) -> None:
    """For commands a person reads (ask, serve): show only pdfqa's own warnings and errors;
    library chatter — weight-loading bars, FutureWarnings, bitsandbytes' kernel notice — goes
    to ``log_file``. ``verbose`` keeps everything on the terminal."""
    import os
    import warnings
    from pathlib import Path

    if verbose:
        setup()
        return
    for key, value in {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
                       "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "TOKENIZERS_PARALLELISM": "false",
                       "TQDM_DISABLE": "1"}.items():  # fmt: skip
        os.environ.setdefault(key, value)
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # warnings.warn(...) → the "py.warnings" logger → the file
    warnings.simplefilter("default")
    setup(logging.WARNING)
    logging.getLogger("pdfqa").addHandler(to_file)
