"""Model lifecycle: deciding which models users get (stages ``bundle`` and ``ab_test``).

``bundle`` assembles models/bundle/ (the registry's artifact) and ``serving`` opens one — the
workspace's or a registry version fetched through DVC — and answers with it. ``significance``
holds the paired statistics, ``ab`` the comparison of two sides' per-question results and
``abtest`` who the sides are (workspace, version, stage or git rev). ``registry`` registers,
assigns and fetches versions with DVC artifacts + GTO tags; ``promote`` adds the checks in front
of it; ``tuning`` (+ ``tune_worker``) is ``pdfqa tune``; ``report`` renders the registry.
Submodules with heavy imports are not re-exported here, so the stages' code deps stay small.
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
