"""Model lifecycle: deciding which models users get.

``significance`` holds the paired statistics the A/B test between a challenger and the
promoted champion runs on per-question results (metrics/per_question/*.jsonl, written by the
eval stages). The registry, promotion and tuning build on it.
"""

from pdfqa.lifecycle.significance import holm, minimum_detectable_effect, paired_test

__all__ = ["holm", "minimum_detectable_effect", "paired_test"]
