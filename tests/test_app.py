"""The app as users meet it: a launched Gradio server driven through `gradio_client` — ask an
answerable and an unanswerable question, upload a good PDF (then it is searchable) and bad ones
(a clear reason, nothing saved), vote in Compare, send feedback (the JSONL line and the
monitoring rows exist), and login required when auth is on."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from app_fixture import HELD_OUT, build_app_params, held_out_part
from conftest import SAMPLE_PDFS, encrypted_pdf

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ANSWERABLE = "개발 중단(obsolete) 상태로 간주되는 패키지는?"
UNANSWERABLE = "파이썬에서 리스트를 정렬하는 함수는 무엇인가요?"


@pytest.fixture(scope="module")
def app_cfg(sample_run, tmp_path_factory):
    return build_app_params(sample_run, tmp_path_factory.mktemp("app"))


@pytest.fixture(scope="module")
def server(app_cfg):
    from pdfqa.app.server import start_in_process

    demo, service = start_in_process(app_cfg, workspace=True)
    yield demo, service
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    demo, _ = server
    return Client(demo.local_url, verbose=False)


def test_answerable_question_cites_pages_and_unanswerable_abstains(client, server):
    _, service = server
    answer = client.predict(ANSWERABLE, "", 0, "hybrid", api_name="/answer")
    assert not answer["abstained"] and answer["citations"], answer
    assert answer["citations"][0][0] == "kotex-doc.pdf"
    assert answer["badge"] in ("high", "mid", "low") and answer["version"] == "workspace"
    assert answer["evidence"] and any(e["support"] for e in answer["evidence"])
    assert answer["retrieve_ms"] > 0 and answer["total_ms"] >= answer["retrieve_ms"]

    refused = client.predict(UNANSWERABLE, "", 0, "hybrid", api_name="/answer")
    assert refused["abstained"] and refused["text"] == service.cfg.generator.abstain_answer
    assert refused["citations"] == [] and len(refused["evidence"]) == service.cfg.serve.top_k
    assert refused["answerability"] < refused["threshold"]

    five = client.predict(ANSWERABLE, "extractive", 5, "bm25", api_name="/answer")
    assert len(five["evidence"]) == 5


def test_a_question_can_be_restricted_to_chosen_documents(client, server):
    _, service = server
    everything = client.predict(ANSWERABLE, "", 5, "hybrid", api_name="/answer")
    top = everything["evidence"][0]["source"]
    other = next(name for name in service.document_names() if name != top)
    only = client.predict(ANSWERABLE, "", 5, "hybrid", [other], api_name="/answer")
    assert only["evidence"] and {e["source"] for e in only["evidence"]} == {other}
    assert {c[0] for c in only["citations"]} <= {other}


def test_bad_input_gets_a_korean_message_not_a_traceback(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as empty:
        client.predict("   ", "", 0, "hybrid", api_name="/answer")
    assert "질문을 입력하세요" in str(empty.value) and "Traceback" not in str(empty.value)
    with pytest.raises(AppError, match="retrieval mode"):
        client.predict(ANSWERABLE, "", 0, "nonsense", api_name="/answer")
    with pytest.raises(AppError, match="먼저 질문"):
        client.predict("no-such-request", "down", "", "", api_name="/feedback")


def test_upload_good_pdf_becomes_searchable_bad_ones_get_reasons(client, server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    _, service = server
    pdfs = service.cfg.paths.pdfs
    before = sorted(p.name for p in pdfs.iterdir())
    question = "첫가끝 자모를 조합하는 방법은?"
    assert not any(e["source"] == "jamo-part.pdf" for e in
                   client.predict(question, "", 0, "bm25", api_name="/answer")["evidence"])  # fmt: skip

    good = tmp_path / "jamo-part.pdf"
    good.write_bytes(held_out_part([1, 2, 3]))
    message, table = client.predict(handle_file(str(good)), api_name="/upload")
    assert message.startswith("✅ jamo-part.pdf") and (pdfs / "jamo-part.pdf").exists()
    assert any(row[0] == "jamo-part.pdf" for row in table["data"])
    hits = client.predict(question, "", 5, "bm25", api_name="/answer")["evidence"]
    assert any(e["source"] == "jamo-part.pdf" for e in hits), hits
    again, _ = client.predict(handle_file(str(good)), api_name="/upload")
    assert "이미 있는 문서" in again
    # recorded for `pdfqa watch` / the next PR's retrain: one line per accepted upload
    records = [json.loads(line) for line in service.cfg.paths.uploads.read_text().splitlines()]
    assert [r["path"].rsplit("/", 1)[-1] for r in records] == ["jamo-part.pdf"]
    assert records[0]["pages"] == 3 and records[0]["doc_id"] and records[0]["chunks"] > 0

    bad = {"scan-of-nothing.pdf": b"<html>404</html>",
           "locked.pdf": encrypted_pdf(SAMPLE_PDFS / "cjk-ko-doc.pdf"),
           "cut.pdf": held_out_part([1])[:500]}  # fmt: skip
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AppError) as refused:
            client.predict(handle_file(str(tmp_path / name)), api_name="/upload")
        assert f"❌ {name}: 사용할 수 없는 PDF입니다" in str(refused.value)
    assert sorted(p.name for p in pdfs.iterdir()) == sorted([*before, "jamo-part.pdf"])


def test_compare_votes_are_stored_and_tallied(client, server):
    _, service = server
    pair = client.predict(ANSWERABLE, "extractive", "base", api_name="/compare")
    assert pair["a"] and pair["b"] and "a_arm" not in pair  # anonymised
    tally = client.predict(pair["pair_id"], "A", api_name="/vote")
    assert {tally["a_arm"], tally["b_arm"]} == {"extractive", "base"}
    assert tally["wins_first"] + tally["wins_second"] == 1 and tally["ci_low"] < tally["ci_high"]
    rows = (
        sqlite3.connect(service.monitor.path).execute("SELECT question, vote FROM votes").fetchall()
    )
    assert rows[-1] == (ANSWERABLE, "A")


def test_feedback_is_appended_and_monitored(client, server):
    _, service = server
    answer = client.predict(ANSWERABLE, "", 0, "hybrid", api_name="/answer")
    event = client.predict(answer["request_id"], "down", "ko.TeX-euc와 HLaTeX입니다.", "답이 틀림",
                           api_name="/feedback")  # fmt: skip
    lines = service.cfg.paths.feedback.read_text(encoding="utf-8").splitlines()
    saved = json.loads(lines[-1])
    assert saved["id"] == event["id"] and saved["request_id"] == answer["request_id"]
    assert saved["question"] == ANSWERABLE and saved["citations"] and saved["evidence"]
    assert (
        saved["correction"] == "ko.TeX-euc와 HLaTeX입니다."
        and saved["bundle_version"] == "workspace"
    )
    db = sqlite3.connect(service.monitor.path)
    assert db.execute(
        "SELECT rating FROM feedback WHERE request_id = ?", (answer["request_id"],)
    ).fetchall() == [("down",)]
    row = db.execute("SELECT system, abstained, retrieve_ms, total_ms, top1_score FROM requests "
                     "WHERE request_id = ?", (answer["request_id"],)).fetchone()  # fmt: skip
    assert row[0] == "extractive" and row[1] == 0 and row[2] > 0 and row[4] is not None
    summary = client.predict(api_name="/monitor")
    assert summary["requests"] >= 3 and summary["thumbs_down"] >= 1
    assert summary["drift_p_value"] is not None  # ≥ 5 requests against the test split's scores
    assert summary["alerts"] == []  # params' thresholds: 20 requests before any verdict
    strict = service.cfg.alerts.model_copy(update={"min_requests": 1, "min_ratings": 1,
                                                   "max_thumbs_down_rate": 0.0})  # fmt: skip
    service.alerter.rules = strict
    alerts = client.predict(api_name="/monitor")["alerts"]
    down = [a for a in alerts if a["rule"] == "thumbs_down_rate"]
    assert down and "👎 비율" in down[0]["message"], alerts
    service.alerter.rules = service.cfg.alerts


def test_auth_on_refuses_anonymous_clients(app_cfg):
    from gradio_client import Client

    from pdfqa.app.server import start_in_process

    demo, _ = start_in_process(app_cfg, auth=("kim", "s3cret"), workspace=True)
    try:
        with pytest.raises(Exception):  # noqa: B017 (the client raises a plain ValueError/HTTP error)
            Client(demo.local_url, verbose=False).predict(
                ANSWERABLE, "", 0, "hybrid", api_name="/answer"
            )
        ok = Client(demo.local_url, auth=("kim", "s3cret"), verbose=False)
        assert not ok.predict(ANSWERABLE, "", 0, "hybrid", api_name="/answer")["abstained"]
    finally:
        demo.close()


def test_without_any_bundle_the_app_starts_and_says_what_to_run(app_cfg, tmp_path):
    from pdfqa.app.service import open_service
    from pdfqa.errors import PdfqaError

    empty = app_cfg.model_copy(update={"paths": app_cfg.paths.model_copy(update={
        "bundle": tmp_path / "none", "app_dir": tmp_path / "app"})})  # fmt: skip
    service = open_service(empty, stage="prod", repo=tmp_path)
    assert service.bundle is None and service.served.kind == "none"
    with pytest.raises(PdfqaError, match="make repro"):
        service.ask(ANSWERABLE)


def test_upload_names_never_leave_the_pdf_folder(server, tmp_path):
    from pdfqa.app.service import safe_name

    assert safe_name("../../etc/passwd.pdf") == "passwd.pdf"
    assert safe_name("..\\..\\win.pdf") == "win.pdf"
    assert safe_name("보고서 2026 (최종).PDF") == "보고서_2026_최종.pdf"
    _, service = server
    part = tmp_path / "x.pdf"
    part.write_bytes(held_out_part([4]))
    message = service.upload(part, name="../../../escape.pdf")
    assert "escape.pdf" in message and (service.cfg.paths.pdfs / "escape.pdf").exists()
    assert not (service.cfg.paths.pdfs.parent / "escape.pdf").exists()
    # same name, other content: saved beside it, never over it
    other = tmp_path / "y.pdf"
    other.write_bytes(held_out_part([5]))
    service.upload(other, name="escape.pdf")
    assert len(list(service.cfg.paths.pdfs.glob("escape*.pdf"))) == 2


def test_a_torn_feedback_line_never_swallows_the_next(tmp_path):
    from pdfqa.app.feedback_log import append
    from pdfqa.qa.feedback import read_events

    path = tmp_path / "fb.jsonl"
    append(path, {"id": "a", "question": "q1"})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "torn", "quest')  # a crash mid-write
    append(path, {"id": "b", "question": "q2"})
    assert [e["id"] for e in read_events(path)] == ["a", "b"]


def test_monitor_cli_prints_the_summary(server):
    from typer.testing import CliRunner

    from pdfqa.cli import app

    _, service = server
    time.sleep(0.1)
    params = service.cfg.paths.app_dir.parent / "params.yaml"
    import yaml

    params.write_text(
        yaml.safe_dump(service.cfg.model_dump(mode="json", by_alias=True), allow_unicode=True)
    )
    result = CliRunner().invoke(app, ["monitor", "--since", "1d", "--params", str(params)])
    assert result.exit_code == 0, result.output
    assert "요청 수" in result.output and "지연 p50 / p95" in result.output
    bad = CliRunner().invoke(app, ["monitor", "--since", "yesterday", "--params", str(params)])
    assert bad.exit_code == 1 and "30m, 6h, 1d" in bad.output
    assert HELD_OUT not in result.output


def test_generative_answers_stream_then_finish(server):
    from pdfqa.app.service import AskResult

    _, service = server
    items = list(service.stream(ANSWERABLE, "base"))
    partial = [i for i in items if isinstance(i, str)]
    final = items[-1]
    assert isinstance(final, AskResult) and final.system == "base"
    assert partial, "the HF backend streams text before the final answer"
    assert all(isinstance(i, str) for i in items[:-1])


def test_ab_sessions_get_a_stable_arm_and_both_arms_are_used():
    from pdfqa.app.arena import arm_for, order, tally

    arms = ("extractive", "v0.0.2")
    assignments = {s: arm_for(f"session-{s}", arms) for s in range(200)}
    assert all(arm_for(f"session-{s}", arms) == a for s, a in assignments.items())
    share = sum(a == "v0.0.2" for a in assignments.values()) / 200
    assert 0.35 < share < 0.65
    shown = {order(f"s{i}", "질문", "x", "y")[0] for i in range(20)}
    assert shown == {"x", "y"}  # neither arm is always shown as A
    t = tally([("x", "y", "A"), ("y", "x", "A"), ("x", "y", "tie"), ("y", "x", "B")], "x", "y")
    assert (t.wins_first, t.wins_second, t.ties) == (2, 1, 1)
    assert 0 < t.ci_low < t.share_first < t.ci_high <= 1


def test_ask_prints_only_the_answer(app_cfg, tmp_path):
    """The CLI as a new user meets it: the bundle's own (measured-best) system, no progress bars,
    no library warnings on the terminal — they go to logs/pdfqa.log."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(app_cfg.model_dump(mode="json", by_alias=True), allow_unicode=True)
    )
    pdfqa = Path(sys.executable).parent / "pdfqa"
    proc = subprocess.run([str(pdfqa), "ask", ANSWERABLE, "--params", str(params)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "출처: kotex-doc.pdf p." in proc.stdout and "extractive" in proc.stdout
    assert proc.stderr.strip() == "", proc.stderr
    assert "Loading" not in proc.stdout and "Warning" not in proc.stdout
    assert (tmp_path / "logs" / "pdfqa.log").exists()


def test_size_and_page_caps_and_file_route_are_enforced(server, tmp_path):
    import os
    import urllib.error
    import urllib.request

    from pdfqa.app.service import Service
    from pdfqa.errors import PdfqaError

    demo, service = server
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * int((service.cfg.serve.max_file_mb + 1) * 2**20))
    with pytest.raises(PdfqaError, match="파일이 너무 큽니다"):
        service.upload(big)
    capped_cfg = service.cfg.model_copy(
        update={"serve": service.cfg.serve.model_copy(update={"max_pages": 2})}
    )
    capped = Service(capped_cfg, service.served, service.repo)
    three = tmp_path / "three.pdf"
    three.write_bytes(held_out_part([6, 7, 8]))
    with pytest.raises(PdfqaError, match="쪽 수가 너무 많습니다"):
        capped.upload(three)
    assert not (service.cfg.paths.pdfs / "three.pdf").exists()
    # only the rendered-page folder is served as files
    for target in (
        "/etc/passwd",
        str(service.cfg.paths.feedback),
        str(service.cfg.paths.pdfs / "kotex-doc.pdf"),
    ):
        try:
            status = urllib.request.urlopen(
                f"{demo.local_url}gradio_api/file={target}", timeout=10
            ).status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status in (403, 404), (target, status)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_generative_arms_can_answer_from_an_llm_server(app_cfg):
    """`pdfqa serve --llm-endpoint` (vLLM in production): the app keeps retrieval, the prompt
    and the abstention gate, and only generation goes to the OpenAI-compatible server."""
    from openai_stub import completions_server

    from pdfqa.app.service import open_service

    service = open_service(app_cfg, workspace=True)
    with completions_server(" 개발이 중단된 패키지입니다.") as (url, seen):
        service.llm = {"endpoint": url, "lora": "pdfqa", "base": "google/gemma-3-270m"}
        try:
            result = service.ask(ANSWERABLE, arm="base")
            label = service.engine("base").model_label
        finally:
            service.close()
    path, _, body = seen[-1]
    assert path == "/v1/completions" and body["model"] == "google/gemma-3-270m"
    assert ANSWERABLE in body["prompt"] and "다음은 문서의 내용입니다" in body["prompt"]
    assert result.evidence and result.system == "base" and "LLM server" in label
