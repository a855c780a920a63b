"""Which file events `pdfqa watch` acts on, read from this repository's own dvc.yaml: the
pipeline's inputs count, its outputs and temp files never do (so a run cannot trigger itself)."""

from __future__ import annotations

from pathlib import Path

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


def test_rewatching_keeps_unchanged_watches_and_renews_a_replaced_folder(tmp_path):
    """After each run the watcher re-reads the pipeline and updates its watches. A point that
    did not change keeps its watch (dropping all and scheduling again lost an event in CI), a
    folder that was replaced is watched afresh, and a point no longer wanted is dropped."""
    import shutil
    import threading
    import time

    from watchdog.observers import Observer

    from pdfqa.lifecycle.watch import Watches

    seen, arrived = [], threading.Event()

    class Handler:
        def dispatch(self, event):
            seen.append(Path(event.src_path).name)
            arrived.set()

    pdfs, other = tmp_path / "pdfs", tmp_path / "other"
    pdfs.mkdir(), other.mkdir()
    observer = Observer()
    watches = Watches(observer, Handler())
    watches.update([(pdfs, True), (other, False)])
    observer.start()
    try:
        kept = watches.points[(pdfs, True)][0]
        watches.update([(pdfs, True)])  # `other` dropped; `pdfs` unchanged
        assert watches.points[(pdfs, True)][0] is kept
        assert set(watches.points) == {(pdfs, True)} and len(observer.emitters) == 1

        (pdfs / "a.pdf").write_bytes(b"%PDF")
        assert arrived.wait(10) and "a.pdf" in seen

        shutil.rmtree(pdfs)  # replaced: the old watch died with the folder
        pdfs.mkdir()
        deadline = time.monotonic() + 10
        while any(e.is_alive() for e in observer.emitters) and time.monotonic() < deadline:
            time.sleep(0.05)  # watchdog stops the emitter once it reads the folder's deletion
        watches.update([(pdfs, True)])
        assert len(observer.emitters) == 1 and all(e.is_alive() for e in observer.emitters)
        arrived.clear()
        seen.clear()
        (pdfs / "b.pdf").write_bytes(b"%PDF")
        assert arrived.wait(10) and "b.pdf" in seen
    finally:
        observer.stop()
        observer.join(5)
