"""Data-quality gates with Great Expectations (GX Core 1.x, ephemeral context).

Suites run over pages, chunks and QA sets. Expectations marked critical fail the ``validate``
stage, which stops ``dvc repro`` before any model trains on bad data; the message names the
suite, the expectation and up to five offending rows. Non-critical ones are warnings: they show
in the Data Docs and metrics but never fail the run.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pdfqa.korean import MOJIBAKE_RE, hangul_ratio, squash
from pdfqa.qa.records import SPLITS

log = logging.getLogger("pdfqa.validate")


@dataclass
class Frame:
    """One DataFrame and the expectations run on it; ``key`` names rows in messages."""

    suite: str
    name: str
    data: object  # pandas.DataFrame
    key: str | None
    expectations: list = field(default_factory=list)


@dataclass
class Outcome:
    suite: str
    frame: str
    expectation: str
    column: str | None
    critical: bool
    success: bool
    detail: str


def _expect(frames: dict[str, Frame], name: str, expectation, critical: bool = True) -> None:
    expectation.meta = {"critical": critical}
    frames[name].expectations.append(expectation)


def build_frames(
    pages: list[dict], chunks: list[dict], qa: dict[str, list[dict]], synthetic: list[dict], cfg
) -> dict[str, Frame]:
    """DataFrames and expectations; cfg is the ValidateConfig plus chunk bounds."""
    import great_expectations as gx
    import pandas as pd

    E = gx.expectations
    visible = [len(p["text"].replace(" ", "").replace("\n", "")) for p in pages]
    pages_df = pd.DataFrame(
        {
            "page_id": [f"{p['source']}#p{p['page']}" for p in pages],
            "text": [p["text"] for p in pages],
            "hangul_ratio": [hangul_ratio(p["text"]) for p in pages],
            "mojibake_ratio": [
                len(MOJIBAKE_RE.findall(p["text"])) / max(1, n)
                for p, n in zip(pages, visible, strict=True)
            ],
        }
    )
    corpus_df = pd.DataFrame(
        {
            "corpus": ["all pages"],
            "hangul_ratio": [hangul_ratio("\n".join(p["text"] for p in pages))],
        }
    )
    chunks_df = pd.DataFrame(
        {
            "chunk_id": [c["chunk_id"] for c in chunks],
            "n_tokens": [c["n_tokens"] for c in chunks],
            "text": [c["text"] for c in chunks],
            "page_start": [c["page_start"] for c in chunks],
            "page_end": [c["page_end"] for c in chunks],
        }
    )
    records = [dict(r, split=split) for split in SPLITS for r in qa[split]]
    qa_df = pd.DataFrame(
        {
            "id": [r["id"] for r in records],
            "split": [r["split"] for r in records],
            "question": [r["question"] for r in records],
            "answer": [r["answer"] for r in records],
            "question_norm": [re.sub(r"\W+", "", r["question"]).lower() for r in records],
        }
    )
    answerable_df = pd.DataFrame(
        {"id": [r["id"] for r in records if r["answerable"]],
         "n_relevant": [len(r["relevant_chunks"]) for r in records if r["answerable"]]}
    )  # fmt: skip
    links_df = pd.DataFrame(
        [{"id": r["id"], "chunk_id": c} for r in records + synthetic for c in r["relevant_chunks"]],
        columns=["id", "chunk_id"],
    )
    sizes_df = pd.DataFrame(
        {"split": list(SPLITS), "count": [len(qa[s]) for s in SPLITS],
         "min_count": [cfg.min_train, cfg.min_val, cfg.min_test]}
    )  # fmt: skip
    evidence_df = pd.DataFrame(
        sorted({(squash(r["evidence"]), r["split"]) for r in records if r["evidence"]}),
        columns=["evidence_norm", "split"],
    )
    synthetic_df = pd.DataFrame(
        {"id": [r["id"] for r in synthetic], "split": [r["split"] for r in synthetic],
         "question": [r["question"] for r in synthetic]},
        columns=["id", "split", "question"],
    )  # fmt: skip

    frames = {
        f.name: f
        for f in (
            Frame("pages", "pages", pages_df, "page_id"),
            Frame("pages", "corpus", corpus_df, "corpus"),
            Frame("chunks", "chunks", chunks_df, "chunk_id"),
            Frame("qa", "qa_records", qa_df, "id"),
            Frame("qa", "qa_answerable", answerable_df, "id"),
            Frame("qa", "qa_links", links_df, "id"),
            Frame("qa", "qa_split_sizes", sizes_df, "split"),
            Frame("qa", "qa_evidence", evidence_df, "split"),
            Frame("qa", "synthetic", synthetic_df, "id"),
        )
    }
    _expect(frames, "pages", E.ExpectColumnValuesToNotBeNull(column="text"))
    _expect(
        frames,
        "pages",
        E.ExpectColumnValuesToBeBetween(
            column="mojibake_ratio", max_value=cfg.max_page_mojibake_ratio
        ),
    )
    _expect(
        frames,
        "corpus",
        E.ExpectColumnValuesToBeBetween(
            column="hangul_ratio", min_value=cfg.min_corpus_hangul_ratio
        ),
    )
    _expect(
        frames,
        "pages",
        E.ExpectColumnValuesToBeBetween(column="hangul_ratio", min_value=0.05, mostly=0.8),
        critical=False,
    )
    _expect(frames, "chunks", E.ExpectColumnValuesToBeUnique(column="chunk_id"))
    _expect(
        frames,
        "chunks",
        E.ExpectColumnValuesToBeBetween(column="n_tokens", min_value=1, max_value=cfg.max_tokens),
    )
    _expect(
        frames,
        "chunks",
        E.ExpectColumnValuesToBeBetween(column="n_tokens", min_value=cfg.min_tokens),
        critical=False,
    )
    _expect(frames, "chunks", E.ExpectColumnValueLengthsToBeBetween(column="text", min_value=1))
    _expect(
        frames,
        "chunks",
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="page_end", column_B="page_start", or_equal=True
        ),
    )
    _expect(frames, "qa_records", E.ExpectColumnValuesToBeUnique(column="id"))
    _expect(
        frames, "qa_records", E.ExpectColumnValueLengthsToBeBetween(column="question", min_value=1)
    )
    _expect(
        frames, "qa_records", E.ExpectColumnValueLengthsToBeBetween(column="answer", min_value=1)
    )
    _expect(frames, "qa_records", E.ExpectColumnValuesToBeUnique(column="question_norm"))
    _expect(
        frames, "qa_answerable", E.ExpectColumnValuesToBeBetween(column="n_relevant", min_value=1)
    )
    _expect(
        frames,
        "qa_links",
        E.ExpectColumnValuesToBeInSet(column="chunk_id", value_set=sorted(chunks_df["chunk_id"])),
    )
    _expect(
        frames,
        "qa_split_sizes",
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="count", column_B="min_count", or_equal=True
        ),
    )
    _expect(frames, "qa_evidence", E.ExpectColumnValuesToBeUnique(column="evidence_norm"))
    _expect(frames, "synthetic", E.ExpectColumnValuesToBeInSet(column="split", value_set=["train"]))
    return frames


def _plain(value):
    return value.item() if hasattr(value, "item") else value  # numpy scalars read badly


def _offending(result: dict, key: str | None, column: str | None) -> str:
    rows = result.get("unexpected_index_list") or []
    if rows:
        shown = []
        for row in rows[:5]:
            value = _plain(row.get(column)) if column else None
            ident = _plain(row.get(key)) if key else None
            shown.append(
                f"{ident}: {value!r}"
                if column and ident is not None and column != key
                else repr(ident if ident is not None else row)
            )
        more = result.get("unexpected_count", len(rows)) - len(shown)
        return "; ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    if "observed_value" in result:
        return f"observed {_plain(result['observed_value'])!r}"
    partial = result.get("partial_unexpected_list") or []
    return "; ".join(map(repr, partial[:5]))


def run_validation(frames: dict[str, Frame], docs_dir: Path) -> list[Outcome]:
    """Run every frame's suite in one checkpoint; Data Docs go to docs_dir."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    docs_dir = Path(docs_dir).resolve()
    context.add_data_docs_site(
        site_name="pdfqa",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    source = context.data_sources.add_pandas("pdfqa")
    definitions, batches = [], {}
    for frame in frames.values():
        batch = source.add_dataframe_asset(frame.name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(
            gx.ExpectationSuite(name=f"{frame.suite}.{frame.name}", expectations=frame.expectations)
        )
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=frame.name, data=batch, suite=suite)
            )
        )
        batches[frame.name] = frame
    outcomes: list[Outcome] = []
    _run_all(definitions, batches, outcomes)
    context.build_data_docs(site_names=["pdfqa"])
    _stabilise_docs(docs_dir)
    return outcomes


def _run_all(definitions: list, batches: dict[str, Frame], outcomes: list[Outcome]) -> None:
    import datetime

    from great_expectations.core.run_identifier import RunIdentifier

    # A fixed run time keeps the Data Docs byte-stable for identical data (DVC caches by hash).
    run_id = RunIdentifier(
        run_name="pdfqa-validate", run_time=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    )
    for definition in definitions:
        frame = batches[definition.name]
        key = [frame.key] if frame.key else []
        result = definition.run(
            batch_parameters={"dataframe": frame.data},
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": key},
            run_id=run_id,
        )
        for item in result.results:
            config = item.expectation_config
            column = config.kwargs.get("column") or config.kwargs.get("column_A")
            outcomes.append(
                Outcome(
                    suite=frame.suite,
                    frame=frame.name,
                    expectation=config.type,
                    column=column,
                    critical=bool((config.meta or {}).get("critical", True)),
                    success=bool(item.success),
                    detail="" if item.success else _offending(item.result, frame.key, column),
                )
            )


def _stabilise_docs(docs_dir: Path) -> None:
    """GX stamps build times and random UUIDs into the HTML; replace them with fixed values so
    identical data gives identical Data Docs (DVC caches outputs by hash)."""
    stamp = re.compile(r"\?d=\d{8}T\d{6}\.\d+Z")
    time = re.compile(r"\b\d{8}T\d{6}\.\d{6}Z\b")
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

    def numbered(text: str) -> str:
        names: dict[str, str] = {}
        return uuid.sub(lambda m: names.setdefault(m.group(0), f"block-{len(names) + 1}"), text)

    for page in sorted(docs_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        cleaned = numbered(time.sub("20000101T000000.000000Z", stamp.sub("", text)))
        if cleaned != text:
            page.write_text(cleaned, encoding="utf-8")


def summarise(outcomes: list[Outcome]) -> dict:
    """metrics/data_quality.json: passed / failed / warnings per suite."""
    suites: dict[str, dict] = {}
    for o in outcomes:
        s = suites.setdefault(o.suite, {"expectations": 0, "passed": 0, "failed": 0, "warnings": 0})
        s["expectations"] += 1
        if o.success:
            s["passed"] += 1
        elif o.critical:
            s["failed"] += 1
        else:
            s["warnings"] += 1
    for s in suites.values():
        s["success"] = s["failed"] == 0
    return {
        "suites": dict(sorted(suites.items())),
        "success": all(s["success"] for s in suites.values()),
    }


def describe(outcome: Outcome) -> str:
    column = f" on {outcome.column}" if outcome.column else ""
    return f"[{outcome.suite}/{outcome.frame}] {outcome.expectation}{column}: {outcome.detail}"


@dataclass
class GateResult:
    """What the ``validate`` stage reports: the metrics summary and every expectation's outcome."""

    summary: dict  # metrics/data_quality.json
    outcomes: list[Outcome]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.critical]

    def failure_message(self, docs_dir: Path) -> str:
        listing = "\n  ".join(describe(o) for o in self.failed)
        return (
            f"data quality gate failed ({len(self.failed)} critical expectation(s)); "
            f"Data Docs: {docs_dir / 'index.html'}\n  {listing}"
        )


def run_gate(
    pages: list[dict],
    chunks: list[dict],
    qa: dict[str, list[dict]],
    synthetic: list[dict],
    settings,
    chunk_bounds: tuple[int, int],
    docs_dir: Path,
) -> GateResult:
    """Every suite over the data (blank pages excluded), Data Docs into ``docs_dir``; logs one
    line per suite and every warning. ``settings``: ValidateConfig; bounds: (min, max) tokens."""
    from types import SimpleNamespace

    bounds = SimpleNamespace(
        **settings.model_dump(), min_tokens=chunk_bounds[0], max_tokens=chunk_bounds[1]
    )
    frames = build_frames(
        [p for p in pages if "blank" not in p["flags"]], chunks, qa, synthetic, bounds
    )
    outcomes = run_validation(frames, docs_dir)
    result = GateResult(summarise(outcomes), outcomes)
    for outcome in outcomes:
        if not outcome.success and not outcome.critical:
            log.warning("warning %s", describe(outcome))
    for suite, s in result.summary["suites"].items():
        log.info("%s: %d/%d expectations passed, %d failed, %d warnings",
                 suite, s["passed"], s["expectations"], s["failed"], s["warnings"])  # fmt: skip
    return result
