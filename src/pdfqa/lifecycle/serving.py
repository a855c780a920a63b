"""Opening a QA bundle and answering with it: the workspace's ``models/bundle/`` or a registry
version fetched through DVC. ``load_bundle`` is the one function the CLI and the app use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError
from pdfqa.lifecycle.bundle import ARTIFACT, FORMAT, MANIFEST

if TYPE_CHECKING:
    from pdfqa.config import GeneratorConfig, Params


@dataclass
class Bundle:
    """An opened bundle: where it is, what it says, and which registry version it came from."""

    path: Path
    manifest: dict
    version: str | None = None  # registry version (None: the workspace's models/bundle)
    rev: str | None = None

    @property
    def system(self) -> str:
        return self.manifest["system"]

    @property
    def label(self) -> str:
        if self.version:
            return f"{ARTIFACT} {self.version} ({(self.rev or '')[:8]})"
        return f"workspace {self.path}"

    def settings(self) -> GeneratorConfig:
        """The generator settings the bundle was built with. A bundle from an older pdfqa may
        carry keys this version dropped (e.g. ``confidence.max_answerable_drop``): they no longer
        mean anything, so they are ignored rather than making a promoted model unservable."""
        from pdfqa.config import ConfidenceConfig, GeneratorConfig

        data = {
            k: v for k, v in self.manifest["generator"].items() if k in GeneratorConfig.model_fields
        }
        if isinstance(data.get("confidence"), dict):
            data["confidence"] = {k: v for k, v in data["confidence"].items()
                                  if k in ConfidenceConfig.model_fields}  # fmt: skip
        return GeneratorConfig.model_validate(data)

    def retriever(self):
        from pdfqa.models import load_sentence_transformer
        from pdfqa.retrieval.index import Retriever

        model = load_sentence_transformer(str(self.path / "embedder"))
        return Retriever.from_dir(self.path / "index", model=model)

    def engine(self, system: str | None = None, *, base_dir: Path, retriever=None):
        """The answer engine for ``system`` (default: the bundle's chosen one)."""
        from pdfqa.generation.engine import AnswerGenerator, ModelType, load_calibration

        system = system or self.system
        if system not in self.manifest["systems"]:
            raise PdfqaError(
                f"{self.label} has no {system!r} system (has {', '.join(self.manifest['systems'])})"
            )
        gc = self.settings()
        common = {"retriever": retriever or self.retriever(), "settings": gc, "base_dir": base_dir,
                  "calibration": load_calibration(self.path / "calibration.json", system, gc),
                  "label": f"{system} · {self.version or 'workspace'}"}  # fmt: skip
        if system == "extractive":
            return AnswerGenerator(ModelType.EXTRACTIVE, **common)
        adapter = self.path / "generator_adapter" if system == "lora" else None
        return AnswerGenerator(ModelType.HUGGINGFACE, gc.base_model, adapter, **common)


def open_bundle(path: Path, version: str | None = None, rev: str | None = None) -> Bundle:
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.exists():
        raise PdfqaError(f"no QA bundle in {path}: run `dvc repro bundle`")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise PdfqaError(
            f"{path} is bundle format {manifest.get('format')}, this pdfqa reads {FORMAT}"
        )
    return Bundle(path, manifest, version, rev)


def load_bundle(
    cfg: Params, *, stage: str | None = None, version: str | None = None, repo: Path | str = "."
) -> Bundle:
    """The one way the CLI and the app get a bundle: the workspace's (neither given), or the
    registry's version at ``stage`` / ``version``, fetched through DVC and cached by version."""
    from pdfqa.lifecycle import registry

    if stage is None and version is None:
        return open_bundle(cfg.paths.bundle)
    if version is None:
        version, rev, path = registry.resolve(repo, ARTIFACT, stage)  # type: ignore[arg-type]
    else:
        rev, path = registry.resolve_version(repo, ARTIFACT, version)
    local = registry.fetch_rev(repo, ARTIFACT, version, rev, path, cfg.paths.registry_cache)
    return open_bundle(local, version, rev)
