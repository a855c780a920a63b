"""Who is compared in an A/B test, and the stage ``ab_test`` / ``pdfqa ab`` around ``ab.compare``.

A side is read from a revision's git-tracked eval outputs (metrics/per_question/*.jsonl and
metrics/bundle.json, which names the system the bundle serves) — no models are fetched, so an A/B
between any two revisions takes seconds. A revision is ``workspace`` (the files on disk), a
registry version (``v0.0.1``), a registry stage (``prod``) or any git rev.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError
from pdfqa.lifecycle.ab import ABResult, NotEnoughPairs, Side, compare
from pdfqa.lifecycle.bundle import ARTIFACT

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.ab_test")
WORKSPACE = "workspace"
BASE_MODELS = "base models"


def _read(repo: Path, rev: str | None, path: Path) -> str:
    if rev is None:
        if not (repo / path).exists():
            raise PdfqaError(f"{path} not found: run `dvc repro`")
        return (repo / path).read_text(encoding="utf-8")
    done = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise PdfqaError(f"{path} is not committed at {rev[:12]}: was the pipeline run there?")
    return done.stdout


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def resolve_rev(repo: Path, ref: str) -> tuple[str, str | None]:
    """(label, git rev or None for the workspace) of ``ref``."""
    from pdfqa.lifecycle import registry

    if ref == WORKSPACE:
        return WORKSPACE, None
    name, _, version = ref.rpartition("@")
    if name in ("", ARTIFACT) and version.startswith("v") and version[1:2].isdigit():
        rev, _ = registry.resolve_version(repo, ARTIFACT, version)
        return f"{version} ({rev[:8]})", rev
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                          cwd=repo, capture_output=True, text=True)  # fmt: skip
    if done.returncode == 0:
        return ref, done.stdout.strip()
    try:
        version, rev, _ = registry.resolve(repo, ARTIFACT, ref)
    except PdfqaError:
        raise PdfqaError(
            f"{ref!r} is not a git revision, a registered version (v1.2.3) or a registry stage "
            "with a version"
        ) from None
    return f"{ref} = {version} ({rev[:8]})", rev


def side(repo: Path, cfg: Params, ref: str) -> Side:
    label, rev = resolve_rev(repo, ref)
    paths = cfg.paths
    summary = json.loads(_read(repo, rev, paths.bundle_summary))
    return Side(label=label, system=summary["system"],
                generation=_jsonl(_read(repo, rev, paths.per_question_generation)),
                retrieval=_jsonl(_read(repo, rev, paths.per_question_retrieval)))  # fmt: skip


def champion(repo: Path, cfg: Params, challenger: Side) -> tuple[Side, bool]:
    """(champion, first_promotion): the bundle at ``ab_test.champion_stage``, or — when nothing
    was promoted yet — the base models on the challenger's own test run (base generator, untuned
    embedder)."""
    from pdfqa.lifecycle import registry

    stage = cfg.ab_test.champion_stage
    try:
        current = [v for v in registry.versions(repo, ARTIFACT) if stage in v.stages]
    except PdfqaError as exc:
        log.warning("no registry readable here (%s): comparing against the base models", exc)
        current = []
    if current:
        return side(repo, cfg, current[0].version), False
    log.info("nothing is in %r yet: comparing against the base models (first promotion)", stage)
    base = Side(label=BASE_MODELS, system="base", generation=challenger.generation,
                retrieval=challenger.retrieval, retrieval_system="base")  # fmt: skip
    return base, True


def run_ab(cfg: Params, champion_side: Side, challenger: Side, first: bool = False) -> ABResult:
    ab = cfg.ab_test
    try:
        return compare(champion_side, challenger, primary=ab.primary, secondaries=ab.secondaries,
                       alpha=ab.alpha, min_paired=ab.min_paired, resamples=ab.resamples,
                       seed=cfg.seed, first_promotion=first)  # fmt: skip
    except NotEnoughPairs as exc:
        raise PdfqaError(str(exc)) from None
    except ValueError as exc:  # unknown metric names in params
        raise PdfqaError(f"ab_test: {exc}") from None


def ab_test(cfg: Params, repo: Path | str = ".") -> ABResult:
    """Stage ab_test: this workspace's bundle against the champion."""
    repo = Path(repo)
    challenger = side(repo, cfg, WORKSPACE)
    champion_side, first = champion(repo, cfg, challenger)
    return run_ab(cfg, champion_side, challenger, first)
