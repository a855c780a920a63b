"""Alerts on the app's live metrics: abstention rate, 👎 rate and drift of the top-1 retrieval
score, each against a threshold in ``params.yaml`` (``alerts:``), over a recent window.

``evaluate`` is pure (a monitoring summary in, the rules that fire out), so the Monitoring tab,
``pdfqa monitor`` and the app's background check all say the same thing. ``Alerter`` keeps
which rules are firing and POSTs a JSON message to ``alerts.webhook_url`` only when that set
changes (an alert starts, or clears): a webhook is a pager, not a log. The message has a
``text`` field, which Slack- and Mattermost-style incoming webhooks display as is.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pdfqa.app.monitor import Monitor, Summary
    from pdfqa.config import AlertConfig

log = logging.getLogger("pdfqa.alerts")


@dataclass(frozen=True)
class Alert:
    rule: str  # abstention_rate | thumbs_down_rate | top1_drift
    value: float
    limit: float
    ko: str
    en: str

    def message(self, lang: str = "ko") -> str:
        return self.ko if lang == "ko" else self.en


def evaluate(summary: Summary, rules: AlertConfig) -> list[Alert]:
    """The rules ``summary`` breaks; none while the window holds too few requests to judge."""
    out: list[Alert] = []
    if summary.requests < rules.min_requests:
        return out
    rate = summary.abstention_rate
    if rate is not None and rate > rules.max_abstention_rate:
        out.append(Alert("abstention_rate", rate, rules.max_abstention_rate,
                         f"⚠️ 답변 보류 비율 {rate:.0%} (기준 {rules.max_abstention_rate:.0%} 초과): "
                         "문서에 없는 질문이 늘었거나 검색이 나빠졌습니다",
                         f"⚠️ abstention rate {rate:.0%} is above {rules.max_abstention_rate:.0%}: "
                         "questions the documents don't cover, or retrieval got worse"))  # fmt: skip
    rated = summary.thumbs_up + summary.thumbs_down
    if rated >= rules.min_ratings:
        down = summary.thumbs_down / rated
        if down > rules.max_thumbs_down_rate:
            out.append(Alert("thumbs_down_rate", down, rules.max_thumbs_down_rate,
                             f"⚠️ 👎 비율 {down:.0%} (평가 {rated}건, 기준 {rules.max_thumbs_down_rate:.0%} "
                             "초과): `pdfqa feedback review`로 확인하세요",
                             f"⚠️ 👎 share {down:.0%} of {rated} rated answers is above "
                             f"{rules.max_thumbs_down_rate:.0%}: see `pdfqa feedback review`"))  # fmt: skip
    p = summary.drift_p_value
    if p is not None and p < rules.drift_p_value:
        out.append(Alert("top1_drift", p, rules.drift_p_value,
                         f"⚠️ 검색 1위 점수 분포가 테스트 분할과 다릅니다 (KS {summary.drift_statistic:.2f}, "
                         f"p = {p:.2g}): 새 유형의 질문이나 문서 변화",
                         f"⚠️ top-1 retrieval scores drifted from the test split (KS "
                         f"{summary.drift_statistic:.2f}, p = {p:.2g}): new kinds of questions or "
                         "documents"))  # fmt: skip
    return out


def post_json(url: str, payload: dict, timeout_s: float) -> int:
    """POST ``payload`` as JSON; the HTTP status (raises on connection errors)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "pdfqa-alerts"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return response.status


class Alerter:
    """The firing set, checked on demand (``check``) or every ``check_every_s`` in a daemon
    thread (``start``); a change of the set is logged and sent to the webhook."""

    def __init__(self, rules: AlertConfig, monitor: Monitor, lang: str = "ko"):
        from pdfqa.app.monitor import parse_since

        self.rules, self.monitor, self.lang = rules, monitor, lang
        self.window_s = parse_since(rules.window)
        self.firing: dict[str, Alert] = {}
        self.sent: list[dict] = []  # what reached the webhook (tests, the Monitoring tab)
        self._lock = threading.Lock()

    def current(self) -> list[Alert]:
        return evaluate(self.monitor.summary(self.window_s), self.rules)

    def check(self) -> list[Alert]:
        alerts = self.current()
        with self._lock:
            now = {a.rule: a for a in alerts}
            started = [a for r, a in now.items() if r not in self.firing]
            cleared = [a for r, a in self.firing.items() if r not in now]
            self.firing = now
        for a in started:
            log.warning("alert: %s", a.en)
        for a in cleared:
            log.info("alert cleared: %s", a.rule)
        if (started or cleared) and self.rules.webhook_url:
            self._notify(started, cleared)
        return alerts

    def _notify(self, started: list[Alert], cleared: list[Alert]) -> None:
        lines = [a.message(self.lang) for a in started]
        lines += [("✅ 해소: " if self.lang == "ko" else "✅ cleared: ") + a.rule for a in cleared]
        payload = {"text": "pdfqa\n" + "\n".join(lines),
                   "firing": [asdict(a) for a in self.firing.values()],
                   "started": [a.rule for a in started], "cleared": [a.rule for a in cleared],
                   "window": self.rules.window}  # fmt: skip
        try:
            status = post_json(self.rules.webhook_url, payload, self.rules.webhook_timeout_s)
            self.sent.append(payload)
            log.info("alert webhook: HTTP %s", status)
        except Exception as exc:  # an unreachable pager must not take the app down
            log.warning("alert webhook %s failed: %s", self.rules.webhook_url, exc)

    def start(self, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.wait(self.rules.check_every_s):
                try:
                    self.check()
                except Exception as exc:
                    log.warning("alert check failed: %s", exc)

        thread = threading.Thread(target=loop, name="pdfqa-alerts", daemon=True)
        thread.start()
        return thread
