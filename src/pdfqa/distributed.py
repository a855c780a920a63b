"""Training on several processes (DDP) without changing how a stage is called.

DVC runs one command per stage and never distributes anything itself. When ``params.yaml`` says
``train.launcher: torchrun``, a training stage re-executes itself as
``python -m torch.distributed.run --standalone --nproc-per-node N -m stages.<name>``; each worker
sees torchrun's environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``), does not relaunch, and runs
the stage's ``main`` like a single process would. The Trainers shard the batches across ranks
and all-reduce the gradients (gloo on CPU, NCCL on GPUs); rank 0 alone writes the outputs, the
metrics and the W&B run, scores the model before and after, and logs — the other ranks log
warnings and one summary line each (``rank_summary``). A stage started by torchrun or ``accelerate launch`` directly (several
nodes: ``torchrun --nnodes … --rdzv-endpoint …``) is already a worker and just runs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

from pdfqa.config import TrainLaunchConfig

log = logging.getLogger("pdfqa.distributed")


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def is_worker() -> bool:
    """True inside a process that torchrun or accelerate started (it must not relaunch)."""
    return "LOCAL_RANK" in os.environ


def rank_summary(logger: logging.Logger, message: str, *args) -> None:
    """One line per rank at the end of training (the usual DDP sanity check: every rank
    stepped); other ranks' pdfqa logging is WARNING-only, so this writes past the level."""
    if world_size() == 1:
        logger.info(message, *args)
        return
    sys.stderr.write(f"INFO [rank {rank()}/{world_size()}] {message % args}\n")
    sys.stderr.flush()


def ddp_backend(tc: TrainLaunchConfig) -> str | None:
    """The ``torch.distributed`` backend for TrainingArguments; None for one process."""
    if world_size() == 1:
        return None
    if tc.backend != "auto":
        return tc.backend
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def torchrun_command(module: str, args: list[str], nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", "-m", module, *args]  # fmt: skip


def relaunch(module: str, args: list[str], tc: TrainLaunchConfig) -> int | None:
    """Run ``module`` under torchrun when params ask for it and this process is not a worker
    already: returns the exit code. None: this process does the work itself."""
    if tc.launcher != "torchrun" or is_worker():
        return None
    command = torchrun_command(module, args, tc.nproc)
    log.info("train.launcher torchrun: %d processes (%s)", tc.nproc, " ".join(command[1:]))
    # torchrun is in our process group: Ctrl-C reaches it and it stops its workers itself
    proc = subprocess.Popen(command)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            return proc.wait()
