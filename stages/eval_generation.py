"""Stage eval_generation: base / lora / extractive answer engines on the frozen test split
(human questions) → metrics/generation.json, metrics/per_question/generation.jsonl,
reports/generation.md, models/calibration.json.

Each system answers val and test once. On val, the confidence model (P(correct answer)), the
answerability gate and its abstention threshold are fitted (models/calibration.json, which
`pdfqa ask` uses); test only reports."""

from __future__ import annotations

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    from pdfqa.generation import evaluate_generation
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.retrieval import Retriever

    paths = cfg.paths
    val_file, test_file = paths.qa_split("val"), paths.qa_split("test")
    require([val_file, test_file, paths.index / "manifest.json"], "dvc repro index")
    val, test = list(read_jsonl(val_file)), list(read_jsonl(test_file))
    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)

    result = evaluate_generation(val, test, retriever, cfg)

    write_json(paths.calibration, result.calibrations)
    write_json(paths.generation_metrics, result.metrics)
    write_jsonl(paths.per_question_generation, result.per_question)
    paths.generation_report.parent.mkdir(parents=True, exist_ok=True)
    paths.generation_report.write_text(result.report, encoding="utf-8")


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("eval_generation", main, __doc__))
