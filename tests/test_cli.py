import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, scanned_pdf

PDFQA = Path(sys.executable).parent / "pdfqa"


def _pdfqa(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([PDFQA, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_is_instant_and_lists_commands():
    start = time.perf_counter()
    proc = _pdfqa("--help")
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0
    for command in ("ingest", "chunk", "inspect"):
        assert command in proc.stdout
    assert elapsed < 3.0, f"pdfqa --help took {elapsed:.1f}s: a heavy import leaked into cli.py"


def test_cli_module_imports_nothing_heavy():
    code = "import sys, pdfqa.cli; print(sorted(m for m in ('torch','pypdf','kiwipiepy','dvc') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_inspect_explains_bad_pdfs(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf(1))
    (tmp_path / "empty.pdf").write_bytes(b"")
    proc = _pdfqa("inspect", str(tmp_path / "scan.pdf"), str(tmp_path / "empty.pdf"))
    assert proc.returncode == 1
    assert "OCR needed" in proc.stdout
    assert "empty file (0 bytes)" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_inspect_good_pdf():
    proc = _pdfqa("inspect", str(ROOT / "data" / "pdfs" / "cjk-ko-doc.pdf"))
    assert proc.returncode == 0, proc.stdout
    assert "6 pages" in proc.stdout and "Hangul" in proc.stdout


def test_bad_params_are_one_clear_line(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("chunk:\n  max_tokens: 10\n  overlap_tokens: 20\n")
    proc = _pdfqa("chunk", "--params", str(params))
    assert proc.returncode == 1
    assert "overlap_tokens" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_list_shows_builtins_and_licences(tmp_path):
    proc = _pdfqa("models", "list", "--base-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "builtin:multilingual-e5-small" in proc.stdout
    assert "builtin:gemma-3-270m" in proc.stdout
    assert "Gemma Terms of Use" in proc.stdout
    assert "not materialised" in proc.stdout


def test_models_pull_rejects_unknown_names(tmp_path):
    proc = _pdfqa("models", "pull", "nope", "--base-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "unknown builtin 'nope'" in proc.stderr
