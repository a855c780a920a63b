"""Run tracking for both training stages: Weights & Biases, offline by default (no login, no
network), and the Trainer checkpoints an interrupted run resumes from.

W&B writes into ``./wandb`` and several folders in $HOME unless told otherwise, and with a key
but no server it can block for ~90 s; every location and the mode are therefore set explicitly
before wandb is imported. ``wandb sync wandb/offline-run-*`` uploads offline runs later.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from pdfqa.config import WandbConfig


def configure(cfg: WandbConfig) -> list[str]:
    """Set W&B's environment; returns Trainer's ``report_to``."""
    if cfg.mode == "disabled":
        os.environ["WANDB_MODE"] = "disabled"
        return []
    root = Path(cfg.dir).resolve()
    for name, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", ".cache"), ("WANDB_DATA_DIR", ".data"),
                      ("WANDB_CONFIG_DIR", ".config")):  # fmt: skip
        path = root / sub if sub else root
        path.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(path)
    os.environ["WANDB_MODE"] = cfg.mode
    os.environ["WANDB_PROJECT"] = cfg.project
    os.environ["WANDB_SILENT"] = "true"
    os.environ["WANDB_LOG_MODEL"] = "false"
    os.environ.setdefault("WANDB_DISABLE_CODE", "true")
    return ["wandb"]


@contextmanager
def run(cfg: WandbConfig, name: str, config: dict):
    """A W&B run that the HF Trainer's callback reuses; yields None when disabled and on every
    rank but 0 under torchrun (one run per training, not one per process)."""
    if cfg.mode == "disabled" or int(os.environ.get("RANK", "0")) != 0:
        yield None
        return
    import wandb

    current = wandb.init(
        project=cfg.project,
        name=name,
        job_type=name,
        config=config,
        dir=str(Path(cfg.dir).resolve()),
        reinit="finish_previous",
    )
    try:
        yield current
    finally:
        current.finish()


def latest_checkpoint(directory: Path) -> str | None:
    """The newest Trainer checkpoint in ``directory``, to resume an interrupted training run."""
    checkpoints = sorted(directory.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(checkpoints[-1]) if checkpoints else None
