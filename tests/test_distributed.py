"""Both trainers under torchrun for real: ``train.launcher: torchrun``, ``train.nproc: 2`` on the
CPU (gloo), tiny models, started the way ``dvc repro`` starts a stage (``python -m
stages.<name> --params FILE``), so the stage launches torchrun itself. Checked: two ranks of a
world of 2, both stepped (the same number of optimizer steps, on half the batches each), exactly
one output directory, one W&B run, and the output loads."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from tiny_models import build_tiny_embedder

from pdfqa.config import TrainLaunchConfig

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TORCHRUN = TrainLaunchConfig(launcher="torchrun", nproc=2)
RANK_LINE = re.compile(r"\[rank (\d)/2\] finished: (\d+) optimizer steps on 2 process")


def _run_stage(name: str, params, tmp_path: Path) -> str:
    """The stage's own command with ``params`` written to a file; returns its console output."""
    file = tmp_path / "params.yaml"
    file.write_text(yaml.safe_dump(params.model_dump(mode="json", by_alias=True), allow_unicode=True),
                    encoding="utf-8")  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", f"stages.{name}", "--params", str(file)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def _both_ranks_stepped(out: str) -> int:
    steps = dict(RANK_LINE.findall(out))
    assert set(steps) == {"0", "1"}, out[-4000:]
    assert steps["0"] == steps["1"] and int(steps["0"]) > 0, steps
    return int(steps["0"])


def _one_output(out: Path, *names: str) -> None:
    """The output directories and the metrics, no staging copy and no resume state left."""
    expected = sorted([*names, "metrics", "wandb"])
    assert sorted(p.name for p in out.iterdir() if p.name != "ckpt") == expected
    assert not list((out / "ckpt").rglob("*"))
    assert len(list((out / "metrics").iterdir())) == 1


def _one_wandb_run(wandb_dir: Path) -> None:
    runs = sorted(wandb_dir.glob("wandb/offline-run-*"))
    assert len(runs) == 1, runs  # rank 0 alone logs


def test_train_embedder_on_two_processes(trained_retriever, tmp_path):
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "out"
    tiny = build_tiny_embedder(tmp_path / "tiny")
    rc = trained_retriever.retriever
    profile = rc.profiles["cpu"].model_copy(
        update={"epochs": 0.3, "batch_size": 8, "max_seq_length": 64, "eval_steps": 4}
    )
    params = trained_retriever.model_copy(update={
        "retriever": rc.model_copy(update={"base_model": str(tiny), "freeze_embeddings": False,
                                           "profiles": {**rc.profiles, "cpu": profile}}),
        "paths": trained_retriever.paths.model_copy(update={
            "embedder": out / "embedder", "checkpoints": out / "ckpt", "corpus_vectors": out / "corpus_vectors",
            "train_embedder_metrics": out / "metrics" / "train_embedder.json"}),
        "wandb": trained_retriever.wandb.model_copy(update={"mode": "offline", "dir": out / "wandb"}),
        "train": TORCHRUN,
    })  # fmt: skip
    console = _run_stage("train_embedder", params, tmp_path)
    assert "train.launcher torchrun: 2 processes" in console
    steps = _both_ranks_stepped(console)
    metrics = json.loads((out / "metrics" / "train_embedder.json").read_text())
    assert metrics["world_size"] == 2
    # each rank sees half of every global batch: one epoch share takes half the single-process steps
    single = math.ceil(metrics["train_pairs"] / profile.batch_size) * profile.epochs
    assert steps <= math.ceil(single / 2) + 1, (steps, single)
    _one_output(out, "corpus_vectors", "embedder")  # rank 0 alone wrote them
    _one_wandb_run(out / "wandb")
    vectors = SentenceTransformer(str(out / "embedder")).encode(["ko.TeX은 무엇인가요?"])
    assert vectors.shape == (1, 32)


def test_train_generator_on_two_processes(trained_retriever, tiny_gemma, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    gc = trained_retriever.generator
    profile = gc.profiles["cpu"].model_copy(update={"epochs": 0.5, "batch_size": 4, "grad_accum": 1,
                                                    "eval_steps": 6, "learning_rate": 1e-3})  # fmt: skip
    params = trained_retriever.model_copy(update={
        "generator": gc.model_copy(update={"base_model": str(tiny_gemma), "max_length": 256,
                                           "profiles": {**gc.profiles, "cpu": profile}}),
        "paths": trained_retriever.paths.model_copy(update={
            "generator_adapter": out / "generator_adapter", "checkpoints": out / "ckpt",
            "train_generator_metrics": out / "metrics" / "train_generator.json"}),
        "wandb": trained_retriever.wandb.model_copy(update={"mode": "offline", "dir": out / "wandb"}),
        "train": TORCHRUN,
    })  # fmt: skip
    console = _run_stage("train_generator", params, tmp_path)
    steps = _both_ranks_stepped(console)
    metrics = json.loads((out / "metrics" / "train_generator.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == steps
    single = math.ceil(metrics["train_examples"] / profile.batch_size) * profile.epochs
    assert steps <= math.ceil(single / 2) + 1, (steps, single)
    _one_output(out, "generator_adapter")
    _one_wandb_run(out / "wandb")
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_gemma), str(out / "generator_adapter")
    )
    assert any("lora_A" in name for name, _ in model.named_parameters())


def test_the_deepspeed_config_leaves_batch_and_precision_to_the_trainer():
    config = json.loads((ROOT / "configs" / "deepspeed_zero2.json").read_text())
    assert config["zero_optimization"]["stage"] == 2
    # "auto": the HF integration fills these from TrainingArguments, so params stay the one source
    for key in (
        "train_micro_batch_size_per_gpu",
        "gradient_accumulation_steps",
        "train_batch_size",
    ):
        assert config[key] == "auto"
    assert config["bf16"]["enabled"] == "auto" and config["fp16"]["enabled"] == "auto"


def test_a_worker_never_relaunches(monkeypatch):
    from pdfqa import distributed

    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.relaunch("stages.train_embedder", [], TORCHRUN) is None
    monkeypatch.delenv("LOCAL_RANK")
    assert distributed.relaunch("stages.train_embedder", [], TrainLaunchConfig()) is None
    assert distributed.torchrun_command("stages.x", ["--params", "p.yaml"], 2)[1:6] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m",
    ]  # fmt: skip
