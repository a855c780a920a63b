"""Cold-start quality, leave-one-document-out (``pdfqa.lifecycle.coldstart``): for every bundled
PDF with ≥ 15 answerable human questions, train as ``dvc repro`` would with none of that PDF's
questions, then ask them. Writes reports/coldstart.md, metrics/coldstart.json and
metrics/per_question/coldstart.jsonl.

    python benchmarks/coldstart.py [--docs kotex-doc.pdf ...] [--baseline OLD_per_question.jsonl]

A benchmark, not a DVC stage: one embedder fine-tuning per fold (~8 CPU minutes each on 2
cores) would double the default repro. Needs `dvc repro chunk` (chunks) and the base models.
Fold embedders are cached in models/.coldstart/ by a hash of everything they depend on, so a
re-run after an answer-side change only re-evaluates. ``--baseline`` pairs every held-out
question with an earlier run's row and reports the pooled differences with paired-bootstrap CIs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TARGETS = {  # the pooled targets: (where, metric, at least / at most)
    "hybrid hit@5": (("retrieval", "hybrid", "hit@5"), 0.95, "≥"),
    "hybrid MRR@10": (("retrieval", "hybrid", "mrr@10"), 0.85, "≥"),
    "span hit with a right-page citation": (("answers", "span_hit_cited"), 0.70, "≥"),
    "false abstention": (("answers", "false_abstention"), 0.10, "≤"),
    "abstention recall": (("answers", "abstention_recall"), 0.80, "≥"),
    "gate: largest false-abstention shift from adding a PDF": (("max_false_abstention_shift",), 0.03, "≤"),
}  # fmt: skip


def _get(d: dict, path: tuple):
    for key in path:
        d = d[key]
    return d


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def baseline_deltas(rows: list[dict], baseline: list[dict], seed: int) -> list[str]:
    """Pooled differences (this run − baseline) on the questions both runs held out."""
    from pdfqa.lifecycle.significance import paired_test

    def keyed(items, kind, system=None):
        return {(r["fold"], r["id"]): r for r in items
                if r["kind"] == kind and (system is None or r.get("system") == system)}  # fmt: skip

    lines = ["| metric | baseline | now | Δ | 95% paired CI | p |", "|---|---|---|---|---|---|"]
    checks = [("retrieval", "hybrid", m) for m in ("hit@1", "hit@5", "mrr@10")] + [
        ("answer", None, m) for m in ("span_hit", "span_hit_cited", "right_page")
    ]
    for kind, system, metric in checks:
        now, old = keyed(rows, kind, system), keyed(baseline, kind, system)
        common = sorted(k for k in now.keys() & old.keys() if metric in now[k] and metric in old[k])
        if len(common) < 2:
            continue
        a, b = [float(now[k][metric]) for k in common], [float(old[k][metric]) for k in common]
        t = paired_test(a, b, resamples=9999, seed=seed)
        name = f"{system} {metric}" if system else metric
        lines.append(f"| {name} | {sum(b) / len(b):.3f} | {sum(a) / len(a):.3f} | {t['difference']:+.3f} "
                     f"| [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}] | {t['p_value']:.3f} |")  # fmt: skip
    for label, metric, answerable in (("false abstention", "abstained", True),
                                      ("abstention recall", "abstained", False)):  # fmt: skip
        now, old = keyed(rows, "answer"), keyed(baseline, "answer")
        common = sorted(k for k in now.keys() & old.keys() if now[k]["answerable"] is answerable)
        if len(common) < 2:
            continue
        a = [float(now[k][metric]) for k in common]
        b = [float(old[k][metric]) for k in common]
        t = paired_test(a, b, resamples=9999, seed=seed)
        lines.append(f"| {label} | {sum(b) / len(b):.3f} | {sum(a) / len(a):.3f} | {t['difference']:+.3f} "
                     f"| [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}] | {t['p_value']:.3f} |")  # fmt: skip
    return lines


def render(summary: dict, deltas: list[str] | None) -> str:
    folds, pool = summary["folds"], summary["pooled"]
    out = ["# Cold-start quality: leave one document out", "",
           "Each bundled PDF with ≥ 15 answerable human questions is held out in turn: the models "
           "are trained as `dvc repro` would with that PDF in the corpus but none of its human "
           "questions (it contributes only synthetic pairs), then its human questions are asked. "
           "Served answers: the extractive system (the bundle's choice), abstention gate fitted on "
           "the other documents' train + val questions. Reproduce: `python benchmarks/coldstart.py`.", "",
           "## Targets (pooled over folds)", "", "| target | value | goal | met |", "|---|---|---|---|"]  # fmt: skip
    for name, (path, goal, op) in TARGETS.items():
        value = _get(pool, path)
        met = value is not None and (value >= goal if op == "≥" else value <= goal)
        out.append(f"| {name} | {_fmt(value)} | {op} {goal} | {'✅' if met else '❌'} |")
    out += ["", "## Retrieval on the held-out document's questions", "",
            "| fold | n | system | hit@1 | hit@5 | hit@10 | MRR@10 |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for f in [*folds, {"doc": "**pooled**", "n_test": pool["n_test"], **pool}]:
        for system, m in f["retrieval"].items():
            out.append(f"| {f['doc']} | {f['n_test']} | {system} | " + " | ".join(
                _fmt(m[k]) for k in ("hit@1", "hit@5", "hit@10", "mrr@10")) + " |")  # fmt: skip
    out += ["", "`base` is the untuned e5 (dense), `finetuned` the fold's fine-tuned embedder "
            "(dense), `hybrid` what is served (fused with BM25).", "",
            "## Served answers", "",
            "| fold | answerable | unanswerable | span hit | right page | span hit + right page "
            "| false abstention | abstention recall | threshold |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for f in [*folds, {"doc": "**pooled**", "answers": pool["answers"]}]:
        a = f["answers"]
        out.append(f"| {f['doc']} | {a['n_answerable']} | {a['n_unanswerable']} | {_fmt(a['span_hit'])} "
                   f"| {_fmt(a['right_page'])} | {_fmt(a['span_hit_cited'])} | {_fmt(a['false_abstention'])} "
                   f"| {_fmt(a['abstention_recall'])} | {a.get('threshold', '')} |")  # fmt: skip
    out += ["", "## Gate stability: adding the held-out PDF to the corpus", "",
            "Same embedder; the gate fitted on the other documents' train + val questions over an index "
            "without the PDF, then with it; measured on the other documents' test questions.", "",
            "| fold | other test q | false abstention without → with | shift | abstention recall without → with |",
            "|---|---|---|---|---|"]  # fmt: skip
    for f in folds:
        g = f["gate_stability"]
        out.append(f"| {f['doc']} | {g['n_other_test']} | {_fmt(g['false_abstention_without_doc'])} → "
                   f"{_fmt(g['false_abstention_with_doc'])} | {g.get('false_abstention_shift', 0):+.3f} | "
                   f"{_fmt(g['abstention_recall_without_doc'])} → {_fmt(g['abstention_recall_with_doc'])} |")  # fmt: skip
    out += ["", "## Cost per fold (CPU minutes, this machine)", "",
            "| fold | train pairs (human + synthetic) | embedder training | evaluation | wall |",
            "|---|---|---|---|---|"]  # fmt: skip
    for f in folds:
        reused = ""
        if f["train_cpu_s"] == 0:
            earlier = f.get("train_cpu_s_when_trained")
            reused = f" (cached; {earlier / 60:.1f} when trained)" if earlier else " (cached)"
        out.append(f"| {f['doc']} | {f['n_train']} + {f['n_synthetic']} | {f['train_cpu_s'] / 60:.1f}{reused} "
                   f"| {f['eval_cpu_s'] / 60:.1f} | {f['wall_s'] / 60:.1f} |")  # fmt: skip
    if deltas:
        out += ["", "## Against the baseline run (same held-out questions, paired)", "", *deltas]
    return "\n".join(out) + "\n"


def main() -> None:
    from _folds import add_fold_arguments, setup

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fold_arguments(parser)
    parser.add_argument("--baseline", type=Path, help="an earlier run's per-question jsonl")
    parser.add_argument("--out", type=Path, default=Path("metrics/coldstart.json"))
    parser.add_argument(
        "--per-question", type=Path, default=Path("metrics/per_question/coldstart.jsonl")
    )
    parser.add_argument("--report", type=Path, default=Path("reports/coldstart.md"))
    args = parser.parse_args()
    cfg, chunks, human, docs = setup(args)

    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.lifecycle import coldstart
    from pdfqa.models import load_sentence_transformer

    base_model = load_sentence_transformer(cfg.retriever.base_model, cfg.paths.base_models)

    folds, per_question = [], []
    for doc in docs:
        wall = time.perf_counter()
        fold = coldstart.make_fold(doc, human, chunks, cfg)
        model_dir, train_cpu = coldstart.fold_embedder(fold, chunks, cfg, args.cache_dir)
        # what training the cached embedder cost when it was trained (kept next to it)
        cost = model_dir / "train_cpu_s.txt"
        if train_cpu:
            cost.write_text(f"{train_cpu:.1f}\n", encoding="utf-8")
        trained_cpu = float(cost.read_text()) if cost.exists() else None
        result = coldstart.evaluate_fold(fold, chunks, cfg, model_dir, base_model)
        per_question += result.pop("_per_question")
        result.update(train_cpu_s=round(train_cpu, 1), wall_s=round(time.perf_counter() - wall, 1),
                      train_cpu_s_when_trained=trained_cpu)  # fmt: skip
        folds.append(result)
        h, a = result["retrieval"]["hybrid"], result["answers"]
        print(f"{doc}: hybrid hit@5 {h['hit@5']:.3f} MRR@10 {h['mrr@10']:.3f} | span hit + page "
              f"{_fmt(a['span_hit_cited'])} false abstention {_fmt(a['false_abstention'])} "
              f"abstention recall {_fmt(a['abstention_recall'])} | {result['wall_s'] / 60:.1f} min",
              flush=True)  # fmt: skip

    summary = {"folds": folds, "pooled": coldstart.pooled(folds, per_question),
               "min_answerable": args.min_answerable}  # fmt: skip
    per_question.sort(key=lambda r: (r["fold"], r["kind"], r.get("system", ""), r["id"]))
    deltas = None
    if args.baseline:
        deltas = baseline_deltas(per_question, list(read_jsonl(args.baseline)), cfg.seed)
    write_json(args.out, summary)
    write_jsonl(args.per_question, per_question)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render(summary, deltas), encoding="utf-8")
    print(render(summary, deltas))


if __name__ == "__main__":
    main()
