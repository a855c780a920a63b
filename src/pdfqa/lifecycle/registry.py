"""The model registry: DVC artifacts (declared in dvc.yaml ``artifacts:``) + GTO git tags.

``register`` tags a commit as a new version (``name@vX.Y.Z``), ``assign`` moves a stage such as
``prod`` to a version (annotated tag ``name#prod#N``; the newest assignment wins, so a rollback
is assigning an older version again), ``versions`` and ``history`` read the tags back. Any
consumer gets the promoted files with ``fetch``: the artifact's rev comes from
``dvc.api.artifacts_show`` (git tags only, no network) and its files from the DVC cache or
remote at that rev — never from DVC Studio, which ``dvc artifacts get`` would try first.
Fetched versions are cached by version, so the app and the CLI download a bundle once.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pdfqa.errors import PdfqaError


@dataclass(frozen=True)
class Version:
    version: str
    commit: str
    stages: tuple[str, ...]
    created: str


def _gto_error(exc: Exception) -> PdfqaError:
    return PdfqaError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def register(repo: Path | str, name: str, ref: str = "HEAD", message: str | None = None) -> str:
    """Tag ``ref`` as the next version of ``name`` (vX.Y.Z, patch bump); returns the version."""
    from gto import api

    first = not versions(repo, name)
    try:
        registration = api.register(str(repo), name, ref=ref, message=message, bump_patch=not first)
    except Exception as exc:  # GTO raises its own exception types for user errors
        raise _gto_error(exc) from None
    return registration.version


def assign(repo: Path | str, name: str, version: str, stage: str, message: str) -> None:
    """Move ``stage`` to an existing ``version``; the message is kept in the annotated tag."""
    known = {v.version: v for v in versions(repo, name)}
    if version not in known:
        raise PdfqaError(
            f"{name} has no version {version} (known: {', '.join(sorted(known)) or 'none'})"
        )
    if stage in known[version].stages:
        raise PdfqaError(f"{name} {version} is already in {stage!r}: nothing to do")
    from gto import api

    _after_last_event(repo, name)
    try:  # force: a rollback re-assigns a version that held the stage before (a new tag N+1)
        api.assign(str(repo), name, stage, version=version, message=message, simple=False,
                   force=True)  # fmt: skip
    except Exception as exc:
        raise _gto_error(exc) from None


def _after_last_event(repo: Path | str, name: str) -> None:
    """GTO orders events by their tags' timestamps, which have one-second resolution: a rollback
    in the same second as the promotion it undoes would tie with it. Wait for the next second."""
    import datetime
    import time

    stamps = [h["timestamp"] for h in history(repo, name)]
    if stamps:
        wait = (max(stamps) - datetime.datetime.now(datetime.UTC)).total_seconds() + 1.05
        if wait > 0:
            time.sleep(wait)


def versions(repo: Path | str, name: str) -> list[Version]:
    """Every registered version of ``name``, newest first, with the stages it currently holds."""
    from gto import api

    try:
        rows = api.show(str(repo), name, assignments_per_version=-1, versions_per_stage=1)
    except Exception as exc:
        if "Cannot find artifact" in str(exc):  # declared but never registered: no registry yet
            return []
        raise _gto_error(exc) from None
    out = [
        Version(row["version"], row["commit_hexsha"],
                tuple(sorted(st["stage"] for st in row["stages"] if st.get("is_active"))),
                row["created_at"].isoformat(timespec="seconds"))
        for row in rows
    ]  # fmt: skip
    return sorted(out, key=lambda v: _semver(v.version), reverse=True)


def _semver(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.lstrip("v").split(".") if p.isdigit())


def history(repo: Path | str, name: str) -> list[dict]:
    """Registrations and assignments, newest first: who moved what when (GTO's journal)."""
    from gto import api

    try:
        return list(api.history(str(repo), name))
    except Exception as exc:
        raise _gto_error(exc) from None


def resolve(repo: Path | str, name: str, stage: str) -> tuple[str, str, str]:
    """(version, git rev, path) of the version ``stage`` points at, from the git tags."""
    import dvc.api

    current = [v for v in versions(repo, name) if stage in v.stages]
    if not current:
        raise PdfqaError(f"no version of {name} is assigned to {stage!r} yet (run `pdfqa promote`)")
    found = dvc.api.artifacts_show(name, stage=stage, repo=str(repo))
    return current[0].version, found["rev"], found["path"]


def resolve_version(repo: Path | str, name: str, version: str) -> tuple[str, str]:
    """(git rev, path) of a registered ``version``."""
    import dvc.api

    known = [v.version for v in versions(repo, name)]
    if version not in known:
        raise PdfqaError(
            f"{name} has no version {version} (known: {', '.join(known) or 'none registered yet'})"
        )
    found = dvc.api.artifacts_show(name, version=version, repo=str(repo))
    return found["rev"], found["path"]


def fetch(repo: Path | str, name: str, stage: str, cache_dir: Path) -> tuple[str, Path]:
    """(version, local directory) of the bundle at ``stage``."""
    version, rev, path = resolve(repo, name, stage)
    return version, fetch_rev(repo, name, version, rev, path, cache_dir)


def fetch_rev(
    repo: Path | str, name: str, version: str, rev: str, path: str, cache_dir: Path
) -> Path:
    """``path`` at ``rev`` in ``cache_dir/<name>/<version>``: reused when fetched before, else
    copied out of the DVC cache or remote (staged, then renamed: never half a bundle)."""
    from dvc.api import DVCFileSystem

    target = Path(cache_dir) / name / version
    if (target / ".complete").exists():
        return target
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        DVCFileSystem(str(repo), rev=rev).get(path, str(staging), recursive=True)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PdfqaError(
            f"could not fetch {name} {version} ({path} at {rev[:8]}): {first}; is the DVC remote "
            "configured and reachable (`dvc remote list`)?"
        ) from None
    (staging / ".complete").write_text(f"{name} {version} {rev}\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
