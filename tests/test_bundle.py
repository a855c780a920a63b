"""Bundle pieces that need no models: the serving-system choice, content hashes, params hash."""

from __future__ import annotations

import pytest
from conftest import ROOT

from pdfqa.config import load_params
from pdfqa.errors import PdfqaError
from pdfqa.lifecycle.bundle import choose_system, params_hash, tree_hash
from pdfqa.lifecycle.serving import open_bundle

METRICS = {"val": {"base": {"overall_system_score": 0.21}, "lora": {"overall_system_score": 0.35},
                   "extractive": {"overall_system_score": 0.44}}}  # fmt: skip


def test_the_best_system_on_val_is_chosen_unless_params_pin_one():
    system, why = choose_system(METRICS, "auto", ["base", "extractive", "lora"])
    assert system == "extractive" and why.startswith(
        "best overall_system_score on val (extractive 0.440"
    )
    assert choose_system(METRICS, "auto", ["base", "lora"])[0] == "lora"  # only what the bundle has
    assert choose_system(METRICS, "lora", ["base", "extractive", "lora"]) == (
        "lora",
        "pinned by params (bundle.system)",
    )
    with pytest.raises(PdfqaError, match="not available"):
        choose_system(METRICS, "lora", ["base", "extractive"])
    with pytest.raises(PdfqaError, match="no val scores"):
        choose_system({"systems": {}}, "auto", ["base"])


def test_hashes_follow_content_not_location_or_unrelated_params(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "x.txt").write_text("같은 내용")
    assert tree_hash(a) == tree_hash(b)
    (b / "sub" / "x.txt").write_text("다른 내용")
    assert tree_hash(a) != tree_hash(b)
    cfg = load_params(ROOT / "params.yaml")
    moved = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"bundle": tmp_path}),
                                   "promotion": cfg.promotion.model_copy(update={"min_confidence": 0.9})})  # fmt: skip
    assert params_hash(moved) == params_hash(cfg)  # paths and promotion rules don't shape models
    tuned = cfg.model_copy(update={"index": cfg.index.model_copy(update={"dense_weight": 0.1})})
    assert params_hash(tuned) != params_hash(cfg)


def test_opening_something_that_is_not_a_bundle_says_what_to_run(tmp_path):
    with pytest.raises(PdfqaError, match="run `dvc repro bundle`"):
        open_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 99}')
    with pytest.raises(PdfqaError, match="bundle format 99"):
        open_bundle(tmp_path)
