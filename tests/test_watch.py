"""`pdfqa watch` for real: a `pdfqa watch` process on a temp git + DVC repository holding the toy
pipeline (the real `ingest` and `chunk` stages, tests/toy_pipeline.py), driven by real file
events. A PDF copied in → one run that re-ran ingest and downstream, and the new document is in
the chunks; ten rapid edits → one or two runs, never overlapping; a broken PDF → the run
finishes and says why the file was skipped, and the watcher goes on; another process holding
DVC's lock → waited for, not a crash; Ctrl-C during a run → exit 130, no half-written output,
nothing recorded in dvc.lock for the interrupted stage; `--once` with nothing stale exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLE_PDFS, pdf_pages
from toy_pipeline import BIN, env_for, make_origin, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NEW_PDF = "kotex-part.pdf"


def _records(repo: Path) -> list[dict]:
    path = repo / "logs" / "watch.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _runs(repo: Path) -> list[dict]:
    return [r for r in _records(repo) if r["kind"] == "run"]


def _wait(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the watcher exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def toy(tmp_path_factory, small_pdf_bytes):
    """The toy pipeline reproduced once and committed, with a fast watch section in params."""
    tmp = tmp_path_factory.mktemp("watch")
    env = env_for(tmp)
    make_origin(tmp, small_pdf_bytes, env)
    repo = tmp / "seed"
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["watch"].update(debounce_s=1.0, lock_retry_s=1.0, lock_retries=20)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")  # fmt: skip
    (repo / ".gitignore").write_text(".venv/\n/report/\n__pycache__/\n/logs/\n")
    first = subprocess.run([str(BIN / "pdfqa"), "watch", "--once"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert {"ingest", "chunk", "evaluate"} <= set(_runs(repo)[-1]["ran"]), first.stdout
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "reproduced"], repo, env)
    return repo, env


def _count(repo: Path, kind: str) -> int:
    return sum(r["kind"] == kind for r in _records(repo))


def _start(repo: Path, env: dict) -> subprocess.Popen:
    before = _count(repo, "watching")
    proc = subprocess.Popen([str(BIN / "pdfqa"), "watch"], cwd=repo, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    _wait(lambda: _count(repo, "watching") > before, 60, "watching", proc)
    return proc


def _stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=180)
    return out


def test_once_with_nothing_stale_exits_0(toy):
    repo, env = toy
    done = subprocess.run([str(BIN / "pdfqa"), "watch", "--once"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
    dry = subprocess.run([str(BIN / "pdfqa"), "watch", "--once", "--dry-run"], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert dry.returncode == 0 and "would reproduce nothing" in dry.stdout, dry.stdout


def test_events_become_runs(toy):
    repo, env = toy
    (repo / "logs" / "watch.jsonl").unlink(missing_ok=True)
    proc = _start(repo, env)
    failure = None
    try:
        # 1. a PDF dropped in: exactly one run, ingest and everything downstream re-ran
        (repo / "data" / "pdfs" / NEW_PDF).write_bytes(
            pdf_pages(SAMPLE_PDFS / "kotex-doc.pdf", [2, 3, 4])
        )
        first = _wait(lambda: _runs(repo), 300, "the run for the new PDF", proc)[0]
        assert first["status"] == "ok", first
        assert first["trigger"] == [f"data/pdfs/{NEW_PDF}"]
        assert first["ran"][:2] == ["ingest", "chunk"] and "evaluate" in first["ran"]
        chunks = (repo / "data" / "processed" / "chunks.jsonl").read_text(encoding="utf-8")
        assert f'"source": "{NEW_PDF}"' in chunks
        time.sleep(3)  # the stages' own writes (outputs, dvc.lock, __pycache__) start nothing
        assert len(_runs(repo)) == 1

        # 2. ten rapid edits of a param: one or two runs, never two at once
        for i in range(10):
            toy_params = yaml.safe_load((repo / "toy.yaml").read_text())
            toy_params["query_words"] = 4 + i % 3
            (repo / "toy.yaml").write_text(yaml.safe_dump(toy_params, sort_keys=False))
            time.sleep(0.1)
        _wait(lambda: len(_runs(repo)) >= 2, 300, "a run after the edits", proc)
        time.sleep(4)  # room for a follow-up run, if the edits straddled the first one
        _wait(lambda: not _busy(repo), 300, "the last run to end", proc)
        after_edits = _runs(repo)[1:]
        assert 1 <= len(after_edits) <= 2 and all(r["status"] == "ok" for r in after_edits)
        _assert_never_overlapping(repo)

        # 3. a broken PDF: the run finishes, says why the file was skipped, the watcher goes on
        count = len(_runs(repo))
        (repo / "data" / "pdfs" / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
        broken = _wait(lambda: _runs(repo)[count:], 300, "the run for the broken PDF", proc)[0]
        assert broken["status"] == "ok" and "broken.pdf" in broken["skipped"], broken
        assert proc.poll() is None

        # 4. another process holds DVC's repository lock: the run waits for it, then runs
        from dvc.repo import Repo

        count = len(_runs(repo))
        holder = Repo(str(repo))
        holder.lock.lock()
        try:
            starts = _count(repo, "start")
            (repo / "data" / "pdfs" / "broken.pdf").unlink()
            _wait(lambda: _count(repo, "start") > starts, 60, "a start (the deletion's event)")
            time.sleep(10)  # longer than DVC's own 3-second wait for the lock, plus its start-up
        finally:
            holder.lock.unlock()
            holder.close()
        locked = _wait(lambda: _runs(repo)[count:], 300, "the run after the lock", proc)[0]
        assert locked["status"] == "ok" and locked["lock_waits"] >= 1, locked
    except AssertionError as exc:
        failure = exc
    finally:
        out = _stop(proc)
    if failure is not None:  # say what the watcher saw: its output and its last records
        tail = "\n".join(json.dumps(r, ensure_ascii=False)[:300] for r in _records(repo)[-8:])
        raise AssertionError(f"{failure}\n--- pdfqa watch printed:\n{out[-6000:]}\n"
                             f"--- its last records:\n{tail}") from None  # fmt: skip
    assert proc.returncode in (0, 130), out
    assert "Traceback" not in out, out


def _busy(repo: Path) -> bool:
    kinds = [r["kind"] for r in _records(repo) if r["kind"] in ("start", "run")]
    return bool(kinds) and kinds[-1] == "start"


def _assert_never_overlapping(repo: Path) -> None:
    kinds = [r["kind"] for r in _records(repo) if r["kind"] in ("start", "run")]
    assert kinds == ["start", "run"] * (len(kinds) // 2), kinds


def _assert_whole(path):
    """A JSON or JSON-lines output parses to the end: it was written whole."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        assert all(json.loads(line) for line in text.splitlines()), path
    elif path.suffix == ".json":
        json.loads(text)


def test_ctrl_c_during_a_run_leaves_no_half_output(toy):
    repo, env = toy
    pages = repo / "data" / "interim" / "pages.jsonl"
    proc = _start(repo, env)
    (repo / "data" / "pdfs" / "another.pdf").write_bytes(
        pdf_pages(SAMPLE_PDFS / "pmhanguljamo-kdoc.pdf", [2, 3])
    )
    starts = _count(repo, "start")
    _wait(lambda: _count(repo, "start") > starts, 60, "the run to start", proc)
    time.sleep(1.5)  # dvc repro is under way now
    out = _stop(proc)
    assert proc.returncode == 130, out
    assert "Traceback" not in out and "interrupting the running dvc repro" in out, out
    assert _records(repo)[-2]["status"] == "interrupted"
    # DVC removes a stage's outputs before running it, and our stages write atomically: an
    # output is now either absent or whole, never half-written, and no temp file is left behind
    if pages.exists():
        _assert_whole(pages)
    leftovers = [p.name for d in (pages.parent, repo / "data" / "processed")
                 for p in d.iterdir() if p.name.startswith(".") and p.name != ".gitignore"]  # fmt: skip
    assert not leftovers, leftovers
    status = subprocess.run([str(BIN / "dvc"), "status", "--json"], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 0, status.stderr
    stale = {k: v for k, v in json.loads(status.stdout).items() if v != ["always changed"]}
    assert stale, "the interrupted run cannot have finished everything"
    # a stage DVC stopped before it recorded it in dvc.lock: its outputs are deleted, or (when it
    # had finished) "modified" but whole — every output file still parses
    for changes in stale.values():
        for change in changes:
            if isinstance(change, dict) and "changed outs" in change:
                for path, state in change["changed outs"].items():
                    assert state in {"deleted", "not in cache", "modified"}, stale
                    if state == "modified" and (repo / path).is_file():
                        _assert_whole(repo / path)
    again = subprocess.run([str(BIN / "pdfqa"), "watch", "--once"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert '"source": "another.pdf"' in (repo / "data/processed/chunks.jsonl").read_text("utf-8")
    assert "up to date" in subprocess.run([str(BIN / "pdfqa"), "watch", "--once"], cwd=repo,
                                          env=env, capture_output=True, text=True).stdout  # fmt: skip
    os.remove(repo / "data" / "pdfs" / "another.pdf")


def test_an_rwlock_an_interrupted_dvc_left_empty_is_removed_and_a_whole_one_kept(tmp_path):
    from pdfqa.lifecycle.watch import _repair_rwlock

    lock = tmp_path / ".dvc" / "tmp" / "rwlock"
    lock.parent.mkdir(parents=True)
    _repair_rwlock(tmp_path)  # no lock file: nothing to do
    lock.write_text('{"read": {}, "write": {}}', encoding="utf-8")
    _repair_rwlock(tmp_path)
    assert lock.exists()
    lock.write_text("", encoding="utf-8")  # SIGINT mid-write
    _repair_rwlock(tmp_path)
    assert not lock.exists()


def test_a_dvc_lock_an_interrupted_dvc_cut_short_is_put_back_whole(tmp_path):
    from pdfqa.lifecycle.watch import Runner, _lockfile_whole

    whole = (Path(__file__).parents[1] / "dvc.lock").read_text(encoding="utf-8")
    lock = tmp_path / "dvc.lock"
    runner = Runner(tmp_path, [], lock_retries=0, lock_retry_s=0)
    runner._keep_whole_lockfile()  # no dvc.lock yet: nothing to put back but its absence
    assert runner.whole_lockfile is None
    lock.write_text(whole, encoding="utf-8")
    runner._keep_whole_lockfile()
    assert runner.whole_lockfile == whole
    # DVC rewrites dvc.lock in place: a SIGINT can stop it after any line, or right after
    # open() emptied it (what CI once saw: "'./dvc.lock' validation failed ... required key")
    ends = [0] + [i + 1 for i, c in enumerate(whole) if c == "\n"]  # 0: CI's case, emptied
    broken = 0
    for end in ends[:: max(1, len(ends) // 40)]:  # 40 cuts across the file
        lock.write_text(whole[:end], encoding="utf-8")
        if not _lockfile_whole(lock):
            broken += 1
            runner._repair_lockfile()
            assert lock.read_text(encoding="utf-8") == whole
    assert broken, "some cut of dvc.lock must be unreadable to DVC"
    lock.write_text(whole[:200] + "\n", encoding="utf-8")
    if _lockfile_whole(lock):  # a readable cut is kept: DVC sees those stages as stale
        runner._repair_lockfile()
        assert lock.read_text(encoding="utf-8") == whole[:200] + "\n"
    lock.write_text("stages:\n  ingest:\n    deps:\n", encoding="utf-8")
    runner.whole_lockfile = None  # the run started without a dvc.lock
    runner._repair_lockfile()
    assert not lock.exists()
