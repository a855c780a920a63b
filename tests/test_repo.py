"""Repository contracts: params validate, the sample corpus is documented, eval data stays out."""

import yaml
from conftest import ROOT

from pdfqa.config import load_params


def test_params_yaml_is_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.chunk.overlap_tokens < params.chunk.max_tokens


def test_every_sample_pdf_is_in_sources():
    sources = (ROOT / "data" / "SOURCES.md").read_text(encoding="utf-8")
    pdfs = sorted((ROOT / "data" / "pdfs").glob("*.pdf"))
    assert 3 <= len(pdfs) <= 5
    for pdf in pdfs:
        assert pdf.name in sources
    assert "LPPL" in sources and "texlive-lang-korean" in sources


def test_evaluation_document_is_not_in_the_repo():
    assert not list(ROOT.glob("**/lshort-ko*.pdf"))


def test_dvc_stages_are_thin_module_entrypoints():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert stage["cmd"] == f"python -m stages.{name}"
        assert (ROOT / "stages" / f"{name}.py").exists()


def test_dvc_analytics_off():
    assert "analytics = false" in (ROOT / ".dvc" / "config").read_text()


def test_stage_files_are_io_plus_a_library_call():
    """The work lives in src/pdfqa/<concept>/ (importable by the A/B test, the app, tuning);
    a stage only reads its deps, calls the library and writes its outs."""
    for path in sorted((ROOT / "stages").glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) <= 80, f"{path.name}: {len(lines)} lines; move the logic into src/pdfqa/"
        assert not any(line.startswith("def ") and not line.startswith(("def main(", "def run(",
                       "def require(")) for line in lines), f"{path.name} defines helpers"  # fmt: skip


def test_bytecode_does_not_change_the_hash_of_code_deps(tmp_path):
    """Stages list code folders as deps; if DVC hashed the __pycache__ Python writes beside them,
    a fresh clone (no bytecode yet) would see every stage as changed and retrain everything."""
    import os

    from dvc.repo import Repo

    pyc = ROOT / "src" / "pdfqa" / "__pycache__" / "probe.cpython-311.pyc"
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(b"\0")
    try:
        with Repo(str(ROOT)) as repo:
            assert repo.dvcignore.is_ignored(repo.fs, os.fspath(pyc))
            assert not repo.dvcignore.is_ignored(
                repo.fs, os.fspath(ROOT / "src" / "pdfqa" / "config.py")
            )
    finally:
        pyc.unlink()


def test_make_lets_python_keep_the_bytecode_it_compiles():
    """`make install` installs with --no-compile and counts on stages keeping the .pyc of what
    they import: a PYTHONDONTWRITEBYTECODE=1 shell (many container images) must not reach the
    recipes, or every stage compiles torch and transformers from source again."""
    import os
    import shutil
    import subprocess

    import pytest

    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    probe = 'probe: ; @echo "[$${PYTHONDONTWRITEBYTECODE}] [$${PIP_DISABLE_PIP_VERSION_CHECK}]"'
    out = subprocess.run(
        [make, "-s", "-f", "Makefile", "--eval", probe, "probe"], cwd=ROOT, check=True,
        capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout  # fmt: skip
    assert out.strip() == "[] [1]"  # unset, while the Makefile's own exports still arrive


def test_a_test_only_system_must_be_evaluated_and_one_must_answer_val():
    import pytest
    from pydantic import ValidationError

    from pdfqa.config import EvalGenerationConfig

    assert EvalGenerationConfig(test_only=["base"]).test_only == ["base"]
    with pytest.raises(ValidationError, match="must name systems"):
        EvalGenerationConfig(systems=["lora", "extractive"], test_only=["base"])
    with pytest.raises(ValidationError, match="at least one system"):
        EvalGenerationConfig(systems=["base"], test_only=["base"])
