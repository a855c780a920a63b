"""Turn pypdf's raw page text into clean Korean paragraphs.

PDF text comes as visual lines. Three things make it poor input for chunking and retrieval:
running headers/footers and page numbers that repeat on every page, dot leaders in tables of
contents, and lines that the typesetter broke inside a sentence. Korean wraps carry no hyphen
and may fall inside a word (ko.TeX and Word both break between syllables), so whether a
rejoined line needs a space is decided from the document itself: which of "AB" and "A B"
occurs more often elsewhere in the same document.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

from pdfqa.korean import is_hangul, normalize

_PAGE_NUMBER_RE = re.compile(
    r"^(?:page\s*)?[-–—(\[]?\s*(\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?(?:\s*/\s*\d{1,4})?$",
    re.IGNORECASE,
)
_LEADING_NUMBER_RE = re.compile(r"^(\d{1,4})\s+\S")
_TRAILING_NUMBER_RE = re.compile(r"\S\s+(\d{1,4})$")
_DOT_LEADER_RE = re.compile(r"\s*(?:\.\s*){4,}")
_SPACES_RE = re.compile(r"[ \t\u00a0\u3000]+")
LIST_START_RE = re.compile(
    r"^(?:[•·▪◦●○■□◆◇▶►※\-–—*]\s|\(?\d{1,3}[.)]\s|[①-⑳]|제\s*\d+\s*[장절조항편])"
)
# "가. 나. 다." list markers look exactly like a wrapped sentence ending ("…했습니 / 다. 그"),
# so they only start a new paragraph after a line that itself ended a sentence.
_KOREAN_LIST_RE = re.compile(r"^[가나다라마바사아자차카타파하][.)]\s")
_TERMINAL = set(".!?。？！:;")
_CLOSING = set(",.;:!?)]}」』〉》%’”·…")
_OPENING = set("([{「『〈《‘“")


@dataclass(frozen=True)
class CleanupOptions:
    header_footer_min_pages: int = 3
    header_footer_lines: int = 2


def _page_lines(raw: str) -> list[str]:
    lines = []
    for line in normalize(raw).splitlines():
        line = _SPACES_RE.sub(" ", line).strip()
        if line:
            lines.append(_DOT_LEADER_RE.sub(" … ", line).strip())
    return lines


def _header_key(line: str) -> str:
    """Same key for "4 제 1 장 소개" and "제 1 장 소개 5": page numbers off, digits as #."""
    key = re.sub(r"^\d{1,4}\s+|\s+\d{1,4}$", "", line)
    return re.sub(r"\d", "#", key)


def _edge_positions(lines: list[str], k: int) -> list[int]:
    return sorted(set(range(min(k, len(lines)))) | set(range(max(0, len(lines) - k), len(lines))))


def _printed_page_offset(pages: list[list[str]], k: int, min_pages: int) -> int | None:
    """Most documents print page n on PDF page n + offset; find that offset if it is consistent."""
    offsets: Counter[int] = Counter()
    for index, lines in enumerate(pages):
        seen = set()
        for pos in _edge_positions(lines, k):
            line = lines[pos]
            for pattern in (_PAGE_NUMBER_RE, _LEADING_NUMBER_RE, _TRAILING_NUMBER_RE):
                match = pattern.search(line)
                if match and match.group(1).isdigit():
                    seen.add(index + 1 - int(match.group(1)))
        offsets.update(seen)
    if not offsets:
        return None
    offset, count = offsets.most_common(1)[0]
    return offset if count >= min_pages else None


def strip_headers_footers(pages: list[list[str]], opts: CleanupOptions) -> list[list[str]]:
    """Drop lines at the top/bottom of pages that repeat across pages or carry the page number."""
    k = opts.header_footer_lines
    if k == 0:
        return pages
    key_pages: Counter[str] = Counter()
    for lines in pages:
        key_pages.update({_header_key(lines[pos]) for pos in _edge_positions(lines, k)})
    offset = _printed_page_offset(pages, k, opts.header_footer_min_pages)

    cleaned = []
    for index, lines in enumerate(pages):
        printed = str(index + 1 - offset) if offset is not None else None
        drop = set()
        for pos in _edge_positions(lines, k):
            line = lines[pos]
            key = _header_key(line)
            bare_number = _PAGE_NUMBER_RE.match(line)
            if (bare_number and (pos in (0, len(lines) - 1))) or (
                key and key_pages[key] >= opts.header_footer_min_pages
            ):
                drop.add(pos)
            elif (
                printed
                and (key_pages[key] >= 2 or pos in (0, len(lines) - 1))
                and (line.startswith(printed + " ") or line.endswith(" " + printed))
            ):
                # "4 제 1 장 소개" / "간단한 연혁 3": a running header carrying this page's number
                drop.add(pos)
        cleaned.append([line for pos, line in enumerate(lines) if pos not in drop])
    return cleaned


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


class _Joiner:
    """Decides how two visual lines continue each other, using the document's own text."""

    def __init__(self, document_text: str):
        self.text = document_text

    def separator(self, prev: str, nxt: str) -> str:
        a, b = prev[-1], nxt[0]
        if b in _CLOSING or a in _OPENING:
            return ""
        if a == "-" and len(prev) > 1 and prev[-2].isascii() and prev[-2].isalpha():
            return "\0hyphen"
        both_words = (a.isalnum() or is_hangul(a)) and (b.isalnum() or is_hangul(b))
        if not both_words:
            return " "
        if a.isascii() and b.isascii():
            return " "
        for width in (2, 1):
            left, right = prev[-width:], nxt[:width]
            if " " in left or " " in right:
                continue
            glued = self.text.count(left + right)
            spaced = self.text.count(left + " " + right)
            if glued != spaced:
                return "" if glued > spaced else " "
        return "" if is_hangul(a) and is_hangul(b) else " "

    def join(self, prev: str, nxt: str) -> str:
        sep = self.separator(prev, nxt)
        if sep == "\0hyphen":
            word_start = prev.rsplit(" ", 1)[-1][:-1]
            word_end = nxt.split(" ", 1)[0]
            dehyphenated = word_start + word_end
            if self.text.count(dehyphenated) > self.text.count(word_start + "-" + word_end):
                return prev[:-1] + nxt
            return prev + nxt
        return prev + sep + nxt


def _paragraph_break(prev: str, nxt: str, typical_width: int) -> bool:
    """prev is the previous visual line, not the paragraph built so far."""
    if LIST_START_RE.match(nxt):
        return True
    if prev[-1] in _TERMINAL and _KOREAN_LIST_RE.match(nxt):
        return True
    # A line that ends a sentence and stops short ends its paragraph. Without a sentence end it
    # takes a much shorter line (a heading, a date): pypdf also cuts visual lines where the font
    # changes, and those fragments must be rejoined.
    width = _width(prev)
    if prev[-1] in _TERMINAL:
        return width < 0.85 * typical_width
    return width < 0.4 * typical_width


def join_lines(lines: list[str], joiner: _Joiner) -> list[str]:
    """Visual lines → paragraphs."""
    if not lines:
        return []
    widths = sorted(_width(line) for line in lines)
    typical = widths[len(widths) - 1 - len(widths) // 5]  # ~80th percentile; max on short pages
    paragraphs = [lines[0]]
    for prev, line in pairwise(lines):
        if _paragraph_break(prev, line, typical):
            paragraphs.append(line)
        else:
            paragraphs[-1] = joiner.join(paragraphs[-1], line)
    return paragraphs


def clean_pages(raw_pages: list[str], opts: CleanupOptions | None = None) -> list[str]:
    """Clean all pages of one document; returns page texts with one paragraph per line."""
    opts = opts or CleanupOptions()
    pages = strip_headers_footers([_page_lines(raw) for raw in raw_pages], opts)
    joiner = _Joiner("\n".join(line for lines in pages for line in lines))
    return ["\n".join(join_lines(lines, joiner)) for lines in pages]
