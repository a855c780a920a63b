"""Load on the app: N concurrent `gradio_client` users (default 20) asking for a bounded time,
against one user alone in the same run, on a local server answering with the extractive system.

    python benchmarks/app_load.py [--users 20] [--seconds 30] [--url http://127.0.0.1:7860/]

Without --url it starts the app in-process on the workspace bundle (needs `dvc repro`). Prints
requests served, errors (must be 0), p50/p95 latency of N users vs 1, and throughput.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _questions() -> list[str]:
    from pdfqa.jsonio import read_jsonl

    return [r["question"] for r in read_jsonl(ROOT / "data" / "qa" / "val.jsonl")]


def _user(
    url: str, questions: list[str], until: float, offset: int, out: list, errors: list
) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    i = offset
    while time.perf_counter() < until:
        question = questions[i % len(questions)]
        i += 1
        start = time.perf_counter()
        try:
            client.predict(question, "extractive", 0, "hybrid", api_name="/answer")
            out.append((time.perf_counter() - start) * 1000)
        except Exception as exc:  # every failure counts, with its reason
            errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")


def run(url: str, users: int, seconds: float, questions: list[str]) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=_user, args=(url, questions, until, 7 * u, latencies, errors))
               for u in range(users)]  # fmt: skip
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {"users": users, "served": len(latencies), "errors": len(errors), "wall_s": wall,
            "p50": statistics.median(latencies) if latencies else float("nan"), "p95": q[18],
            "per_s": len(latencies) / wall, "first_errors": errors[:3]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url", default=None, help="a running app (default: start one here)")
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    demo = None
    url = args.url
    concurrency = "the server's"
    if url is None:
        from pdfqa.app.server import start_in_process
        from pdfqa.config import load_params

        cfg = load_params()
        cfg = cfg.model_copy(update={"serve": cfg.serve.model_copy(update={"queue_size": 1000}),
                                     "paths": cfg.paths.model_copy(update={"app_dir": ROOT / "logs" / "app-load"})})  # fmt: skip
        demo, _ = start_in_process(cfg, workspace=True)
        concurrency = str(cfg.serve.ask_concurrency)
        url = demo.local_url
    questions = _questions()
    run(url, 1, 3, questions)  # warm-up: first query pays for lazy loading
    one = run(url, 1, args.seconds, questions)
    many = run(url, args.users, args.seconds, questions)
    if demo is not None:
        demo.close()
    print("| users | served | errors | p50 ms | p95 ms | answers/s |\n|---|---|---|---|---|---|")
    for r in (one, many):
        print(
            f"| {r['users']} | {r['served']} | {r['errors']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['per_s']:.1f} |"
        )
    print(f"{args.users} users vs 1: p50 ×{many['p50'] / one['p50']:.1f}, p95 ×{many['p95'] / one['p95']:.1f}, "
          f"throughput ×{many['per_s'] / one['per_s']:.2f} ({args.seconds:.0f} s each, extractive, "
          f"serve.ask_concurrency {concurrency})")  # fmt: skip
    if many["errors"] or one["errors"]:
        print("errors:", one["first_errors"] + many["first_errors"])
        sys.exit(1)


if __name__ == "__main__":
    main()
