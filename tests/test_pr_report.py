"""`pdfqa report` on a real temp git repo with real DVC (tests/toy_pipeline.py): two commits, the
second changes a param and therefore a metric; the markdown has both diffs with the right deltas,
the A/B verdict, the data summary and plot images that exist. The page's structure (headings,
table headers, marker; numbers and SHAs masked) is a contract: tests/golden/pr_report.md.
Regenerate it deliberately with UPDATE_GOLDEN=1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from toy_pipeline import commit_all, env_for, make_origin, reproduced_clone, run, set_param

pytestmark = [pytest.mark.integration, pytest.mark.slow]
GOLDEN = ROOT / "tests" / "golden" / "pr_report.md"


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory, small_pdf_bytes):
    tmp = tmp_path_factory.mktemp("pr_report")
    env = env_for(tmp)
    origin = make_origin(tmp, small_pdf_bytes, env)
    repo, base = reproduced_clone(origin, tmp / "work", env)
    set_param(repo, "query_words", 4)
    run(["make", "repro"], repo, env)
    head = commit_all(repo, env, "4-word questions")
    return repo, env, base, head


def _report(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "pdfqa"), "report", *args],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def _at(repo: Path, rev: str, path: str) -> dict:
    return json.loads(subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo,
                                     capture_output=True, text=True, check=True).stdout)  # fmt: skip


def skeleton(markdown: str) -> str:
    """The page with SHAs and numbers masked: what must not change by accident."""
    text = re.sub(r"\b[0-9a-f]{8}\b", "<sha>", markdown)
    text = re.sub(r"(?<![A-Za-z_@\d.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?%?", "#", text)
    return text


def test_report_has_both_diffs_with_deltas_the_verdict_and_images(two_commits):
    from pdfqa.lifecycle.pr_report import MARKER, _delta, _num

    repo, env, base, head = two_commits
    proc = _report(repo, env, "--base", base, "--head", head, "--output-dir", "out")
    assert proc.returncode == 0, proc.stderr
    markdown = (repo / "out" / "report.md").read_text(encoding="utf-8")
    comment = (repo / "out" / "comment.md").read_text(encoding="utf-8")
    assert markdown.splitlines()[0] == MARKER == comment.splitlines()[0]
    assert f"base `{base[:8]}`" in markdown and f"`{head[:8]}`" in markdown

    assert "| `toy.yaml` | `query_words` | 8 | 4 |" in markdown
    old, new = (_at(repo, rev, "metrics/retrieval.json")["hybrid"] for rev in (base, head))
    changed = [k for k in old if old[k] != new[k]]
    assert changed, "the param change should move a retrieval metric"
    for key in changed:
        row = f"| `hybrid.{key}` | {_num(old[key])} | {_num(new[key])} | {_delta(old[key], new[key])} |"
        assert row in markdown
        assert _delta(old[key], new[key]).startswith("-" if new[key] < old[key] else "+")

    ab = _at(repo, head, "metrics/ab.json")
    assert f"**A/B verdict: ✅ {ab['verdict']}**" in markdown or f"⏸️ {ab['verdict']}" in markdown
    assert "| **answerable_accuracy** (primary) |" in markdown
    assert "- PDFs: 2 at head (7 pages); 0 new; 0 removed." in markdown

    image = repo / "out" / "images" / "recall-k-toy-bm25.png"
    assert (
        image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        and "](images/recall-k-toy-bm25.png)" in markdown
    )
    assert "](images/" not in comment and "`recall-k-toy-bm25.png`" in comment
    assert len(comment) < 65_536

    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(skeleton(markdown), encoding="utf-8")
    assert skeleton(markdown) == GOLDEN.read_text(encoding="utf-8")


def test_report_warns_when_the_workspace_is_not_what_was_committed(two_commits):
    repo, env, _, head = two_commits
    set_param(repo, "query_words", 3)
    try:
        run(["make", "repro"], repo, env)
        proc = _report(repo, env, "--base", head, "--output-dir", "out-ws", "--no-plots")
        assert proc.returncode == 0, proc.stderr
        text = (repo / "out-ws" / "report.md").read_text(encoding="utf-8")
        assert "what `workspace` does" in text and "is not what `dvc repro` produced" in text
        assert "| `toy.yaml` | `query_words` | 4 | 3 |" in text and "### Plots" not in text
    finally:
        run(["git", "checkout", "-q", "--", "."], repo, env)


def test_long_reports_are_cut_under_the_limit_and_say_so(two_commits, monkeypatch):
    from pdfqa.config import load_params
    from pdfqa.lifecycle import pr_report

    repo, _, base, head = two_commits
    monkeypatch.chdir(repo)
    monkeypatch.setattr(pr_report, "BUDGET", 1500)
    done = pr_report.build_report(load_params(repo / "params.yaml"), repo, base, head,
                                  repo / "out-cut", plots=False)  # fmt: skip
    assert done.truncated and len(done.comment) <= 1500
    assert "cut to fit GitHub's 65,536-character comment limit" in done.comment
    assert done.comment.startswith(pr_report.MARKER)


def test_unknown_revision_is_one_clear_line(two_commits):
    repo, env, *_ = two_commits
    proc = _report(repo, env, "--base", "no-such-branch")
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: unknown git revision 'no-such-branch': fetch it first (fetch-depth: 0)"
    )
