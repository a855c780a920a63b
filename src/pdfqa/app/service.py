"""What the app does, without Gradio: one ``Service`` per process, shared by every user.

The bundle's retriever and engines are loaded once and only read afterwards (uploads build a new
retriever beside the old one and swap the reference, so requests in flight never see a half-built
index). A promotion is followed the same way: ``reload`` loads the new prod bundle beside the
old one, swaps every reference under one lock, then lets the old one go (hot swap, no restart).
Per-user state (chat history, the last answer, the arena's pair) lives in ``gr.State`` in
the UI, never here. Every answer is logged to the monitoring database; every feedback click is
appended to ``paths.feedback`` for the ``qa`` stage.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.config import Params
    from pdfqa.lifecycle.serving import Bundle

log = logging.getLogger("pdfqa.app")
MODES = ("hybrid", "dense", "bm25")
SAFE_NAME = re.compile(r"[^0-9A-Za-z가-힣._-]+")


# ---------------------------------------------------------------- retrieval timing
class TimedRetriever:
    """The shared retriever behind a reference that uploads swap, timing searches per thread
    (so the monitor can split latency into retrieval and generation)."""

    def __init__(self, inner):
        self.inner = inner
        self._local = threading.local()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _timed(self, fn, *args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self._local.ms = getattr(self._local, "ms", 0.0) + (time.perf_counter() - start) * 1000

    def search(self, *args, **kwargs):
        return self._timed(self.inner.search, *args, **kwargs)

    def dense_search(self, *args, **kwargs):
        return self._timed(self.inner.dense_search, *args, **kwargs)

    def take_ms(self) -> float:
        ms, self._local.ms = getattr(self._local, "ms", 0.0), 0.0
        return ms


# ---------------------------------------------------------------- results
@dataclass
class Evidence:
    source: str
    pages: str
    page: int
    score: float
    text: str
    support: str  # the sentence of ``text`` that best supports the answer ("" if none)


@dataclass
class AskResult:
    request_id: str
    question: str
    text: str
    abstained: bool
    confidence: float
    answerability: float
    threshold: float
    citations: list[tuple[str, int]]
    evidence: list[Evidence]
    system: str
    version: str
    retrieve_ms: float
    generate_ms: float
    total_ms: float

    def badge(self) -> str:
        return "high" if self.confidence >= 0.7 else "mid" if self.confidence >= 0.4 else "low"

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {**asdict(self), "badge": self.badge(),
                "citations": [list(c) for c in self.citations]}  # fmt: skip


SENTENCE_END = re.compile(r"(?<=[.!?。])\s+|(?<=다\.)|\n+")


def supporting_sentence(answer: str, text: str) -> str:
    """The sentence of ``text`` sharing the most character bigrams with ``answer``."""
    if not answer.strip():
        return ""
    grams = {answer[i : i + 2] for i in range(len(answer) - 1)}
    best, best_score = "", 0.0
    for sentence in (s.strip() for s in SENTENCE_END.split(text)):
        if len(sentence) < 4:
            continue
        own = {sentence[i : i + 2] for i in range(len(sentence) - 1)}
        score = len(grams & own) / max(1, len(grams))
        if score > best_score:
            best, best_score = sentence, score
    return best if best_score >= 0.3 else ""


def safe_name(name: str) -> str:
    """A file name that stays inside data/pdfs: NFC, no directories, only safe characters."""
    import unicodedata

    base = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    stem = SAFE_NAME.sub("_", Path(base).stem).strip("._") or "upload"
    return f"{stem[:80]}.pdf"


# ---------------------------------------------------------------- the service
@dataclass
class Served:
    bundle: Bundle | None
    kind: str  # prod | workspace | version | none
    stage: str | None = None


@dataclass
class Service:
    cfg: Params
    served: Served
    repo: Path = Path(".")
    ab_version: str | None = None
    lang: str = "ko"
    _engines: dict = field(default_factory=dict)
    _bundles: dict = field(default_factory=dict)
    _recent: OrderedDict = field(default_factory=OrderedDict)
    _uploaded: dict = field(default_factory=dict)
    _pairs: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _upload_lock: threading.Lock = field(default_factory=threading.Lock)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock)
    follow: str | None = None  # the registry stage a running app follows (hot swap); None: pinned
    alerter: object = None  # app.alerts.Alerter, set by server.make_app
    # generative arms answered by an OpenAI-compatible server (vLLM): {"endpoint", "lora", "base"}
    llm: dict | None = None

    def __post_init__(self) -> None:
        from pdfqa.app.monitor import Monitor

        self.retriever = None
        if self.bundle is not None:
            self.retriever = TimedRetriever(self.bundle.retriever())
        self.monitor = Monitor(self.cfg.paths.app_dir / "monitor.sqlite", self._reference_top1())
        self.swaps: list[tuple[str, str]] = []  # (from version, to version), oldest first
        self._stop = threading.Event()

    # -- what is served --------------------------------------------------------------------
    @property
    def bundle(self) -> Bundle | None:
        return self.served.bundle

    @property
    def version(self) -> str:
        return (self.bundle.version or "workspace") if self.bundle else "none"

    @property
    def systems(self) -> list[str]:
        return list(self.bundle.manifest["systems"]) if self.bundle else []

    def require_bundle(self) -> Bundle:
        if self.bundle is None:
            from pdfqa.app.texts import texts

            raise PdfqaError(texts(self.lang)["no_bundle"])
        return self.bundle

    def _reference_top1(self) -> list[float]:
        """Top-1 dense scores of the test split's questions: the drift reference."""
        if self.retriever is None or not self.cfg.paths.qa_split("test").exists():
            return []
        from pdfqa.jsonio import read_jsonl

        scores = []
        for record in list(read_jsonl(self.cfg.paths.qa_split("test")))[:200]:
            hits = self.retriever.inner.dense_search(record["question"], 1)
            if hits:
                scores.append(hits[0][1])
        return scores

    # -- engines, loaded once ----------------------------------------------------------------
    def engine(self, arm: str | None = None):
        """The engine of a system of the served bundle, or of a registry version ("v0.0.2")."""
        bundle = self.require_bundle()
        arm = arm or bundle.system
        with self._lock:
            if arm in self._engines:
                return self._engines[arm]
            remote = (self.llm or {}).get(arm) if arm in ("lora", "base") else None
            if arm in self.systems and remote:
                engine = self._remote_engine(bundle, arm, remote)
            elif arm in self.systems:
                engine = bundle.engine(
                    arm, base_dir=self.cfg.paths.base_models, retriever=self.retriever
                )
            elif arm.startswith("v"):
                from pdfqa.lifecycle.serving import load_bundle

                other = load_bundle(self.cfg, version=arm, repo=self.repo)
                self._bundles[arm] = other
                engine = other.engine(base_dir=self.cfg.paths.base_models,
                                      retriever=TimedRetriever(other.retriever()))  # fmt: skip
            else:
                raise PdfqaError(f"unknown answer system {arm!r} (have {', '.join(self.arms())})")
            self._engines[arm] = engine
            return engine

    def _remote_engine(self, bundle: Bundle, arm: str, model_name: str):
        """The bundle's ``arm`` with generation on the LLM server (vLLM serving the base model
        and the bundle's adapter as ``model_name``): same retriever, prompt and abstention gate."""
        from pdfqa.generation.engine import AnswerGenerator, ModelType, load_calibration

        gc = bundle.settings()
        return AnswerGenerator(
            ModelType.OPENAI_COMPATIBLE, model_name, endpoint=self.llm["endpoint"],
            retriever=self.retriever, settings=gc, base_dir=self.cfg.paths.base_models,
            calibration=load_calibration(bundle.path / "calibration.json", arm, gc),
            label=f"{arm} · {bundle.version or 'workspace'} · {model_name}@LLM server",
        )  # fmt: skip

    def arms(self) -> list[str]:
        """Systems of the served bundle, then registered versions (for Compare)."""
        arms = list(self.systems)
        try:
            from pdfqa.lifecycle import registry
            from pdfqa.lifecycle.bundle import ARTIFACT

            arms += [v.version for v in registry.versions(self.repo, ARTIFACT)
                     if v.version != self.bundle.version]  # fmt: skip
        except Exception:  # no git, no tags: systems only
            pass
        return arms

    def arm_for_session(self, session: str) -> str | None:
        """With ``serve --ab vX``: the arm of this session's Ask tab (served vs vX)."""
        if not self.ab_version or self.bundle is None:
            return None
        from pdfqa.app.arena import arm_for

        return arm_for(session, (self.bundle.system, self.ab_version), self.cfg.serve.ab_seed)

    # -- answering ---------------------------------------------------------------------------
    def _result(self, question: str, answer, arm: str, engine, total_ms: float,
                bundle: Bundle | None = None, others: dict | None = None) -> AskResult:  # fmt: skip
        retrieve_ms = engine.retriever.take_ms() if hasattr(engine.retriever, "take_ms") else 0.0
        evidence = [
            Evidence(h.source, h.pages(), h.page_start, float(h.score), h.text,
                     "" if answer.abstained else supporting_sentence(answer.text, h.text))
            for h in answer.contexts
        ]  # fmt: skip
        bundle = bundle or self.bundle
        others = self._bundles if others is None else others
        version = (
            arm if arm.startswith("v") else ((bundle.version or "workspace") if bundle else "none")
        )
        system = others[arm].system if arm in others else arm
        result = AskResult(
            request_id=uuid.uuid4().hex[:12], question=question, text=answer.text,
            abstained=answer.abstained, confidence=float(answer.confidence_score),
            answerability=float(answer.answerable_score), threshold=float(engine.calibration.threshold),
            citations=[(s, int(p)) for s, p in answer.citations], evidence=evidence,
            system=system, version=version, retrieve_ms=retrieve_ms,
            generate_ms=max(0.0, total_ms - retrieve_ms), total_ms=total_ms,
        )  # fmt: skip
        with self._lock:
            self._recent[result.request_id] = result
            while len(self._recent) > 2000:
                self._recent.popitem(last=False)
        return result

    def _log(self, result: AskResult, session: str, top1: float | None) -> None:
        self.monitor.log_request({
            "request_id": result.request_id, "session": session, "bundle_version": result.version,
            "system": result.system, "question_chars": len(result.question),
            "answer_chars": len(result.text), "retrieve_ms": result.retrieve_ms,
            "generate_ms": result.generate_ms, "total_ms": result.total_ms,
            "confidence": result.confidence, "answerability": result.answerability,
            "abstained": int(result.abstained), "top1_score": top1,
        })  # fmt: skip

    def _check(self, question: str, k: int | None, mode: str) -> tuple[str, int, str]:
        from pdfqa.app.texts import texts

        question = (question or "").strip()
        if not question:
            raise PdfqaError(texts(self.lang)["empty_question"])
        if mode not in MODES:
            raise PdfqaError(f"retrieval mode {mode!r}: one of {', '.join(MODES)}")
        return question[:2000], max(1, min(int(k or self.cfg.serve.top_k), 20)), mode

    def ask(self, question: str, arm: str | None = None, k: int | None = None,
            mode: str = "hybrid", session: str = "", sources: list[str] | None = None) -> AskResult:  # fmt: skip
        result = None
        for item in self.stream(question, arm, k, mode, session, sources):
            result = item
        return result  # type: ignore[return-value]

    def stream(self, question: str, arm: str | None = None, k: int | None = None,
               mode: str = "hybrid", session: str = "", sources: list[str] | None = None):  # fmt: skip
        """Yields partial answer text (generative systems), then the AskResult. ``sources``:
        answer only from these documents (file names as in 문서; empty: all of them)."""
        from pdfqa.retrieval.index import Scope

        question, k, mode = self._check(question, k, mode)
        scope = Scope.of([s for s in sources or [] if s])
        with self._lock:  # one consistent view, even if a hot swap happens during the answer
            bundle, others = self.bundle, self._bundles
            arm = arm or self.arm_for_session(session) or self.require_bundle().system
            engine = self.engine(arm)
        if hasattr(engine.retriever, "take_ms"):
            engine.retriever.take_ms()  # reset this thread's timer
        start = time.perf_counter()
        answer = None
        for item in engine.stream(question, k=k, mode=mode, scope=scope):
            if isinstance(item, str):
                yield item
            else:
                answer = item
        result = self._result(question, answer, arm, engine, (time.perf_counter() - start) * 1000,
                              bundle, others)  # fmt: skip
        top1 = answer.signals.top_score if answer.signals else None
        self._log(result, session, top1)
        yield result

    # -- feedback ------------------------------------------------------------------------------
    def feedback(self, request_id: str, rating: str, correction: str = "", reason: str = "",
                 quote: str = "") -> dict:  # fmt: skip
        """Append one event. ``quote``: the passage the right answer comes from, pasted by the
        user when the cited one was wrong; the qa stage looks for it in the corpus."""
        from datetime import UTC, datetime

        from pdfqa.app.feedback_log import append
        from pdfqa.app.texts import texts
        from pdfqa.qa.feedback import REASONS, event_id

        result = self._recent.get(request_id)
        if result is None:
            raise PdfqaError(texts(self.lang)["feedback_no_answer"])
        if rating not in ("up", "down"):
            raise PdfqaError(f"rating {rating!r}: up or down")
        if reason and reason not in REASONS:
            raise PdfqaError(f"reason {reason!r}: one of {', '.join(REASONS)}")
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        evidence = next((e.support for e in result.evidence if e.support), "")
        if not evidence and result.evidence:
            evidence = result.evidence[0].text[:300]
        event = {
            "id": event_id(request_id, created, rating), "created": created, "request_id": request_id,
            "rating": rating, "question": result.question, "answer": result.text,
            "correction": (correction or "").strip()[:2000], "reason": reason,
            "citations": [list(c) for c in (result.citations or
                          [(e.source, e.page) for e in result.evidence[:1]])],
            "evidence": evidence, "user_evidence": (quote or "").strip()[:2000],
            "bundle_version": result.version, "system": result.system,
        }  # fmt: skip
        append(self.cfg.paths.feedback, event)
        self.monitor.log_feedback(request_id, rating)
        return event

    # -- documents and uploads -------------------------------------------------------------
    def document_names(self) -> list[str]:
        """Every document a question can be restricted to (ingested and uploaded)."""
        return sorted({c["source"] for c in self.retriever.chunks} if self.retriever else set())

    def documents(self) -> list[list]:
        import json

        report_path = self.cfg.paths.ingest_report
        files = (
            json.loads(report_path.read_text(encoding="utf-8"))["files"]
            if report_path.exists()
            else {}
        )
        chunks: dict[str, int] = {}
        for chunk in self.retriever.chunks if self.retriever else []:
            chunks[chunk["source"]] = chunks.get(chunk["source"], 0) + 1
        rows = []
        for name, entry in sorted(files.items()):
            flags = ", ".join(f"{k} {len(v)}" for k, v in entry.get("flagged_pages", {}).items())
            status = entry.get("status", "?") + (f" ({flags})" if flags else "")
            if entry.get("skipped_reason"):
                status += f": {entry['skipped_reason']}"
            rows.append([name, entry.get("pages", 0), status, chunks.get(name, 0)])
        for name, info in sorted(self._uploaded.items()):
            rows.append(
                [name, info["pages"], "uploaded (next dvc repro trains on it)", info["chunks"]]
            )
        return rows

    def upload(self, path: Path | str, name: str | None = None, progress=None) -> str:
        """Check, ingest, chunk, embed and add one PDF to the live index; save it under
        ``paths.pdfs``. Returns the message the user sees; raises PdfqaError for bad input."""
        from pdfqa.app.texts import texts
        from pdfqa.corpus import CleanupOptions, chunk_pages, page_records, read_pdf, sniff

        t = texts(self.lang)
        self.require_bundle()
        path = Path(path)
        name = safe_name(name or path.name)
        size_mb = path.stat().st_size / 2**20
        if size_mb > self.cfg.serve.max_file_mb:
            raise PdfqaError(
                t["upload_too_big"].format(mb=size_mb, limit=self.cfg.serve.max_file_mb)
            )
        data = path.read_bytes()
        if reason := sniff(data):
            raise PdfqaError(t["upload_bad"].format(name=name, reason=reason))
        step = progress or (lambda *a, **k: None)
        with self._upload_lock:
            from pdfqa.corpus import content_id

            doc_id = content_id(data)
            for chunk in self.retriever.chunks:
                if chunk.get("doc_id") == doc_id:
                    return t["upload_dup"].format(name=chunk["source"])
            step(0.1, desc="PDF 읽는 중" if self.lang == "ko" else "reading the PDF")
            ing = self.cfg.ingest
            result = read_pdf(name, data, ing.min_page_chars,
                              CleanupOptions(ing.header_footer_min_pages, ing.header_footer_lines))  # fmt: skip
            if result.skipped_reason:
                raise PdfqaError(t["upload_bad"].format(name=name, reason=result.skipped_reason))
            if result.n_pages_total > self.cfg.serve.max_pages:
                raise PdfqaError(t["upload_too_many_pages"].format(pages=result.n_pages_total,
                                                                  limit=self.cfg.serve.max_pages))  # fmt: skip
            target = self._target(name, doc_id)
            pages = [p for p in page_records(result) if p["text"].strip()]
            for p in pages:
                p["source"] = target.name
            if not pages:
                raise PdfqaError(
                    t["upload_bad"].format(name=name, reason="no text layer (OCR needed)")
                )
            step(0.3, desc="문단으로 나누는 중" if self.lang == "ko" else "chunking")
            count = None
            if self.cfg.chunk.tokenizer == "embedder":
                from pdfqa.models import token_counter_for

                count = token_counter_for(self.cfg.retriever.base_model, self.cfg.paths.base_models)
            chunks = [c.to_record() for c in chunk_pages(pages, self.cfg.chunk, count=count)]
            step(
                0.6,
                desc="임베딩하고 색인에 추가하는 중"
                if self.lang == "ko"
                else "embedding and indexing",
            )
            # every engine of the served bundle reads through this one proxy: one atomic swap
            self.retriever.inner = self.retriever.inner.with_chunks(chunks)
            tmp = target.with_name(f".{target.name}.part")
            tmp.write_bytes(data)
            tmp.replace(target)  # saved only once indexed: no half file in data/pdfs
            self._uploaded[target.name] = {"pages": len(pages), "chunks": len(chunks),
                                           "records": chunks}  # fmt: skip
            self._record_upload(target, doc_id, len(pages), len(chunks))
            step(1.0, desc="완료" if self.lang == "ko" else "done")
            log.info("uploaded %s: %d pages, %d chunks", target.name, len(pages), len(chunks))
            return t["uploaded_ok"].format(name=target.name, pages=len(pages), chunks=len(chunks))

    def _record_upload(self, target: Path, doc_id: str, pages: int, chunks: int) -> None:
        """One line in ``paths.uploads`` (commit it with the PDF): what came in through the app,
        so `pdfqa watch` or the next pull request's retrain knows where a document came from."""
        from datetime import UTC, datetime

        from pdfqa.app.feedback_log import append

        try:
            rel = target.resolve().relative_to(Path(self.repo).resolve()).as_posix()
        except ValueError:
            rel = str(target)
        append(self.cfg.paths.uploads, {
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "path": rel,
            "doc_id": doc_id, "pages": pages, "chunks": chunks, "bundle_version": self.version,
        })  # fmt: skip

    def _target(self, name: str, doc_id: str) -> Path:
        """Where the upload is saved: inside paths.pdfs, never over another file."""
        from pdfqa.corpus import content_id

        folder = self.cfg.paths.pdfs.resolve()
        folder.mkdir(parents=True, exist_ok=True)
        target = (folder / name).resolve()
        if target.parent != folder:
            raise PdfqaError(f"refused file name {name!r}")
        if target.exists() and content_id(target.read_bytes()) != doc_id:
            target = folder / f"{target.stem}-{doc_id[:8]}.pdf"
        return target

    # -- hot swap ------------------------------------------------------------------------------
    def wanted_version(self) -> str | None:
        """The version now at the followed stage (None: not following, or nothing there)."""
        if not self.follow:
            return None
        from pdfqa.lifecycle import registry
        from pdfqa.lifecycle.bundle import ARTIFACT

        current = [
            v.version for v in registry.versions(self.repo, ARTIFACT) if self.follow in v.stages
        ]
        return current[0] if current else None

    def reload(self) -> bool:
        """Serve the version now at the followed stage, if it is not the one served: load it
        beside the current bundle (retriever, default engine, live uploads re-added), swap all
        references at once, then drop the old ones. Requests already answering keep the engine
        they started with. Returns whether a swap happened; a bundle that fails to load is
        logged and the current one keeps serving."""
        import gc

        from pdfqa.lifecycle.serving import load_bundle

        with self._reload_lock:
            wanted = self.wanted_version()
            if wanted is None or (self.bundle is not None and self.bundle.version == wanted):
                return False
            started = time.perf_counter()
            new = load_bundle(self.cfg, version=wanted, repo=self.repo)
            retriever = TimedRetriever(new.retriever())
            engine = new.engine(base_dir=self.cfg.paths.base_models, retriever=retriever)
            with self._upload_lock:
                have = {c["source"] for c in retriever.inner.chunks}
                extra = [c for info in self._uploaded.values() for c in info["records"]
                         if c["source"] not in have]  # fmt: skip
                if extra:
                    retriever.inner = retriever.inner.with_chunks(extra)
                with self._lock:
                    old = self.version
                    self.served = Served(new, "prod", self.follow)
                    self.retriever = retriever
                    self._engines, self._bundles = {new.system: engine}, {}
                    self.swaps.append((old, wanted))
            self.monitor.reference = self._reference_top1()
            gc.collect()  # the old bundle's models are unreachable now (requests in flight aside)
            log.info("hot swap: %s → %s (%s) in %.1f s", old, wanted, new.system,
                     time.perf_counter() - started)  # fmt: skip
            return True

    def start_reloader(self, every_s: float) -> threading.Thread | None:
        """A daemon thread: every ``every_s`` seconds, ``git fetch --tags`` (when the repository
        has an origin and ``serve.reload_fetch``) and ``reload``. Errors are logged, never fatal."""
        if not self.follow or every_s <= 0:
            return None

        def loop() -> None:
            while not self._stop.wait(every_s):
                try:
                    if self.cfg.serve.reload_fetch:
                        fetch_tags(self.repo)
                    self.reload()
                except Exception as exc:  # keep serving what we have
                    log.warning("registry poll failed (still serving %s): %s", self.version, exc)

        thread = threading.Thread(target=loop, name="pdfqa-reload", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._stop.set()

    # -- the arena -----------------------------------------------------------------------------
    def compare(self, question: str, left: str, right: str, session: str = "",
                k: int | None = None, mode: str = "hybrid") -> dict:  # fmt: skip
        """Both arms answer; which one is shown as A is decided by a hash (``arena.order``).
        The returned pair names the arms only in ``a_arm``/``b_arm``, which the UI hides."""
        from pdfqa.app.arena import order
        from pdfqa.app.texts import texts

        if left == right:
            raise PdfqaError(texts(self.lang)["same_arms"])
        a_arm, b_arm = order(session, question, left, right)
        a = self.ask(question, a_arm, k, mode, session)
        b = self.ask(question, b_arm, k, mode, session)
        pair = {"pair_id": uuid.uuid4().hex[:12], "question": a.question, "a_arm": a_arm,
                "b_arm": b_arm, "a": a.text, "b": b.text,
                "a_citations": a.citations, "b_citations": b.citations}  # fmt: skip
        with self._lock:
            self._pairs[pair["pair_id"]] = pair
        return pair

    def vote(self, pair_id: str, vote: str, session: str = ""):
        from pdfqa.app.arena import VOTES, tally
        from pdfqa.app.texts import texts

        if vote not in VOTES:
            raise PdfqaError(f"vote {vote!r}: one of {', '.join(VOTES)}")
        with self._lock:
            pair = self._pairs.pop(pair_id, None)
        if pair is None:
            raise PdfqaError(texts(self.lang)["vote_first"])
        self.monitor.log_vote(session, pair["question"], pair["a_arm"], pair["b_arm"], vote)
        first, second = sorted((pair["a_arm"], pair["b_arm"]))
        return pair, tally(self.monitor.votes(), first, second)

    # -- examples ----------------------------------------------------------------------------
    def examples(self) -> list[str]:
        from pdfqa.jsonio import read_jsonl

        out = [q.question for q in self.cfg.promotion.smoke if q.answerable]
        val = self.cfg.paths.qa_split("val")
        if val.exists():
            out += [r["question"] for r in read_jsonl(val) if r.get("answerable", True)]
        return list(dict.fromkeys(out))[: self.cfg.serve.examples]


def open_service(cfg: Params, *, stage: str | None = "prod", version: str | None = None,
                 workspace: bool = False, ab: str | None = None, lang: str | None = None,
                 repo: Path | str = ".") -> Service:  # fmt: skip
    """The bundle to serve: ``version``, else the workspace's if asked, else ``stage`` — and when
    nothing is at that stage yet, the workspace's bundle with a banner saying so; with no bundle
    at all the app still starts and says what to run."""
    from pdfqa.lifecycle.serving import load_bundle

    lang = lang or cfg.serve.lang
    repo = Path(repo)
    served = Served(None, "none")
    follow = stage if not (version or workspace) else None
    if version:
        served = Served(load_bundle(cfg, version=version, repo=repo), "version")
    elif not workspace and stage:
        try:
            served = Served(load_bundle(cfg, stage=stage, repo=repo), "prod", stage)
        except PdfqaError as exc:
            log.info("nothing served from %r (%s): trying the workspace bundle", stage, exc)
    if served.bundle is None:
        try:
            served = Served(load_bundle(cfg), "workspace")
        except PdfqaError as exc:
            log.warning("no bundle to serve: %s", exc)
    return Service(cfg, served, repo, ab, lang, follow=follow)


def fetch_tags(repo: Path | str) -> None:
    """``git fetch --tags --force`` from origin, if there is one: how a server's clone learns
    that a stage moved (GTO's stage tags are re-created, hence --force)."""
    import subprocess

    has_origin = subprocess.run(["git", "remote", "get-url", "origin"], cwd=repo,
                                capture_output=True, text=True).returncode == 0  # fmt: skip
    if not has_origin:
        return
    done = subprocess.run(["git", "fetch", "--quiet", "--tags", "--force", "origin"], cwd=repo,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise PdfqaError(f"git fetch --tags: {done.stderr.strip().splitlines()[-1:]}")
