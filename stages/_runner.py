"""Shared entrypoint wrapper: load params once, turn user errors into one clear line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pdfqa.config import Params, load_params
from pdfqa.errors import PdfqaError
from pdfqa.logs import setup


def run(
    name: str,
    main: Callable[[Params], None],
    doc: str | None,
    relaunch: Callable[[str, list[str], object], int | None] | None = None,
) -> int:
    """Parse ``--params``, run ``main`` once. A training stage passes ``relaunch``
    (``pdfqa.distributed.relaunch``): when ``train.launcher`` asks for it, the stage re-executes
    itself under torchrun and this returns torchrun's exit code instead."""
    parser = argparse.ArgumentParser(prog=f"python -m stages.{name}", description=doc)
    parser.add_argument(
        "--params", default="params.yaml", help="params file (default: %(default)s)"
    )
    args = parser.parse_args()
    setup()
    try:
        cfg = load_params(args.params)
        if relaunch is not None:
            code = relaunch(f"stages.{name}", ["--params", args.params], cfg.train)
            if code is not None:
                return code
        main(cfg)
    except PdfqaError as exc:
        logging.getLogger(f"pdfqa.{name}").error("%s", exc)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted; outputs were not replaced", file=sys.stderr)
        return 130
    return 0


def require(files: list[Path], command: str) -> None:
    """Fail with one line naming the first missing input and the command that makes it."""
    for needed in files:
        if not needed.exists():
            raise PdfqaError(f"{needed} not found: run `{command}` first")
