"""The QA bundle: everything a server needs to answer, in one directory (stage ``bundle``).

``models/bundle/`` holds the index with its embedder, the generator adapter, the calibration,
the answer system chosen for serving, ``manifest.json`` and a model card. It is the registry's
artifact (``qa-bundle`` in dvc.yaml ``artifacts:``): ``pdfqa promote`` tags the commit whose
dvc.lock records it, and consumers fetch it through DVC. DVC stores identical files once, so the
copies cost no cache.

The manifest is a pure function of params and data (no wall time, no git rev): a commit that only
records the bundle must not change it, or caching would never settle. The git rev a served
bundle came from is known from the registry tag it was fetched by (``serving.Bundle.rev``).
Opening and serving a bundle is ``lifecycle.serving``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.config import Params

ARTIFACT = "qa-bundle"  # the artifact name declared in dvc.yaml
MANIFEST = "manifest.json"
FORMAT = 1
# params sections that shape the bundle's models and answers (paths, A/B, promotion and tuning
# settings do not)
MODEL_PARAMS = ("seed", "ingest", "chunk", "qa", "synth_qa", "retriever", "index", "generator",
                "eval_generation", "bundle")  # fmt: skip


def choose_system(generation_metrics: dict, pinned: str, available: list[str]) -> tuple[str, str]:
    """(system, why): ``pinned`` unless it is ``auto``, else the best on val by
    overall_system_score (ties → alphabetical). Never test: the A/B test reports test."""
    if pinned != "auto":
        if pinned not in available:
            raise PdfqaError(f"bundle.system {pinned!r} is not available (have {available})")
        return pinned, "pinned by params (bundle.system)"
    val = {s: m for s, m in (generation_metrics.get("val") or {}).items() if s in available}
    if not val:
        raise PdfqaError(
            "metrics/generation.json has no val scores: re-run `dvc repro eval_generation`"
        )
    scores = {s: float(m["overall_system_score"]) for s, m in sorted(val.items())}
    best = max(scores, key=lambda s: scores[s])
    listed = ", ".join(f"{s} {v:.3f}" for s, v in sorted(scores.items(), key=lambda kv: -kv[1]))
    return best, f"best overall_system_score on val ({listed})"


def params_hash(cfg: Params) -> str:
    dumped = cfg.model_dump(mode="json", by_alias=True)
    canonical = json.dumps({k: dumped[k] for k in MODEL_PARAMS}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def tree_hash(path: Path) -> str:
    """Content hash of a file, or of a folder's files (relative names + bytes, sorted)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path.parent if path.is_file() else path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def summary_metrics(generation: dict, retrieval: dict, system: str) -> dict:
    test = generation["systems"][system]
    hybrid = retrieval.get("hybrid", {})
    return {
        "val_overall_system_score": {s: m["overall_system_score"] for s, m in sorted(generation.get("val", {}).items())},
        "test": {k: test[k] for k in ("answerable_accuracy", "abstention_recall", "overall_system_score",
                                      "rouge_l", "span_hit", "latency_p95_ms") if k in test},
        "test_retrieval_hybrid": {k: hybrid[k] for k in ("recall@5", "mrr@10", "hit@1") if k in hybrid},
        "n_test": generation.get("n_test"),
    }  # fmt: skip


def build_bundle(
    out_dir: Path,
    cfg: Params,
    *,
    generation_metrics: dict,
    retrieval_metrics: dict,
    data_files: list[Path],
) -> dict:
    """Assemble ``out_dir`` from the workspace models; returns the manifest. The caller renames
    a staging directory into place, so an interrupted build never leaves a half bundle."""
    paths = cfg.paths
    adapter = paths.generator_adapter
    has_adapter = (adapter / "adapter_config.json").exists()
    available = sorted(s for s in cfg.eval_generation.systems if s != "lora" or has_adapter)
    system, reason = choose_system(generation_metrics, cfg.bundle.system, available)
    out_dir.mkdir(parents=True)
    shutil.copytree(paths.index, out_dir / "index")
    shutil.copytree(paths.embedder, out_dir / "embedder")
    if has_adapter:
        shutil.copytree(adapter, out_dir / "generator_adapter")
    shutil.copyfile(paths.calibration, out_dir / "calibration.json")
    manifest = {
        "format": FORMAT, "name": ARTIFACT, "system": system, "system_reason": reason,
        "systems": available,
        "base_models": {"retriever": cfg.retriever.base_model, "generator": cfg.generator.base_model},
        "params_hash": params_hash(cfg),
        "data": {p.as_posix(): tree_hash(p) for p in data_files},
        "generator": cfg.generator.model_dump(mode="json"),
        "metrics": summary_metrics(generation_metrics, retrieval_metrics, system),
    }  # fmt: skip
    (out_dir / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out_dir / "README.md").write_text(model_card(manifest), encoding="utf-8")
    return manifest


def public_summary(manifest: dict) -> dict:
    """metrics/bundle.json: the manifest without the generator settings, git-tracked so the A/B
    test and ``pdfqa registry`` can read any revision's choice without fetching its models."""
    return {k: v for k, v in manifest.items() if k != "generator"}


def model_card(manifest: dict) -> str:
    m = manifest["metrics"]
    test = m["test"]
    val = ", ".join(f"{s} {v:.3f}" for s, v in m["val_overall_system_score"].items())
    retrieval = ", ".join(f"{k} {v:.3f}" for k, v in m["test_retrieval_hybrid"].items())
    return f"""---
tags: [pdfqa, korean, question-answering, rag]
---
# pdfqa QA bundle

Serves **{manifest["system"]}** answers ({manifest["system_reason"]}).
Available systems: {", ".join(manifest["systems"])}.

| part | what |
|---|---|
| `index/` | FAISS + Korean BM25 over the corpus chunks (hybrid search) |
| `embedder/` | fine-tuned from `{manifest["base_models"]["retriever"]}` |
| `generator_adapter/` | LoRA adapter on `{manifest["base_models"]["generator"]}` (when trained) |
| `calibration.json` | confidence model and abstention threshold per system, fitted on val |

Test split ({m["n_test"]} human questions, never used for training or choices):
{", ".join(f"{k} {v:.3f}" for k, v in test.items())}; retrieval (hybrid): {retrieval}.
Val overall_system_score: {val}.

params hash `{manifest["params_hash"]}`; data {", ".join(f"`{k}` {v}" for k, v in manifest["data"].items())}.
The git revision and registry version come from the GTO tag it is fetched by (`pdfqa registry`).
"""
