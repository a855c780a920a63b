"""Model lifecycle: deciding which models users get.

``significance`` holds the paired statistics and ``ab`` the comparison that the A/B test between
a challenger and the promoted champion runs on per-question results (metrics/per_question/,
written by the eval stages); ``registry`` registers, promotes, rolls back and fetches bundles
with DVC artifacts + GTO tags. No DVC stage uses this package yet.
"""

from pdfqa.lifecycle.ab import ABResult, Side, compare, render_markdown, to_metrics
from pdfqa.lifecycle.significance import holm, minimum_detectable_effect, paired_test

__all__ = [
    "ABResult",
    "Side",
    "compare",
    "holm",
    "minimum_detectable_effect",
    "paired_test",
    "render_markdown",
    "to_metrics",
]
