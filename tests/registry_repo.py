"""A temp git + DVC repository declaring the bundle artifact, with a local-directory DVC remote:
the registry's home in the registry, hot-swap and deploy tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pdfqa.lifecycle.bundle import ARTIFACT

DVC = str(Path(sys.executable).parent / "dvc")


def sh(*args: str, cwd: Path, env: dict | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def init_registry_repo(repo: Path, remote: Path, env: dict | None = None) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    sh("git", "init", "-q", "-b", "main", cwd=repo, env=env)
    sh(DVC, "init", "-q", cwd=repo, env=env)
    sh(DVC, "config", "core.analytics", "false", cwd=repo, env=env)
    sh(DVC, "remote", "add", "-d", "store", str(remote), cwd=repo, env=env)
    (repo / "dvc.yaml").write_text(
        f"artifacts:\n  {ARTIFACT}:\n    path: models/bundle\n    type: model\n"
    )
    return repo
