"""The deploy workflow's steps for real (tests/workflow_runner.py): a temp "GitHub" repository
with a registry (DVC artifact + GTO tags, a local-directory DVC remote) where prod moves to
v0.0.2, then is rolled back to v0.0.1; each stage tag runs job `deploy`, which checks out the
default branch, installs (a no-op on this test's venv) and runs `pdfqa deploy --tag`: the bundle
prod points at is fetched from the remote, the pointer file names it, and the deploy hook (the
repository variable) ran with the version in its environment. Bad tags get one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from registry_repo import DVC, init_registry_repo
from toy_pipeline import env_for, run
from workflow_runner import Runner

from pdfqa.lifecycle import registry
from pdfqa.lifecycle.bundle import ARTIFACT, FORMAT

pytestmark = pytest.mark.integration
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())


def _bundle(repo: Path, note: str) -> None:
    bundle = repo / "models" / "bundle"
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "manifest.json").write_text(json.dumps(
        {"format": FORMAT, "system": "extractive", "systems": {"extractive": {}}, "note": note}))  # fmt: skip


@pytest.fixture
def origin(tmp_path, monkeypatch):
    env = env_for(tmp_path)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                "DVC_NO_ANALYTICS"):  # fmt: skip
        monkeypatch.setenv(key, env[key])
    seed = init_registry_repo(tmp_path / "seed", tmp_path / "dvc-remote", env)
    for name in ("params.yaml", "Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, seed / name)
    (seed / ".gitignore").write_text(".venv/\nmodels/.registry/\n")
    for version, note in (("v0.0.1", "first"), ("v0.0.2", "second")):
        _bundle(seed, note)
        run([DVC, "add", "-q", "models/bundle"], seed, env)
        run(["git", "add", "-A"], seed, env)
        run(["git", "commit", "-qm", f"bundle {note}"], seed, env)
        run([DVC, "push", "-q"], seed, env)
        assert registry.register(seed, ARTIFACT) == version
    registry.assign(seed, ARTIFACT, "v0.0.1", "prod", "first promotion")
    registry.assign(seed, ARTIFACT, "v0.0.2", "prod", "A/B verdict: promote")
    bare = tmp_path / "origin.git"
    run(["git", "clone", "-q", "--bare", str(seed), str(bare)], tmp_path, env)
    return seed, bare, env


def _last_tag(repo: Path) -> str:
    tags = subprocess.run(["git", "tag", "--sort=-creatordate", "-l", f"{ARTIFACT}#prod#*"],
                          cwd=repo, capture_output=True, text=True).stdout.split()  # fmt: skip
    return max(tags, key=lambda t: int(t.rsplit("#", 1)[1]))


def test_deploy_workflow_steps_follow_promotion_and_rollback(origin, tmp_path):
    seed, bare, env = origin
    marker = tmp_path / "deployed.txt"
    context = {
        "github.event.repository.default_branch": "main",
        "inputs.tag || github.ref_name": _last_tag(seed),  # a tag push: no inputs.tag
        "secrets.AWS_ACCESS_KEY_ID": "", "secrets.AWS_SECRET_ACCESS_KEY": "",
        "vars.PDFQA_DEPLOY_HOOK": f'echo "$PDFQA_STAGE $PDFQA_VERSION $PDFQA_BUNDLE" >> {marker}',
    }  # fmt: skip
    summary = tmp_path / "summary.md"
    runner = Runner(WORKFLOW, bare, tmp_path, env, context)
    work = runner.job("deploy", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert not runner.failed, runner.failed
    steps = [line.split(": ", 1)[1] for line in runner.log]
    assert steps == ["uses actions/checkout", "uses actions/setup-python",
                     "make install PYTHON=python",
                     '.venv/bin/pdfqa deploy --tag "$TAG" --summary "$GITHUB_STEP_SUMMARY"']  # fmt: skip
    stage, version, bundle = marker.read_text().split()
    assert (stage, version) == ("prod", "v0.0.2")
    assert json.loads((Path(bundle) / "manifest.json").read_text())["note"] == "second"
    pointer = json.loads((work / "models/.registry" / ARTIFACT / "prod.json").read_text())
    assert pointer["version"] == "v0.0.2" and pointer["system"] == "extractive"
    assert "prod → v0.0.2" in summary.read_text() and "hook ran" in summary.read_text()

    # a rollback pushes a new stage tag; the job deploys what prod points at now
    registry.assign(seed, ARTIFACT, "v0.0.1", "prod", "rollback: v0.0.2 answers worse")
    run(["git", "push", "-q", "--tags", str(bare)], seed, env)
    runner = Runner(
        WORKFLOW, bare, tmp_path, env, {**context, "inputs.tag || github.ref_name": _last_tag(seed)}
    )
    runner.job("deploy", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert not runner.failed, runner.failed
    last = marker.read_text().splitlines()[-1].split()
    assert last[:2] == ["prod", "v0.0.1"]
    assert json.loads((Path(last[2]) / "manifest.json").read_text())["note"] == "first"


def test_deploy_refuses_bad_tags_and_failing_hooks_in_one_line(origin):
    seed, _, env = origin
    pdfqa = str(Path(sys.executable).parent / "pdfqa")
    for args, message in (
        (["--tag", f"{ARTIFACT}@v0.0.1"], "is not a stage tag"),
        (["--tag", "other-model#prod#1"], "is not a stage tag"),
        (["--stage", "staging"], "no version of qa-bundle is assigned to 'staging'"),
        (["--hook", "echo nope >&2; exit 4"], "deploy hook failed (exit 4)"),
    ):
        done = subprocess.run([pdfqa, "deploy", *args], cwd=seed, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    ok = subprocess.run([pdfqa, "deploy"], cwd=seed, env=env, capture_output=True, text=True,
                        timeout=120)  # fmt: skip
    assert ok.returncode == 0 and "prod → v0.0.2" in ok.stdout and "apps hot-swap" in ok.stdout
