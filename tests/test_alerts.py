"""Alerts on live metrics, for real: a monitoring SQLite filled with requests and feedback as
the app writes them, rules from params, and a loopback HTTP receiver as the webhook. Crossing a
threshold posts once (not on every check), clearing posts once more; an unreachable webhook is
logged, never raised; `pdfqa monitor` prints the same warnings and `--check` exits 3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT

from pdfqa.app.alerts import Alerter, evaluate
from pdfqa.app.monitor import Monitor
from pdfqa.config import AlertConfig


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                receiver.posts.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _requests(monitor: Monitor, n: int, abstained: bool, top1: np.ndarray, start: int = 0) -> None:
    for i in range(n):
        monitor.log_request({"request_id": f"r{start + i}", "session": "s", "bundle_version": "v0.0.1",
                             "system": "extractive", "total_ms": 50.0, "confidence": 0.5,
                             "abstained": int(abstained), "top1_score": float(top1[i])})  # fmt: skip


def test_crossing_posts_once_and_clearing_posts_again(tmp_path, receiver):
    rng = np.random.default_rng(0)
    monitor = Monitor(tmp_path / "monitor.sqlite", list(rng.normal(0.85, 0.03, 60)))
    rules = AlertConfig(min_requests=20, webhook_url=receiver.url, min_ratings=5)
    alerter = Alerter(rules, monitor, "ko")
    _requests(monitor, 10, True, rng.normal(0.5, 0.03, 10))
    assert alerter.check() == [] and receiver.posts == []  # 10 < min_requests: no verdict yet

    _requests(monitor, 20, True, rng.normal(0.5, 0.03, 20), start=10)
    for i in range(6):
        monitor.log_feedback(f"r{i}", "down")
    monitor.log_feedback("r7", "up")
    fired = {a.rule for a in alerter.check()}
    assert fired == {"abstention_rate", "thumbs_down_rate", "top1_drift"}
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert set(post["started"]) == fired and "답변 보류 비율 100%" in post["text"]
    alerter.check()
    assert len(receiver.posts) == 1, "a firing alert is sent once, not on every check"

    _requests(monitor, 200, False, rng.normal(0.85, 0.03, 200), start=100)  # healthy traffic
    now = {a.rule for a in alerter.check()}
    assert "abstention_rate" not in now
    assert len(receiver.posts) == 2 and "abstention_rate" in receiver.posts[1]["cleared"]


def test_an_unreachable_webhook_is_logged_not_raised(tmp_path, caplog):
    monitor = Monitor(tmp_path / "monitor.sqlite", [])
    rules = AlertConfig(min_requests=1, webhook_url="http://127.0.0.1:9/nothing-listens",
                        webhook_timeout_s=1)  # fmt: skip
    _requests(monitor, 3, True, np.full(3, 0.5))
    alerter = Alerter(rules, monitor, "en")
    assert [a.rule for a in alerter.check()] == ["abstention_rate"]
    assert "alert webhook" in caplog.text and alerter.sent == []


def test_evaluate_needs_enough_ratings_for_a_thumbs_verdict():
    from pdfqa.app.monitor import Summary

    summary = Summary(requests=50, uptime_s=1, latency_p50_ms=1, latency_p95_ms=1,
                      abstention_rate=0.1, thumbs_up=0, thumbs_down=4, confidence=[],
                      drift_p_value=0.5, drift_statistic=0.1)  # fmt: skip
    assert evaluate(summary, AlertConfig(min_ratings=5)) == []
    summary.thumbs_down = 5
    assert [a.rule for a in evaluate(summary, AlertConfig(min_ratings=5))] == ["thumbs_down_rate"]


def test_monitor_cli_warns_and_check_exits_3(tmp_path):
    app_dir = tmp_path / "app"
    rng = np.random.default_rng(1)
    monitor = Monitor(app_dir / "monitor.sqlite", list(rng.normal(0.85, 0.03, 60)))
    _requests(monitor, 30, True, rng.normal(0.5, 0.03, 30))
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["paths"]["app_dir"] = str(app_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    pdfqa = shutil.which("pdfqa", path=str(Path(sys.executable).parent))
    done = subprocess.run([pdfqa, "monitor", "--check"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    assert "⚠️ 답변 보류 비율 100%" in done.stdout and "검색 1위 점수 분포" in done.stdout
    as_json = subprocess.run([pdfqa, "monitor", "--json"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert as_json.returncode == 0
    rules = {a["rule"] for a in json.loads(as_json.stdout)["alerts"]}
    assert rules == {"abstention_rate", "top1_drift"}
