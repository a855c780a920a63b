"""The real `dvc repro` in a throw-away git repo: caching skips unchanged stages, a chunk
param change re-runs only `chunk`, and adding a PDF keeps existing chunk ids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from pdfqa.jsonio import read_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.fixture
def repo(tmp_path: Path, small_pdf_bytes: dict[str, bytes]) -> tuple[Path, dict]:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    for folder in ("stages", "src"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pdfs = repo / "data" / "pdfs"
    pdfs.mkdir(parents=True)
    for name, data in small_pdf_bytes.items():
        (pdfs / name).write_bytes(data)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DVC_SITE_CACHE_DIR": str(tmp_path / "dvc-site-cache"),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }  # fmt: skip
    _run(["git", "init", "-q"], repo, env)
    _run([str(BIN / "dvc"), "init", "-q"], repo, env)
    _run([str(BIN / "dvc"), "config", "core.analytics", "false"], repo, env)
    return repo, env


def _repro(repo: Path, env: dict) -> str:
    # Target the text stages: base_models (a minute of model conversion) is tested elsewhere.
    return _run([str(BIN / "dvc"), "repro", "chunk"], repo, env)


def test_repro_caches_and_reruns_only_what_changed(repo):
    repo, env = repo
    first = _repro(repo, env)
    assert "Running stage 'ingest'" in first and "Running stage 'chunk'" in first
    chunks_path = repo / "data" / "processed" / "chunks.jsonl"
    chunks = list(read_jsonl(chunks_path))
    assert {c["source"] for c in chunks} == {"cjk-ko-part.pdf", "oblivoir-part.pdf"}
    assert (repo / "dvc.lock").exists()

    second = _repro(repo, env)
    assert "Running stage" not in second
    assert "Stage 'ingest' didn't change, skipping" in second
    assert "Stage 'chunk' didn't change, skipping" in second

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["chunk"]["max_tokens"] = params["chunk"]["max_tokens"] // 2
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    third = _repro(repo, env)
    assert "Running stage 'chunk'" in third
    assert "Running stage 'ingest'" not in third
    assert "Stage 'ingest' didn't change, skipping" in third
    assert len(list(read_jsonl(chunks_path))) > len(chunks)


def test_adding_a_pdf_keeps_existing_chunk_ids(repo):
    from conftest import SAMPLE_PDFS, pdf_pages

    repo, env = repo
    _repro(repo, env)
    chunks_path = repo / "data" / "processed" / "chunks.jsonl"
    before = {c["chunk_id"] for c in read_jsonl(chunks_path)}
    (repo / "data" / "pdfs" / "a-new.pdf").write_bytes(
        pdf_pages(SAMPLE_PDFS / "pmhanguljamo-kdoc.pdf", [2, 3])
    )
    out = _repro(repo, env)
    assert "Running stage 'ingest'" in out
    after = list(read_jsonl(chunks_path))
    assert before < {c["chunk_id"] for c in after}
    assert any(c["source"] == "a-new.pdf" for c in after)
