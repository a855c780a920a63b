"""Which file events `pdfqa watch` acts on, read from this repository's own dvc.yaml: the
pipeline's inputs count, its outputs and temp files never do (so a run cannot trigger itself)."""

from __future__ import annotations

from conftest import ROOT

from pdfqa.config import WatchConfig, load_params
from pdfqa.lifecycle.watch import PipelinePaths, Watcher


def test_inputs_count_outputs_and_temp_files_do_not():
    paths = PipelinePaths.read(ROOT, WatchConfig().ignore)
    relevant = ["data/pdfs/new-manual.pdf", "data/qa/human.jsonl", "params.yaml", "dvc.yaml",
                "data/feedback/reviews.jsonl",
                "src/pdfqa/corpus/pdf.py", "stages/ingest.py"]  # fmt: skip
    ignored = ["data/interim/pages.jsonl", "data/qa/train.jsonl", "dvc.lock", "logs/watch.jsonl",
               "models/bundle/manifest.json", "metrics/retrieval.json",
               "data/pdfs/.new-manual.pdf.part", "data/qa/.human.jsonl.x1y2", "data/pdfs/a.pdf~",
               "src/pdfqa/corpus/__pycache__/pdf.cpython-311.pyc", ".dvc/tmp/lock",
               ".git/index", "README.md", "/elsewhere/data/pdfs/x.pdf"]  # fmt: skip
    assert [p for p in relevant if not paths.relevant(ROOT / p)] == []
    assert [p for p in ignored if paths.relevant(ROOT / p)] == []
    points = dict(paths.watch_points())
    assert points[ROOT / "data" / "pdfs"] is True  # a folder input: recursively
    assert points[ROOT] is False  # params.yaml, dvc.yaml: their folder, not the whole tree


def test_raw_feedback_clicks_are_not_events_but_reviews_are():
    watcher = Watcher(load_params(ROOT / "params.yaml"), ROOT)
    assert PipelinePaths.read(ROOT, []).relevant(ROOT / "data/feedback/feedback.jsonl")  # a dep
    assert not watcher.paths.relevant(ROOT / "data/feedback/feedback.jsonl")
    assert watcher.paths.relevant(ROOT / "data/feedback/reviews.jsonl")
