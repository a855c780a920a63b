"""``pdfqa deploy``: what a serving host does when a stage moves (a promotion or a rollback,
i.e. a GTO tag ``qa-bundle#prod#N`` pushed; the deploy workflow runs this on that host).

It resolves the version now at the stage from the git tags (the newest assignment wins, so a
late-arriving older tag deploys the current version, not its own), fetches that bundle into
``paths.registry_cache`` (staged then renamed: never half a bundle), checks it opens, writes the
stage's pointer file ``<registry_cache>/<artifact>/<stage>.json`` atomically, and runs the
documented hook ``deploy.hook`` (or ``$PDFQA_DEPLOY_HOOK``) with ``PDFQA_VERSION``,
``PDFQA_REV``, ``PDFQA_STAGE`` and ``PDFQA_BUNDLE`` in its environment: e.g. restart a service,
or rsync the bundle to other hosts. Apps started with ``pdfqa serve`` need no hook: they poll
the registry every ``serve.reload_s`` and hot-swap by themselves.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError
from pdfqa.lifecycle import registry
from pdfqa.lifecycle.bundle import ARTIFACT

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.deploy")
STAGE_TAG = re.compile(r"^(?P<name>[^#@]+)#(?P<stage>[^#]+)(#\d+)?$")


@dataclass
class Deployed:
    stage: str
    version: str
    rev: str
    bundle: Path
    hook: str
    hook_output: str


def stage_of_tag(tag: str) -> str:
    """``qa-bundle#prod#3`` → ``prod``; anything else is refused with the expected form."""
    match = STAGE_TAG.match(tag.removeprefix("refs/tags/"))
    if not match or match["name"] != ARTIFACT:
        raise PdfqaError(f"{tag!r} is not a stage tag of {ARTIFACT} (expected {ARTIFACT}#STAGE#N)")
    return match["stage"]


def deploy(cfg: Params, repo: Path | str = ".", *, stage: str | None = None,
           hook: str | None = None) -> Deployed:  # fmt: skip
    from pdfqa.jsonio import write_json
    from pdfqa.lifecycle.serving import open_bundle

    repo = Path(repo)
    stage = stage or cfg.deploy.stage
    hook = cfg.deploy.hook if hook is None else hook
    version, rev, path = registry.resolve(repo, ARTIFACT, stage)
    local = registry.fetch_rev(repo, ARTIFACT, version, rev, path, cfg.paths.registry_cache)
    bundle = open_bundle(local, version, rev)  # the format check a server would do
    log.info("%s %s (%s, %s) fetched to %s", ARTIFACT, version, rev[:8], bundle.system, local)
    output = ""
    if hook.strip():
        env = {**os.environ, "PDFQA_VERSION": version, "PDFQA_REV": rev, "PDFQA_STAGE": stage,
               "PDFQA_BUNDLE": str(Path(local).resolve())}  # fmt: skip
        try:
            done = subprocess.run(hook, shell=True, cwd=repo, env=env, capture_output=True,
                                  text=True, timeout=cfg.deploy.hook_timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise PdfqaError(
                f"deploy hook timed out after {cfg.deploy.hook_timeout_s:g} s: {hook}"
            ) from None
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            last = output.splitlines()[-1] if output else "no output"
            raise PdfqaError(f"deploy hook failed (exit {done.returncode}): {hook} — {last}")
    write_json(Path(cfg.paths.registry_cache) / ARTIFACT / f"{stage}.json", {
        "stage": stage, "version": version, "rev": rev, "system": bundle.system,
        "bundle": str(local), "deployed": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })  # fmt: skip
    return Deployed(stage, version, rev, Path(local), hook, output)
