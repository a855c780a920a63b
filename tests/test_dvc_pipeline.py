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
    feedback = repo / "data" / "feedback"  # the qa stage's deps, shipped empty like the repo's
    feedback.mkdir()
    for name in ("feedback.jsonl", "reviews.jsonl"):
        shutil.copy(ROOT / "data" / "feedback" / name, feedback / name)
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


def _human_qa_for_parts() -> list[dict]:
    """Real human records whose evidence lies on the pages the two small PDFs were cut from."""
    parts = {
        "cjk-ko-doc.pdf": ("cjk-ko-part.pdf", 1, 3, 0),
        "oblivoir-simpledoc.pdf": ("oblivoir-part.pdf", 3, 6, 2),
    }
    out = []
    for record in read_jsonl(ROOT / "data" / "qa" / "human.jsonl"):
        if not record["answerable"]:
            if record["source"] in parts:
                out.append(dict(record, source=parts[record["source"]][0]))
            continue
        if record["source"] in parts:
            name, first, last, shift = parts[record["source"]]
            if first <= record["page"] <= last:
                out.append(dict(record, source=name, page=record["page"] - shift))
    return out


def test_validate_gate_stops_dvc_repro_with_a_clear_message(repo):
    import json

    repo, env = repo
    qa_dir = repo / "data" / "qa"
    qa_dir.mkdir(parents=True)
    with open(qa_dir / "human.jsonl", "w", encoding="utf-8") as fh:
        for record in _human_qa_for_parts():
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["validate"].update(min_train=1, min_val=0, min_test=1)
    params_path.write_text(yaml.safe_dump(params, allow_unicode=True))
    dvc = str(BIN / "dvc")
    ok = _run([dvc, "repro", "validate"], repo, env)
    assert "data quality gate passed" in ok
    metrics = json.loads((repo / "metrics" / "data_quality.json").read_text())
    assert metrics["success"] and (repo / "reports" / "data_quality" / "index.html").exists()

    params["validate"]["min_test"] = 1000
    params_path.write_text(yaml.safe_dump(params, allow_unicode=True))
    proc = subprocess.run(
        [dvc, "repro", "validate"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Running stage 'qa'" not in output  # only the gate re-ran
    assert "data quality gate failed (1 critical expectation(s))" in output
    assert (
        "[qa/qa_split_sizes] expect_column_pair_values_a_to_be_greater_than_b on count: test"
        in output
    )
    assert "Traceback" not in output
    # the failing expectation is in the metrics too, for the PR report to name
    failed = json.loads((repo / "metrics" / "data_quality.json").read_text())
    assert not failed["success"] and len(failed["failed_expectations"]) == 1
    assert failed["failed_expectations"][0].startswith("[qa/qa_split_sizes]")
