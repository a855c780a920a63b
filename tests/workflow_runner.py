"""Runs a GitHub Actions job of this repository's workflows for real, on this machine: `uses:`
steps are the only ones emulated (checkout = git clone + checkout of the ref they name,
upload/download-artifact = a folder copy, setup-python = the venv already on PATH); every `run:`
step runs in bash exactly as written, with the job's and step's `env:` evaluated from a context
that must know every `${{ }}` expression the file uses."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from toy_pipeline import link_venv, run

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    """Runs one job of the workflow the way a GitHub runner would, for the steps that matter."""

    def __init__(self, workflow: dict, origin: Path, tmp: Path, env: dict, context: dict) -> None:
        self.workflow = workflow
        self.origin, self.tmp, self.env, self.context = origin, tmp, env, context
        self.artifacts = tmp / "artifacts"
        self.log: list[str] = []
        self.failed: list[str] = []  # steps that exited non-zero, in this runner's jobs

    def evaluate(self, value) -> str:
        if isinstance(value, bool):  # YAML true/false, as the runner passes them to actions
            return str(value).lower()

        def sub(match: re.Match) -> str:
            key = match.group(1)
            assert key in self.context, f"the workflow uses ${{{{ {key} }}}}, unknown to this test"
            return str(self.context[key])

        return EXPRESSION.sub(sub, str(value))

    def _checkout(self, workdir: Path, with_: dict) -> None:
        assert with_.get("persist-credentials") == "false"
        run(["git", "clone", "-q", str(self.origin), str(workdir)], self.tmp, self.env)
        run(["git", "checkout", "-q", with_["ref"]], workdir, self.env)
        link_venv(workdir)

    def job(self, name: str, runner_env: dict) -> Path:
        job = self.workflow["jobs"][name]
        workdir = Path(tempfile.mkdtemp(prefix=f"runner-{name}-", dir=self.tmp)) / "work"
        job_env = {k: self.evaluate(v) for k, v in (job.get("env") or {}).items()}
        failed = False
        for step in job["steps"]:
            condition = str(step.get("if", ""))
            if failed and "!cancelled()" not in condition and "always()" not in condition:
                self.log.append(f"{name}: skipped {step.get('run', step.get('uses'))}")
                continue
            if "uses" in step:
                action = step["uses"].split("@")[0]
                with_ = {k: self.evaluate(v) for k, v in (step.get("with") or {}).items()}
                if action == "actions/checkout":
                    self._checkout(workdir, with_)
                elif action == "actions/upload-artifact":
                    source = workdir / with_["path"]
                    assert any(source.iterdir()), "upload-artifact: nothing to upload"
                    shutil.rmtree(self.artifacts / with_["name"], ignore_errors=True)
                    shutil.copytree(source, self.artifacts / with_["name"])
                elif action == "actions/download-artifact":
                    shutil.copytree(self.artifacts / with_["name"], workdir / with_["path"])
                elif action != "actions/setup-python":  # the venv is already on PATH
                    raise AssertionError(f"no emulation for {action}")
                self.log.append(f"{name}: uses {action}")
                continue
            script = step["run"]
            assert "${{" not in script, f"expression inside run: {script}"
            step_env = {k: self.evaluate(v) for k, v in (step.get("env") or {}).items()}
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                  cwd=workdir, env={**self.env, **runner_env, **job_env, **step_env},
                                  capture_output=True, text=True, timeout=900)  # fmt: skip
            if "id" in step:
                outcome = "success" if proc.returncode == 0 else "failure"
                self.context[f"steps.{step['id']}.outcome"] = outcome
            if proc.returncode != 0:
                failed = True
                self.failed.append(
                    f"{name}: {script}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
                )
            self.log.append(f"{name}: {script}")
        return workdir
