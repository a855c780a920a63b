"""Launching the app safely: loopback by default, no analytics or share links, a bounded queue,
uploads capped, only the rendered-page folder served as files, errors without tracebacks, and
library chatter in a log file instead of the terminal."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.app")


def quiet_environment() -> None:
    """Before gradio/transformers are imported: no phoning home, no progress bars."""
    for key, value in {"GRADIO_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1",
                       "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                       "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false",
                       "WANDB_MODE": "disabled"}.items():  # fmt: skip
        os.environ.setdefault(key, value)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:pass`` (from --auth or PDFQA_AUTH) → a tuple; None when unset."""
    value = value or os.environ.get("PDFQA_AUTH")
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        from pdfqa.errors import PdfqaError

        raise PdfqaError("--auth / PDFQA_AUTH must look like user:password")
    return user, password


def make_app(cfg: Params, *, stage: str | None = "prod", version: str | None = None,
             workspace: bool = False, ab: str | None = None, lang: str | None = None,
             repo: Path | str = ".", llm: dict | None = None):  # fmt: skip
    """(Blocks, Service), queued and ready to launch (tests launch it themselves). Serving a
    stage, the service follows it: every ``serve.reload_s`` it polls the registry and hot-swaps
    to a newly promoted (or rolled-back) version; live-metric alerts are checked in the
    background too."""
    quiet_environment()
    from pdfqa.app.alerts import Alerter
    from pdfqa.app.service import open_service
    from pdfqa.app.ui import build

    service = open_service(cfg, stage=stage, version=version, workspace=workspace, ab=ab,
                           lang=lang, repo=repo)  # fmt: skip
    service.llm = llm  # {"endpoint", "lora", "base"}: generative arms on a vLLM server
    service.start_reloader(cfg.serve.reload_s)
    service.alerter = Alerter(cfg.alerts, service.monitor, lang or cfg.serve.lang)
    service.alerter.start(service._stop)
    demo = build(service)
    demo.queue(max_size=cfg.serve.queue_size, default_concurrency_limit=cfg.serve.ask_concurrency)
    return demo, service


def launch_kwargs(cfg: Params, *, host: str | None = None, port: int | None = None,
                  auth: tuple[str, str] | None = None, root_path: str | None = None) -> dict:  # fmt: skip
    from pdfqa.app.ui import CSS, theme

    pages = (cfg.paths.app_dir / "pages").resolve()
    pages.mkdir(parents=True, exist_ok=True)
    return {
        "server_name": host or cfg.serve.host, "server_port": port or cfg.serve.port,
        "share": False, "show_error": False, "auth": auth, "root_path": root_path or "",
        "allowed_paths": [str(pages)], "max_file_size": int(cfg.serve.max_file_mb * 2**20),
        "enable_monitoring": False, "ssr_mode": False, "quiet": True,
        "theme": theme(), "css": CSS, "footer_links": [],
        "auth_message": "pdfqa: 로그인하세요" if (cfg.serve.lang == "ko") else "pdfqa: sign in",
    }  # fmt: skip


def start_in_process(cfg: Params, *, auth: tuple[str, str] | None = None, **open_kwargs):
    """(Blocks, Service) launched without blocking, on a free port (tests, benchmarks, the
    screenshot tour); ``demo.local_url`` is its address, ``demo.close()`` stops it."""
    demo, service = make_app(cfg, **open_kwargs)
    kwargs = launch_kwargs(cfg, auth=auth)
    kwargs["server_port"] = None  # Gradio takes the first free port from 7860 up
    demo.launch(prevent_thread_lock=True, **kwargs)
    return demo, service


def log_to_file(path: Path) -> None:
    """Everything below WARNING from libraries, and all of pdfqa's own lines, into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("pdfqa").addHandler(handler)
    logging.captureWarnings(True)
    for noisy in (
        "httpx",
        "uvicorn.access",
        "bitsandbytes",
        "transformers",
        "sentence_transformers",
    ):
        logging.getLogger(noisy).propagate = True
