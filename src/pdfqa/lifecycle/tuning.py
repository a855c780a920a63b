"""Hyperparameter search with Optuna (``pdfqa tune``), outside the default ``dvc repro``.

A study is an SQLite file (``optuna/<study>.db``): a second run adds trials to it. TPE samples
with a seed; a median (or Hyperband) pruner stops retriever and generator trials early from the
val metrics their Trainer reports after each evaluation. Every objective is measured on **val**:
test is only ever read by the A/B test and the benchmark's final check.

Targets and objectives:
- ``fusion`` — ``index.*`` (dense_weight, fusion, rrf_k, candidates) on the built index;
  objective = (recall@5 + MRR@10) / 2 of hybrid search on val. Rankings are computed once, so a
  trial takes milliseconds.
- ``retriever`` — ``retriever.*`` (training fields go to the active profile): fine-tune, index,
  same objective; pruned on val nDCG@10 during training.
- ``generator`` — the guide's space (learning rate, batch size, LoRA r); objective = val loss on
  answer tokens (minimised). Each trial runs in a subprocess (memory grows across in-process HF
  trainings), driven by ask/tell; the child reports intermediate losses to the same study.

The best trial is printed as the ``dvc exp run -S …`` command that reproduces it.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    import optuna

    from pdfqa.config import Params, SearchSpace

log = logging.getLogger("pdfqa.tune")
TARGETS = ("fusion", "retriever", "generator")
SECTION = {"fusion": "index", "retriever": "retriever", "generator": "generator"}
DIRECTION = {"fusion": "maximize", "retriever": "maximize", "generator": "minimize"}
OBJECTIVE = {"fusion": "val hybrid (recall@5 + MRR@10) / 2",
             "retriever": "val hybrid (recall@5 + MRR@10) / 2",
             "generator": "val loss on answer tokens"}  # fmt: skip
PRUNE_ON = {"retriever": "eval_val_cosine_ndcg@10", "generator": "eval_loss"}
PRUNED_EXIT = 3  # a generator trial's subprocess exits with this when the pruner stopped it


# -- search spaces and params ---------------------------------------------------------------------
def params_key(cfg: Params, target: str, name: str) -> str:
    """The params.yaml path a search-space key writes to."""
    from pdfqa.config import GeneratorProfile, TrainProfile

    section = SECTION[target]
    profile_fields = {"retriever": TrainProfile, "generator": GeneratorProfile}.get(target)
    if profile_fields is not None and name in profile_fields.model_fields:
        return f"{section}.profiles.{getattr(cfg, section).profile}.{name}"
    return f"{section}.{name}"


def apply(cfg: Params, values: dict[str, Any]) -> Params:
    """``cfg`` with dotted params paths set, validated like params.yaml itself."""
    from pydantic import ValidationError

    raw = cfg.model_dump(mode="json", by_alias=True)
    for key, value in values.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise PdfqaError(f"tuning: {key} is not a params path")
            node = node[part]
        if leaf not in node:
            raise PdfqaError(f"tuning: {key} is not a params path")
        node[leaf] = value
    try:
        return type(cfg).model_validate(raw)
    except ValidationError as exc:
        raise PdfqaError(f"tuning: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def distributions(cfg: Params, target: str) -> dict[str, Any]:
    """params path → Optuna distribution, from ``tuning.<target>``."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    spaces: dict[str, SearchSpace] = getattr(cfg.tuning, target)
    if not spaces:
        raise PdfqaError(f"tuning.{target} in params.yaml defines no search space")
    out: dict[str, Any] = {}
    for name, space in spaces.items():
        key = params_key(cfg, target, name)
        if space.choices is not None:
            out[key] = CategoricalDistribution(space.choices)
        elif space.int_:
            out[key] = IntDistribution(int(space.low), int(space.high), log=space.log)  # type: ignore[arg-type]
        else:
            out[key] = FloatDistribution(space.low, space.high, log=space.log)  # type: ignore[arg-type]
    apply(cfg, {k: _any_value(d) for k, d in out.items()})  # every key is a real, valid path
    return out


def _any_value(distribution) -> Any:
    choices = getattr(distribution, "choices", None)
    return choices[0] if choices else distribution.low


def exp_run_command(params: dict[str, Any]) -> str:
    """The ``dvc exp run`` that reproduces a trial's params."""
    sets = " ".join(f"-S '{k}={_yaml_value(v)}'" for k, v in sorted(params.items()))
    return f"dvc exp run {sets}"


def _yaml_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


# -- the study ------------------------------------------------------------------------------------
def study_file(cfg: Params, study: str) -> Path:
    return cfg.tuning.storage_dir / f"{study}.db"


def make_pruner(cfg: Params):
    """The pruner of ``tuning.pruner`` (not stored in the db: the worker rebuilds it too)."""
    import optuna

    if cfg.tuning.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=cfg.tuning.startup_trials)
    if cfg.tuning.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def open_study(cfg: Params, target: str, study: str, seed: int) -> optuna.Study:
    """Create or resume ``study``; refuse a db made for another target or search space."""
    import optuna

    spaces = {k: repr(v) for k, v in sorted(distributions(cfg, target).items())}
    path = study_file(cfg, study)
    path.parent.mkdir(parents=True, exist_ok=True)
    pruner = make_pruner(cfg)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        s = optuna.create_study(
            storage=f"sqlite:///{path}", study_name=study, direction=DIRECTION[target],
            pruner=pruner, load_if_exists=True,
        )  # fmt: skip
    except Exception as exc:  # a corrupt file or another program's db
        raise PdfqaError(f"{path} is not a usable Optuna study: {exc}") from None
    # one writer per study: a trial still RUNNING now was left by a run that was killed
    for stale in s.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        s._storage.set_trial_state_values(stale._trial_id, optuna.trial.TrialState.FAIL)
        log.warning(
            "trial %d of %s was interrupted by an earlier run: marked failed", stale.number, study
        )
    # seeded, and offset by the trials already in the db: a resumed study does not replay the
    # first run's random start-up samples
    s.sampler = optuna.samplers.TPESampler(seed=seed + len(s.trials), n_startup_trials=10)
    stored = s.user_attrs
    if not stored:
        s.set_user_attr("target", target)
        s.set_user_attr("space", spaces)
    elif stored.get("target") != target or stored.get("space") != spaces:
        raise PdfqaError(
            f"{path} was made for target {stored.get('target')!r} with another search space; "
            f"resume it with the same tuning.{stored.get('target')} or pass --study NEW"
        )
    return s


def pruning_callback(trial, metric: str):
    """A transformers TrainerCallback that reports a val metric to the trial after every
    evaluation and stops the training when the pruner says so."""
    import optuna
    from transformers import TrainerCallback

    class PruningCallback(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if not metrics or metric not in metrics:
                return control
            trial.report(float(metrics[metric]), step=state.global_step)
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"{metric} {metrics[metric]:.4f} at step {state.global_step}"
                )
            return control

    return PruningCallback()


# -- objectives -----------------------------------------------------------------------------------
@dataclass
class ValRankings:
    """Dense and BM25 rankings of every answerable val question, computed once per study."""

    dense: list[list[tuple[int, float]]]
    sparse: list[list[tuple[int, float]]]
    relevant: list[set[str]]
    ids: list[str]


def val_rankings(retriever, val: list[dict], depth: int) -> ValRankings:
    """(Also used on test, once, by benchmarks/tuning.py.)"""
    records = [r for r in val if r.get("answerable", True) and r.get("relevant_chunks")]
    if not records:
        raise PdfqaError("the val split has no answerable questions with relevant chunks")
    return ValRankings(
        dense=[retriever.dense_search(r["question"], depth) for r in records],
        sparse=[retriever.bm25.search(r["question"], depth) for r in records],
        relevant=[set(r["relevant_chunks"]) for r in records],
        ids=[c["chunk_id"] for c in retriever.chunks],
    )


def hybrid_per_query(rankings: ValRankings, index_settings: dict) -> list[dict[str, float]]:
    """Per-question metrics of hybrid search, fused exactly as ``Retriever.ranked`` fuses."""
    from pdfqa.retrieval.index import rrf, weighted_fusion
    from pdfqa.retrieval.metrics import query_metrics

    depth = int(index_settings["candidates"])
    per_query = []
    for dense, sparse, relevant in zip(
        rankings.dense, rankings.sparse, rankings.relevant, strict=True
    ):
        dense, sparse = dense[:depth], sparse[:depth]
        if index_settings["fusion"] == "weighted":
            w = float(index_settings["dense_weight"])
            fused = weighted_fusion([dense, sparse], [w, 1 - w])
        else:
            fused = rrf(
                [[i for i, _ in dense], [i for i, _ in sparse]], int(index_settings["rrf_k"])
            )
        metrics = query_metrics([rankings.ids[i] for i, _ in fused[:10]], relevant, [1, 5, 10])
        metrics["objective"] = (metrics["recall@5"] + metrics["mrr@10"]) / 2
        per_query.append(metrics)
    return per_query


def hybrid_score(rankings: ValRankings, index_settings: dict) -> dict[str, float]:
    """Mean hybrid metrics; ``objective`` = (recall@5 + MRR@10) / 2."""
    from pdfqa.retrieval.metrics import mean_metrics

    metrics = mean_metrics(hybrid_per_query(rankings, index_settings))
    metrics["objective"] = round((metrics["recall@5"] + metrics["mrr@10"]) / 2, 6)
    return metrics


def _splits(cfg: Params) -> tuple[list[dict], list[dict]]:
    from pdfqa.jsonio import read_jsonl

    files = [cfg.paths.qa_split("train"), cfg.paths.qa_split("val")]
    for f in files:
        if not f.exists():
            raise PdfqaError(f"{f} not found: run `dvc repro qa` first")
    return list(read_jsonl(files[0])), list(read_jsonl(files[1]))


def fusion_objective(cfg: Params):
    from pdfqa.retrieval.index import Retriever

    if cfg.index.reranker:
        raise PdfqaError("fusion tuning scores fused rankings without the reranker: set "
                         "index.reranker: null while tuning")  # fmt: skip
    _, val = _splits(cfg)
    retriever = Retriever.from_dir(cfg.paths.index, base_dir=cfg.paths.base_models)
    high = cfg.tuning.fusion.get("candidates")
    depth = max(int(high.high) if high and high.high else 0, cfg.index.candidates, 10)
    rankings = val_rankings(retriever, val, depth)

    def objective(trial: optuna.Trial, values: dict) -> tuple[float, dict]:
        settings = apply(cfg, values).index.model_dump(mode="json")
        metrics = hybrid_score(rankings, settings)
        return metrics["objective"], metrics

    return objective


def retriever_objective(cfg: Params, study: str):
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever
    from pdfqa.retrieval.train import train_embedder

    train, val = _splits(cfg)
    chunks = list(read_jsonl(cfg.paths.chunks))
    use_synthetic = cfg.retriever.use_synthetic and cfg.paths.synthetic_qa.exists()
    synthetic = list(read_jsonl(cfg.paths.synthetic_qa)) if use_synthetic else []

    def objective(trial: optuna.Trial, values: dict) -> tuple[float, dict]:
        trial_cfg = apply(cfg, values)
        with tempfile.TemporaryDirectory(prefix="pdfqa-tune-") as tmp:
            trained = train_embedder(
                train, val, chunks, synthetic, trial_cfg.retriever, seed=cfg.seed,
                wandb=cfg.wandb, base_dir=cfg.paths.base_models, checkpoints=Path(tmp),
                callbacks=[pruning_callback(trial, PRUNE_ON["retriever"])],
                run_name=f"tune-{study}-{trial.number}",
            )  # fmt: skip
        settings = cfg.index.model_dump(mode="json")
        retriever = Retriever.build(chunks, trained.model, "trial", settings, progress=False)
        depth = max(cfg.index.candidates, 10)
        metrics = hybrid_score(val_rankings(retriever, val, depth), settings)
        return metrics["objective"], metrics

    return objective


def generator_objective(cfg: Params, study: str, params_file: Path):
    """Each trial in a fresh interpreter (``python -m pdfqa.lifecycle.tune_worker``)."""
    storage = f"sqlite:///{study_file(cfg, study)}"

    def objective(trial: optuna.Trial, values: dict) -> tuple[float, dict]:
        with tempfile.TemporaryDirectory(prefix="pdfqa-tune-") as tmp:
            result = Path(tmp) / "result.json"
            cmd = [sys.executable, "-m", "pdfqa.lifecycle.tune_worker", "--storage", storage,
                   "--study", study, "--trial-id", str(trial._trial_id), "--params", str(params_file),
                   "--result", str(result)]  # fmt: skip
            done = subprocess.run(cmd, check=False)
            if done.returncode == PRUNED_EXIT:
                import optuna

                raise optuna.TrialPruned("stopped by the pruner")
            if done.returncode != 0 or not result.exists():
                raise RuntimeError(
                    f"generator trial {trial.number} failed (exit {done.returncode})"
                )
            metrics = json.loads(result.read_text(encoding="utf-8"))
        return metrics["objective"], metrics

    return objective


def generator_trial(cfg: Params, trial, study: str) -> dict:
    """What the worker runs: LoRA training with the trial's params; val loss is the objective."""
    from pdfqa.generation.train import train_generator
    from pdfqa.jsonio import read_jsonl

    train, val = _splits(cfg)
    trial_cfg = apply(cfg, dict(trial.params))
    chunk_text = {c["chunk_id"]: c["text"] for c in read_jsonl(cfg.paths.chunks)}
    with tempfile.TemporaryDirectory(prefix="pdfqa-tune-") as tmp:
        trained = train_generator(
            train, val, chunk_text, trial_cfg.generator, seed=cfg.seed, wandb=cfg.wandb,
            index_dir=cfg.paths.index, base_dir=cfg.paths.base_models, checkpoints=Path(tmp),
            callbacks=[pruning_callback(trial, PRUNE_ON["generator"])],
            run_name=f"tune-{study}-{trial.number}",
        )  # fmt: skip
    return {"objective": trained.tuned_loss, "base_loss": trained.base_loss, "steps": trained.steps}


# -- the loop -------------------------------------------------------------------------------------
@dataclass
class TuneResult:
    study: str
    target: str
    n_trials: int  # in the study, all runs together
    n_complete: int
    n_pruned: int
    best_value: float | None
    best_params: dict
    default_value: float | None
    command: str
    report: Path | None


def tune(cfg: Params, target: str, *, study: str | None = None, n_trials: int = 20,
         timeout: float | None = None, params_file: Path = Path("params.yaml"),
         seed: int | None = None) -> TuneResult:  # fmt: skip
    """Run ``n_trials`` more trials (or until ``timeout`` seconds) of ``target``'s study."""
    import optuna

    from pdfqa import tracking

    if target not in TARGETS:
        raise PdfqaError(f"unknown tuning target {target!r}; choose {', '.join(TARGETS)}")
    study = study or target
    s = open_study(cfg, target, study, cfg.seed if seed is None else seed)
    dists = distributions(cfg, target)
    objective = {"fusion": lambda: fusion_objective(cfg),
                 "retriever": lambda: retriever_objective(cfg, study),
                 "generator": lambda: generator_objective(cfg, study, params_file)}[target]()  # fmt: skip
    defaults = _current_values(cfg, dists)
    if not s.trials:  # the first trial of a study measures params.yaml as it is: the baseline
        s.enqueue_trial(defaults, user_attrs={"baseline": True})
    import contextlib
    import time

    from tqdm import tqdm

    deadline = time.monotonic() + timeout if timeout else None
    # fusion trials log to one W&B run per invocation; training trials get a run each from
    # their Trainer (tune-<study>-<trial>)
    logger = (tracking.run(cfg.wandb, f"tune-{study}", {"target": target, "study": study})
              if target == "fusion" and tracking.configure(cfg.wandb) else contextlib.nullcontext())  # fmt: skip
    with logger as wandb_run:
        for _ in tqdm(range(n_trials), desc=f"tune {target}", unit="trial"):
            if deadline and time.monotonic() > deadline:
                log.info("timeout reached")
                break
            trial = s.ask(dists)
            values = {k: trial.params[k] for k in dists}
            try:
                value, metrics = objective(trial, values)
            except optuna.TrialPruned as exc:
                s.tell(trial, state=optuna.trial.TrialState.PRUNED)
                log.info("trial %d pruned: %s", trial.number, exc)
                continue
            except PdfqaError:
                s.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            except Exception as exc:
                s.tell(trial, state=optuna.trial.TrialState.FAIL)
                log.warning("trial %d failed: %s", trial.number, exc)
                continue
            for k, v in metrics.items():
                trial.set_user_attr(k, v)
            s.tell(trial, value)
            if wandb_run is not None:
                wandb_run.log({"trial": trial.number, "objective": value, **values})
            log.info("trial %d: %.4f %s", trial.number, value, values)
    return summarise(cfg, s, target, study, defaults)


def _current_values(cfg: Params, dists: dict) -> dict:
    raw = cfg.model_dump(mode="json", by_alias=True)
    out = {}
    for key, dist in dists.items():
        node: Any = raw
        for part in key.split("."):
            node = node[part]
        choices = getattr(dist, "choices", None)
        if choices is not None and node not in choices:
            continue  # the current value is outside the space: no baseline for this key
        if choices is None and not (dist.low <= node <= dist.high):
            continue
        out[key] = node
    return out


def summarise(cfg: Params, s: optuna.Study, target: str, study: str, defaults: dict) -> TuneResult:
    import optuna

    complete = [t for t in s.trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in s.trials if t.state == optuna.trial.TrialState.PRUNED]
    baseline = next((t for t in complete if t.user_attrs.get("baseline")), None)
    best = s.best_trial if complete else None
    report = write_report(cfg, s, study) if len(complete) >= 2 else None
    return TuneResult(
        study=study, target=target, n_trials=len(s.trials), n_complete=len(complete),
        n_pruned=len(pruned), best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        default_value=baseline.value if baseline else None,
        command=exp_run_command(best.params) if best else "", report=report,
    )  # fmt: skip


def write_report(cfg: Params, s: optuna.Study, study: str) -> Path:
    """reports/tuning/<study>.html: history, importances, parallel coordinates; plotly.js is
    inlined once (~5 MB) so the page opens offline."""
    import optuna.visualization as vis

    figures = [vis.plot_optimization_history(s), vis.plot_parallel_coordinate(s)]
    try:
        figures.insert(1, vis.plot_param_importances(s))
    except (RuntimeError, ValueError, ZeroDivisionError) as exc:  # too few distinct trials
        log.info("no parameter importances yet: %s", exc)
    if any(t.intermediate_values for t in s.trials):
        figures.append(vis.plot_intermediate_values(s))
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures)
    ]
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>pdfqa tuning: {study}</title>"
            f"</head><body><h1>pdfqa tuning: {study}</h1>{''.join(parts)}</body></html>")  # fmt: skip
    out = cfg.tuning.reports_dir / f"{study}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def format_result(result: TuneResult) -> str:
    lines = [f"study {result.study} ({result.target}): {result.n_trials} trials in the db, "
             f"{result.n_complete} complete, {result.n_pruned} pruned; objective: {OBJECTIVE[result.target]}"]  # fmt: skip
    if result.best_value is None:
        return "\n".join([*lines, "no trial completed yet"])
    if result.default_value is not None:
        lines.append(f"params.yaml as it was (trial 0): {result.default_value:.4f}")
    lines.append(
        f"best: {result.best_value:.4f} with {json.dumps(result.best_params, sort_keys=True)}"
    )
    lines.append(f"reproduce: {result.command}")
    if result.report:
        lines.append(f"report: {result.report}")
    if not math.isfinite(result.best_value):
        lines.append("warning: the best value is not finite")
    return "\n".join(lines)
