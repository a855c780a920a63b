"""One generator tuning trial in its own interpreter (``pdfqa tune --target generator`` starts it).

HF training leaks memory across in-process trials, so the parent asks Optuna for a trial, starts
this worker, and tells the result. The worker reopens the same SQLite study (the parent is
waiting, so there is one writer at a time), reports intermediate val losses for pruning, and
writes the objective to ``--result``. Exit code 3 means the pruner stopped the trial.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pdfqa.lifecycle.tune_worker")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--study", required=True)
    parser.add_argument("--trial-id", type=int, required=True)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)

    import optuna

    from pdfqa.config import load_params
    from pdfqa.lifecycle.tuning import PRUNED_EXIT, generator_trial, make_pruner
    from pdfqa.logs import setup

    setup()
    cfg = load_params(args.params)
    study = optuna.load_study(study_name=args.study, storage=args.storage, pruner=make_pruner(cfg))
    trial = optuna.trial.Trial(study, args.trial_id)
    try:
        metrics = generator_trial(cfg, trial, args.study)
    except optuna.TrialPruned as exc:
        print(f"pruned: {exc}", file=sys.stderr)
        return PRUNED_EXIT
    args.result.write_text(json.dumps(metrics), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
