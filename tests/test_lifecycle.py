"""The model lifecycle end to end, for real: the bundle stage on a tiny embedder, the A/B stage
against the registry, `promote` with its checks (GTO tags, DVC local remote), a second clone that
fetches prod through the resolver and answers, a held A/B, --force, rollback, and refusals that
tag nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_PDFS

from pdfqa.errors import PdfqaError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DVC = str(Path(sys.executable).parent / "dvc")
QUESTION = "ko.TeX이 CTAN에 처음 등재된 해는?"


def _run(*args: str, cwd: Path) -> str:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory) -> Path:
    from tiny_models import build_tiny_embedder

    return build_tiny_embedder(tmp_path_factory.mktemp("tiny_embedder"))


def _rows(correct_extractive: int, n: int = 24) -> tuple[list[dict], list[dict]]:
    generation, retrieval = [], []
    for i in range(n):
        qid = f"q{i:02d}"
        for system, ok in (("base", i < 4), ("extractive", i < correct_extractive)):
            generation.append({"id": qid, "system": system, "answerable": True, "correct": ok,
                               "abstained": False, "rouge_l": 0.6 if ok else 0.1, "token_f1": 0.5 if ok else 0.1,
                               "span_hit": float(ok), "latency_ms": 120.0 if system == "extractive" else 900.0,
                               "question": f"질문 {i}", "answer": "문서에 따르면 답은 이것입니다."})  # fmt: skip
        for system in ("base", "hybrid"):
            hit = float(system == "hybrid" or i % 2 == 0)
            retrieval.append({"id": qid, "system": system, "recall@5": hit, "mrr@10": hit})
    for i in range(4):  # questions the documents do not answer: both sides abstain
        for system in ("base", "extractive"):
            generation.append({"id": f"u{i}", "system": system, "answerable": False, "correct": True,
                               "abstained": True, "latency_ms": 100.0, "question": f"없는 질문 {i}",
                               "answer": "문서에서 답을 찾을 수 없습니다."})  # fmt: skip
    return generation, retrieval


def _write_eval(repo: Path, correct_extractive: int) -> None:
    generation, retrieval = _rows(correct_extractive)
    per_question = repo / "metrics" / "per_question"
    per_question.mkdir(parents=True, exist_ok=True)
    for name, rows in (("generation", generation), ("retrieval", retrieval)):
        (per_question / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
        )
    summary = {"answerable_accuracy": correct_extractive / 24, "overall_system_score": 0.5,
               "abstention_recall": 0.0, "latency_p95_ms": 130.0}  # fmt: skip
    metrics = {"systems": {"extractive": summary, "base": {**summary, "overall_system_score": 0.2}},
               "val": {"extractive": {"overall_system_score": 0.45}, "base": {"overall_system_score": 0.2}},
               "n_test": 24}  # fmt: skip
    (repo / "metrics" / "generation.json").write_text(json.dumps(metrics))
    (repo / "metrics" / "retrieval.json").write_text(
        json.dumps({"hybrid": {"recall@5": 0.9, "mrr@10": 0.8}})
    )


@pytest.fixture
def project(tmp_path, monkeypatch, tiny_embedder, sample_run):
    """A git + DVC repo (local-directory remote) holding what the bundle stage reads."""
    from pdfqa.config import load_params
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval import Retriever

    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                       "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(tmp_path / "site")}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "metrics").mkdir()
    _run("git", "init", "-q", cwd=repo)
    _run(DVC, "init", "-q", cwd=repo)
    _run(DVC, "config", "core.analytics", "false", cwd=repo)
    _run(DVC, "remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=repo)
    (repo / "dvc.yaml").write_text(
        "artifacts:\n  qa-bundle:\n    path: models/bundle\n    type: model\n"
    )
    shutil.copytree(SAMPLE_PDFS, repo / "data" / "pdfs")
    (repo / "data" / "qa").mkdir()
    shutil.copy(ROOT / "data" / "qa" / "human.jsonl", repo / "data" / "qa" / "human.jsonl")
    shutil.copytree(tiny_embedder, repo / "models" / "embedder")
    monkeypatch.chdir(repo)

    params = load_params(ROOT / "params.yaml")
    gc = params.generator
    cfg = params.model_copy(update={
        "generator": gc.model_copy(update={"confidence": gc.confidence.model_copy(update={"threshold": 0.0})}),
        "promotion": params.promotion.model_copy(update={"min_confidence": 0.0, "smoke": [{"question": QUESTION}]}),
        "paths": params.paths.model_copy(update={"registry_cache": tmp_path / "registry-cache",
                                                 "base_models": sample_run.paths.base_models}),
        "ab_test": params.ab_test.model_copy(update={"resamples": 999}),
    })  # fmt: skip
    cfg = type(cfg).model_validate(cfg.model_dump(by_alias=True))  # smoke questions as objects
    from sentence_transformers import SentenceTransformer

    chunks = list(read_jsonl(sample_run.paths.chunks))
    model = SentenceTransformer(str(repo / "models" / "embedder"), device="cpu")
    Retriever.build(chunks, model, "models/embedder", cfg.index.model_dump(mode="json"),
                    progress=False).save(repo / "models" / "index")  # fmt: skip
    (repo / "models" / "calibration.json").write_text("{}")
    (repo / "metrics" / "data_quality.json").write_text(json.dumps({"success": True}))
    _write_eval(repo, correct_extractive=20)
    _run("git", "add", "-A", cwd=repo)
    _run("git", "commit", "-qm", "models and evaluations", cwd=repo)
    return repo, cfg


def _stage(name: str, cfg) -> None:
    import importlib

    importlib.import_module(f"stages.{name}").main(cfg)


def _commit(repo: Path, message: str) -> None:
    _run(DVC, "add", "-q", "models/bundle", cwd=repo)
    _run("git", "add", "-A", cwd=repo)
    _run("git", "commit", "-qm", message, cwd=repo)


def _tags(repo: Path) -> list[str]:
    return sorted(_run("git", "tag", cwd=repo).split())


def test_bundle_promote_fetch_hold_force_and_roll_back(project, tmp_path):
    from pdfqa.lifecycle import promote as lifecycle
    from pdfqa.lifecycle import registry
    from pdfqa.lifecycle.serving import load_bundle

    repo, cfg = project
    _stage("bundle", cfg)
    manifest_bytes = (repo / "models" / "bundle" / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert manifest["system"] == "extractive" and "on val" in manifest["system_reason"]
    assert manifest["systems"] == ["base", "extractive"]  # no adapter was trained
    assert set(manifest["data"]) == {"data/pdfs", "data/qa/human.jsonl"}
    assert sorted(p.name for p in (repo / "models" / "bundle").iterdir()) == [
        "README.md", "calibration.json", "embedder", "index", "manifest.json"]  # fmt: skip
    _stage("bundle", cfg)  # deterministic: DVC caching can settle
    assert (repo / "models" / "bundle" / "manifest.json").read_bytes() == manifest_bytes

    # first promotion: nothing in prod, so the A/B compares with the base models
    _stage("ab_test", cfg)
    ab = json.loads((repo / "metrics" / "ab.json").read_text())
    assert ab["first_promotion"] and ab["verdict"] == "promote", ab["reason"]
    assert ab["n_paired"] == 24 and 0 < ab["primary"]["p_value"] < 0.05
    with pytest.raises(PdfqaError, match="uncommitted changes"):
        lifecycle.promote(cfg)
    assert _tags(repo) == []
    _commit(repo, "first bundle")
    assert lifecycle.promote(cfg) == "v0.0.1"
    assert [v.stages for v in registry.versions(repo, "qa-bundle")] == [("prod",)]

    # a second clone with only the git tags and the DVC remote resolves and answers
    clone = tmp_path / "clone"
    _run("git", "clone", "-q", str(repo), str(clone), cwd=tmp_path)
    bundle = load_bundle(cfg, stage="prod", repo=clone)
    assert bundle.version == "v0.0.1" and bundle.system == "extractive"
    assert (cfg.paths.registry_cache / "qa-bundle" / "v0.0.1" / ".complete").exists()
    answer = bundle.engine(base_dir=cfg.paths.base_models).answer(QUESTION)
    assert answer.citations and not answer.abstained

    # a worse challenger: the A/B against prod holds, promote refuses and tags nothing
    _write_eval(repo, correct_extractive=5)
    _stage("bundle", cfg)
    _stage("ab_test", cfg)
    ab = json.loads((repo / "metrics" / "ab.json").read_text())
    assert ab["champion"].startswith("v0.0.1") and ab["verdict"] == "hold"
    _commit(repo, "worse bundle")
    before = _tags(repo)
    with pytest.raises(PdfqaError, match="verdict is 'hold'"):
        lifecycle.promote(cfg)
    assert _tags(repo) == before
    assert lifecycle.promote(cfg, force_reason="demo of a forced promotion") == "v0.0.2"
    messages = [e.get("message") or "" for e in registry.history(repo, "qa-bundle")]
    assert any("forced: demo of a forced promotion" in m for m in messages)

    # rollback: prod moves back to v0.0.1 (a new assignment tag; history keeps both)
    assert lifecycle.rollback(cfg, "v0.0.1") == "v0.0.1"
    current = {v.version: v.stages for v in registry.versions(repo, "qa-bundle")}
    assert current == {"v0.0.2": (), "v0.0.1": ("prod",)}
    with pytest.raises(PdfqaError, match=r"no version v9\.9\.9"):
        lifecycle.rollback(cfg, "v9.9.9")

    # a smoke question the bundle cannot pass: refused, nothing assigned
    strict = cfg.model_copy(
        update={"promotion": cfg.promotion.model_copy(update={"min_confidence": 0.999})}
    )
    before = _tags(repo)
    with pytest.raises(PdfqaError, match="smoke validation failed on 1/1"):
        lifecycle.rollback(strict, "v0.0.2")
    assert _tags(repo) == before

    # no DVC remote: refused unless --local
    _run(DVC, "remote", "remove", "store", cwd=repo)
    _run("git", "commit", "-qam", "drop the remote", cwd=repo)
    with pytest.raises(PdfqaError, match="no default DVC remote"):
        lifecycle.promote(cfg)


def test_registry_table_and_cli_without_a_registry(project):
    from typer.testing import CliRunner

    from pdfqa.cli import app

    del project  # the repo is the working directory
    result = CliRunner().invoke(app, ["registry", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 0 and "no qa-bundle version is registered yet" in result.output
    result = CliRunner().invoke(
        app, ["ask", QUESTION, "--stage", "prod", "--params", str(ROOT / "params.yaml")]
    )
    assert (
        result.exit_code == 1 and "no version of qa-bundle is assigned to 'prod'" in result.output
    )
    result = CliRunner().invoke(
        app, ["promote", "--version", "v1.0.0", "--params", str(ROOT / "params.yaml")]
    )
    assert result.exit_code == 1 and "has no version v1.0.0" in result.output


def test_the_promote_workflow_commands(project, tmp_path):
    """What promote.yml runs after a merge: the A/B re-run against the current prod (the
    committed one may be stale), a hold that is a decision (exit 0 with --hold-ok, reason in the
    job summary), tags pushed to origin only when something was promoted, and a rollback."""
    import yaml
    from typer.testing import CliRunner

    from pdfqa.cli import app

    repo, cfg = project
    params = repo / "params.yaml"
    params.write_text(
        yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True), allow_unicode=True)
    )
    _run("git", "init", "-q", "--bare", str(tmp_path / "origin.git"), cwd=tmp_path)
    _run("git", "remote", "add", "origin", str(tmp_path / "origin.git"), cwd=repo)
    _stage("bundle", cfg)
    _stage("ab_test", cfg)
    _commit(repo, "first bundle")
    summary = tmp_path / "summary.md"
    cli = ["--params", str(params), "--summary", str(summary)]

    def origin_tags() -> list[str]:
        out = _run("git", "ls-remote", "--tags", "origin", cwd=repo)
        return sorted(line.split("refs/tags/")[1] for line in out.splitlines() if "^{}" not in line)

    outputs = tmp_path / "github-output"
    result = CliRunner().invoke(app, ["promote", "--fresh-ab", "--push-tags", "--hold-ok",
                                      "--outputs", str(outputs), *cli])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "prod → v0.0.1 (tags pushed to origin)" in summary.read_text()
    assert origin_tags() == ["qa-bundle#prod#1", "qa-bundle@v0.0.1"]
    assert outputs.read_text() == "promoted=true\nversion=v0.0.1\ntag=qa-bundle#prod#1\n"

    # merged: a worse bundle whose committed ab.json still says "first promotion, promote"
    _write_eval(repo, correct_extractive=5)
    _stage("bundle", cfg)
    _commit(repo, "worse bundle, stale A/B")
    result = CliRunner().invoke(app, ["promote", "--push-tags", *cli])
    assert result.exit_code == 1 and "re-run `dvc repro ab_test`" in result.output
    result = CliRunner().invoke(app, ["promote", "--fresh-ab", "--push-tags", *cli])
    assert result.exit_code == 1 and "verdict is 'hold'" in result.output
    result = CliRunner().invoke(app, ["promote", "--fresh-ab", "--push-tags", "--hold-ok",
                                      "--outputs", str(outputs), *cli])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "not promoted: the A/B verdict is 'hold'" in summary.read_text()
    assert outputs.read_text().endswith("promoted=false\nversion=\ntag=\n")  # no deploy
    assert origin_tags() == ["qa-bundle#prod#1", "qa-bundle@v0.0.1"]
    assert _tags(repo) == origin_tags()

    # forced, then rolled back from the dispatch input: every move reaches origin
    result = CliRunner().invoke(
        app, ["promote", "--fresh-ab", "--force", "hotfix", "--push-tags", *cli]
    )
    assert result.exit_code == 0 and "prod → v0.0.2" in result.output, result.output
    result = CliRunner().invoke(app, ["promote", "--version", "v0.0.1", "--push-tags", *cli])
    assert result.exit_code == 0 and "prod → v0.0.1 (rollback) (tags pushed" in result.output
    assert origin_tags() == _tags(repo) and "qa-bundle#prod#3" in origin_tags()
