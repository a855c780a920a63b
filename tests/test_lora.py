"""LoRA and QLoRA training steps for real on a tiny Gemma 3 (CPU in CI; CUDA when present)."""

from __future__ import annotations

import pytest
import torch

from pdfqa.config import GeneratorConfig
from pdfqa.generation.prompt import pad_batch, render_prompt, tokenize_example
from pdfqa.generation.train import answer_only_loss, load_trainable, loss_subset

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


def test_the_val_loss_subset_is_fixed_by_the_seed_and_keeps_the_order():
    examples = list(range(62))
    subset = loss_subset(examples, 24, seed=42)
    assert len(subset) == 24 and subset == sorted(subset) and len(set(subset)) == 24
    assert loss_subset(examples, 24, seed=42) == subset != loss_subset(examples, 24, seed=7)
    assert loss_subset(examples, None, 42) == examples == loss_subset(examples, 100, 42)


def test_qlora_nf4_step_on_cpu(tiny_gemma):
    _check_qlora(tiny_gemma, "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_qlora_nf4_step_on_cuda(tiny_gemma):
    _check_qlora(tiny_gemma, "cuda")


def test_the_corpus_head_scores_exactly_the_allowed_words_and_decodes_only_them(tiny_gemma):
    """CorpusHead: the LM head over the corpus's + prompt's words gives those words the full
    head's logits and every other word −inf, so greedy decoding picks among them only."""
    from pdfqa.generation.engine import HuggingFaceBackend

    corpus = ["자동 조사 기능은 nojosa 옵션으로 끈다.", "ko.TeX은 한글 조판 패키지입니다."]
    settings = GeneratorConfig(base_model=str(tiny_gemma), max_new_tokens=8)
    backend = HuggingFaceBackend(settings, str(tiny_gemma), None, tiny_gemma.parent, corpus)
    head, output = backend.head, backend.model.get_output_embeddings()
    prompt = render_prompt(settings.prompt_template, corpus[0], "끄는 방법은?")
    enc = backend.tokenizer([prompt], return_tensors="pt")
    n_allowed = head.allow(enc["input_ids"])
    assert 0 < n_allowed < output.weight.shape[0] // 10
    assert set(enc["input_ids"][0].tolist()) <= set(head.ids.tolist())
    hidden = torch.randn(1, 3, output.weight.shape[1])
    with torch.no_grad():
        restricted, full = output(hidden), head.full(hidden)
    outside = torch.ones(full.shape[-1], dtype=torch.bool)
    outside[head.ids] = False
    assert torch.allclose(restricted[..., head.ids], full[..., head.ids], atol=1e-5)
    assert torch.isneginf(restricted[..., outside]).all()
    with torch.no_grad():
        out = backend.model.generate(**enc, max_new_tokens=8, do_sample=False,
                                     pad_token_id=backend.tokenizer.pad_token_id)  # fmt: skip
    assert set(out[0, enc["input_ids"].shape[1] :].tolist()) <= set(head.ids.tolist())
    assert backend.generate([prompt])[0].likelihood > 0

    plain = GeneratorConfig(base_model=str(tiny_gemma), restrict_vocabulary=False)
    assert HuggingFaceBackend(plain, str(tiny_gemma), None, tiny_gemma.parent, corpus).head is None


def test_the_adapter_config_lists_target_modules_in_one_order(tmp_path):
    """peft writes its target_modules set in hash order (PYTHONHASHSEED): the same training must
    give the same adapter_config.json bytes, or DVC re-runs everything after train_generator."""
    import json

    from pdfqa.generation.train import stable_adapter_config

    written = []
    for order in (["v_proj", "q_proj"], ["q_proj", "v_proj"]):
        (tmp_path / "adapter_config.json").write_text(
            json.dumps({"r": 8, "target_modules": order}, indent=2, sort_keys=True)
        )
        stable_adapter_config(tmp_path)
        written.append((tmp_path / "adapter_config.json").read_bytes())
    assert written[0] == written[1]
    assert json.loads(written[0])["target_modules"] == ["q_proj", "v_proj"]
