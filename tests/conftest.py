"""Shared fixtures. Every PDF a test needs is built for real (pypdf writes encrypted files,
Pillow writes image-only "scans", truncation makes corrupt ones) or cut from the bundled
sample corpus; nothing is mocked."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PDFS = ROOT / "data" / "pdfs"


def pdf_pages(source: Path, pages: list[int]) -> bytes:
    """A new PDF made of the given 1-based pages of a sample PDF."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    reader = PdfReader(source)
    for page in pages:
        writer.add_page(reader.pages[page - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf(source: Path, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scanned_pdf(n_pages: int = 2) -> bytes:
    """Image-only pages, as a scanner without OCR produces them."""
    from PIL import Image, ImageDraw

    images = []
    for i in range(n_pages):
        image = Image.new("RGB", (600, 800), "white")
        ImageDraw.Draw(image).rectangle([50, 50 + 40 * i, 550, 120 + 40 * i], fill="black")
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


@pytest.fixture(scope="session")
def small_pdf_bytes() -> dict[str, bytes]:
    """Two small real Korean PDFs cut from the sample corpus."""
    return {
        "cjk-ko-part.pdf": pdf_pages(SAMPLE_PDFS / "cjk-ko-doc.pdf", [1, 2, 3]),
        "oblivoir-part.pdf": pdf_pages(SAMPLE_PDFS / "oblivoir-simpledoc.pdf", [3, 4, 5, 6]),
    }


@pytest.fixture
def bad_corpus(tmp_path: Path, small_pdf_bytes: dict[str, bytes]) -> Path:
    """Two good PDFs plus one of every kind of bad input ingest must survive."""
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name, data in small_pdf_bytes.items():
        (folder / name).write_bytes(data)
    good = small_pdf_bytes["cjk-ko-part.pdf"]
    (folder / "copy-of-cjk.pdf").write_bytes(good)  # duplicate content
    (folder / "encrypted.pdf").write_bytes(encrypted_pdf(SAMPLE_PDFS / "cjk-ko-doc.pdf"))
    (folder / "truncated.pdf").write_bytes(good[: len(good) // 3])
    (folder / "not-really.pdf").write_bytes("<html><body>다운로드 실패</body></html>".encode())
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "scan.pdf").write_bytes(scanned_pdf(2))
    (folder / "notes.txt").write_text("not a pdf, ignored")
    return folder


@pytest.fixture
def sample_corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "pdfs"
    shutil.copytree(SAMPLE_PDFS, folder)
    return folder


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """The data stages (ingest → chunk → qa → synth_qa → validate) run once on the bundled
    corpus, through each stage's main(), into a temp dir. Returns the Params used."""
    from pdfqa.config import Params, Paths

    out = tmp_path_factory.mktemp("sample_run")
    paths = Paths(
        pdfs=SAMPLE_PDFS,
        pages=out / "interim" / "pages.jsonl",
        ingest_report=out / "interim" / "ingest_report.json",
        chunks=out / "processed" / "chunks.jsonl",
        human_qa=ROOT / "data" / "qa" / "human.jsonl",
        qa_dir=out / "qa",
        synthetic_qa=out / "qa" / "synthetic.jsonl",
        data_docs=out / "reports" / "data_quality",
        data_quality_metrics=out / "metrics" / "data_quality.json",
        feedback=out / "feedback" / "feedback.jsonl",  # none: the repo's own feedback stays out
        feedback_reviews=out / "feedback" / "reviews.jsonl",
        hard_questions=out / "qa" / "hard_questions.jsonl",
    )
    from pdfqa.config import load_params

    params = load_params(ROOT / "params.yaml").model_copy(update={"paths": paths})
    assert isinstance(params, Params)
    import importlib

    for stage in ("ingest", "chunk", "qa", "synth_qa", "validate"):
        importlib.import_module(f"stages.{stage}").main(params)
    return params


@pytest.fixture(scope="session")
def trained_retriever(sample_run, tmp_path_factory):
    """train_embedder (toy scale) → index → eval_retrieval on the sample corpus, once per session."""
    from models_cache import builtin_dir

    import stages.eval_retrieval
    import stages.index
    import stages.train_embedder

    out = tmp_path_factory.mktemp("retriever")
    rc = sample_run.retriever
    tiny = rc.profiles["cpu"].model_copy(
        update={"epochs": 0.12, "batch_size": 8, "max_seq_length": 64, "eval_steps": 2}
    )
    params = sample_run.model_copy(
        update={
            "retriever": rc.model_copy(update={"base_model": str(builtin_dir("multilingual-e5-small")),
                                               "profiles": {**rc.profiles, "cpu": tiny}}),
            "paths": sample_run.paths.model_copy(update={
                "embedder": out / "embedder", "index": out / "index", "checkpoints": out / "ckpt",
                "corpus_vectors": out / "corpus_vectors",
                "train_embedder_metrics": out / "metrics" / "train_embedder.json",
                "retrieval_metrics": out / "metrics" / "retrieval.json",
                "per_question_retrieval": out / "metrics" / "per_question" / "retrieval.jsonl",
                "retrieval_report": out / "reports" / "retrieval.md", "plots": out / "plots"}),
            "wandb": sample_run.wandb.model_copy(update={"mode": "offline", "dir": out / "wandb"}),
            "eval_retrieval": sample_run.eval_retrieval.model_copy(update={"bootstrap": 200}),
        }
    )  # fmt: skip
    stages.train_embedder.main(params)
    stages.index.main(params)
    stages.eval_retrieval.main(params)
    return params


@pytest.fixture(scope="session")
def tiny_gemma(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Gemma 3 with the real Gemma tokenizer: the generator
    code paths (LoRA, QLoRA, generation) in seconds instead of minutes."""
    import torch
    from models_cache import builtin_dir
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = builtin_dir("gemma-3-270m")
    config = AutoConfig.from_pretrained(source)
    config.update({"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
                   "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32})  # fmt: skip
    config.layer_types = config.layer_types[:2]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    out = tmp_path_factory.mktemp("tiny_gemma")
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def gemma_tokenizer():
    from models_cache import builtin_dir
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(builtin_dir("gemma-3-270m"))
