"""The production generation path (docs/deploy.md), on a CUDA machine with vLLM installed: `vllm
serve` the base model with this workspace's LoRA adapter, and the answer engine's
OpenAI-compatible back end answers a sample question through it with page citations. Skipped
without a GPU, without vllm, or before `dvc repro` has written the adapter."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU")
def test_vllm_serves_the_adapter_behind_the_openai_backend(tmp_path):
    pytest.importorskip("vllm", reason="pip install vllm (GPU machines)")
    from pdfqa.config import load_params
    from pdfqa.generation.engine import AnswerGenerator, ModelType
    from pdfqa.models import resolve
    from pdfqa.retrieval import Retriever

    cfg = load_params(ROOT / "params.yaml")
    adapter = ROOT / cfg.paths.generator_adapter
    if not (adapter / "adapter_config.json").exists():
        pytest.skip("no adapter: run `dvc repro train_generator` first")
    base = resolve(cfg.generator.base_model, ROOT / cfg.paths.base_models)
    rank = json.loads((adapter / "adapter_config.json").read_text())["r"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [shutil.which("vllm") or sys.executable, *([] if shutil.which("vllm") else ["-m", "vllm.entrypoints.cli.main"]),
               "serve", str(base), "--port", str(port), "--enable-lora",
               "--lora-modules", f"pdfqa={adapter}", "--max-lora-rank", str(max(8, rank)),
               "--gpu-memory-utilization", "0.3", "--max-model-len", "2048"]  # fmt: skip
    log = (tmp_path / "vllm.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as r:
                    models = {m["id"] for m in json.load(r)["data"]}
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "vllm.log").read_text()[-4000:]
                assert time.monotonic() < deadline, "vllm did not start in 10 minutes"
                time.sleep(5)
        assert "pdfqa" in models
        engine = AnswerGenerator(ModelType.OPENAI_COMPATIBLE, "pdfqa",
                                 endpoint=f"http://127.0.0.1:{port}/v1",
                                 retriever=Retriever.from_dir(ROOT / cfg.paths.index, base_dir=ROOT / cfg.paths.base_models),
                                 settings=cfg.generator)  # fmt: skip
        answer = engine.answer("ko.TeX은 무엇인가요?")
        assert answer.contexts and answer.latency_ms > 0
    finally:
        server.terminate()
        server.wait(timeout=60)
