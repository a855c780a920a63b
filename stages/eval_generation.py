"""Stage eval_generation: base / lora / extractive answer engines on the frozen test split
(human questions) → metrics/generation.json, metrics/per_question/generation.jsonl,
reports/generation.md, models/calibration.json.

Each system answers val and test once. The abstention gate (P(answerable) and its threshold)
is fitted once on train + val retrieval signals and shared; each system's confidence model
(P(correct answer)) is fitted on val (models/calibration.json, which `pdfqa ask` uses); test
only reports."""

from __future__ import annotations

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    from pdfqa.generation import evaluate_generation
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.retrieval import Retriever

    paths = cfg.paths
    train_file, val_file, test_file = (paths.qa_split(s) for s in ("train", "val", "test"))
    require([train_file, val_file, test_file, paths.index / "manifest.json"], "dvc repro index")
    val, test = list(read_jsonl(val_file)), list(read_jsonl(test_file))
    train = list(read_jsonl(train_file))  # the abstention gate is fitted on train + val
    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)

    result = evaluate_generation(val, test, retriever, cfg, train)

    write_json(paths.calibration, result.calibrations)
    write_json(paths.generation_metrics, result.metrics)
    write_jsonl(paths.per_question_generation, result.per_question)
    paths.generation_report.parent.mkdir(parents=True, exist_ok=True)
    paths.generation_report.write_text(result.report, encoding="utf-8")


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("eval_generation", main, __doc__))
