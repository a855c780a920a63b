"""A scripted visit of a running app in headless Chromium (Debian's ``chromium`` through the
``playwright`` package, ``executable_path`` — never ``playwright install``): type a Korean
question, wait for the answer and its page chips, click one, see the rendered page, open every
tab, and take a screenshot of each. The browser test and ``benchmarks/app_screenshots.py`` (the
images in docs/img) both use it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TABS = (("문서", "documents", "#docs"), ("비교", "compare", "#compare-question"),
        ("모니터링", "monitoring", "#monitor-summary"))  # fmt: skip


def tour(url: str, question: str, folders: list[Path], expect_source: str = ".pdf p.") -> dict:
    """Returns what it saw: {"image_width", "shots": [paths]}; raises on anything missing."""
    from playwright.sync_api import expect, sync_playwright

    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []

    def shot(page, name: str) -> None:
        for folder in folders:
            path = folder / f"app-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
            page.goto(url, wait_until="domcontentloaded")
            expect(page.locator("#question textarea")).to_be_visible(timeout=60_000)
            box = page.locator("#question textarea")
            box.click()
            box.type(question, delay=10)
            page.locator("#send").click()
            chips = page.locator("#chips label")
            expect(chips.first).to_be_visible(timeout=180_000)
            expect(page.locator("#chat")).to_contain_text(expect_source, timeout=60_000)
            expect(page.locator("#badge")).to_contain_text("신뢰도")
            chips.first.click()
            image = page.locator("#page-image img")
            expect(image).to_be_visible(timeout=60_000)
            page.wait_for_function("() => { const i = document.querySelector('#page-image img');"
                                   " return i && i.complete && i.naturalWidth > 0; }", timeout=60_000)  # fmt: skip
            width = image.evaluate("img => img.naturalWidth")
            shot(page, "ask")
            for tab, name, marker in TABS:
                page.get_by_role("tab", name=tab).click()
                expect(page.locator(marker)).to_be_visible(timeout=30_000)
                if name == "monitoring":  # refreshed on opening: the question above is counted
                    expect(page.locator(marker)).to_contain_text(
                        re.compile(r"요청 수: [1-9]"), timeout=30_000
                    )
                shot(page, name)
        finally:
            browser.close()
    return {"image_width": width, "shots": shots}
