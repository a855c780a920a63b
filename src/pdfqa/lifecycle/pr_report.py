"""``pdfqa report``: what a change did to the models, as one markdown page for a pull request.

Everything comes from real DVC on two revisions (``base`` and ``head``, where head may be the
workspace a runner has just reproduced): ``dvc params diff``, ``dvc metrics diff`` for every
metrics file, ``dvc plots diff`` (Vega-Lite, rendered to PNG offline with ``vl-convert``), plus
the head's A/B verdict (``metrics/ab.json``) and the data-quality summary (ingest report, QA
counts, expectation suites) of both revisions read through git. The page starts with a fixed
hidden marker line so the workflow's comment job finds and updates its one comment per PR, and it
stays under GitHub's 65,536-character comment limit: long tables are cut and say so.

Two files are written: ``report.md`` (images linked next to it, for the workflow artifact) and
``comment.md`` (the same text, images replaced by a link to the run, since a PR comment cannot
show artifact files).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.report")
MARKER = "<!-- pdfqa-report: one comment per pull request, updated in place -->"
GITHUB_LIMIT = 65_536
BUDGET = 60_000  # headroom under GitHub's limit for the truncation note and the run link
MAX_ROWS = 40  # per table; the rest is counted, not shown
WORKSPACE = "workspace"


@dataclass
class Report:
    markdown: str
    comment: str
    images: list[Path] = field(default_factory=list)
    truncated: bool = False


# ---------------------------------------------------------------- DVC and git on two revisions
def _dvc_json(repo: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "dvc", *args, "--json"], cwd=repo,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        first = (done.stderr.strip() or done.stdout.strip() or "failed").splitlines()[-1]
        raise PdfqaError(f"dvc {' '.join(args)}: {first}")
    text = done.stdout.strip()
    return json.loads(text) if text else {}


def _rev_args(base: str, head: str | None) -> list[str]:
    return [base] if head is None else [base, head]


def _git_show(repo: Path, rev: str | None, path: Path) -> str | None:
    if rev is None:
        file = repo / path
        return file.read_text(encoding="utf-8") if file.exists() else None
    done = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout if done.returncode == 0 else None


def _json_at(repo: Path, rev: str | None, path: Path) -> dict | None:
    text = _git_show(repo, rev, path)
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _short(repo: Path, rev: str | None) -> str:
    if rev is None:
        return WORKSPACE
    done = subprocess.run(["git", "rev-parse", "--short=8", f"{rev}^{{commit}}"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise PdfqaError(f"unknown git revision {rev!r}: fetch it first (fetch-depth: 0)")
    return done.stdout.strip()


# ---------------------------------------------------------------- formatting
def _num(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, int):
        return str(value)
    return f"{value:g}" if value.is_integer() and abs(value) >= 1 else f"{value:.4g}"


def _delta(old, new) -> str:
    if not (_is_number(old) and _is_number(new)):
        return ""
    diff = new - old
    if diff == 0:
        return "0"
    relative = f" ({diff / abs(old):+.1%})" if old else ""
    return f"{diff:+.4g}{relative}"


def _cut(rows: list[str], command: str, limit: int = MAX_ROWS) -> tuple[list[str], str]:
    if len(rows) <= limit:
        return rows, ""
    return rows[:limit], f"\n\n_… {len(rows) - limit} more rows not shown: run `{command}`._"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _details(summary: str, body: str, open_: bool = False) -> str:
    return (
        f"<details{' open' if open_ else ''}><summary>{summary}</summary>\n\n{body}\n\n</details>"
    )


# ---------------------------------------------------------------- sections
def _ab_section(ab: dict | None, head_label: str) -> tuple[str, str]:
    """(headline, section) from the head's metrics/ab.json (run there as `workspace`)."""
    if ab and ab.get("challenger") == WORKSPACE:
        ab = {**ab, "challenger": head_label}
    if not ab:
        return ("**A/B verdict: –** (no `metrics/ab.json` at head: the `ab_test` stage did not run)",
                "")  # fmt: skip
    icon = {"promote": "✅", "hold": "⏸️"}.get(ab.get("verdict"), "❔")
    headline = (f"**A/B verdict: {icon} {ab.get('verdict')}** — {ab.get('reason', '')}\n\n"
                f"Challenger `{ab.get('challenger')}` vs champion `{ab.get('champion')}`"
                f"{' (first promotion)' if ab.get('first_promotion') else ''}, "
                f"{ab.get('n_paired', '?')} paired test questions, α = {ab.get('alpha', '?')}, "
                f"minimum detectable effect ≈ {_num(ab.get('mde'))}.")  # fmt: skip
    rows = []
    comparisons = [ab["primary"], *ab.get("secondaries", {}).values()] if "primary" in ab else []
    for i, c in enumerate(comparisons):
        p = c.get("p_holm", c.get("p_value"))
        flag = " ⚠️ worse than margin" if c.get("worse_than_margin") else ""
        rows.append(f"| {'**' + c['metric'] + '** (primary)' if i == 0 else c['metric']} | "
                    f"{_num(c.get('champion'))} | {_num(c.get('challenger'))} | "
                    f"{c.get('difference', 0):+.4g} | [{c.get('ci_low', 0):+.3g}, {c.get('ci_high', 0):+.3g}] | "
                    f"{_num(p)} | {_num(c.get('margin'))}{flag} | {c.get('n', '')} |")  # fmt: skip
    if not rows:
        return headline, ""
    table = ("| metric | champion | challenger | Δ | 95% CI | p (secondaries: Holm) | margin | n |\n"
             "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))  # fmt: skip
    return headline, "### A/B test against the champion\n\n" + table


def _params_section(diff: dict) -> str:
    rows = []
    for file, params in sorted(diff.items()):
        for name, change in sorted(params.items()):
            rows.append(f"| `{file}` | `{name}` | {_num(change.get('old'))} | "
                        f"{_num(change.get('new'))} |")  # fmt: skip
    if not rows:
        return "### Params\n\nNo parameter changed."
    shown, more = _cut(rows, "dvc params diff")
    table = "| file | param | base | head |\n|---|---|---|---|\n" + "\n".join(shown) + more
    if len(rows) > 15:
        return "### Params\n\n" + _details(f"{len(rows)} changed", table)
    return f"### Params ({len(rows)} changed)\n\n{table}"


def _metrics_section(diff: dict, shown_above: Path) -> str:
    """Changed numeric metrics per file; the A/B file is the table above, not repeated."""
    blocks, unchanged = [], []
    for file, metrics in sorted(diff.items()):
        if Path(file) == shown_above:
            continue
        changed = []
        for name, change in metrics.items():
            old, new = change.get("old"), change.get("new")
            if old == new or not (_is_number(old) or _is_number(new)):
                continue
            both = _is_number(old) and _is_number(new)
            size = abs(new - old) / (abs(old) or 1) if both else 0.0
            changed.append(
                (not both, -size, name, old, new)
            )  # biggest moves first, then new/removed
        rows = [f"| `{name}` | {_num(old)} | {_num(new)} | {_delta(old, new)} |"
                for _, _, name, old, new in sorted(changed)]  # fmt: skip
        if not rows:
            unchanged.append(f"`{file}`")
            continue
        shown, more = _cut(rows, f"dvc metrics diff {file}")
        table = "| metric | base | head | Δ |\n|---|---|---|---|\n" + "\n".join(shown) + more
        blocks.append(_details(f"<code>{file}</code>: {len(rows)} changed", table,
                               open_=len(blocks) == 0 and len(rows) <= 15))  # fmt: skip
    if not blocks:
        return "### Metrics\n\nNo metric changed."
    tail = f"\n\nUnchanged: {', '.join(unchanged)}." if unchanged else ""
    return "### Metrics\n\n" + "\n\n".join(blocks) + tail


def _pdf_lines(base: dict | None, head: dict | None) -> list[str]:
    head_files = (head or {}).get("files", {})
    base_files = (base or {}).get("files", {})
    new = sorted(set(head_files) - set(base_files))
    removed = sorted(set(base_files) - set(head_files))
    skipped = sorted(n for n, f in head_files.items() if f.get("status") != "ok")
    totals = (head or {}).get("totals", {})
    lines = [f"- PDFs: {len(head_files)} at head ({totals.get('pages', '?')} pages); "
             f"{len(new)} new{': ' + ', '.join(f'`{n}`' for n in new) if new else ''}; "
             f"{len(removed)} removed{': ' + ', '.join(f'`{n}`' for n in removed) if removed else ''}."]  # fmt: skip
    for name in skipped:
        info = head_files[name]
        reason = info.get("reason") or "; ".join(info.get("warnings", [])) or info.get("status")
        lines.append(f"  - skipped `{name}`: {reason}")
    for name in sorted(head_files):
        if name in skipped:
            continue
        warnings = head_files[name].get("warnings") or []
        if warnings and (name in new or warnings != base_files.get(name, {}).get("warnings")):
            lines.append(f"  - `{name}`: {'; '.join(warnings)}")
    return lines


def _qa_lines(base: dict | None, head: dict | None) -> list[str]:
    if not head:
        return ["- QA splits: no `stats.json` at head."]
    parts = []
    for split in sorted(head.get("splits", {})):
        new = head["splits"][split].get("count")
        old = (base or {}).get("splits", {}).get(split, {}).get("count")
        parts.append(
            f"{split} {new}" + (f" ({new - old:+d})" if old is not None and new != old else "")
        )
    return [f"- QA records: {', '.join(parts)}."]


def _quality_lines(gate: dict | None) -> list[str]:
    if not gate:
        return ["- Data-quality gate: no result at head."]
    suites = gate.get("suites", {})
    passed = sum(s.get("passed", 0) for s in suites.values())
    total = sum(s.get("expectations", 0) for s in suites.values())
    state = "✅ passed" if gate.get("success") else "❌ failed"
    lines = [f"- Data-quality gate (Great Expectations): {state}, {passed}/{total} expectations."]
    for name, suite in sorted(suites.items()):
        if suite.get("failed", 0):
            lines.append(f"  - suite `{name}`: {suite['failed']} failed")
    failures = gate.get("failed_expectations") or []
    lines += [f"  - {line}" for line in failures[:MAX_ROWS]]
    if len(failures) > MAX_ROWS:
        lines.append(
            f"  - … {len(failures) - MAX_ROWS} more (Data Docs: reports/data_quality/index.html)"
        )
    return lines


def _data_section(cfg: Params, repo: Path, base: str, head: str | None) -> str:
    p = cfg.paths
    lines = _pdf_lines(_json_at(repo, base, p.ingest_report), _json_at(repo, head, p.ingest_report))
    stats = p.qa_dir / "stats.json"
    lines += _qa_lines(_json_at(repo, base, stats), _json_at(repo, head, stats))
    lines += _quality_lines(_json_at(repo, head, p.data_quality_metrics))
    return "### Data\n\n" + "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "plot"


def render_plots(repo: Path, base: str, head: str | None, out_dir: Path) -> list[tuple[str, Path]]:
    """``dvc plots diff`` → one PNG per plot (Vega-Lite rendered by vl-convert, offline)."""
    import vl_convert

    plots = _dvc_json(repo, "plots", "diff", *_rev_args(base, head)).get("data", {})
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    # Plots defined in dvc.yaml's top-level `plots:` have titles; the per-file defaults of stage
    # outputs (ids ending .json/.csv) repeat the same data column by column.
    named = {
        t: e for t, e in plots.items() if Path(t).suffix not in {".json", ".csv", ".tsv", ".yaml"}
    }
    for title, entries in sorted((named or plots).items()):
        for entry in entries:
            if entry.get("type") != "vega":
                continue
            spec = dict(entry["content"])
            spec.setdefault("title", title)
            path = out_dir / f"{_slug(title)}.png"
            path.write_bytes(vl_convert.vegalite_to_png(spec, scale=1.5))
            done.append((title, path))
    return done


def _wandb_section(cfg: Params, repo: Path) -> str:
    """Links to online W&B runs of this workspace's training (their debug logs carry the URL)."""
    root = repo / cfg.wandb.dir
    urls = set()
    for log_file in sorted(root.glob("run-*/logs/debug.log")):
        text = log_file.read_text(encoding="utf-8", errors="replace")
        urls.update(re.findall(r"https?://\S+/runs/[A-Za-z0-9]+", text))
    if urls:
        return "W&B runs: " + ", ".join(f"[{u.rsplit('/', 1)[-1]}]({u})" for u in sorted(urls))
    if list(root.glob("offline-run-*")):
        return "W&B ran offline (`wandb sync wandb/offline-run-*` uploads the runs)."
    return ""


def _profile_line(cfg: Params, repo: Path, head: str | None) -> str:
    import yaml

    text = _git_show(repo, head, Path("params.yaml"))
    params = yaml.safe_load(text) if text else {}
    retriever = (params.get("retriever") or {}).get("profile", "?")
    generator = (params.get("generator") or {}).get("profile", "?")
    trained = _json_at(repo, head, cfg.paths.train_embedder_metrics) or {}
    device = f" on `{trained['device']}`" if trained.get("device") else ""
    return (f"Training profiles: retriever `{retriever}`, generator `{generator}`{device} "
            "(`retriever.profile` / `generator.profile` in params.yaml).")  # fmt: skip


def _lock_warning(repo: Path, head: str | None) -> str:
    """On a runner's workspace: did `dvc repro` change what the branch committed? Then merging
    would promote results nobody committed; the author should pull and commit them."""
    if head is not None:
        return ""
    done = subprocess.run(["git", "status", "--porcelain", "--", "dvc.lock"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    if not done.stdout.strip():
        return ""
    return ("⚠️ `dvc.lock` at head is not what `dvc repro` produced on this run: the numbers below "
            "are the run's. Before merging, reproduce and commit them (`dvc pull --run-cache && "
            "dvc repro && git add dvc.lock metrics plots && git commit`), so the merge promotes "
            "what was measured.")  # fmt: skip


def _run_link() -> str:
    server, repo, run = (os.environ.get(k) for k in
                         ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))  # fmt: skip
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


# ---------------------------------------------------------------- the page
def _assemble(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p).rstrip() + "\n"


def _outcome_warning(repro_outcome: str) -> str:
    if repro_outcome in ("", "success"):
        return ""
    return (f"❌ **`dvc repro` did not finish on this run ({repro_outcome})**: the numbers below "
            "stop at the stage that failed (see the job log; a failed data-quality gate lists its "
            "expectations under Data). Nothing was pushed.")  # fmt: skip


def build_report(cfg: Params, repo: Path | str, base: str, head: str | None = None,
                 out_dir: Path | str = "report", plots: bool = True,
                 repro_outcome: str = "") -> Report:  # fmt: skip
    """Write ``report.md``, ``comment.md`` and the plot PNGs into ``out_dir``."""
    repo, out_dir = Path(repo), Path(out_dir)
    base_short, head_short = _short(repo, base), _short(repo, head)
    params_diff = _dvc_json(repo, "params", "diff", *_rev_args(base, head))
    metrics_diff = _dvc_json(repo, "metrics", "diff", *_rev_args(base, head))
    headline, ab_table = _ab_section(_json_at(repo, head, cfg.paths.ab_metrics), head_short)
    images = render_plots(repo, base, head, out_dir / "images") if plots else []
    run = _run_link()
    metrics_md = _metrics_section(metrics_diff, cfg.paths.ab_metrics)

    title = f"## pdfqa: what `{head_short}` does to the models (base `{base_short}`)"
    footer = (f"<sub>Generated by `pdfqa report --base {base_short}` from `dvc params diff`, "
              f"`dvc metrics diff` and `dvc plots diff`{f' · [workflow run]({run})' if run else ''}.</sub>")  # fmt: skip
    # Built once: report.md and comment.md differ only in how the plots are referenced.
    upper = [MARKER, title, _outcome_warning(repro_outcome), headline, _lock_warning(repo, head),
             _profile_line(cfg, repo, head), ab_table, _params_section(params_diff), metrics_md,
             _data_section(cfg, repo, base, head)]  # fmt: skip
    wandb_md = _wandb_section(cfg, repo)

    def page(image_md: str, budget: int) -> tuple[str, bool]:
        sections = [*upper, image_md, wandb_md]
        text = _assemble([*sections, footer])
        if len(text) <= budget:
            return text, False
        # Too long for one comment: drop the biggest tables first, and say so.
        note = ("_This report was cut to fit GitHub's 65,536-character comment limit; the full "
                f"report is the `pdfqa-report` artifact{f' of [this run]({run})' if run else ''}._")  # fmt: skip
        sections[sections.index(metrics_md)] = "### Metrics\n\n" + note
        text = _assemble([*sections, footer])
        if len(text) > budget:
            text = text[: budget - len(note) - 10].rsplit("\n", 1)[0] + "\n\n" + note + "\n"
        return text, True

    if images:
        linked = "\n\n".join(f"![{t}](images/{p.name})" for t, p in images)
        image_md = "### Plots\n\n" + linked
        where = f"[this run]({run})" if run else "this workflow run"
        comment_images = ("### Plots\n\n" + ", ".join(f"`{p.name}`" for _, p in images)
                          + f": in the `pdfqa-report` artifact of {where}.")  # fmt: skip
    else:
        image_md = comment_images = ""
    markdown, cut_md = page(image_md, BUDGET)
    comment, cut_comment = page(comment_images, BUDGET)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "report.md", markdown)
    _write(out_dir / "comment.md", comment)
    return Report(markdown, comment, [p for _, p in images], cut_md or cut_comment)


def _write(path: Path, text: str) -> None:
    from pdfqa.jsonio import write_text  # temp + rename, as for every artifact

    write_text(path, text)
