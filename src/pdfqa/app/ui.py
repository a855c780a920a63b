"""The Gradio page over a ``Service``: tabs 질문하기 / 문서 / 비교 / 모니터링, Korean labels.

Handlers turn ``PdfqaError`` into a Korean ``gr.Error`` and anything unexpected into a generic
message with the request id (the traceback goes to the log file, never to the page). The same
work is exposed as API endpoints (``answer``, ``feedback``, ``compare``, ``vote``, ``upload``,
``documents``, ``monitor``) for ``gradio_client`` and scripts.
"""

from __future__ import annotations

import html
import logging
import re
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.app.service import AskResult, Service

log = logging.getLogger("pdfqa.app")
FONTS = ["Noto Sans KR", "NanumGothic", "NanumBarunGothic", "Malgun Gothic", "Apple SD Gothic Neo",
         "Noto Sans CJK KR", "sans-serif"]  # fmt: skip
MONO = ["NanumGothicCoding", "D2Coding", "monospace"]
CSS = """
.evidence-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 10px; margin: 6px 0;}
.evidence-card .meta {font-size: 0.85em; color: #57606a;}
.evidence-card mark {background: #fff1a8; padding: 0 1px;}
.badge {display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600;}
.badge-high {background: #d1f2d9;} .badge-mid {background: #fff1c2;} .badge-low {background: #ffd8d3;}
"""
CHIP = re.compile(r"^(?P<source>.+) p\.(?P<page>\d+)$")


def theme():
    import gradio as gr

    # plain font names only: a GoogleFont would be fetched from the internet, and the default
    # theme font has no Hangul
    return gr.themes.Soft(font=FONTS, font_mono=MONO)


def _guard(service: Service, fn):
    """Run ``fn``; PdfqaError → its Korean message, anything else → a generic one (logged)."""
    import gradio as gr

    from pdfqa.app.texts import texts

    try:
        return fn()
    except PdfqaError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("request failed")
        raise gr.Error(
            texts(service.lang)["failed"].format(request_id="-"), print_exception=False
        ) from None


def chip(source: str, page: int) -> str:
    return f"{source} p.{page}"


def answer_markdown(result: AskResult, t: dict) -> str:
    if result.abstained:
        why = t["abstain_why"].format(score=result.answerability, threshold=result.threshold)
        return f"{html.escape(result.text)}\n\n_{why}_"
    chips = " ".join(f"`{chip(s, p)}`" for s, p in result.citations)
    return f"{result.text}\n\n{chips}" if chips else result.text


def badge_markdown(result: AskResult, t: dict) -> str:
    label = t[f"conf_{result.badge()}"]
    return (f'<span class="badge badge-{result.badge()}">{t["confidence"]}: {label} '
            f"({result.confidence:.2f})</span> &nbsp; {t['answerability']}: {result.answerability:.2f}"
            f" &nbsp; <small>{result.system} · {result.version} · {result.total_ms:.0f} ms</small>")  # fmt: skip


def _mark(text: str, support: str) -> str:
    escaped = html.escape(text)
    if support and html.escape(support) in escaped:
        escaped = escaped.replace(html.escape(support), f"<mark>{html.escape(support)}</mark>", 1)
    return escaped.replace("\n", "<br>")


def evidence_html(result: AskResult, t: dict) -> str:
    cards = []
    for i, e in enumerate(result.evidence, 1):
        cards.append(f'<div class="evidence-card"><div class="meta">#{i} · <b>{html.escape(e.source)}</b>'
                     f" p.{e.pages} · score {e.score:.3f}</div><div>{_mark(e.text, e.support)}</div></div>")  # fmt: skip
    return f"<h4>{t['evidence']}</h4>" + "".join(cards)


def banner(service: Service, t: dict) -> str:
    b = service.bundle
    if b is None:
        return f"**{t['no_bundle']}**"
    label = f"{b.version} ({(b.rev or '')[:8]})" if b.version else str(b.path)
    key = {"prod": "banner_prod", "workspace": "banner_workspace"}.get(
        service.served.kind, "banner_version"
    )
    text = t[key].format(label=label, system=b.system)
    if service.ab_version:
        text += t["banner_ab"].format(a=b.system, b=service.ab_version)
    return text


def footer(service: Service, t: dict) -> str:
    b = service.bundle
    if b is None:
        return ""
    return "<small>" + t["footer"].format(version=b.version or "workspace", rev=(b.rev or "–")[:8],
                                          system=b.system) + "</small>"  # fmt: skip


def build(service: Service):
    import gradio as gr
    import pandas as pd

    from pdfqa.app.pages import phrases, render_page
    from pdfqa.app.service import MODES
    from pdfqa.app.texts import texts

    t = texts(service.lang)
    cfg = service.cfg
    pages_dir = cfg.paths.app_dir / "pages"

    def page_image(choice: str | None, last: dict | None):
        if not choice or not last:
            return None
        match = CHIP.match(choice)
        if not match:
            return None
        source, page = match["source"], int(match["page"])
        support = next((e["support"] or e["text"] for e in last["evidence"]
                        if e["source"] == source and e["page"] == page), "")  # fmt: skip
        pdf = (cfg.paths.pdfs / source).resolve()
        if cfg.paths.pdfs.resolve() not in pdf.parents or not pdf.exists():
            return None
        try:
            return str(render_page(pdf, page, phrases(support), pages_dir))
        except Exception:
            log.exception("rendering %s p.%d failed", source, page)
            return None

    # -- handlers -------------------------------------------------------------------------
    def respond(message, history, system, top_k, mode, sources, request: gr.Request):
        history = list(history or [])
        if not (message or "").strip():
            raise gr.Error(t["empty_question"], print_exception=False)
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": "…"}]
        keep = gr.update()
        yield history, "", keep, keep, keep, keep, None
        session = getattr(request, "session_hash", "") or ""
        result = None
        try:
            for item in service.stream(message, system or None, int(top_k), mode, session,
                                       sources or None):  # fmt: skip
                if isinstance(item, str):
                    history[-1] = {"role": "assistant", "content": item}
                    yield history, "", keep, keep, keep, keep, None
                else:
                    result = item
        except PdfqaError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            log.exception("answering failed")
            raise gr.Error(t["failed"].format(request_id="-"), print_exception=False) from None
        history[-1] = {"role": "assistant", "content": answer_markdown(result, t)}
        pages = [chip(s, p) for s, p in result.citations] or list(
            dict.fromkeys(chip(e.source, e.page) for e in result.evidence)
        )
        last = result.to_dict()
        first = pages[0] if pages else None
        yield (history, badge_markdown(result, t), gr.update(choices=pages, value=first),
               page_image(first, last), evidence_html(result, t), "", last)  # fmt: skip

    def send_feedback(rating, correction, reason, quote, last):
        if not last:
            raise gr.Error(t["feedback_no_answer"], print_exception=False)
        args = (last["request_id"], rating, correction or "", reason or "", quote or "")
        _guard(service, lambda: service.feedback(*args))
        return t["feedback_saved"], "", ""

    def liked(data: gr.LikeData, last):
        if last:
            _guard(
                service,
                lambda: service.feedback(last["request_id"], "up" if data.liked else "down"),
            )
        return t["feedback_saved"]

    def upload(file, progress=gr.Progress()):  # noqa: B008 (Gradio injects the tracker)
        if file is None:
            raise gr.Error(t["upload_none"], print_exception=False)
        path = file if isinstance(file, str) else getattr(file, "name", file)
        from pathlib import Path

        name = getattr(file, "orig_name", None) or Path(path).name
        message = _guard(service, lambda: service.upload(path, name, progress=progress))
        return message, service.documents()

    def on_compare(question, left, right, request: gr.Request):
        session = getattr(request, "session_hash", "") or ""
        pair = _guard(service, lambda: service.compare(question, left, right, session))
        return pair["a"], pair["b"], pair, ""

    def on_vote(choice, pair, request: gr.Request):
        if not pair:
            raise gr.Error(t["vote_first"], print_exception=False)
        session = getattr(request, "session_hash", "") or ""
        done, tally = _guard(service, lambda: service.vote(pair["pair_id"], choice, session))
        return (
            t["vote_saved"].format(a=done["a_arm"], b=done["b_arm"]),
            tally.markdown(service.lang),
            None,
        )

    def monitor_view():
        """Summary lines, latency p50/p95 and abstention rate per minute, confidence histogram."""
        summary = service.monitor.summary()
        rows = pd.DataFrame(service.monitor.rows()[-5000:])
        if rows.empty:
            latency = pd.DataFrame({"minute": [], "ms": [], "series": []})
            rates = pd.DataFrame({"minute": [], "rate": []})
        else:
            rows["minute"] = pd.to_datetime(rows["ts"], unit="s").dt.strftime("%m-%d %H:%M")
            by = rows.groupby("minute")
            latency = pd.concat([by["total_ms"].quantile(0.5).rename("p50"),
                                 by["total_ms"].quantile(0.95).rename("p95")], axis=1)  # fmt: skip
            latency = latency.reset_index().melt(
                id_vars="minute", var_name="series", value_name="ms"
            )
            rates = by["abstained"].mean().rename("rate").reset_index()
        bins = [0] * 10
        for c in summary.confidence:
            bins[min(9, int(c * 10))] += 1
        hist = pd.DataFrame({"confidence": [f"{i / 10:.1f}" for i in range(10)], "count": bins})
        lines = "\n".join(f"- {line}" for line in summary.lines(service.lang))
        alerts = service.alerter.current() if service.alerter else []
        if alerts:
            lines = "\n".join(f"> **{a.message(service.lang)}**" for a in alerts) + "\n\n" + lines
        return lines, latency, hist, rates

    # -- the page -------------------------------------------------------------------------
    with gr.Blocks(title=t["title"], analytics_enabled=False) as demo:
        banner_md = gr.Markdown(f"## {t['title']}\n\n{banner(service, t)}", elem_id="banner")
        last = gr.State(None)
        pair = gr.State(None)
        with gr.Tabs():
            with gr.Tab(t["tab_ask"], id="ask"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(label=t["tab_ask"], height=460, elem_id="chat")
                        question = gr.Textbox(label=t["question"], placeholder=t["placeholder"],
                                              elem_id="question", lines=1)  # fmt: skip
                        with gr.Row():
                            send = gr.Button(t["send"], variant="primary", elem_id="send")
                            clear = gr.Button(t["clear"])
                        examples = service.examples()
                        if examples:
                            gr.Examples(
                                examples=[[q] for q in examples],
                                inputs=question,
                                label=t["examples"],
                            )
                        with gr.Accordion(t["settings"], open=False):
                            system = gr.Dropdown(service.systems or [""], label=t["system"],
                                                 value=service.bundle.system if service.bundle else "")  # fmt: skip
                            top_k = gr.Slider(
                                1, 10, value=cfg.serve.top_k, step=1, label=t["top_k"]
                            )
                            mode = gr.Radio(list(MODES), value="hybrid", label=t["mode"])
                            sources = gr.Dropdown(service.document_names(), value=[], multiselect=True,
                                                  label=t["sources"], elem_id="sources")  # fmt: skip
                        with gr.Accordion(t["send_feedback"], open=False):
                            rating = gr.Radio(
                                [("👍", "up"), ("👎", "down")], value="down", label="👍 / 👎"
                            )
                            correction = gr.Textbox(label=t["correction"], lines=2)
                            quote = gr.Textbox(label=t["quote"], lines=2)
                            reason = gr.Radio(
                                [t["reason_evidence"], t["reason_answer"]], label=t["reason"]
                            )
                            feedback_btn = gr.Button(t["send_feedback"])
                        feedback_status = gr.Markdown()
                    with gr.Column(scale=2):
                        badge = gr.Markdown(elem_id="badge")
                        chips = gr.Radio([], label=t["chips"], elem_id="chips", interactive=True)
                        image = gr.Image(label=t["page_image"], type="filepath", interactive=False,
                                         elem_id="page-image", height=520)  # fmt: skip
                        evidence = gr.HTML(elem_id="evidence")
                outputs = [chat, badge, chips, image, evidence, question, last]
                inputs = [question, chat, system, top_k, mode, sources]
                send.click(respond, inputs, outputs, api_visibility="private", concurrency_id="ask")
                question.submit(
                    respond, inputs, outputs, api_visibility="private", concurrency_id="ask"
                )
                clear.click(lambda: ([], "", gr.update(choices=[], value=None), None, "", None),
                            None, [chat, badge, chips, image, evidence, last], api_visibility="private")  # fmt: skip
                chips.change(page_image, [chips, last], image, api_visibility="private")
                chat.like(liked, [last], feedback_status, api_visibility="private")
                feedback_btn.click(send_feedback, [rating, correction, reason, quote, last],
                                   [feedback_status, correction, quote], api_visibility="private")  # fmt: skip

            with gr.Tab(t["tab_docs"], id="docs"):
                docs = gr.Dataframe(value=service.documents(), headers=[t["col_file"], t["col_pages"],
                                    t["col_status"], t["col_chunks"]], label=t["docs_table"],
                                    interactive=False, elem_id="docs")  # fmt: skip
                file = gr.File(
                    label=t["upload"], file_types=[".pdf"], file_count="single", elem_id="upload"
                )
                upload_btn = gr.Button(t["upload_button"], variant="primary")
                upload_status = gr.Markdown(elem_id="upload-status")
                uploaded = upload_btn.click(upload, [file], [upload_status, docs], api_name="upload",
                                 concurrency_limit=cfg.serve.upload_concurrency, concurrency_id="upload")  # fmt: skip
                # the new file can be chosen in 질문하기's document filter right away
                uploaded.then(lambda: gr.update(choices=service.document_names()), None, sources,
                              api_visibility="private")  # fmt: skip

            with gr.Tab(t["tab_compare"], id="compare"):
                gr.Markdown(t["compare_hint"])
                arms = service.arms() or [""]
                with gr.Row():
                    left = gr.Dropdown(arms, value=arms[0], label=t["arm_left"])
                    right = gr.Dropdown(
                        arms, value=arms[1] if len(arms) > 1 else arms[0], label=t["arm_right"]
                    )
                cq = gr.Textbox(
                    label=t["question"], placeholder=t["placeholder"], elem_id="compare-question"
                )
                ask_both = gr.Button(t["ask_both"], variant="primary")
                with gr.Row():
                    answer_a = gr.Textbox(label=t["answer_a"], lines=6, interactive=False)
                    answer_b = gr.Textbox(label=t["answer_b"], lines=6, interactive=False)
                with gr.Row():
                    vote_buttons = [(gr.Button(t[key]), value) for key, value in
                                    (("vote_a", "A"), ("vote_b", "B"), ("vote_tie", "tie"), ("vote_bad", "both_bad"))]  # fmt: skip
                vote_status = gr.Markdown()
                tally_md = gr.Markdown(elem_id="tally")
                ask_both.click(on_compare, [cq, left, right], [answer_a, answer_b, pair, vote_status],
                               api_visibility="private", concurrency_id="ask")  # fmt: skip
                for button, value in vote_buttons:
                    button.click(lambda p, r=None, v=value: on_vote(v, p, r), [pair], [vote_status, tally_md, pair],
                                 api_visibility="private")  # fmt: skip

            with gr.Tab(t["tab_monitor"], id="monitor") as monitor_tab:
                summary_md = gr.Markdown(elem_id="monitor-summary")
                with gr.Row():
                    latency_plot = gr.LinePlot(
                        x="minute", y="ms", color="series", label=t["latency_plot"], height=320
                    )
                    conf_plot = gr.BarPlot(
                        x="confidence", y="count", label=t["confidence_plot"], height=320
                    )
                    rate_plot = gr.LinePlot(x="minute", y="rate", label=t["rates_plot"], height=320)
                refresh = gr.Button(t["monitor_refresh"])
                timer = gr.Timer(cfg.serve.monitor_every_s)
                views = [summary_md, latency_plot, conf_plot, rate_plot]
                refresh.click(monitor_view, None, views, api_visibility="private")
                timer.tick(monitor_view, None, views, api_visibility="private")
                demo.load(monitor_view, None, views, api_visibility="private")
                monitor_tab.select(monitor_view, None, views, api_visibility="private")
        footer_md = gr.Markdown(footer(service, t), elem_id="footer")

        def served_view():
            """Banner and footer follow a hot swap (a newly promoted version) without a reload."""
            return f"## {t['title']}\n\n{banner(service, t)}", footer(service, t)

        every = cfg.serve.reload_s if service.follow and cfg.serve.reload_s > 0 else None
        if every:
            gr.Timer(every).tick(
                served_view, None, [banner_md, footer_md], api_visibility="private"
            )
        demo.load(served_view, None, [banner_md, footer_md], api_visibility="private")

        # -- API endpoints (gradio_client, scripts) -------------------------------------------
        def api_answer(
            question: str,
            system: str = "",
            top_k: int = 0,
            mode: str = "hybrid",
            sources: list[str] | None = None,
        ) -> dict:
            """Answer a question; the result has the text, citations, evidence and scores.
            ``sources``: only from these documents (file names; empty: all)."""
            return _guard(
                service,
                lambda: service.ask(question, system or None, top_k or None, mode, "api",
                                    sources or None).to_dict(),
            )  # fmt: skip

        def api_feedback(
            request_id: str, rating: str, correction: str = "", reason: str = "", evidence: str = ""
        ) -> dict:
            """👍/👎 (up|down) on an answer by its request_id, with an optional correction and the
            document passage it comes from."""
            args = (request_id, rating, correction, reason, evidence)
            return _guard(service, lambda: service.feedback(*args))

        def api_compare(question: str, left: str, right: str) -> dict:
            """Two arms answer; the reply shows them as A and B (arms hidden) with a pair_id."""
            p = _guard(service, lambda: service.compare(question, left, right, "api"))
            return {"pair_id": p["pair_id"], "a": p["a"], "b": p["b"]}

        def api_vote(pair_id: str, vote: str) -> dict:
            """A | B | tie | both_bad for a pair from compare; returns the running tally."""
            done, tally = _guard(service, lambda: service.vote(pair_id, vote, "api"))
            return {"a_arm": done["a_arm"], "b_arm": done["b_arm"], **tally.__dict__}

        def api_documents() -> list:
            """The corpus: file, pages, status, chunks."""
            return service.documents()

        def api_monitor() -> dict:
            """The monitoring summary (requests, latency, abstention, feedback, drift)."""
            s = service.monitor.summary()
            alerts = service.alerter.current() if service.alerter else []
            return {**{k: v for k, v in s.__dict__.items() if k != "confidence"},
                    "alerts": [{"rule": a.rule, "value": a.value, "limit": a.limit,
                                "message": a.message(service.lang)} for a in alerts]}  # fmt: skip

        for fn, name in ((api_answer, "answer"), (api_feedback, "feedback"), (api_compare, "compare"),
                         (api_vote, "vote"), (api_documents, "documents"), (api_monitor, "monitor")):  # fmt: skip
            gr.api(
                fn, api_name=name, concurrency_id="ask" if name in ("answer", "compare") else None
            )
    return demo
