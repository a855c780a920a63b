"""Character error rate of ingest on a LibreOffice-rendered Korean document (see
benchmarks/make_fidelity_pdf.py): every character back once, headers and page numbers gone."""

import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import fidelity


def test_cer_on_known_korean_text_is_at_most_one_percent():
    result = fidelity.measure(
        fidelity.FIXTURE / "faq-ko-ch1.pdf", fidelity.FIXTURE / "faq-ko-ch1.txt"
    )
    assert result["chars"] > 4000
    assert result["cer_pdfqa"] <= 0.01
    assert result["cer_pdfqa"] < result["cer_raw_pypdf"]  # raw keeps headers + page numbers


def test_cer_counts_errors():
    assert fidelity.cer("한글 문서", "한글문서") == 0.0
    assert fidelity.cer("한글문서", "한글문서 3") == 0.25
