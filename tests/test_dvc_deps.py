"""DVC re-runs a stage only when one of its declared deps changes, so every library module a
stage imports must be covered by those deps: otherwise a code change (or a future move) would
silently leave stale outputs. The imports are read from the source (module level and inside
functions, followed transitively within pdfqa, parent packages included, because importing
``pdfqa.retrieval.index`` runs ``pdfqa/retrieval/__init__.py`` too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

SRC = ROOT / "src"
# Modules that cannot change any output, so a change to them need not re-run every stage:
# the exception type (messages only), console logging, and the package version string.
NO_OUTPUT_EFFECT = {"src/pdfqa/__init__.py", "src/pdfqa/errors.py", "src/pdfqa/logs.py"}


def module_file(name: str) -> Path | None:
    """The file behind a dotted module name, if it is part of pdfqa or stages."""
    base = (
        SRC if name.split(".")[0] == "pdfqa" else ROOT if name.split(".")[0] == "stages" else None
    )
    if base is None:
        return None
    path = base.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC if path.is_relative_to(SRC) else ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_names(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file, plus its parents."""
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # submodule imports
    with_parents = set()
    for name in names:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return with_parents


def closure(entry: Path) -> set[Path]:
    """The files of pdfqa and stages that ``entry`` imports, transitively."""
    seen, todo = set(), [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(f for name in imported_names(path) if (f := module_file(name)) is not None)
    return seen


def stage_code(stage: dict) -> list[str]:
    return [d for d in stage.get("deps", []) if d.startswith(("src/", "stages/"))]


def covered(rel: str, deps: list[str]) -> bool:
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_dep(name):
    deps = stage_code(STAGES[name])
    used = {p.relative_to(ROOT).as_posix() for p in closure(ROOT / "stages" / f"{name}.py")}
    missing = sorted(
        rel for rel in used if rel.startswith("src/") and rel not in NO_OUTPUT_EFFECT
        and not covered(rel, deps)
    )  # fmt: skip
    assert not missing, f"stage {name} imports {missing} but dvc.yaml does not list them as deps"
    assert f"stages/{name}.py" in deps


@pytest.mark.parametrize("name", sorted(STAGES))
def test_no_stage_lists_code_it_does_not_import(name):
    """A dep on code the stage never imports re-runs it for nothing (and hides a stale move)."""
    used = {p.relative_to(ROOT).as_posix() for p in closure(ROOT / "stages" / f"{name}.py")}
    for dep in stage_code(STAGES[name]):
        assert (ROOT / dep).exists(), f"stage {name}: dep {dep} does not exist"
        assert any(covered(rel, [dep]) for rel in used), f"stage {name}: nothing imports {dep}"


def test_the_analysis_follows_lazy_imports_and_parent_packages():
    used = {p.relative_to(ROOT).as_posix() for p in closure(ROOT / "stages" / "eval_generation.py")}
    # engine_for is imported inside a function and imports the retriever inside another one
    assert "src/pdfqa/generation/engine.py" in used
    assert "src/pdfqa/retrieval/index.py" in used and "src/pdfqa/retrieval/__init__.py" in used
    assert "src/pdfqa/bm25.py" in used  # the retriever's sparse half, two lazy hops away
    assert not any(rel.startswith("src/pdfqa/corpus/") for rel in used)
