"""Stage ab_test: this workspace's bundle (challenger) against the bundle at ab_test.champion_stage
(champion; none yet → the base models, "first promotion") → metrics/ab.json, reports/ab.md.

Paired by question id on the frozen test split; verdict rule and metrics in params (ab_test).
The champion lives in git tags, which DVC cannot hash, so the stage always runs (seconds)."""

from __future__ import annotations

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    import logging

    from pdfqa.jsonio import write_json
    from pdfqa.lifecycle.ab import render_markdown, to_metrics
    from pdfqa.lifecycle.abtest import ab_test

    paths = cfg.paths
    require([paths.bundle_summary, paths.per_question_generation, paths.per_question_retrieval],
            "dvc repro bundle")  # fmt: skip
    result = ab_test(cfg)
    write_json(paths.ab_metrics, to_metrics(result))
    paths.ab_report.parent.mkdir(parents=True, exist_ok=True)
    paths.ab_report.write_text(render_markdown(result), encoding="utf-8")
    logging.getLogger("pdfqa.ab_test").info("verdict: %s — %s", result.verdict, result.reason)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("ab_test", main, __doc__))
