"""The engines past one machine on this machine, each against the single-process path in the same run.

1. Ingest throughput on the bundled PDFs (``data/pdfs``): ``ingest.engine: local`` with 1 and 2
   worker processes vs ``ingest.engine: ray`` (a private ``ray.init``; its start-up is measured
   separately and included in the Ray row, as a stage pays it).
2. DDP: the ``train_embedder`` stage (builtin e5-small, the sample's train pairs, a short
   ``--epochs`` share, W&B off) with ``train.launcher: none`` vs ``torchrun`` × 2 CPU processes
   (gloo): optimizer steps/s and training examples/s. On 2 cores two processes share the same
   cores — expect little; the point is that the same stage runs unchanged on N GPUs.

    python benchmarks/scale_engines.py [--epochs 0.2] [--skip-ddp] [--skip-ingest]

Needs ``pip install -e ".[scale]"`` for the Ray row and a finished ``dvc repro`` (data/qa/*.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ingest_rows() -> list[dict]:
    from pdfqa.config import load_params
    from pdfqa.corpus import run_ingest

    params = load_params(ROOT / "params.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = params.paths.model_copy(update={"pdfs": ROOT / "data" / "pdfs",
                                                "pages": Path(tmp) / "pages.jsonl",
                                                "ingest_report": Path(tmp) / "report.json"})  # fmt: skip
        for engine, workers in (("local", 1), ("local", 2), ("ray", 2)):
            cfg = params.ingest.model_copy(update={"engine": engine, "workers": workers})
            start = time.perf_counter()
            summary = run_ingest(cfg, paths)
            seconds = time.perf_counter() - start
            pages = summary.report["totals"]["pages"]
            rows.append({"engine": engine, "workers": workers, "seconds": round(seconds, 2),
                         "pages": pages, "pages_per_s": round(pages / seconds, 1)})  # fmt: skip
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.shutdown()
    rows.append(
        {
            "engine": "ray start-up + shutdown alone",
            "seconds": round(time.perf_counter() - start, 2),
        }
    )
    return rows


def ddp_rows(epochs: float) -> list[dict]:
    from pdfqa.config import TrainLaunchConfig, load_params

    params = load_params(ROOT / "params.yaml")
    rc = params.retriever
    profile = rc.profiles["cpu"].model_copy(update={"epochs": epochs, "eval_steps": 100_000})
    rows = []
    for launcher, nproc in (("none", 1), ("torchrun", 2)):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            run = params.model_copy(update={
                "retriever": rc.model_copy(update={"profiles": {**rc.profiles, "cpu": profile}}),
                "paths": params.paths.model_copy(update={
                    "embedder": out / "embedder", "checkpoints": out / "ckpt",
                    "corpus_vectors": out / "corpus_vectors",
                    "train_embedder_metrics": out / "train_embedder.json"}),
                "wandb": params.wandb.model_copy(update={"mode": "disabled"}),
                "train": TrainLaunchConfig(launcher=launcher, nproc=nproc),
            })  # fmt: skip
            file = out / "params.yaml"
            file.write_text(
                yaml.safe_dump(run.model_dump(mode="json", by_alias=True), allow_unicode=True)
            )
            proc = subprocess.run([sys.executable, "-m", "stages.train_embedder", "--params", str(file)],
                                  cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"})  # fmt: skip
            if proc.returncode:
                raise SystemExit(proc.stderr[-3000:])
            metrics = json.loads((out / "train_embedder.json").read_text())
            steps = [int(line.split("finished: ")[1].split()[0]) for line in proc.stderr.splitlines()
                     if "finished: " in line and "optimizer steps" in line]  # fmt: skip
            seconds = metrics["train_seconds"]
            examples = metrics["train_pairs"] * epochs
            rows.append({"launcher": launcher, "processes": nproc, "steps": steps[0],
                         "train_seconds": seconds, "steps_per_s": round(steps[0] / seconds, 3),
                         "examples_per_s": round(examples / seconds, 2)})  # fmt: skip
    return rows


def store_rows() -> list[dict]:
    """FAISS + bm25s (RRF fusion) vs Qdrant local mode over the same vectors of ``models/index``,
    on the test split: top-5 agreement per mode, and hit@5 / MRR@10 of each."""
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever
    from pdfqa.retrieval.qdrant import QdrantRetriever

    faiss_side = Retriever.from_dir(ROOT / "models" / "index")
    faiss_side.settings = {**faiss_side.settings, "fusion": "rrf"}
    vectors = faiss_side.dense.reconstruct_n(0, faiss_side.dense.ntotal)
    records = [r for r in read_jsonl(ROOT / "data" / "qa" / "test.jsonl") if r["answerable"]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = {**faiss_side.settings, "store": "qdrant", "qdrant_url": None}
        start = time.perf_counter()
        qdrant_side = QdrantRetriever.create(faiss_side.chunks, vectors, faiss_side.model,
                                             settings["model"], settings, Path(tmp))  # fmt: skip
        upload_s = time.perf_counter() - start
        for mode in ("dense", "bm25", "hybrid"):
            same, quality = 0, {"faiss": [0, 0.0], "qdrant": [0, 0.0]}
            for r in records:
                relevant = set(r["relevant_chunks"])
                tops = {}
                for name, retriever in (("faiss", faiss_side), ("qdrant", qdrant_side)):
                    ids = [
                        faiss_side.chunks[i]["chunk_id"]
                        for i, _ in retriever.ranked(r["question"], 10, mode)
                    ]
                    tops[name] = ids[:5]
                    quality[name][0] += bool(relevant & set(ids[:5]))
                    rank = next((k for k, c in enumerate(ids, 1) if c in relevant), None)
                    quality[name][1] += 1 / rank if rank else 0.0
                same += tops["faiss"] == tops["qdrant"]
            n = len(records)
            rows.append({"mode": mode, "questions": n, "same_top5": round(same / n, 4),
                         "faiss_hit5": round(quality["faiss"][0] / n, 4), "qdrant_hit5": round(quality["qdrant"][0] / n, 4),
                         "faiss_mrr10": round(quality["faiss"][1] / n, 4), "qdrant_mrr10": round(quality["qdrant"][1] / n, 4)})  # fmt: skip
        qdrant_side.close()
    rows.append({"upload_s": round(upload_s, 1), "chunks": len(faiss_side.chunks)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--epochs", type=float, default=0.2, help="share of an epoch each DDP run trains"
    )
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--skip-stores", action="store_true")
    args = parser.parse_args()
    if not args.skip_ingest:
        rows = ingest_rows()
        base = rows[0]["seconds"]
        print(
            "| ingest engine | workers | seconds | pages/s | vs local×1 |\n|---|---:|---:|---:|---:|"
        )
        for r in rows:
            if "pages" in r:
                print(f"| {r['engine']} | {r['workers']} | {r['seconds']} | {r['pages_per_s']} | "
                      f"{base / r['seconds']:.2f}× |")  # fmt: skip
            else:
                print(f"| {r['engine']} | | {r['seconds']} | | |")
    if not args.skip_stores:
        rows = store_rows()
        print(
            "\n| store comparison (test split) | questions | same top-5 | hit@5 faiss | hit@5 qdrant "
            "| MRR@10 faiss | MRR@10 qdrant |\n|---|---:|---:|---:|---:|---:|---:|"
        )
        for r in rows[:-1]:
            print(f"| {r['mode']} | {r['questions']} | {r['same_top5']:.3f} | {r['faiss_hit5']:.3f} | "
                  f"{r['qdrant_hit5']:.3f} | {r['faiss_mrr10']:.3f} | {r['qdrant_mrr10']:.3f} |")  # fmt: skip
        print(
            f"(Qdrant local mode: {rows[-1]['chunks']} chunks uploaded in {rows[-1]['upload_s']} s)"
        )
    if not args.skip_ddp:
        rows = ddp_rows(args.epochs)
        base = rows[0]["examples_per_s"]
        print(
            "\n| train_embedder | processes | optimizer steps | train s | steps/s | examples/s | vs 1 process |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['launcher']} | {r['processes']} | {r['steps']} | {r['train_seconds']} | "
                  f"{r['steps_per_s']} | {r['examples_per_s']} | {r['examples_per_s'] / base:.2f}× |")  # fmt: skip


if __name__ == "__main__":
    main()
