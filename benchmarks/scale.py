"""Retrieval cost against corpus size: FAISS flat / IVF / IVF-PQ / HNSW and Qdrant (local mode).

Synthetic corpora of 10k / 100k / 1M chunks: each vector is a real passage embedding of the
sample corpus (``models/index/dense.faiss``, the fine-tuned e5) plus Gaussian noise, re-normalised,
so the neighbourhoods look like real ones; queries are real human questions of the sample (their
embeddings, plus noise) — 200 of them. For every (size, index) one fresh subprocess builds the
index, writes it, re-opens it (IVF kinds memory-mapped, ``index.mmap``) and answers the queries
one at a time; it reports build seconds, peak RSS above the loaded vectors, on-disk size, query
p50/p95 and recall@10 against exact search (flat is exact by definition). Qdrant local mode —
meant for tests; it scans a numpy array in Python — runs up to ``--qdrant-max``.

    python benchmarks/scale.py                       # 10k, 100k, 1M; writes the table + plot
    python benchmarks/scale.py --sizes 10000 --kinds flat ivf --no-plot

Output: a markdown table on stdout, ``benchmarks/results/scale.json`` and ``docs/img/scale.png``
(log-log: build time, query p95, memory and disk against corpus size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["flat", "ivf", "ivfpq", "hnsw", "qdrant"]
N_QUERIES = 200
PQ_M = 96  # IVF-PQ bytes per vector (16× smaller than 384 floats)


def _rss_mb() -> float:
    """Resident memory now (a memory-mapped index counts only the pages it touched)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_data(size: int, folder: Path, seed: int = 0) -> tuple[Path, Path, Path]:
    """corpus.npy, queries.npy, truth.npy (exact top-10 ids) for ``size`` chunks."""
    import faiss

    from pdfqa.jsonio import read_jsonl
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval.index import encode_queries

    index_dir = ROOT / "models" / "index"
    base = faiss.read_index(str(index_dir / "dense.faiss"))
    seeds = base.reconstruct_n(0, base.ntotal)
    rng = np.random.default_rng(seed)
    corpus = np.empty((size, seeds.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):  # in slices: 1M × 384 floats is 1.5 GB
        n = min(100_000, size - start)
        block = seeds[rng.integers(0, len(seeds), n)] + rng.normal(0, 0.03, (n, seeds.shape[1]))
        corpus[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    questions = [r["question"] for r in read_jsonl(ROOT / "data" / "qa" / "human.jsonl")]
    model = load_sentence_transformer(str(ROOT / "models" / "embedder"))
    real = encode_queries(model, questions[:N_QUERIES])
    picks = real[rng.integers(0, len(real), N_QUERIES)] + rng.normal(
        0, 0.01, (N_QUERIES, real.shape[1])
    )
    queries = (picks / np.linalg.norm(picks, axis=1, keepdims=True)).astype(np.float32)
    exact = faiss.IndexFlatIP(corpus.shape[1])
    exact.add(corpus)
    _, truth = exact.search(queries, 10)
    paths = (
        folder / f"corpus-{size}.npy",
        folder / f"queries-{size}.npy",
        folder / f"truth-{size}.npy",
    )
    for path, array in zip(paths, (corpus, queries, truth), strict=True):
        np.save(path, array)
    return paths


def nlist_for(size: int) -> int:
    """~4·√N inverted lists (faiss's guideline), a power of two."""
    return 2 ** round(math.log2(4 * math.sqrt(size)))


def worker(kind: str, size: int, folder: Path) -> dict:
    """One (index kind, size) measurement in this (fresh) process."""
    import faiss

    import pdfqa.retrieval.index  # noqa: F401

    if kind == "qdrant":
        import qdrant_client  # noqa: F401
    corpus = np.load(folder / f"corpus-{size}.npy")
    queries = np.load(folder / f"queries-{size}.npy")
    truth = np.load(folder / f"truth-{size}.npy")
    rss_loaded = _rss_mb()
    start = time.perf_counter()
    index_path = folder / f"{kind}-{size}.index"
    if kind == "qdrant":
        search, disk = _qdrant(corpus, index_path)
    else:
        import faiss

        from pdfqa.retrieval.index import build_faiss, read_faiss

        index = build_faiss(corpus, kind, nlist=nlist_for(size), hnsw_m=32, nprobe=16, pq_m=PQ_M,
                            ef_search=64)  # fmt: skip
        faiss.write_index(index, str(index_path))
        del index
        index = read_faiss(index_path, mmap=kind in ("ivf", "ivfpq"))
        disk = index_path.stat().st_size

        def search(q):
            return index.search(q[None, :], 10)[1][0]

    build_s = time.perf_counter() - start
    search(queries[0])  # warm
    latencies, hits = [], 0
    for query, true in zip(queries, truth, strict=True):
        t = time.perf_counter()
        found = search(query)
        latencies.append((time.perf_counter() - t) * 1000)
        hits += len(set(map(int, found)) & set(map(int, true)))
    latencies.sort()
    return {"kind": kind, "size": size, "build_s": round(build_s, 2),
            "ram_mb": round(max(0.0, _rss_mb() - rss_loaded), 1),
            "disk_mb": round(disk / 2**20, 1),
            "p50_ms": round(statistics.median(latencies), 3),
            "p95_ms": round(latencies[int(0.95 * len(latencies)) - 1], 3),
            "recall_at_10": round(hits / (10 * len(queries)), 4)}  # fmt: skip


def _qdrant(corpus: np.ndarray, path: Path):
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(path))
    client.create_collection("bench", vectors_config=models.VectorParams(
        size=corpus.shape[1], distance=models.Distance.COSINE))  # fmt: skip
    for start in range(0, len(corpus), 1000):
        block = corpus[start : start + 1000]
        client.upload_collection("bench", vectors=block, ids=list(range(start, start + len(block))),
                                 batch_size=1000, wait=True)  # fmt: skip

    def search(q):
        points = client.query_points("bench", query=q.tolist(), limit=10).points
        return [p.id for p in points]

    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return search, disk


def plot(rows: list[dict], out: Path) -> None:
    """Log-log cost panels and recall (Vega-Lite, rendered by vl-convert like ``pdfqa report``'s
    plots)."""
    import vl_convert

    panels = [("build_s", "build (s)"), ("p95_ms", "query p95 (ms)"),
              ("ram_mb", "RSS serving, over the vectors (MB)"), ("disk_mb", "on disk (MB)"),
              ("recall_at_10", "recall@10 vs exact")]  # fmt: skip
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": "pdfqa retrieval cost against corpus size (384-d e5 vectors, 2-core CPU)",
        "data": {"values": rows},
        "hconcat": [{
            "width": 190, "height": 190, "title": title,
            "transform": [{"filter": f"datum.{key} > 0"}],
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "size", "type": "quantitative", "scale": {"type": "log"}, "title": "chunks"},
                "y": {"field": key, "type": "quantitative", "title": None,
                      "scale": {"type": "linear", "domain": [0, 1]} if key == "recall_at_10" else {"type": "log"}},
                "color": {"field": "kind", "type": "nominal", "sort": KINDS, "title": "index"},
            },
        } for key, title in panels],
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(vl_convert.vegalite_to_png(spec, scale=1.5))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--kinds", nargs="+", default=KINDS, choices=KINDS)
    parser.add_argument("--qdrant-max", type=int, default=100_000)
    parser.add_argument("--hnsw-max", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "scale.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--from-json", type=Path, help="print the table and plot of a saved run")
    parser.add_argument(
        "--worker", nargs=3, metavar=("KIND", "SIZE", "DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        kind, size, folder = args.worker
        print(json.dumps(worker(kind, int(size), Path(folder))))
        return
    if args.from_json:
        rows = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        rows = measure(args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("| chunks | index | build s | RSS MB | disk MB | p50 ms | p95 ms | recall@10 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']:,} | {r['kind']} | {r['build_s']} | {r['ram_mb']} | {r['disk_mb']} | "
              f"{r['p50_ms']} | {r['p95_ms']} | {r['recall_at_10']:.3f} |")  # fmt: skip
    if not args.no_plot:
        plot(rows, args.plot)
        print(f"plot: {args.plot}")


def measure(args) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pdfqa-scale-") as tmp:
        folder = Path(tmp)
        for size in args.sizes:
            started = time.perf_counter()
            make_data(size, folder)
            print(f"# {size} chunks: data + exact top-10 in {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)  # fmt: skip
            for kind in args.kinds:
                if (kind == "qdrant" and size > args.qdrant_max) or (
                    kind == "hnsw" and size > args.hnsw_max
                ):
                    continue
                proc = subprocess.run([sys.executable, __file__, "--worker", kind, str(size), tmp],
                                      capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})  # fmt: skip
                if proc.returncode:
                    print(f"# {kind} at {size}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"# {json.dumps(row)}", file=sys.stderr)
                for leftover in folder.glob(f"{kind}-{size}.index*"):
                    subprocess.run(["rm", "-rf", str(leftover)], check=False)
            for leftover in folder.glob(f"*-{size}.npy"):
                leftover.unlink()
    return rows


if __name__ == "__main__":
    main()
