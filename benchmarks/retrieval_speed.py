"""Retrieval speed: index build throughput vs a bare encode, and query latency at 10k chunks.

1. Throughput: `Retriever.build` (encode + FAISS + Korean BM25) vs a bare
   `SentenceTransformer.encode` of the same texts, same run; ratio = bare time / build time
   (target >= 0.9).
2. Latency: a synthetic corpus of --n-corpus chunks (random 3-sentence mixes of the sample
   corpus). BM25 is built over all of them; dense vectors for the extra chunks are the measured
   embeddings plus small noise (FAISS flat search time depends on the count, not the content).
   Queries are real human questions, model already loaded. Target: hybrid p95 <= 50 ms on CPU.
3. Peak RSS of this process.

    python benchmarks/retrieval_speed.py [--model models/embedder] [--n-throughput 500] [--n-corpus 10000]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def corpus(n: int, seed: int = 0) -> list[str]:
    from pdfqa.jsonio import read_jsonl
    from pdfqa.korean import split_sentences_regex

    sentences = [
        s
        for c in read_jsonl(ROOT / "data" / "processed" / "chunks.jsonl")
        for s in split_sentences_regex(c["text"])
        if len(s) > 20
    ]
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, 3)) for _ in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    from sentence_transformers import SentenceTransformer

    from pdfqa.bm25 import KoreanBM25
    from pdfqa.config import load_params
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever, build_faiss, encode_passages

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "embedder")
    parser.add_argument("--n-throughput", type=int, default=500)
    parser.add_argument("--n-corpus", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    settings = load_params(ROOT / "params.yaml").index.model_dump(mode="json")
    model = SentenceTransformer(str(args.model), device="cpu")
    texts = corpus(args.n_corpus)
    sample = texts[: args.n_throughput]
    chunks = [
        {"chunk_id": f"s{i}", "source": "synthetic.pdf", "page_start": 1, "page_end": 1, "text": t}
        for i, t in enumerate(texts)
    ]

    # Warm-ups: the model, Kiwi (loaded once per process, ~1.5 s) and bm25s are "already loaded".
    model.encode(sample[:32], prompt_name="passage")
    KoreanBM25(sample[:10])
    bare_times, build_times = [], []
    for _ in range(2):  # alternate, best of two, so neither side benefits from order
        start = time.perf_counter()
        model.encode(sample, prompt_name="passage", batch_size=32)
        bare_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        Retriever.build(chunks[: args.n_throughput], model, "bench", settings, progress=False)
        build_times.append(time.perf_counter() - start)
    bare, built = min(bare_times), min(build_times)
    print(
        f"throughput on {len(sample)} chunks: bare encode {len(sample) / bare:.1f} chunks/s, "
        f"index build {len(sample) / built:.1f} chunks/s, ratio {bare / built:.2f} (target >= 0.9)"
    )

    vectors = encode_passages(model, sample)
    rng = np.random.default_rng(0)
    tiled = np.concatenate([vectors] * (args.n_corpus // len(vectors) + 1))[: args.n_corpus]
    tiled = tiled + rng.normal(scale=0.01, size=tiled.shape).astype(np.float32)
    tiled /= np.linalg.norm(tiled, axis=1, keepdims=True)
    start = time.perf_counter()
    bm25 = KoreanBM25(texts, k1=settings["bm25_k1"], b=settings["bm25_b"])
    print(f"BM25 over {len(texts)} chunks built in {time.perf_counter() - start:.1f} s")
    retriever = Retriever(chunks, model, build_faiss(tiled, settings["dense"]), bm25, settings)
    questions = [
        r["question"]
        for split in ("val", "test", "train")
        for r in read_jsonl(ROOT / "data" / "qa" / f"{split}.jsonl")
    ][: args.queries]
    for mode in ("dense", "bm25", "hybrid"):
        retriever.search(questions[0], 5, mode)  # warm-up
        times = []
        for q in questions:
            start = time.perf_counter()
            retriever.search(q, 5, mode)
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"{mode:6s} latency over {len(questions)} queries, {len(texts)} chunks: "
            f"p50 {statistics.median(times):.1f} ms  p95 {percentile(times, 0.95):.1f} ms"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
