"""Optuna tuning for real: SQLite studies that resume, refuse another search space, prune through
the Trainer callback, and the fusion / retriever / generator targets on the sample corpus."""

from __future__ import annotations

import sqlite3

import optuna
import pytest
import yaml
from conftest import ROOT

from pdfqa.config import SearchSpace, load_params
from pdfqa.errors import PdfqaError
from pdfqa.lifecycle import tuning


@pytest.fixture
def cfg(tmp_path):
    params = load_params(ROOT / "params.yaml")
    return params.model_copy(update={
        "tuning": params.tuning.model_copy(update={"storage_dir": tmp_path / "optuna",
                                                   "reports_dir": tmp_path / "reports"}),
        "wandb": params.wandb.model_copy(update={"mode": "disabled"}),
    })  # fmt: skip


def test_search_space_keys_map_to_params_paths(cfg):
    assert tuning.params_key(cfg, "fusion", "dense_weight") == "index.dense_weight"
    assert (
        tuning.params_key(cfg, "retriever", "learning_rate")
        == "retriever.profiles.cpu.learning_rate"
    )
    assert tuning.params_key(cfg, "retriever", "mnrl_scale") == "retriever.mnrl_scale"
    assert tuning.params_key(cfg, "generator", "batch_size") == "generator.profiles.cpu.batch_size"
    assert tuning.params_key(cfg, "generator", "lora.r") == "generator.lora.r"
    changed = tuning.apply(cfg, {"index.dense_weight": 0.25, "generator.lora.r": 12})
    assert changed.index.dense_weight == 0.25 and changed.generator.lora.r == 12
    assert cfg.index.dense_weight != 0.25  # the original is untouched
    with pytest.raises(PdfqaError, match="not a params path"):
        tuning.apply(cfg, {"index.dense_wieght": 0.3})
    with pytest.raises(PdfqaError, match="dense_weight"):
        tuning.apply(cfg, {"index.dense_weight": 3.0})  # validated like params.yaml


def test_guide_generator_space_and_the_exp_run_command(cfg):
    dists = tuning.distributions(cfg, "generator")
    assert dists["generator.profiles.cpu.learning_rate"].log
    assert (
        dists["generator.profiles.cpu.learning_rate"].low,
        dists["generator.profiles.cpu.learning_rate"].high,
    ) == (1e-5, 1e-3)
    assert list(dists["generator.profiles.cpu.batch_size"].choices) == [4, 8, 16]
    assert (dists["generator.lora.r"].low, dists["generator.lora.r"].high) == (4, 16)
    command = tuning.exp_run_command({"index.fusion": "rrf", "index.dense_weight": 0.4321})
    assert command == "dvc exp run -S 'index.dense_weight=0.4321' -S 'index.fusion=rrf'"
    bad = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={
        "fusion": {"dense_wieght": SearchSpace(low=0, high=1)}})})  # fmt: skip
    with pytest.raises(PdfqaError, match="not a params path"):
        tuning.distributions(bad, "fusion")


def test_study_resumes_and_refuses_another_search_space(cfg):
    study = tuning.open_study(cfg, "fusion", "s", seed=1)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    again = tuning.open_study(cfg, "fusion", "s", seed=1)
    assert len(again.trials) == 3  # the same SQLite study, not a new one
    with sqlite3.connect(cfg.tuning.storage_dir / "s.db") as db:
        assert db.execute("select count(*) from trials").fetchone()[0] == 3
    narrower = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={
        "fusion": {"dense_weight": SearchSpace(low=0.2, high=0.8)}})})  # fmt: skip
    with pytest.raises(PdfqaError, match="another search space"):
        tuning.open_study(narrower, "fusion", "s", seed=1)
    with pytest.raises(PdfqaError, match="another search space"):
        tuning.open_study(cfg, "retriever", "s", seed=1)


def test_a_trial_left_running_by_a_killed_run_is_marked_failed_on_resume(cfg):
    study = tuning.open_study(cfg, "fusion", "killed", seed=1)
    study.ask()  # the process dies here: the trial stays RUNNING in the db
    again = tuning.open_study(cfg, "fusion", "killed", seed=1)
    assert [t.state for t in again.trials] == [optuna.trial.TrialState.FAIL]


def test_median_pruner_stops_a_bad_trial_through_the_trainer_callback(cfg):
    """A tiny objective with a real study and the real callback: trials report a val metric per
    evaluation; one that is worse than the median at the same step is pruned."""
    from types import SimpleNamespace

    study = tuning.open_study(cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"startup_trials": 2})}),
                              "fusion", "prune", seed=0)  # fmt: skip
    state = SimpleNamespace(global_step=0)

    def train(trial, quality: float) -> float:
        callback = tuning.pruning_callback(trial, "eval_val_cosine_ndcg@10")
        for step in range(1, 6):
            state.global_step = step
            callback.on_evaluate(
                None, state, None, metrics={"eval_val_cosine_ndcg@10": quality * step}
            )
        return quality

    for quality in (0.5, 0.6, 0.7):
        study.optimize(lambda t, q=quality: train(t, q), n_trials=1)
    study.optimize(lambda t: train(t, 0.1), n_trials=1)  # worse at step 1 than every earlier one
    states = [t.state for t in study.trials]
    assert states[:3] == [optuna.trial.TrialState.COMPLETE] * 3
    assert states[3] == optuna.trial.TrialState.PRUNED
    assert list(study.trials[3].intermediate_values) == [1]  # stopped at its first evaluation


@pytest.mark.slow
def test_fusion_tuning_resumes_beats_or_ties_params_and_writes_an_offline_report(
    cfg, trained_retriever
):
    paths = trained_retriever.paths
    run_cfg = cfg.model_copy(update={"paths": paths, "seed": 7})
    first = tuning.tune(run_cfg, "fusion", n_trials=6)
    assert first.n_trials == 6 and first.n_complete == 6
    second = tuning.tune(run_cfg, "fusion", n_trials=4)
    assert second.n_trials == 10  # resumed: 4 more in the same study
    assert second.default_value is not None and second.best_value >= second.default_value
    study = optuna.load_study(
        study_name="fusion", storage=f"sqlite:///{cfg.tuning.storage_dir / 'fusion.db'}"
    )
    baseline = study.trials[0]
    assert (
        baseline.user_attrs["baseline"]
        and baseline.params["index.dense_weight"] == run_cfg.index.dense_weight
    )
    params = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(params)) == len(params)  # the resumed run did not replay the first run's samples
    assert second.command.startswith("dvc exp run -S 'index.")
    html = second.report.read_text(encoding="utf-8")
    assert 'src="http' not in html and "plotly.js v" in html.lower()  # inlined: opens offline
    # the best params, applied, give the value the study recorded (nothing was tuned on test)
    best = tuning.apply(run_cfg, second.best_params).index.model_dump(mode="json")
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval import Retriever

    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)
    val = list(read_jsonl(paths.qa_split("val")))
    rankings = tuning.val_rankings(retriever, val, 100)
    assert tuning.hybrid_score(rankings, best)["objective"] == pytest.approx(second.best_value)


@pytest.mark.slow
def test_retriever_trials_train_report_intermediate_values_and_resume(cfg, trained_retriever):
    run_cfg = trained_retriever.model_copy(update={"tuning": cfg.tuning.model_copy(update={
        "retriever": {"learning_rate": SearchSpace(low=1e-5, high=5e-5, log=True)}, "pruner": "none"}),
        "wandb": cfg.wandb})  # fmt: skip
    result = tuning.tune(run_cfg, "retriever", n_trials=2)
    assert result.n_complete == 2 and 0 < result.best_value <= 1
    study = optuna.load_study(
        study_name="retriever", storage=f"sqlite:///{cfg.tuning.storage_dir / 'retriever.db'}"
    )
    assert all(
        t.intermediate_values for t in study.trials
    )  # the Trainer callback reported val nDCG


@pytest.mark.slow
def test_generator_trial_runs_in_a_subprocess_and_reports_val_loss(
    cfg, trained_retriever, tiny_gemma, tmp_path
):
    gc = trained_retriever.generator
    tiny = gc.profiles["cpu"].model_copy(update={"epochs": 0.2, "eval_steps": 1, "warmup_steps": 0})
    run_cfg = trained_retriever.model_copy(update={
        "generator": gc.model_copy(update={"base_model": str(tiny_gemma), "max_length": 256,
                                           "profiles": {**gc.profiles, "cpu": tiny}}),
        "tuning": cfg.tuning.model_copy(update={"generator": {
            "learning_rate": SearchSpace(low=1e-4, high=1e-3, log=True),
            "batch_size": SearchSpace(choices=[2]), "lora.r": SearchSpace(low=4, high=8, int=True)}}),
        "wandb": cfg.wandb,
    })  # fmt: skip
    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        yaml.safe_dump(run_cfg.model_dump(mode="json", by_alias=True)), encoding="utf-8"
    )
    result = tuning.tune(run_cfg, "generator", n_trials=1, params_file=params_file)
    assert result.n_complete == 1 and result.best_value > 0  # a val loss
    study = optuna.load_study(
        study_name="generator", storage=f"sqlite:///{cfg.tuning.storage_dir / 'generator.db'}"
    )
    assert study.trials[0].intermediate_values  # reported from the worker process
    assert study.trials[0].user_attrs["steps"] >= 1
