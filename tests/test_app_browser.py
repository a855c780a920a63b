"""The app in a real headless browser (Debian's chromium, driven by the playwright package with
``executable_path`` — never `playwright install`): every tab opens, a Korean question typed into
the box gets an answer with page chips, clicking a chip shows the rendered page. Screenshots go
to the test's folder, and to $PDFQA_SCREENSHOTS (e.g. docs/img) when set. Skipped, with the
reason, only where chromium or the Nanum fonts are missing (.ci/run installs both)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from app_fixture import build_app_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
QUESTION = "개발 중단(obsolete) 상태로 간주되는 패키지는?"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Debian chromium is not installed (apt-get install chromium fonts-nanum)"
    fonts = (
        subprocess.run(["fc-list"], capture_output=True, text=True).stdout
        if shutil.which("fc-list")
        else ""
    )
    if "nanum" not in fonts.lower():
        return "fonts-nanum is not installed: Korean would render as boxes (apt-get install fonts-nanum)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


pytestmark.append(pytest.mark.skipif(_missing() is not None, reason=_missing() or ""))


@pytest.fixture(scope="module")
def url(sample_run, tmp_path_factory):
    from pdfqa.app.server import start_in_process

    cfg = build_app_params(sample_run, tmp_path_factory.mktemp("browser_app"))
    demo, _ = start_in_process(cfg, workspace=True)
    yield demo.local_url
    demo.close()


def test_every_tab_and_a_typed_korean_question_with_page_image(url, tmp_path):
    from pdfqa.app.tour import tour

    folders = [tmp_path] + (
        [Path(os.environ["PDFQA_SCREENSHOTS"])] if os.environ.get("PDFQA_SCREENSHOTS") else []
    )
    seen = tour(url, QUESTION, folders, expect_source="kotex-doc.pdf p.")
    assert seen["image_width"] > 300
    names = sorted(p.name for p in tmp_path.glob("app-*.png"))
    assert names == ["app-ask.png", "app-compare.png", "app-documents.png", "app-monitoring.png"]
    assert (tmp_path / "app-ask.png").stat().st_size > 10_000
