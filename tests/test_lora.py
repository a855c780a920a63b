"""LoRA and QLoRA training steps for real on a tiny Gemma 3 (CPU in CI; CUDA when present)."""

from __future__ import annotations

import pytest
import torch

from pdfqa.config import GeneratorConfig
from pdfqa.generation.prompt import pad_batch, render_prompt, tokenize_example
from pdfqa.generation.train import answer_only_loss, load_trainable

ANSWER = "nojosa 옵션으로 끕니다."


def _batch(tokenizer, device):
    prompt = render_prompt(GeneratorConfig().prompt_template, "자동 조사 기능은 nojosa 옵션으로 끈다.",
                           "자동 조사 기능을 끄는 방법은?")  # fmt: skip
    features = [tokenize_example(tokenizer, prompt, ANSWER, 128),
                tokenize_example(tokenizer, prompt[:40], "2013년입니다.", 128)]  # fmt: skip
    return {k: v.to(device) for k, v in pad_batch(features, tokenizer.pad_token_id).items()}


def _settings(model_dir, quantization):
    return GeneratorConfig(base_model=str(model_dir), quantization=quantization)


def test_answer_only_loss_equals_the_full_causal_lm_loss(tiny_gemma):
    model, tokenizer = load_trainable(_settings(tiny_gemma, "none"), tiny_gemma.parent, "cpu")
    batch = _batch(tokenizer, "cpu")
    ours = answer_only_loss(model, batch)
    reference = model(**batch).loss  # transformers' loss over every labelled position
    assert torch.allclose(ours, reference, atol=1e-4)


def _train_steps(model, batch, steps=4):
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in trainable]
    optimizer = torch.optim.AdamW(trainable, lr=5e-3)
    losses = []
    for _ in range(steps):
        loss = answer_only_loss(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    changed = sum(not torch.equal(a, b.detach()) for a, b in zip(before, trainable, strict=True))
    return losses, changed


def _check_qlora(tiny_gemma, device):
    import bitsandbytes as bnb

    model, tokenizer = load_trainable(_settings(tiny_gemma, "4bit"), tiny_gemma.parent, device)
    attention = model.base_model.model.model.layers[0].self_attn
    for name in ("q_proj", "k_proj", "v_proj", "o_proj"):  # QLoRA adapts all four projections
        layer = getattr(attention, name)
        assert isinstance(layer.base_layer, bnb.nn.Linear4bit)
        assert layer.base_layer.weight.quant_type == "nf4"
        assert layer.base_layer.weight.quant_state.nested  # double quantisation
        assert not layer.base_layer.weight.requires_grad
    assert attention.q_proj.base_layer.compute_dtype == torch.bfloat16
    losses, changed = _train_steps(model, _batch(tokenizer, device))
    assert changed > 0 and losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for n, p in model.named_parameters() if "lora_" in n)


def test_lora_step_trains_only_the_adapter(tiny_gemma):
    model, tokenizer = load_trainable(_settings(tiny_gemma, "none"), tiny_gemma.parent, "cpu")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".")[-4] for n in trainable} == {
        "q_proj",
        "v_proj",
    }  # …q_proj.lora_A.default.weight
    losses, changed = _train_steps(model, _batch(tokenizer, "cpu"))
    assert changed == len(trainable) and losses[-1] < losses[0]


def test_qlora_nf4_step_on_cpu(tiny_gemma):
    _check_qlora(tiny_gemma, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_qlora_nf4_step_on_cuda(tiny_gemma):
    _check_qlora(tiny_gemma, "cuda")
