"""Cited pages as images, rendered on the server with pypdfium2 (a browser PDF viewer would load
pdf.js from a CDN and fail offline), with the chunk's text marked where the text layer allows:
phrases of the supporting sentence are searched in the page's text layer and their boxes drawn.
Some PDFs map Latin letters and digits to private code points (pypdf repairs them, pdfium does
not), so the search uses Hangul phrases first. Images are cached by file, page and marks."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

_lock = threading.Lock()  # pdfium is not thread-safe
HANGUL_RUN = re.compile(r"[가-힣]+(?:\s+[가-힣]+){0,3}")


def phrases(text: str, limit: int = 6) -> list[str]:
    """Longest Hangul word runs (up to 4 words) of ``text``: what the text layer can match."""
    runs = sorted({m.group(0) for m in HANGUL_RUN.finditer(text) if len(m.group(0)) >= 4},
                  key=lambda s: (-len(s), s))  # fmt: skip
    return runs[:limit]


def render_page(pdf: Path, page: int, marks: list[str], out_dir: Path, scale: float = 1.4) -> Path:
    """PNG of 1-based ``page`` of ``pdf`` with every phrase in ``marks`` boxed."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    key = hashlib.sha256(
        f"{pdf.resolve()}|{pdf.stat().st_mtime_ns}|{page}|{marks}".encode()
    ).hexdigest()[:16]
    out = out_dir / f"{pdf.stem[:40]}-p{page}-{key}.png"
    if out.exists():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    with _lock:
        doc = pdfium.PdfDocument(str(pdf))
        try:
            if not 1 <= page <= len(doc):
                raise ValueError(f"{pdf.name} has {len(doc)} pages, not {page}")
            pdf_page = doc[page - 1]
            _, height = pdf_page.get_size()
            image = pdf_page.render(scale=scale).to_pil().convert("RGB")
            text_page = pdf_page.get_textpage()
            boxes = []
            for phrase in marks:
                search = text_page.search(phrase, match_case=False)
                found = search.get_next()
                while found and len(boxes) < 40:
                    index, count = found
                    for i in range(text_page.count_rects(index, count)):
                        boxes.append(text_page.get_rect(i))
                    found = search.get_next()
        finally:
            doc.close()
    draw = ImageDraw.Draw(image, "RGBA")
    for left, bottom, right, top in boxes:  # PDF points, origin bottom-left
        draw.rectangle([left * scale - 2, (height - top) * scale - 2,
                        right * scale + 2, (height - bottom) * scale + 2],
                       fill=(255, 221, 0, 70), outline=(230, 120, 0, 255), width=2)  # fmt: skip
    tmp = out.with_suffix(".tmp.png")
    image.save(tmp)
    tmp.replace(out)
    return out
