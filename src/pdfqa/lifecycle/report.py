"""Human-readable views of the lifecycle: the registry table behind ``pdfqa registry``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.lifecycle import registry
from pdfqa.lifecycle.bundle import ARTIFACT

if TYPE_CHECKING:
    from pdfqa.config import Params


def _summary_at(repo: Path, rev: str, path: Path) -> dict:
    done = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {}


def registry_table(cfg: Params, repo: Path, history: bool = False) -> str:
    rows = registry.versions(repo, ARTIFACT)
    if not rows:
        return (f"no {ARTIFACT} version is registered yet: `dvc repro`, commit, then "
                "`pdfqa promote`")  # fmt: skip
    lines = [
        "| version | stages | commit | created | system | answerable acc. | overall | recall@5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in rows:
        summary = _summary_at(repo, v.commit, cfg.paths.bundle_summary)
        metrics = summary.get("metrics", {})
        test, retrieval = metrics.get("test", {}), metrics.get("test_retrieval_hybrid", {})

        def num(d: dict, key: str) -> str:
            return f"{d[key]:.3f}" if key in d else "–"

        lines.append(
            f"| {v.version} | {', '.join(v.stages) or '–'} | {v.commit[:8]} | {v.created} | "
            f"{summary.get('system', '?')} | {num(test, 'answerable_accuracy')} | "
            f"{num(test, 'overall_system_score')} | {num(retrieval, 'recall@5')} |"
        )
    if history:
        lines += [
            "",
            "| when | event | version | stage | by | message |",
            "|---|---|---|---|---|---|",
        ]
        for event in registry.history(repo, ARTIFACT):
            message = (event.get("message") or "").replace("|", "/").replace("\n", " ")[:100]
            lines.append(
                f"| {event['timestamp']:%Y-%m-%d %H:%M:%S} | {event['event']} | "
                f"{event.get('version', '')} | {event.get('stage') or ''} | "
                f"{event.get('author', '')} | {message} |"
            )
    return "\n".join(lines)
