"""A tiny real DVC pipeline for the PR-report and workflow tests: the real `ingest`, `chunk` and
`ab_test` stages (copied from this repo's dvc.yaml, so they cannot drift) around a seconds-long
`evaluate` stage (tests/fixtures/toy_pipeline/toy_eval.py: BM25 on the real chunks, params in
toy.yaml). Two small Korean PDFs cut from the sample corpus; git + DVC with a local remote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ROOT

BIN = Path(sys.executable).parent
FIXTURE = ROOT / "tests" / "fixtures" / "toy_pipeline"
COPIED_STAGES = ("ingest", "chunk", "ab_test")


def env_for(tmp: Path) -> dict:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(tmp / "dvc-site-cache"),
        "GIT_AUTHOR_NAME": "kim", "GIT_AUTHOR_EMAIL": "kim@example.invalid",
        "GIT_COMMITTER_NAME": "kim", "GIT_COMMITTER_EMAIL": "kim@example.invalid",
        # fixed dates: the same commits get the same SHAs, so the golden report is stable
        "GIT_AUTHOR_DATE": "2026-11-30T09:00:00+0900", "GIT_COMMITTER_DATE": "2026-11-30T09:00:00+0900",
    }  # fmt: skip


def run(args: list[str], cwd: Path, env: dict, timeout: int = 600) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def dvc_yaml() -> str:
    real = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    stages = {name: real["stages"][name] for name in COPIED_STAGES}
    stages["evaluate"] = {
        "cmd": "python toy_eval.py",
        "deps": ["${paths.chunks}", "toy_eval.py"],
        "params": [{"toy.yaml": ["k1", "b", "query_words", "base_query_words"]}],
        "outs": [{p: {"cache": False}} for p in (
            "metrics/per_question/generation.jsonl", "metrics/per_question/retrieval.jsonl",
            "metrics/bundle.json")],
        "metrics": [{"metrics/retrieval.json": {"cache": False}}],
        "plots": [{"plots/retrieval_hybrid.json": {"cache": False}}],
    }  # fmt: skip
    spec = {
        "stages": stages,
        "plots": [{"recall@k (toy BM25)": {"template": "linear", "x": "k",
                                           "y": {"plots/retrieval_hybrid.json": "recall"}}}],
    }  # fmt: skip
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)


def make_origin(tmp: Path, small_pdfs: dict[str, bytes], env: dict) -> Path:
    """The 'GitHub' repository (bare): main with the toy pipeline committed, not reproduced."""
    repo = tmp / "seed"
    repo.mkdir()
    for name in ("params.yaml", ".dvcignore", "Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("stages", "src", ".github"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore)
    for name in ("toy_eval.py", "toy.yaml"):
        shutil.copy(FIXTURE / name, repo / name)
    (repo / "dvc.yaml").write_text(dvc_yaml(), encoding="utf-8")
    pdfs = repo / "data" / "pdfs"
    pdfs.mkdir(parents=True)
    for name, data in small_pdfs.items():
        (pdfs / name).write_bytes(data)
    qa = repo / "data" / "qa"
    qa.mkdir()
    (repo / ".gitignore").write_text(".venv/\n/report/\n__pycache__/\n")
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run([str(BIN / "dvc"), "init", "-q"], repo, env)
    run([str(BIN / "dvc"), "config", "core.analytics", "false"], repo, env)
    run([str(BIN / "dvc"), "remote", "add", "-d", "store", str(tmp / "dvc-remote")], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "toy pipeline"], repo, env)
    run(["git", "clone", "-q", "--bare", str(repo), str(tmp / "origin.git")], tmp, env)
    return tmp / "origin.git"


def link_venv(workdir: Path) -> None:
    """A `.venv` in ``workdir`` that is this test's venv, and that `make install` sees as
    installed: bin/ and lib/ linked, pyvenv.cfg copied (so `.venv/bin/python` is a venv), and a
    fresh `.installed` marker."""
    venv = workdir / ".venv"
    venv.mkdir()
    prefix = Path(sys.prefix)
    for name in ("bin", "lib", "lib64", "include"):
        if (prefix / name).exists():
            (venv / name).symlink_to(prefix / name)
    shutil.copy(prefix / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / ".installed").touch()


def commit_all(repo: Path, env: dict, message: str) -> str:
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", message], repo, env)
    return run(["git", "rev-parse", "HEAD"], repo, env).strip()


def set_param(repo: Path, key: str, value) -> None:
    path = repo / "toy.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def reproduced_clone(origin: Path, into: Path, env: dict) -> tuple[Path, str]:
    """A developer's clone of ``origin`` with the toy pipeline reproduced and committed on main
    (nothing pushed): (the clone, that commit)."""
    run(["git", "clone", "-q", str(origin), str(into)], into.parent, env)
    link_venv(into)
    run(["make", "repro"], into, env)
    return into, commit_all(into, env, "results of the toy pipeline")
