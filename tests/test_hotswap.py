"""Hot swap, for real: the app serves `prod` from a registry (a temp git repo with DVC and GTO
tags, a local-directory remote) while two `gradio_client` users ask questions in a loop; prod
is moved to v0.0.2, then rolled back to v0.0.1. Every request succeeds, the version in the
answers switches (and never goes back and forth), the footer follows, and an upload made
before the swap is still searchable after it."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from app_fixture import build_app_params
from registry_repo import DVC, init_registry_repo, sh

from pdfqa.lifecycle import registry
from pdfqa.lifecycle.bundle import ARTIFACT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
QUESTION = "개발 중단(obsolete) 상태로 간주되는 패키지는?"


@pytest.fixture
def registry_repo(sample_run, tmp_path, monkeypatch):
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                       "DVC_NO_ANALYTICS": "1"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    (tmp_path / "app").mkdir()
    cfg = build_app_params(sample_run, tmp_path / "app")
    repo = init_registry_repo(tmp_path / "repo", tmp_path / "remote")
    (repo / ".gitignore").write_text("models/.registry/\n")
    for release in ("first", "second"):
        target = repo / "models" / "bundle"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(cfg.paths.bundle, target)
        (target / "RELEASE.txt").write_text(release)
        sh(DVC, "add", "-q", "models/bundle", cwd=repo)
        sh("git", "add", "-A", cwd=repo)
        sh("git", "commit", "-qm", f"bundle {release}", cwd=repo)
        sh(DVC, "push", "-q", cwd=repo)
    registry.register(repo, ARTIFACT, ref="HEAD~1")  # v0.0.1
    registry.assign(repo, ARTIFACT, "v0.0.1", "prod", "first promotion")
    registry.register(repo, ARTIFACT, ref="HEAD")  # v0.0.2, not promoted yet
    serve = cfg.serve.model_copy(update={"reload_s": 0.5, "reload_fetch": False})
    return cfg.model_copy(update={"serve": serve}), repo


def test_prod_moves_while_users_ask_and_no_request_fails(registry_repo, small_pdf_bytes, tmp_path):
    from gradio_client import Client

    from pdfqa.app.server import start_in_process
    from pdfqa.app.texts import texts
    from pdfqa.app.ui import footer

    cfg, repo = registry_repo
    demo, service = start_in_process(cfg, stage="prod", repo=repo)
    try:
        assert service.version == "v0.0.1" and service.follow == "prod"
        upload = tmp_path / "cjk-ko-part.pdf"
        upload.write_bytes(small_pdf_bytes["cjk-ko-part.pdf"])
        service.upload(upload)  # live-indexed before the swap: must survive it

        seen: list[tuple[float, str]] = []
        errors: list[str] = []
        stop = threading.Event()

        def user() -> None:
            client = Client(demo.local_url, verbose=False)
            while not stop.is_set():
                try:
                    answer = client.predict(QUESTION, "", 0, "hybrid", api_name="/answer")
                    seen.append((time.monotonic(), answer["version"]))
                except Exception as exc:  # any failed request fails the test
                    errors.append(repr(exc))

        users = [threading.Thread(target=user) for _ in range(2)]
        for u in users:
            u.start()

        def wait_for(version: str, timeout: float = 120) -> None:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if seen and seen[-1][1] == version and service.version == version:
                    return
                time.sleep(0.2)
            raise AssertionError(f"never served {version}: {seen[-5:]}")

        while len(seen) < 5:
            time.sleep(0.1)
        registry.assign(repo, ARTIFACT, "v0.0.2", "prod", "A/B verdict: promote")  # promotion
        wait_for("v0.0.2")
        assert "v0.0.2" in footer(service, texts("ko"))
        count = len(seen)
        while len(seen) < count + 5:
            time.sleep(0.1)
        registry.assign(repo, ARTIFACT, "v0.0.1", "prod", "rollback")  # rollback
        wait_for("v0.0.1")
        count = len(seen)
        while len(seen) < count + 5:
            time.sleep(0.1)
        stop.set()
        for u in users:
            u.join(60)

        assert errors == [], errors[:3]
        versions = [v for _, v in sorted(seen)]
        runs = [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
        # each user may finish one request started before the swap, so a switch may show a
        # brief overlap between the two users, but the sequence settles on the new version
        assert runs[0] == "v0.0.1" and runs[-1] == "v0.0.1" and "v0.0.2" in runs, runs
        assert len(runs) <= 5, runs
        assert service.swaps == [("v0.0.1", "v0.0.2"), ("v0.0.2", "v0.0.1")]
        assert any(c["source"] == "cjk-ko-part.pdf" for c in service.retriever.inner.chunks)
        print(f"\nhot swap: {len(seen)} requests, {len(errors)} errors, versions {runs}")
    finally:
        service.close()
        demo.close()
