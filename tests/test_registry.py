"""The registry for real: a temp git repo with DVC (local-directory remote) and GTO tags;
a second clone that only has the remote resolves and fetches the prod bundle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from registry_repo import init_registry_repo

from pdfqa.errors import PdfqaError
from pdfqa.lifecycle import registry

pytestmark = pytest.mark.integration
DVC = str(Path(sys.executable).parent / "dvc")
NAME = "qa-bundle"


@pytest.fixture
def git_env(monkeypatch):
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                       "DVC_NO_ANALYTICS": "1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)


def _run(*args: str, cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"


def _commit_bundle(repo: Path, text: str, push: bool = True) -> None:
    bundle = repo / "models" / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "system.txt").write_text(text)
    _run(DVC, "add", "-q", "models/bundle", cwd=repo)
    _run("git", "add", "-A", cwd=repo)
    _run("git", "commit", "-qm", text, cwd=repo)
    if push:
        _run(DVC, "push", "-q", cwd=repo)


@pytest.fixture
def repo(tmp_path, git_env) -> Path:
    repo = init_registry_repo(tmp_path / "repo", tmp_path / "remote")
    return repo


def _clone(repo: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    _run("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    return clone


def test_promote_fetch_in_a_fresh_clone_and_roll_back(repo, tmp_path):
    _commit_bundle(repo, "extractive v1")
    assert registry.register(repo, NAME) == "v0.0.1"
    registry.assign(repo, NAME, "v0.0.1", "prod", "A/B verdict: first promotion")
    _commit_bundle(repo, "lora v2")
    assert registry.register(repo, NAME) == "v0.0.2"
    registry.assign(repo, NAME, "v0.0.2", "prod", "A/B verdict: promote")
    assert [(v.version, v.stages) for v in registry.versions(repo, NAME)] == [
        ("v0.0.2", ("prod",)), ("v0.0.1", ())]  # fmt: skip

    clone, cache = _clone(repo, tmp_path), tmp_path / "bundles"
    version, directory = registry.fetch(clone, NAME, "prod", cache)
    assert version == "v0.0.2" and (directory / "system.txt").read_text() == "lora v2"
    assert directory == cache / NAME / "v0.0.2"

    registry.assign(repo, NAME, "v0.0.1", "prod", "rollback: v0.0.2 answers worse")  # rollback
    _run("git", "fetch", "-q", "--tags", "--force", cwd=clone)
    version, directory = registry.fetch(clone, NAME, "prod", cache)
    assert version == "v0.0.1" and (directory / "system.txt").read_text() == "extractive v1"
    events = [(h["event"], h["version"], h.get("stage")) for h in registry.history(repo, NAME)]
    assert events[0] == ("assignment", "v0.0.1", "prod")
    assert events.count(("assignment", "v0.0.1", "prod")) == 2
    assert any(
        h.get("message") == "rollback: v0.0.2 answers worse" for h in registry.history(repo, NAME)
    )


def test_bad_requests_are_one_clear_line_and_tag_nothing(repo, tmp_path):
    with pytest.raises(PdfqaError, match="no version of qa-bundle is assigned to 'prod' yet"):
        registry.resolve(repo, NAME, "prod")
    _commit_bundle(repo, "extractive v1", push=False)  # the data never reaches the remote
    registry.register(repo, NAME)
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout
    with pytest.raises(PdfqaError, match=r"has no version v9\.9\.9 \(known: v0\.0\.1\)"):
        registry.assign(repo, NAME, "v9.9.9", "prod", "x")
    assert subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout == tags
    registry.assign(repo, NAME, "v0.0.1", "prod", "first")
    with pytest.raises(PdfqaError, match="already in 'prod'"):
        registry.assign(repo, NAME, "v0.0.1", "prod", "again")

    clone, cache = _clone(repo, tmp_path), tmp_path / "bundles"
    with pytest.raises(PdfqaError, match="is the DVC remote configured"):
        registry.fetch(clone, NAME, "prod", cache)
    # nothing half-fetched is left to be mistaken for the bundle next time
    assert not (cache / NAME / "v0.0.1").exists() and not (cache / NAME / "v0.0.1.tmp").exists()
