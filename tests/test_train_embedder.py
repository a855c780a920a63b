"""The retriever chain on the sample corpus at toy scale: train_embedder (real
SentenceTransformerTrainer, W&B offline) → index → eval_retrieval → `pdfqa search`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pdfqa.jsonio import read_jsonl
from pdfqa.retrieval.pairs import Pair, build_dataset, mine_negatives, training_pairs

CHUNKS = [
    {"chunk_id": "c0", "text": "자동 조사 기능은 nojosa 옵션으로 끈다. 조사는 받침에 따라 고른다."},
    {
        "chunk_id": "c1",
        "text": "조사는 받침에 따라 고른다. 자동 조사 기능은 nojosa 옵션으로 끈다.",
    },  # near copy of c0
    {"chunk_id": "c2", "text": "자동 조사 기능은 \\ref 뒤에서만 동작한다."},
    {"chunk_id": "c3", "text": "글꼴은 \\setkomainfont 명령으로 지정한다."},
]


def test_training_pairs_use_the_first_relevant_chunk_and_synthetic_positives():
    train = [
        {"question": "q1?", "answerable": True, "relevant_chunks": ["c0", "c1"]},
        {"question": "q2?", "answerable": False, "relevant_chunks": []},
    ]
    synthetic = [{"question": "s1", "positive": "문장을 뺀 청크", "relevant_chunks": ["c3"]}]
    pairs = training_pairs(train, synthetic, {c["chunk_id"]: c["text"] for c in CHUNKS})
    assert [(p.question, p.positive_id) for p in pairs] == [("q1?", "c0"), ("s1", "c3")]
    assert pairs[1].positive == "문장을 뺀 청크"


def test_mined_negatives_skip_relevant_chunks_and_near_duplicates():
    pair = Pair("자동 조사 기능을 끄는 옵션은?", CHUNKS[0]["text"], "c0", frozenset({"c0"}))
    negatives = mine_negatives([pair], CHUNKS, per_question=2, top_k=4, near_duplicate=0.8)
    assert negatives == [[CHUNKS[2]["text"], CHUNKS[3]["text"]]]


def test_cosine_dataset_has_the_guides_labels():
    pairs = [Pair("q?", "pos", "c0", frozenset({"c0"}))]
    data = build_dataset(pairs, [["neg1", "neg2"]], "cosine")
    assert data["score"] == [1.0, 0.0, 0.0] and data["passage"] == ["pos", "neg1", "neg2"]
    mnrl = build_dataset(pairs, [["neg1", "neg2"]], "mnrl")
    assert mnrl.column_names == ["anchor", "positive", "negative_1", "negative_2"]


@pytest.fixture(scope="module")
def trained(trained_retriever):
    return trained_retriever


@pytest.mark.slow
def test_train_embedder_writes_a_model_card_and_metrics(trained):
    embedder = trained.paths.embedder
    assert (embedder / "modules.json").exists()
    card = (embedder / "README.md").read_text()
    assert (
        "Base model" in card
        and trained.retriever.base_model in card
        and "| val_cosine_ndcg@10 |" in card
    )
    metrics = json.loads(trained.paths.train_embedder_metrics.read_text())
    assert set(metrics) >= {"val_base", "val_finetuned", "train_pairs"}
    assert not (
        trained.paths.checkpoints / "embedder"
    ).exists()  # resume state removed after success


@pytest.mark.slow
def test_kept_passage_vectors_are_exactly_what_the_index_and_eval_retrieval_would_compute(trained):
    """train_embedder's val scoring embedded every chunk with the base model and with the
    checkpoint it restored: the later stages reuse those vectors only if they are bit-identical
    to embedding again, and refuse them for other chunks or other weights."""
    import numpy as np

    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import corpus_vectors, encode_passages

    chunks = list(read_jsonl(trained.paths.chunks))
    directory = trained.paths.corpus_vectors
    tuned = load_sentence_transformer(str(trained.paths.embedder))
    base = load_sentence_transformer(trained.retriever.base_model)
    texts = [c["text"] for c in chunks]
    # the toy profile truncates at 64 tokens; the base model loads with 512: passages are longer
    assert corpus_vectors.load(directory, chunks, "base", base) is None
    base.max_seq_length = tuned.max_seq_length
    for which, model in (("finetuned", tuned), ("base", base)):
        kept = corpus_vectors.load(directory, chunks, which, model)
        assert kept is not None, which
        assert np.array_equal(kept, encode_passages(model, texts)), which
    assert corpus_vectors.load(directory, chunks, "finetuned", base) is None  # other weights
    assert corpus_vectors.load(directory, chunks[1:], "finetuned", tuned) is None  # other chunks
    edited = [{**chunks[0], "text": chunks[0]["text"] + " "}, *chunks[1:]]
    assert corpus_vectors.load(directory, edited, "base", base) is None
    assert not directory.with_name(directory.name + ".tmp").exists()


@pytest.mark.slow
def test_wandb_offline_run_records_config_losses_and_metrics(trained):
    from wandb_log import logged

    runs = sorted(Path(trained.wandb.dir).glob("wandb/offline-run-*/run-*.wandb"))
    assert runs, "no offline W&B run written"
    keys = logged(runs[-1])
    assert {"retriever", "seed", "n_pairs"} <= keys["config"]
    assert {"train/loss", "eval/val_cosine_ndcg@10"} <= keys["history"]
    assert {
        "final/tuned_val_cosine_ndcg@10",
        "final/base_val_cosine_ndcg@10",
        "train_seconds",
    } <= keys["summary"]


@pytest.mark.slow
def test_eval_retrieval_writes_metrics_plots_and_report(trained):
    metrics = json.loads(trained.paths.retrieval_metrics.read_text())
    for system in ("bm25", "base", "finetuned", "hybrid"):
        assert 0 <= metrics[system]["recall@5"] <= 1
        assert {"precision@1", "f1@10", "hit@3", "mrr@10", "ndcg@10"} <= set(metrics[system])
        rows = json.loads((trained.paths.plots / f"retrieval_{system}.json").read_text())
        assert [r["k"] for r in rows] == [1, 3, 5, 10]
        assert (trained.paths.plots / f"retrieval_{system}.csv").read_text().startswith("k,recall")
    ci = metrics["finetuned_minus_base"]["recall@5"]
    assert ci["ci95_low"] <= ci["mean"] <= ci["ci95_high"]
    report = trained.paths.retrieval_report.read_text()
    assert "| hybrid |" in report and report.count("expected evidence") == 10


@pytest.mark.slow
def test_pdfqa_search_prints_hits_with_pages(trained):
    pdfqa = Path(sys.executable).parent / "pdfqa"
    proc = subprocess.run(
        [pdfqa, "search", "자동 조사 기능을 끄는 방법은?", "-k", "3", "--index", str(trained.paths.index)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(lines) == 3 and all(" p." in line and ".pdf" in line for line in lines)
    hits = list(read_jsonl(trained.paths.index / "chunks.jsonl"))
    assert any("nojosa" in h["text"] for h in hits)


def test_freezing_lower_layers_stops_backward_there():
    import torch
    from transformers import BertConfig, BertModel

    from pdfqa.retrieval.train import freeze_lower_layers

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16)  # fmt: skip
    model = torch.nn.Sequential(BertModel(config, add_pooling_layer=False))
    frozen = freeze_lower_layers(model, 2)
    bert = model[0]
    expected = sum(
        p.numel() for m in (bert.embeddings, *bert.encoder.layer[:2]) for p in m.parameters()
    )
    assert frozen == expected
    bert(torch.tensor([[1, 2, 3, 4]])).last_hidden_state.sum().backward()
    assert all(p.grad is None for p in bert.encoder.layer[1].parameters())
    assert all(p.grad is not None for p in bert.encoder.layer[2].parameters())
    with pytest.raises(ValueError, match="has 3 layers"):
        freeze_lower_layers(model, 4)
