"""Stage bundle: index + embedder + adapter + calibration + the chosen answer system →
models/bundle/ (the registry's artifact `qa-bundle`) and metrics/bundle.json.

The serving system is the best of eval_generation.systems on val by overall_system_score, unless
bundle.system pins one; the manifest records why."""

from __future__ import annotations

import shutil

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    import json

    from pdfqa.jsonio import write_json
    from pdfqa.lifecycle.bundle import build_bundle, public_summary

    paths = cfg.paths
    require([paths.index / "manifest.json", paths.embedder / "modules.json", paths.calibration,
             paths.generation_metrics, paths.retrieval_metrics], "dvc repro eval_generation")  # fmt: skip
    staging = paths.bundle.with_name(paths.bundle.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    manifest = build_bundle(
        staging, cfg, generation_metrics=json.loads(paths.generation_metrics.read_text("utf-8")),
        retrieval_metrics=json.loads(paths.retrieval_metrics.read_text("utf-8")),
        data_files=[paths.pdfs, paths.human_qa],
    )  # fmt: skip
    shutil.rmtree(paths.bundle, ignore_errors=True)
    staging.rename(paths.bundle)
    write_json(paths.bundle_summary, public_summary(manifest))


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("bundle", main, __doc__))
