import pytest

from pdfqa.retrieval.metrics import mean_metrics, query_metrics
from pdfqa.stats import paired_bootstrap


def test_query_metrics_match_hand_computed_values():
    m = query_metrics(["x", "a", "y", "b"], {"a", "b"}, [1, 3])
    assert m["precision@1"] == 0 and m["recall@1"] == 0 and m["hit@1"] == 0
    assert m["precision@3"] == pytest.approx(1 / 3) and m["recall@3"] == 0.5
    assert m["f1@3"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert m["hit@3"] == 1 and m["mrr@10"] == 0.5
    import math

    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    assert m["ndcg@10"] == pytest.approx(dcg / (1 + 1 / math.log2(3)))


def test_perfect_and_empty_rankings():
    assert query_metrics(["a"], {"a"}, [1])["ndcg@10"] == 1.0
    assert query_metrics([], {"a"}, [1])["mrr@10"] == 0.0
    assert mean_metrics([{"r": 1.0}, {"r": 0.0}]) == {"r": 0.5}


def test_paired_bootstrap_is_deterministic_and_brackets_the_mean():
    a = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 5
    b = [0, 0, 1, 0, 0, 1, 0, 1, 0, 1] * 5
    ci = paired_bootstrap(a, b, n=500, seed=3)
    assert ci == paired_bootstrap(a, b, n=500, seed=3)
    assert ci["ci95_low"] <= ci["mean"] <= ci["ci95_high"]
    assert ci["mean"] == 0.3 and ci["ci95_low"] > 0
