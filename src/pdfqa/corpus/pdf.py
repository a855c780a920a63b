"""Read one PDF file with pypdf and say plainly what is wrong with it when it can't be read.

Runs inside worker processes, so it returns plain data (no pypdf objects) and never raises
for a bad file: every failure becomes a ``skipped_reason`` the report and the log can show.
pypdf's per-font chatter ("Multiple definitions … /ToUnicode", "fontTools is required …") is
counted by kind instead of printed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from pdfqa.corpus.cleanup import CleanupOptions, clean_pages
from pdfqa.korean import MOJIBAKE_RE

BLANK = "blank"
NO_TEXT_LAYER = "no_text_layer"
MOJIBAKE = "mojibake"
EXTRACTION_ERROR = "extraction_error"
# Flags that mean something is wrong (and fail the stage under ingest.strict). A blank page
# (no text and no images, e.g. LaTeX's empty versos) is recorded but is not a problem.
FLAG_MESSAGES = {
    NO_TEXT_LAYER: "no text layer — OCR needed",
    MOJIBAKE: "garbled characters (replacement or private-use code points) — check the font's ToUnicode map",
    EXTRACTION_ERROR: "pypdf failed on this page",
}
MOJIBAKE_MAX_RATIO = 0.01


@dataclass
class PageText:
    page: int
    text: str
    flags: list[str] = field(default_factory=list)


@dataclass
class PdfResult:
    source: str
    doc_id: str
    pages: list[PageText] = field(default_factory=list)
    skipped_reason: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    n_pages_total: int = 0


def content_id(data: bytes) -> str:
    """doc_id: the file's content hash, so renaming a file keeps its id and copies dedupe."""
    return hashlib.sha256(data).hexdigest()[:16]


def sniff(data: bytes) -> str | None:
    """Reasons a file cannot be a PDF, found without parsing it."""
    if not data:
        return "empty file (0 bytes)"
    if b"%PDF-" not in data[:1024]:
        head = data[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
        return f"not a PDF (file starts with {head!r}, no %PDF- header)"
    return None


def _warning_kind(message: str) -> str:
    return re.sub(r"0x[0-9a-fA-F]+|\d+", "#", message.strip())[:120]


class _Counter(logging.Handler):
    def __init__(self, counts: Counter):
        super().__init__(level=logging.WARNING)
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[_warning_kind(record.getMessage())] += 1


@contextmanager
def _captured_pypdf_warnings(counts: Counter):
    logger = logging.getLogger("pypdf")
    handler = _Counter(counts)
    old_propagate, old_level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for item in caught:
            counts[_warning_kind(str(item.message))] += 1
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = old_propagate, old_level


def _has_images(page) -> bool:
    """True when the page paints an image XObject: a scan or photo instead of text."""
    try:
        xobjects = page.get("/Resources", {}).get_object().get("/XObject", {}).get_object()
        return any(x.get_object().get("/Subtype") == "/Image" for x in xobjects.values())
    except Exception:
        return False


def _page_flags(text: str, min_chars: int, has_images: bool) -> list[str]:
    visible = sum(1 for c in text if not c.isspace())
    flags = []
    if visible < min_chars:
        flags.append(NO_TEXT_LAYER if has_images else BLANK)
    elif len(MOJIBAKE_RE.findall(text)) > MOJIBAKE_MAX_RATIO * visible:
        flags.append(MOJIBAKE)
    return flags


def read_pdf(
    source: str, data: bytes, min_page_chars: int = 10, cleanup: CleanupOptions | None = None
) -> PdfResult:
    """Extract and clean every page of one PDF; failures end up in ``skipped_reason``."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    result = PdfResult(source=source, doc_id=content_id(data))
    if reason := sniff(data):
        result.skipped_reason = reason
        return result

    import io

    counts: Counter[str] = Counter()
    raw_pages: list[str] = []
    errors: set[int] = set()
    image_pages: set[int] = set()
    with _captured_pypdf_warnings(counts):
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                result.skipped_reason = "encrypted PDF: a password is required to open it"
                return result
            result.n_pages_total = len(reader.pages)
            for index, page in enumerate(reader.pages):
                try:
                    raw_pages.append(page.extract_text() or "")
                    if len(raw_pages[-1].strip()) < min_page_chars and _has_images(page):
                        image_pages.add(index)
                except Exception as exc:  # one broken page must not lose the rest
                    counts[_warning_kind(f"page extraction failed: {type(exc).__name__}")] += 1
                    raw_pages.append("")
                    errors.add(index)
        except FileNotDecryptedError:
            result.skipped_reason = "encrypted PDF: a password is required to open it"
            return result
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            result.skipped_reason = f"corrupt or truncated PDF ({type(exc).__name__}: {exc})"[:300]
            return result
        except Exception as exc:
            result.skipped_reason = f"unreadable PDF ({type(exc).__name__}: {exc})"[:300]
            return result
    if not raw_pages:
        result.skipped_reason = "PDF has no pages"
        return result

    cleaned = clean_pages(raw_pages, cleanup)
    for index, text in enumerate(cleaned):
        flags = (
            [EXTRACTION_ERROR]
            if index in errors
            else _page_flags(text, min_page_chars, index in image_pages)
        )
        result.pages.append(PageText(page=index + 1, text=text, flags=flags))
    result.warnings = dict(sorted(counts.items()))
    return result
