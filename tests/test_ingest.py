import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, encrypted_pdf, scanned_pdf

from pdfqa.config import IngestConfig, Params, Paths
from pdfqa.corpus.ingest import run_ingest
from pdfqa.corpus.pdf import BLANK, NO_TEXT_LAYER, read_pdf
from pdfqa.errors import PdfqaError
from pdfqa.jsonio import read_jsonl


def _paths(folder: Path, out: Path) -> Paths:
    return Paths(pdfs=folder, pages=out / "pages.jsonl", ingest_report=out / "report.json")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"<html>404</html>", "not a PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "corrupt or truncated"),
    ],
)
def test_unreadable_inputs_get_a_reason(data, reason):
    result = read_pdf("x.pdf", data)
    assert result.pages == []
    assert reason in result.skipped_reason


def test_encrypted_pdf_needs_password(small_pdf_bytes):
    data = encrypted_pdf(ROOT / "data" / "pdfs" / "cjk-ko-doc.pdf")
    assert "password" in read_pdf("e.pdf", data).skipped_reason


def test_encrypted_with_empty_user_password_is_read():
    data = encrypted_pdf(ROOT / "data" / "pdfs" / "cjk-ko-doc.pdf", password="")
    result = read_pdf("e.pdf", data)
    assert result.skipped_reason is None
    assert "한글" in "".join(p.text for p in result.pages)


def test_scanned_pages_are_flagged_for_ocr():
    result = read_pdf("scan.pdf", scanned_pdf(3))
    assert [p.flags for p in result.pages] == [[NO_TEXT_LAYER]] * 3


def test_blank_pages_are_not_problems():
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    out = BytesIO()
    writer.write(out)
    assert read_pdf("blank.pdf", out.getvalue()).pages[0].flags == [BLANK]


def test_pypdf_font_warnings_are_counted_not_printed(capsys, caplog):
    data = (ROOT / "data" / "pdfs" / "kotex-doc.pdf").read_bytes()
    result = read_pdf("kotex-doc.pdf", data)
    captured = capsys.readouterr()
    assert sum(result.warnings.values()) > 0
    assert any("ToUnicode" in kind for kind in result.warnings)
    assert "ToUnicode" not in captured.out + captured.err + caplog.text


def test_bad_files_never_lose_good_ones(bad_corpus, tmp_path):
    summary = run_ingest(IngestConfig(workers=2), _paths(bad_corpus, tmp_path / "out"))
    files = summary.report["files"]
    assert files["cjk-ko-part.pdf"]["status"] == "ok"
    assert files["oblivoir-part.pdf"]["status"] == "ok"
    assert files["copy-of-cjk.pdf"] == {
        "status": "duplicate",
        "doc_id": files["cjk-ko-part.pdf"]["doc_id"],
        "duplicate_of": "cjk-ko-part.pdf",
    }
    assert "password" in files["encrypted.pdf"]["skipped_reason"]
    assert "corrupt or truncated" in files["truncated.pdf"]["skipped_reason"]
    assert "not a PDF" in files["not-really.pdf"]["skipped_reason"]
    assert "empty file" in files["empty.pdf"]["skipped_reason"]
    assert files["scan.pdf"]["flagged_pages"] == {NO_TEXT_LAYER: [1, 2]}
    assert "OCR needed" in files["scan.pdf"]["warnings"][0]
    assert "notes.txt" not in files

    pages = list(read_jsonl(tmp_path / "out" / "pages.jsonl"))
    sources = {p["source"] for p in pages}
    assert sources == {"cjk-ko-part.pdf", "oblivoir-part.pdf", "scan.pdf"}
    assert [p["page"] for p in pages if p["source"] == "cjk-ko-part.pdf"] == [1, 2, 3]
    for page in pages:
        assert set(page) == {"doc_id", "source", "page", "text", "n_chars", "flags"}
        assert page["n_chars"] == len(page["text"])
    assert len(summary.problems) == 6  # 4 skipped + 1 duplicate + 1 scan


def test_output_is_identical_for_any_worker_count(bad_corpus, tmp_path):
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        run_ingest(IngestConfig(workers=workers), _paths(bad_corpus, out))
        outputs.append(((out / "pages.jsonl").read_bytes(), (out / "report.json").read_bytes()))
    assert outputs[0] == outputs[1]


def test_no_pdfs_is_a_clear_error(tmp_path):
    (tmp_path / "pdfs").mkdir()
    with pytest.raises(PdfqaError, match=r"no \.pdf files"):
        run_ingest(IngestConfig(), _paths(tmp_path / "pdfs", tmp_path))
    with pytest.raises(PdfqaError, match="does not exist"):
        run_ingest(IngestConfig(), _paths(tmp_path / "missing", tmp_path))


def test_only_bad_files_is_a_clear_error(tmp_path):
    folder = tmp_path / "pdfs"
    folder.mkdir()
    (folder / "empty.pdf").write_bytes(b"")
    with pytest.raises(PdfqaError, match="yielded text"):
        run_ingest(IngestConfig(), _paths(folder, tmp_path))


def _write_params(tmp_path: Path, folder: Path, strict: bool) -> Path:
    params = Params(
        paths=_paths(folder, tmp_path / "out"), ingest=IngestConfig(strict=strict, workers=1)
    )
    path = tmp_path / "params.yaml"
    path.write_text(json.dumps(params.model_dump(mode="json")))  # JSON is valid YAML
    return path


@pytest.mark.parametrize("strict", [False, True])
def test_stage_exit_code_and_log(bad_corpus, tmp_path, strict):
    params = _write_params(tmp_path, bad_corpus, strict)
    proc = subprocess.run(
        [sys.executable, "-m", "stages.ingest", "--params", str(params)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    for name in ("encrypted.pdf", "truncated.pdf", "not-really.pdf", "empty.pdf", "scan.pdf"):
        lines = [
            line for line in proc.stderr.splitlines() if line.split(" ", 1)[-1].startswith(name)
        ]
        assert len(lines) == 1, (name, proc.stderr)
    assert (tmp_path / "out" / "report.json").exists()
    if strict:
        assert proc.returncode == 1
        assert "ingest.strict" in proc.stderr
        assert "  encrypted.pdf: encrypted PDF" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
