"""Every GitHub Actions workflow passes the vendored schema and zizmor's offline audit at the
pedantic persona with zero findings (each deliberate exception is an inline, justified ignore),
and the retrain/promote workflows keep the rules their security rests on."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _on(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def test_the_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "retrain.yml", "promote.yml", "deploy.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_schema(workflow):
    proc = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_zizmor_offline_pedantic_audit(workflow):
    proc = subprocess.run(
        [BIN / "zizmor", "--offline", "--no-progress", "--persona", "pedantic", workflow],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_have_timeouts_pinned_actions_and_no_expressions_in_run(workflow):
    spec = yaml.safe_load(workflow.read_text())
    assert spec["permissions"] == {"contents": "read"}
    for name, job in spec["jobs"].items():
        if "uses" in job:  # a call of a reusable workflow of this repository: its jobs have these
            assert job["uses"].startswith("./.github/workflows/"), job["uses"]
            assert "secrets" not in job or job["secrets"] != "inherit", f"{name}: secrets: inherit"
            continue
        assert isinstance(job.get("timeout-minutes"), int), f"{name}: no timeout-minutes"
        for step in job["steps"]:
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), f"{name}: {step['uses']} is not pinned by SHA"
            if "run" in step:
                assert "${{" not in step["run"], f"{name}: expression inside run: {step['run']}"
                assert "\n" not in step["run"].strip(), f"{name}: a step is one command"


def test_retrain_triggers_guards_and_permissions():
    spec = _load("retrain.yml")
    trigger = _on(spec)["pull_request"]
    assert trigger["types"] == ["opened", "synchronize", "reopened", "labeled"]
    assert set(trigger["paths"]) == {"data/**", "**.dvc", "params.yaml", "dvc.yaml", "dvc.lock",
                                     "stages/**", "src/**"}  # fmt: skip
    retrain, comment, verify = (spec["jobs"][j] for j in ("retrain", "comment", "verify"))
    assert retrain["runs-on"] == ["self-hosted", "gpu"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in retrain["if"]
    assert "github.event.pull_request.head.repo.full_name != github.repository" in verify["if"]
    assert retrain["environment"] == "models" and "environment" not in verify
    assert "secrets." not in yaml.safe_dump(verify) and "secrets." not in yaml.safe_dump(comment)
    assert retrain["concurrency"] == {
        "group": "retrain-${{ github.event.pull_request.number }}", "cancel-in-progress": True}  # fmt: skip
    assert comment["permissions"] == {"pull-requests": "write"} and comment["needs"] == "retrain"
    assert comment["runs-on"] == "ubuntu-latest"
    checkout = retrain["steps"][0]
    assert checkout["with"] == {"ref": "${{ github.event.pull_request.head.sha }}",
                                "fetch-depth": 0, "persist-credentials": False}  # fmt: skip
    runs = [s["run"] for s in retrain["steps"] if "run" in s]
    assert runs[1:4] == [".venv/bin/dvc pull --run-cache --allow-missing", "make repro",
                         ".venv/bin/dvc push --run-cache"]  # fmt: skip
    assert runs[4].startswith(".venv/bin/pdfqa report")


def test_promote_runs_on_main_and_rolls_back_by_dispatch():
    spec = _load("promote.yml")
    on = _on(spec)
    assert on["push"]["branches"] == ["main"]
    assert "version" in on["workflow_dispatch"]["inputs"]
    job = spec["jobs"]["promote"]
    assert job["permissions"] == {"contents": "write"}
    assert spec["concurrency"]["cancel-in-progress"] is False
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert any("pdfqa promote --fresh-ab --push-tags --hold-ok" in r for r in runs)
    assert any('pdfqa promote --version "$VERSION"' in r for r in runs)
    assert not any("dvc repro" in r for r in runs), "promotion never retrains"
    assert all('--outputs "$GITHUB_OUTPUT"' in r for r in runs if "pdfqa promote" in r)
    # its tag pushes (GITHUB_TOKEN) trigger no workflow, so it calls the deploy workflow itself
    deploy = spec["jobs"]["deploy"]
    assert deploy["uses"] == "./.github/workflows/deploy.yml" and deploy["needs"] == "promote"
    assert deploy["if"] == "needs.promote.outputs.promoted == 'true'"
    assert deploy["with"]["tag"] == "${{ needs.promote.outputs.tag }}"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci_run


def test_deploy_runs_on_stage_tags_from_the_default_branch():
    spec = _load("deploy.yml")
    on = _on(spec)
    assert (
        on["push"] == {"tags": ["qa-bundle#*"]} and on["workflow_call"]["inputs"]["tag"]["required"]
    )
    assert spec["concurrency"] == {"group": "deploy", "cancel-in-progress": False}
    job = spec["jobs"]["deploy"]
    assert job["environment"] == "production" and "permissions" not in job
    checkout = job["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert checkout["with"]["fetch-depth"] == 0 and checkout["with"]["persist-credentials"] is False
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[-1].startswith('.venv/bin/pdfqa deploy --tag "$TAG"')
    assert job["env"]["TAG"] == "${{ inputs.tag || github.ref_name }}"
