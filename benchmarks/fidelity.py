"""Extraction fidelity: character error rate of our ingest vs raw pypdf on known Korean text.

The fixture (tests/fixtures/fidelity/) is chapter 1 of the Korean Debian FAQ rendered to PDF by
LibreOffice with a running header and page numbers (see make_fidelity_pdf.py). CER is computed
after removing all whitespace from both sides: PDF text does not store word spaces reliably, and
what matters here is that every character comes back once, in order, with headers/page numbers
gone. Raw pypdf keeps the header and page-number lines, which count as insertions.

    python benchmarks/fidelity.py [--pdf X.pdf --txt X.txt]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pdfqa.korean import squash  # the same whitespace-insensitive form QA evidence uses

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fidelity"


def cer(reference: str, hypothesis: str) -> float:
    from rapidfuzz.distance import Levenshtein

    ref, hyp = squash(reference), squash(hypothesis)
    return Levenshtein.distance(ref, hyp) / max(1, len(ref))


def raw_pypdf_text(pdf: Path) -> str:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return "\n".join(page.extract_text() or "" for page in PdfReader(pdf).pages)


def ingest_text(pdf: Path) -> str:
    from pdfqa.corpus.pdf import read_pdf

    result = read_pdf(pdf.name, pdf.read_bytes())
    if result.skipped_reason:
        raise SystemExit(f"{pdf}: {result.skipped_reason}")
    return "\n".join(page.text for page in result.pages)


def measure(pdf: Path, txt: Path) -> dict[str, float]:
    reference = txt.read_text(encoding="utf-8")
    return {
        "chars": len(squash(reference)),
        "cer_pdfqa": cer(reference, ingest_text(pdf)),
        "cer_raw_pypdf": cer(reference, raw_pypdf_text(pdf)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf", type=Path, default=FIXTURE / "faq-ko-ch1.pdf")
    parser.add_argument("--txt", type=Path, default=FIXTURE / "faq-ko-ch1.txt")
    args = parser.parse_args()
    result = measure(args.pdf, args.txt)
    print(f"fixture: {args.pdf.name} ({result['chars']} non-space reference characters)")
    print(f"CER pdfqa ingest : {100 * result['cer_pdfqa']:.2f}%  (target <= 1%)")
    print(f"CER raw pypdf    : {100 * result['cer_raw_pypdf']:.2f}%")


if __name__ == "__main__":
    main()
