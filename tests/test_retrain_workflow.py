"""The steps of .github/workflows/retrain.yml, run for real, in the order the file lists them,
read from the file itself (so this test cannot drift from the workflow): on a temp "GitHub"
repository holding a tiny real DVC pipeline (tests/toy_pipeline.py) with a local-directory DVC
remote, a pull request changes a param; job `retrain` checks out the PR head, installs (a no-op
on this test's venv), pulls the DVC cache (empty on the first run), runs `make repro`, pushes,
builds `pdfqa report` and uploads it; job `comment` runs the comment script against a local
stand-in for the GitHub API serving recorded-shape responses. A second push updates the same
comment instead of adding one. The fork-PR `verify` job runs too.

`uses:` steps are the only ones emulated (checkout = git clone + checkout of the ref they name,
upload/download-artifact = a folder copy, setup-python = the venv already on PATH); every `run:`
step runs in bash exactly as written, with the job's and step's `env:` evaluated from a context
that must know every `${{ }}` expression the file uses."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from conftest import ROOT
from toy_pipeline import (
    commit_all,
    env_for,
    make_origin,
    reproduced_clone,
    run,
    set_param,
)
from workflow_runner import Runner

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "retrain.yml").read_text())
GITHUB_FIXTURES = ROOT / "tests" / "fixtures" / "github"
REPO_NAME, PR = "acme/manuals", 7


class FakeGitHub:
    """Issue-comment endpoints of the REST API, seeded with recorded-shape responses."""

    def __init__(self) -> None:
        self.pages = [json.loads((GITHUB_FIXTURES / f"list_comments_page{n}.json").read_text())
                      for n in (1, 2)]  # fmt: skip
        self.template = json.loads((GITHUB_FIXTURES / "comment.json").read_text())
        self.created: list[dict] = []
        self.requests: list[tuple[str, str, dict | None]] = []
        self.tokens: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload, link: str = "") -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                if link:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> dict | None:
                fake.tokens.add(self.headers.get("Authorization", ""))
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((self.command, self.path, body))
                return body

            def do_GET(self):
                self._record()
                url = urlparse(self.path)
                if url.path != f"/repos/{REPO_NAME}/issues/{PR}/comments":
                    return self._send(404, {"message": "Not Found"})
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                base = f"http://{self.headers['Host']}{url.path}?per_page=100"
                if page == 1:
                    return self._send(
                        200,
                        fake.pages[0],
                        f'<{base}&page=2>; rel="next", <{base}&page=2>; rel="last"',
                    )
                return self._send(200, fake.pages[1] + fake.created)

            def do_POST(self):
                body = self._record()
                if self.path != f"/repos/{REPO_NAME}/issues/{PR}/comments":
                    return self._send(404, {"message": "Not Found"})
                comment = {
                    **fake.template,
                    "id": 2310009000 + len(fake.created),
                    "body": body["body"],
                }
                comment["html_url"] = (
                    f"https://github.com/{REPO_NAME}/pull/{PR}#issuecomment-{comment['id']}"
                )
                fake.created.append(comment)
                self._send(201, comment)

            def do_PATCH(self):
                body = self._record()
                match = re.fullmatch(rf"/repos/{REPO_NAME}/issues/comments/(\d+)", self.path)
                found = [c for c in fake.created if match and c["id"] == int(match.group(1))]
                if not found:
                    return self._send(404, {"message": "Not Found"})
                found[0].update(body=body["body"], updated_at="2026-11-30T10:00:00Z")
                self._send(200, found[0])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def github():
    fake = FakeGitHub()
    yield fake
    fake.close()


def _context(base: str, head: str) -> dict:
    return {
        "github.event.pull_request.base.sha": base,
        "github.event.pull_request.head.sha": head,
        "github.event.pull_request.number": PR,
        "github.token": "ghs_test-token",
        "secrets.AWS_ACCESS_KEY_ID": "", "secrets.AWS_SECRET_ACCESS_KEY": "",
        "secrets.WANDB_API_KEY": "",
    }  # fmt: skip


def _pdfqa_comments(github: FakeGitHub) -> list[dict]:
    return [c for c in github.created if "pdfqa-report" in c["body"]]


def test_retrain_workflow_steps_end_to_end(tmp_path, small_pdf_bytes, github):
    env = env_for(tmp_path)
    origin = make_origin(tmp_path, small_pdf_bytes, env)
    # main has its results committed, as always (the author's own repro; nothing pushed to the
    # DVC remote yet, so the runner's first pull finds an empty remote).
    author, base = reproduced_clone(origin, tmp_path / "author", env)
    run(["git", "push", "-q", "origin", "main"], author, env)

    # PR 7, first push: a params change only (the runner computes its results).
    run(["git", "checkout", "-q", "-b", "short-questions"], author, env)
    set_param(author, "query_words", 4)
    head1 = commit_all(author, env, "toy: 4-word questions")
    run(["git", "push", "-q", "origin", "short-questions"], author, env)

    runner_env = {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO_NAME,
                  "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "1001"}  # fmt: skip
    runner = Runner(WORKFLOW, origin, tmp_path, env, _context(base, head1))
    runner.job("retrain", runner_env)
    assert not runner.failed, runner.failed
    steps = [line.split(": ", 1)[1] for line in runner.log]
    assert steps[:2] == ["uses actions/checkout", "make install"]
    assert steps.index(".venv/bin/dvc pull --run-cache --allow-missing") < steps.index("make repro") \
        < steps.index(".venv/bin/dvc push --run-cache") < steps.index(
            '.venv/bin/pdfqa report --base "$BASE_SHA" --output-dir report --repro-outcome "$REPRO_OUTCOME"')  # fmt: skip
    assert list((tmp_path / "dvc-remote").rglob("*")), "dvc push left the remote empty"
    report = (runner.artifacts / "pdfqa-report" / "report.md").read_text(encoding="utf-8")
    assert "`toy.yaml` | `query_words` | 8 | 4 |" in report
    assert "metrics/retrieval.json" in report and "A/B verdict" in report
    assert (
        runner.artifacts / "pdfqa-report" / "images" / "recall-k-toy-bm25.png"
    ).stat().st_size > 1000
    assert "dvc.lock` at head is not what `dvc repro` produced" in report  # the author must commit

    runner.job("comment", runner_env)
    assert len(_pdfqa_comments(github)) == 1
    first = _pdfqa_comments(github)[0]
    assert "`toy.yaml` | `query_words` | 8 | 4 |" in first["body"]
    assert "actions/runs/1001" in first["body"] and "](images/" not in first["body"]
    assert github.tokens == {"Bearer ghs_test-token"}
    assert [m for m, *_ in github.requests] == [
        "GET",
        "GET",
        "POST",
    ]  # both pages read, then create

    # Second push to the PR: the author reproduced and committed; the comment is updated in place.
    set_param(author, "query_words", 3)
    run(["make", "repro"], author, env)
    head2 = commit_all(author, env, "toy: 3-word questions, results committed")
    run(["git", "push", "-q", "origin", "short-questions"], author, env)
    runner = Runner(WORKFLOW, origin, tmp_path, env, _context(base, head2))
    runner.job("retrain", {**runner_env, "GITHUB_RUN_ID": "1002"})
    runner.job("comment", runner_env)
    assert not runner.failed, runner.failed
    comments = _pdfqa_comments(github)
    assert len(comments) == 1 and comments[0]["id"] == first["id"]
    assert "`toy.yaml` | `query_words` | 8 | 3 |" in comments[0]["body"]
    assert "actions/runs/1002" in comments[0]["body"]
    assert "is not what `dvc repro` produced" not in comments[0]["body"]
    assert [m for m, *_ in github.requests][-3:] == ["GET", "GET", "PATCH"]
    assert len(github.pages[0]) + len(github.pages[1]) == 2  # the humans' comments are untouched

    # Third push breaks the pipeline: repro fails, nothing is pushed, the report and the comment
    # still come, and say so at the top.
    set_param(author, "query_words", 0)
    head3 = commit_all(author, env, "toy: no question words (breaks the evaluate stage)")
    run(["git", "push", "-q", "origin", "short-questions"], author, env)
    remote_before = sorted((tmp_path / "dvc-remote").rglob("*"))
    broken = Runner(WORKFLOW, origin, tmp_path, env, _context(base, head3))
    broken.job("retrain", {**runner_env, "GITHUB_RUN_ID": "1003"})
    assert len(broken.failed) == 1 and "make repro" in broken.failed[0]
    assert "query_words must be at least 1" in broken.failed[0]
    assert "retrain: skipped .venv/bin/dvc push --run-cache" in broken.log
    assert sorted((tmp_path / "dvc-remote").rglob("*")) == remote_before
    broken.job("comment", runner_env)
    assert len(broken.failed) == 1  # the comment job itself succeeded
    comments = _pdfqa_comments(github)
    assert len(comments) == 1
    assert "`dvc repro` did not finish on this run (failure)" in comments[0]["body"]
    assert "`toy.yaml` | `query_words` | 8 | 0 |" in comments[0]["body"]

    # A fork PR gets the CPU job: the committed metrics' diff in the job summary, no secrets.
    summary = tmp_path / "step-summary.md"
    runner.job("verify", {**runner_env, "GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text(encoding="utf-8")
    assert "metrics/retrieval.json" in text and "hybrid.mrr@10" in text


def test_comment_script_refuses_a_body_without_the_marker(tmp_path, github):
    body = tmp_path / "comment.md"
    body.write_text("no marker here\n")
    env = {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO_NAME, "PR_NUMBER": str(PR),
           "GITHUB_TOKEN": "t", "PATH": "/usr/bin:/bin"}  # fmt: skip
    script = ROOT / ".github" / "scripts" / "pr_comment.py"
    proc = subprocess.run(["python3", str(script), "--body-file", str(body)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and "marker" in proc.stderr and not github.created
    proc = subprocess.run(["python3", str(script), "--body-file", str(body)],
                          env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2 and "GITHUB_TOKEN" in proc.stderr


def test_comment_body_is_cut_to_githubs_limit():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pr_comment", ROOT / ".github/scripts/pr_comment.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body = "<!-- m -->\n" + "| row |\n" * 20_000
    cut = module.fit(body)
    assert len(cut) <= 65_536 and cut.startswith("<!-- m -->") and "cut to GitHub" in cut
    assert module.fit("<!-- m -->\nshort\n") == "<!-- m -->\nshort\n"
