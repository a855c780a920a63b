"""What the cold-start benchmarks share: their command-line arguments, and each fold with the
embedder ``benchmarks/coldstart.py`` trained for it (cached in models/.coldstart/ under a hash of
everything it depends on, so a fold whose data or retriever settings changed has none)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def add_fold_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--docs", nargs="*", help="hold out only these PDFs (default: every eligible one)"
    )
    parser.add_argument("--min-answerable", type=int, default=15,
                        help="a PDF is a fold when it has this many answerable human questions")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, default=Path("models/.coldstart"),
                        help="where the fold embedders are cached")  # fmt: skip
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))


def setup(args: argparse.Namespace):
    """(params, chunks, human questions, the PDFs to hold out), run from the repository root,
    offline."""
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.jsonio import read_jsonl
    from pdfqa.lifecycle import coldstart
    from pdfqa.logs import setup as setup_logging
    from pdfqa.qa import load_human

    setup_logging()
    cfg = load_params(args.params)
    if not cfg.paths.chunks.exists():
        raise SystemExit(f"{cfg.paths.chunks} not found: run `dvc repro chunk` first")
    chunks = list(read_jsonl(cfg.paths.chunks))
    human = load_human(read_jsonl(cfg.paths.human_qa))
    docs = args.docs or coldstart.eligible_documents(human, args.min_answerable)
    if not docs:
        raise PdfqaError(f"no PDF has ≥ {args.min_answerable} answerable human questions")
    return cfg, chunks, human, docs


def trained_folds(args: argparse.Namespace, cfg, chunks, human, docs) -> Iterator[tuple]:
    """(doc, fold, embedder directory) for each held-out PDF whose embedder is cached."""
    from pdfqa.lifecycle import coldstart

    for doc in docs:
        fold = coldstart.make_fold(doc, human, chunks, cfg)
        model_dir = args.cache_dir / Path(doc).stem / coldstart._fold_key(fold, chunks, cfg)
        if not (model_dir / "modules.json").exists():
            raise SystemExit(f"{model_dir}: no fold embedder; run benchmarks/coldstart.py first")
        yield doc, fold, model_dir
