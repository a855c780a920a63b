"""The guide's PerformanceMonitor, persistent: every request and feedback click in SQLite (WAL,
so the app writes while ``pdfqa monitor`` or the Monitoring tab reads), and the summaries both
show — latency p50/p95, confidence, abstention and 👍/👎 rates, and drift of the top-1
retrieval score against a reference sample (the test split's questions), by a KS test (scipy).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    ts REAL NOT NULL, request_id TEXT PRIMARY KEY, session TEXT, bundle_version TEXT,
    system TEXT, question_chars INTEGER, answer_chars INTEGER, retrieve_ms REAL,
    generate_ms REAL, total_ms REAL, confidence REAL, answerability REAL, abstained INTEGER,
    top1_score REAL
);
CREATE TABLE IF NOT EXISTS feedback (ts REAL NOT NULL, request_id TEXT, rating TEXT);
CREATE TABLE IF NOT EXISTS votes (
    ts REAL NOT NULL, session TEXT, question TEXT, left_arm TEXT, right_arm TEXT, vote TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
"""
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """'1d', '6h', '30m' → seconds."""
    text = text.strip().lower()
    if not text or text[-1] not in SINCE_UNITS or not text[:-1].replace(".", "", 1).isdigit():
        raise ValueError(f"--since {text!r}: use a number and a unit, e.g. 30m, 6h, 1d")
    return float(text[:-1]) * SINCE_UNITS[text[-1]]


@dataclass
class Summary:
    requests: int
    uptime_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    abstention_rate: float | None
    thumbs_up: int
    thumbs_down: int
    confidence: list[float]
    drift_p_value: float | None
    drift_statistic: float | None

    def lines(self, lang: str = "ko") -> list[str]:
        def pct(x):
            return "–" if x is None else f"{100 * x:.1f}%"

        def ms(x):
            return "–" if x is None else f"{x:.0f} ms"

        votes = self.thumbs_up + self.thumbs_down
        up = pct(self.thumbs_up / votes) if votes else "–"
        drift = ("–" if self.drift_p_value is None
                 else f"KS {self.drift_statistic:.3f}, p = {self.drift_p_value:.3g}"
                 + (" ⚠️" if self.drift_p_value < 0.01 else ""))  # fmt: skip
        if lang == "en":
            return [f"requests: {self.requests}", f"uptime: {self.uptime_s / 3600:.1f} h",
                    f"latency p50 / p95: {ms(self.latency_p50_ms)} / {ms(self.latency_p95_ms)}",
                    f"abstention rate: {pct(self.abstention_rate)}",
                    f"👍 share: {up} ({self.thumbs_up} 👍, {self.thumbs_down} 👎)",
                    f"top-1 score drift vs test split: {drift}"]  # fmt: skip
        return [f"요청 수: {self.requests}", f"가동 시간: {self.uptime_s / 3600:.1f}시간",
                f"지연 p50 / p95: {ms(self.latency_p50_ms)} / {ms(self.latency_p95_ms)}",
                f"답변 보류 비율: {pct(self.abstention_rate)}",
                f"👍 비율: {up} (👍 {self.thumbs_up}, 👎 {self.thumbs_down})",
                f"검색 1위 점수 드리프트 (테스트 분할 대비): {drift}"]  # fmt: skip


class Monitor:
    """``reference_top1``: the drift reference; the app passes it and it is kept in the
    database, so ``pdfqa monitor`` (which has no index loaded) tests drift against the same."""

    def __init__(self, path: Path | str, reference_top1: list[float] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as db:
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('started', ?)", (str(time.time()),))
        if reference_top1 is None:
            row = (
                self._connect()
                .execute("SELECT value FROM meta WHERE key = 'reference_top1'")
                .fetchone()
            )
            reference_top1 = json.loads(row[0]) if row else []
        self.reference = reference_top1

    @property
    def reference(self) -> list[float]:
        return self._reference

    @reference.setter
    def reference(self, scores: list[float]) -> None:
        self._reference = [float(x) for x in scores or []]
        if self._reference:
            self._connect().execute("INSERT OR REPLACE INTO meta VALUES ('reference_top1', ?)",
                                    (json.dumps(self._reference),))  # fmt: skip

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def log_request(self, row: dict) -> None:
        cols = ("ts", "request_id", "session", "bundle_version", "system", "question_chars",
                "answer_chars", "retrieve_ms", "generate_ms", "total_ms", "confidence",
                "answerability", "abstained", "top1_score")  # fmt: skip
        values = [row.get(c) for c in cols]
        values[0] = values[0] or time.time()
        self._connect().execute(
            f"INSERT OR REPLACE INTO requests ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            values,
        )

    def log_feedback(self, request_id: str, rating: str) -> None:
        self._connect().execute(
            "INSERT INTO feedback VALUES (?, ?, ?)", (time.time(), request_id, rating)
        )

    def log_vote(self, session: str, question: str, left: str, right: str, vote: str) -> None:
        self._connect().execute("INSERT INTO votes VALUES (?, ?, ?, ?, ?, ?)",
                                (time.time(), session, question, left, right, vote))  # fmt: skip

    def votes(self) -> list[tuple[str, str, str]]:
        return self._connect().execute("SELECT left_arm, right_arm, vote FROM votes").fetchall()

    def rows(self, since_s: float | None = None) -> list[dict]:
        cutoff = time.time() - since_s if since_s else 0
        cur = self._connect().execute("SELECT * FROM requests WHERE ts >= ? ORDER BY ts", (cutoff,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def summary(self, since_s: float | None = None) -> Summary:
        import numpy as np

        rows = self.rows(since_s)
        cutoff = time.time() - since_s if since_s else 0
        db = self._connect()
        ratings = dict(db.execute("SELECT rating, COUNT(*) FROM feedback WHERE ts >= ? GROUP BY rating",
                                  (cutoff,)).fetchall())  # fmt: skip
        started = float(db.execute("SELECT value FROM meta WHERE key = 'started'").fetchone()[0])
        latency = [r["total_ms"] for r in rows if r["total_ms"] is not None]
        top1 = [r["top1_score"] for r in rows if r["top1_score"] is not None]
        drift_p = drift_stat = None
        if len(top1) >= 5 and len(self.reference) >= 5:
            from scipy.stats import ks_2samp

            test = ks_2samp(top1, self.reference)
            drift_p, drift_stat = float(test.pvalue), float(test.statistic)
        return Summary(
            requests=len(rows), uptime_s=time.time() - started,
            latency_p50_ms=float(np.percentile(latency, 50)) if latency else None,
            latency_p95_ms=float(np.percentile(latency, 95)) if latency else None,
            abstention_rate=(sum(bool(r["abstained"]) for r in rows) / len(rows)) if rows else None,
            thumbs_up=int(ratings.get("up", 0)), thumbs_down=int(ratings.get("down", 0)),
            confidence=[r["confidence"] for r in rows if r["confidence"] is not None],
            drift_p_value=drift_p, drift_statistic=drift_stat,
        )  # fmt: skip
