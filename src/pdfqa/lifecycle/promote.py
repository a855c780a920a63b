"""``pdfqa promote``: checks, then ``gto register`` + ``gto assign --stage prod``; or a rollback.

A promotion needs, in this order: a clean, committed pipeline state (the version is a commit, so
an uncommitted dvc.lock would promote something nobody can reproduce), a DVC remote to hold the
files (or ``--local``), an A/B verdict ``promote`` against the current champion (or ``--force``
with a reason, kept in the tag message), a passing data-quality gate, and the guide's smoke
validation on the bundle loaded fresh from the artifact store. Every check runs before anything is
tagged, so a refusal leaves no trace; if assigning fails after registering, the new version tag
is deleted again.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError
from pdfqa.lifecycle import registry
from pdfqa.lifecycle.bundle import ARTIFACT
from pdfqa.lifecycle.serving import Bundle, open_bundle

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.promote")
TRACKED = ("dvc.lock", "dvc.yaml", "params.yaml", "metrics", "data")


@dataclass
class SmokeResult:
    question: str
    answerable: bool
    passed: bool
    why: str


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise PdfqaError(f"git {' '.join(args)}: {done.stderr.strip().splitlines()[0]}")
    return done.stdout.strip()


def check_clean(repo: Path) -> str:
    """HEAD's commit, if the pipeline state is committed (else one line saying what is not)."""
    try:
        head = _git(repo, "rev-parse", "HEAD")
    except PdfqaError:
        raise PdfqaError(
            f"{repo} is not a git repository with a commit: nothing to register"
        ) from None
    dirty = _git(repo, "status", "--porcelain", "--", *[p for p in TRACKED if (repo / p).exists()])
    if dirty:
        first = dirty.splitlines()[0].strip()
        raise PdfqaError(
            f"uncommitted changes ({first}{' …' if len(dirty.splitlines()) > 1 else ''}): "
            "commit dvc.lock and the metrics first, so the version is a commit anyone can reproduce"
        )
    return head


def check_remote(repo: Path, local: bool) -> str | None:
    """The default DVC remote's name; None with ``local`` (files stay in this cache only)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        name = dvc.config.get("core", {}).get("remote")
    if name or local:
        return name or None
    raise PdfqaError(
        "no default DVC remote, so no other machine could fetch this version: add one "
        "(`dvc remote add -d storage /path/or/s3://bucket`) or pass --local"
    )


class HeldByAB(PdfqaError):
    """The A/B verdict is not ``promote``: a decision, not a failure (``--hold-ok`` exits 0)."""


def _fresh_ab(cfg: Params, repo: Path) -> dict:
    """The A/B of HEAD's committed results against whoever holds the stage now, in memory: what
    the promote workflow uses after a merge, when prod may have moved since the PR's run."""
    from pdfqa.lifecycle.abtest import ab_test

    result = ab_test(cfg, repo)
    log.info("A/B re-run against %s: %s (%s)", result.champion, result.verdict, result.reason)
    return {"verdict": result.verdict, "reason": result.reason, "champion": result.champion,
            "first_promotion": result.first_promotion}  # fmt: skip


def check_ab(cfg: Params, repo: Path, force_reason: str | None, fresh: bool = False) -> str:
    """The A/B verdict line for the tag message; refuses on hold (unless forced) or when the
    A/B was run against another champion than the one now at the stage (``fresh`` re-runs it
    against the current one instead of reading metrics/ab.json)."""
    ab_file = repo / cfg.paths.ab_metrics
    if fresh:
        ab = _fresh_ab(cfg, repo)
    elif not ab_file.exists():
        raise PdfqaError(f"{cfg.paths.ab_metrics} not found: run `dvc repro` (stage ab_test)")
    else:
        ab = json.loads(ab_file.read_text(encoding="utf-8"))
    current = [
        v.version for v in registry.versions(repo, ARTIFACT) if cfg.promotion.stage in v.stages
    ]
    against = ab["champion"].split(" ")[0]
    if (current and against != current[0]) or (not current and not ab.get("first_promotion")):
        raise PdfqaError(
            f"{cfg.paths.ab_metrics} compares against {ab['champion']}, but {cfg.promotion.stage} "
            f"is now {current[0] if current else 'empty'}: re-run `dvc repro ab_test` and commit"
        )
    line = f"A/B {ab['verdict']}: {ab['reason']}"
    if ab["verdict"] != "promote":
        if not force_reason:
            raise HeldByAB(f"the A/B verdict is {ab['verdict']!r} ({ab['reason']}); "
                           "pass --force REASON to promote anyway")  # fmt: skip
        line += f" | forced: {force_reason}"
    return line


def check_data(cfg: Params, repo: Path) -> None:
    gate = repo / cfg.paths.data_quality_metrics
    if not gate.exists() or not json.loads(gate.read_text(encoding="utf-8")).get("success"):
        raise PdfqaError(f"the data-quality gate did not pass ({cfg.paths.data_quality_metrics}): "
                         "see reports/data_quality/index.html")  # fmt: skip


def smoke(bundle: Bundle, cfg: Params) -> list[SmokeResult]:
    """The guide's deployment check: answerable smoke questions answered with confidence above
    ``promotion.min_confidence`` and a citation; unanswerable ones abstain."""
    questions = cfg.promotion.smoke
    if not questions:
        raise PdfqaError("promotion.smoke lists no questions: add a few the documents answer "
                         "(and one they do not) to params.yaml")  # fmt: skip
    engine = bundle.engine(base_dir=cfg.paths.base_models)
    answers = engine.answer_batch([q.question for q in questions])
    threshold = cfg.promotion.min_confidence
    out = []
    for q, a in zip(questions, answers, strict=True):
        if q.answerable:
            passed = not a.abstained and a.confidence_score > threshold and bool(a.citations)
            why = ("abstained" if a.abstained else f"confidence {a.confidence_score:.2f}"
                   f"{' ≤ ' if a.confidence_score <= threshold else ' > '}{threshold}"
                   f"{'' if a.citations else ', no citation'}")  # fmt: skip
        else:
            passed, why = a.abstained, "abstained" if a.abstained else f"answered {a.text[:40]!r}"
        out.append(SmokeResult(q.question, q.answerable, passed, why))
    return out


def _require_smoke(bundle: Bundle, cfg: Params) -> None:
    results = smoke(bundle, cfg)
    for r in results:
        log.info("smoke %s %s — %s", "✓" if r.passed else "✗", r.question, r.why)
    failed = [r for r in results if not r.passed]
    if failed:
        raise PdfqaError(f"smoke validation failed on {len(failed)}/{len(results)}: "
                         f"{failed[0].question!r} ({failed[0].why})")  # fmt: skip


def _fetch_fresh(repo: Path, rev: str, path: str, into: Path) -> Bundle:
    """The bundle at ``rev`` read back from the artifact store (DVC cache / remote), not from
    the workspace copy: the registry's own fetch, into a throw-away folder."""
    return open_bundle(registry.fetch_rev(repo, ARTIFACT, "candidate", rev, path, into), rev=rev)


def _push(repo: Path, remote: str, path: str) -> None:
    from dvc.repo import Repo

    try:
        with Repo(str(repo)) as dvc:
            dvc.push(targets=[path], remote=remote)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PdfqaError(f"dvc push of {path} to {remote!r} failed: {first}") from None


def _bundle_path(repo: Path) -> str:
    import yaml

    spec = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))
    artifact = (spec.get("artifacts") or {}).get(ARTIFACT)
    if not artifact:
        raise PdfqaError(f"dvc.yaml declares no artifact {ARTIFACT!r} (artifacts: section)")
    return artifact["path"]


def promote(cfg: Params, repo: Path | str = ".", *, force_reason: str | None = None,
            local: bool = False, fresh_ab: bool = False) -> str:  # fmt: skip
    """Register HEAD (if it is not a version yet) and assign it to ``promotion.stage``."""
    repo = Path(repo)
    stage = cfg.promotion.stage
    path = _bundle_path(repo)
    head = check_clean(repo)
    remote = check_remote(repo, local)
    message = check_ab(cfg, repo, force_reason, fresh=fresh_ab)
    check_data(cfg, repo)
    existing = [v for v in registry.versions(repo, ARTIFACT) if v.commit == head]
    if existing and stage in existing[0].stages:
        raise PdfqaError(f"{ARTIFACT} {existing[0].version} (HEAD) is already in {stage!r}")
    if remote:
        _push(repo, remote, path)
    with tempfile.TemporaryDirectory(prefix="pdfqa-smoke-") as tmp:
        _require_smoke(_fetch_fresh(repo, head, path, Path(tmp)), cfg)
    if existing:
        version, created = existing[0].version, False
    else:
        version, created = registry.register(repo, ARTIFACT, ref=head, message=message), True
    try:
        registry.assign(repo, ARTIFACT, version, stage, message)
    except Exception:
        if created:  # no half promotion: drop the version tag this call created
            subprocess.run(["git", "tag", "-d", f"{ARTIFACT}@{version}"], cwd=repo,
                           capture_output=True)  # fmt: skip
        raise
    return version


def rollback(cfg: Params, version: str, repo: Path | str = ".") -> str:
    """Assign ``promotion.stage`` to an earlier ``version`` after its smoke check passes."""
    repo = Path(repo)
    rev, path = registry.resolve_version(repo, ARTIFACT, version)
    with tempfile.TemporaryDirectory(prefix="pdfqa-smoke-") as tmp:
        _require_smoke(_fetch_fresh(repo, rev, path, Path(tmp)), cfg)
    registry.assign(repo, ARTIFACT, version, cfg.promotion.stage,
                    f"rollback to {version} with pdfqa promote --version")  # fmt: skip
    return version


def tags(repo: Path | str) -> set[str]:
    return set(_git(Path(repo), "tag", "--list").split())


def push_tags(repo: Path | str, new: set[str], remote: str = "origin") -> None:
    """Share a promotion: push exactly the GTO tags it created (never --tags: no stray tags)."""
    if not new:
        return
    done = subprocess.run(["git", "push", remote, *sorted(f"refs/tags/{t}" for t in new)],
                          cwd=repo, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        first = (done.stderr.strip() or "failed").splitlines()[-1]
        raise PdfqaError(f"the promotion is tagged here ({', '.join(sorted(new))}) but "
                         f"`git push {remote}` failed: {first}; push the tags by hand")  # fmt: skip
