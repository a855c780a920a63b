"""``pdfqa watch``: file events in the pipeline's inputs → one ``dvc repro``, with DVC deciding
what is stale.

Which files matter comes from DVC itself: every stage's deps and params files (plus
``dvc.yaml``), minus every stage's outs, so the pipeline's own writes never trigger a run; the
``watch.ignore`` name patterns drop editors' and atomic writes' temp files and ``__pycache__``.
Events are debounced (``watch.debounce_s`` of quiet), a run is a ``dvc repro`` subprocess in its
own process group, and events that arrive during a run coalesce into exactly one follow-up run.
A failed run is logged with DVC's error and the watcher goes on; DVC's repository lock held by
another process is waited for (``watch.lock_retries``), never fought. Ctrl-C (or SIGTERM) sends
one SIGINT to the running ``dvc repro``: DVC stops the stage and records nothing for it in
``dvc.lock`` (stages write their outputs atomically, so nothing half-written is left either),
and the next run redoes it. DVC's own files are not written atomically, so a SIGINT that lands
while it rewrites one can leave it cut short: the watcher checks ``dvc.lock`` and DVC's lock
file after every interrupt and puts back the last whole version.

Every event and every run is one line on the console and one JSON line in ``paths.watch_log``.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError
from pdfqa.jsonio import write_text

if TYPE_CHECKING:
    from pdfqa.config import Params

log = logging.getLogger("pdfqa.watch")
RUNNING = re.compile(r"Running stage '([^']+)'")
RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run")
LOCKED = "Unable to acquire lock"


# ---------------------------------------------------------------- which paths matter
@dataclass
class PipelinePaths:
    """The repository's inputs (deps, params files, dvc.yaml) and outputs, as absolute paths."""

    root: Path
    inputs: list[Path]
    outputs: list[Path]
    ignore: list[str]

    @classmethod
    def read(cls, root: Path, ignore: list[str]) -> PipelinePaths:
        from dvc.repo import Repo

        root = root.resolve()
        inputs, outputs = {root / "dvc.yaml"}, set()
        try:
            with Repo(str(root)) as repo:
                for stage in repo.index.stages:
                    inputs.update(Path(d.fs_path) for d in stage.deps)
                    outputs.update(Path(o.fs_path) for o in stage.outs)
        except Exception as exc:  # a broken dvc.yaml: keep watching it, say why
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("cannot read the pipeline (%s): watching dvc.yaml only", first)
        return cls(root, sorted(inputs), sorted(outputs), list(ignore))

    def relevant(self, path: str | Path) -> bool:
        path = Path(os.path.abspath(path))
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return False
        if any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in self.ignore):
            return False
        if any(path == o or o in path.parents for o in self.outputs):
            return False
        return any(path == i or i in path.parents for i in self.inputs)

    def watch_points(self) -> list[tuple[Path, bool]]:
        """(directory, recursive) to hand to watchdog: a directory input recursively, a file
        input through its parent (not recursively); missing ones through the nearest parent."""
        points: dict[Path, bool] = {}
        for path in self.inputs:
            recursive = path.is_dir()
            target = path if recursive else path.parent
            while not target.exists() and target != self.root:
                target, recursive = target.parent, False
            points[target] = points.get(target, False) or recursive
        return sorted(points.items())

    def rel(self, path: str | Path) -> str:
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


# ---------------------------------------------------------------- one dvc repro
@dataclass
class RunResult:
    status: str  # ok | failed | interrupted
    ran: list[str]
    restored: list[str]
    seconds: float
    reason: str = ""
    lock_waits: int = 0
    output: str = ""
    stage_seconds: dict = field(default_factory=dict)  # wall time of each stage that ran


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def _first_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    return (errors[0] if errors else lines[-1] if lines else "no output")[:500]


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Until no process of the group is left (a stage's ``python -m stages.…`` still writing or
    holding DVC's lock when ``dvc repro`` itself has exited); raises TimeoutExpired after
    ``timeout`` seconds so the caller escalates to the next signal."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(f"process group {pgid}", timeout)
        time.sleep(0.05)


class Runner:
    """``dvc repro`` as a child in its own process group, so an interrupt reaches it exactly
    once, from us."""

    def __init__(self, root: Path, targets: list[str], lock_retries: int, lock_retry_s: float,
                 on_line=None):  # fmt: skip
        self.root, self.targets = root, list(targets)
        self.lock_retries, self.lock_retry_s = lock_retries, lock_retry_s
        self.on_line = on_line or (lambda line: None)
        self.proc: subprocess.Popen | None = None
        self.stage_starts: list[tuple[str, float]] = []
        self.whole_lockfile: str | None = None  # dvc.lock as it last read whole

    def status(self) -> dict:
        """``dvc status --json``: {stage: what changed}; empty when everything is up to date.
        Stages marked ``always_changed`` (ab_test: its champion is a git tag) are not counted:
        they would make every cron run a run, and they re-run with any other stage anyway."""
        done = subprocess.run(_dvc("status", "--json", *self.targets), cwd=self.root,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise PdfqaError(f"dvc status failed: {_first_error(done.stdout + done.stderr)}")
        text = done.stdout.strip()
        stale = json.loads(text[text.find("{") :]) if "{" in text else {}
        return {k: v for k, v in stale.items() if v != ["always changed"]}

    def _once(self) -> tuple[int, str]:
        env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            _dvc("repro", *self.targets), cwd=self.root, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
        lines = []  # the process stays in self.proc so that an interrupt can still reach it
        self.stage_starts = []
        self._keep_whole_lockfile()
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            lines.append(line)
            if match := RUNNING.search(line):
                self.stage_starts.append((match.group(1), time.monotonic()))
                self._keep_whole_lockfile()  # DVC wrote the previous stage's entry before this
            self.on_line(line.rstrip("\n"))
        code = self.proc.wait()
        self.stage_starts.append(("", time.monotonic()))
        return code, "".join(lines)

    def stage_seconds(self) -> dict[str, float]:
        """From one stage's start line to the next one's (the last: to the end of the run)."""
        starts = self.stage_starts
        return {name: round(end - start, 1)
                for (name, start), (_, end) in itertools.pairwise(starts) if name}  # fmt: skip

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def interrupt(self, grace_s: float = 120) -> None:
        """One SIGINT to the run's process group (DVC stops the stage and skips its lock entry);
        SIGTERM, then SIGKILL, if it does not stop within ``grace_s``."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.communicate(timeout=wait)  # drains its output, so it can never block on us
                _wait_group_gone(proc.pid, wait)  # the stage it ran may outlive DVC by a moment
                _repair_rwlock(Path(self.root))
                self._repair_lockfile()
                return
            except subprocess.TimeoutExpired:
                log.warning("dvc repro did not stop after %s; sending the next signal", sig.name)

    def _keep_whole_lockfile(self) -> None:
        path = Path(self.root) / "dvc.lock"
        if _lockfile_whole(path):
            self.whole_lockfile = path.read_text("utf-8") if path.exists() else None

    def _repair_lockfile(self) -> None:
        """A SIGINT that lands while DVC rewrites ``dvc.lock`` leaves it cut short, and every
        later ``dvc`` command fails ("'dvc.lock' validation failed"). Put back the version read
        whole at the last stage start: stages it lacks are stale and the next run redoes them."""
        path = Path(self.root) / "dvc.lock"
        if _lockfile_whole(path):
            return
        log.warning("the interrupted dvc repro left %s cut short: restored the version "
                    "from before its last stage", path)  # fmt: skip
        if self.whole_lockfile is None:
            path.unlink(missing_ok=True)
        else:
            write_text(path, self.whole_lockfile)

    def repro(self) -> RunResult:
        start, waits = time.monotonic(), 0
        while True:
            code, output = self._once()
            if code != 0 and LOCKED in output and waits < self.lock_retries:
                waits += 1
                log.warning("another DVC process holds the repository lock: retry %d/%d in %.0f s",
                            waits, self.lock_retries, self.lock_retry_s)  # fmt: skip
                time.sleep(self.lock_retry_s)
                continue
            break
        ran, restored = RUNNING.findall(output), RESTORED.findall(output)
        status = "ok" if code == 0 else "failed"
        reason = "" if code == 0 else _first_error(output)
        if code != 0 and LOCKED in output:
            reason = (f"gave up after {waits} retries: another DVC process kept the repository "
                      "lock (is a `dvc repro` or `dvc exp` running here?)")  # fmt: skip
        return RunResult(status, list(dict.fromkeys(ran)), list(dict.fromkeys(restored)),
                         round(time.monotonic() - start, 1), reason, waits, output,
                         self.stage_seconds())  # fmt: skip


# ---------------------------------------------------------------- the watcher
@dataclass
class Watcher:
    """Debounces events into runs. ``notify`` is called from watchdog's thread; ``loop`` runs
    in the caller's thread and returns when ``stop`` is set (or on Ctrl-C)."""

    cfg: Params
    root: Path = Path(".")
    dry_run: bool = False
    verbose: bool = False
    debounce_s: float | None = None
    echo: object = print
    runs: int = 0
    _pending: dict = field(default_factory=dict)
    _last_event: float = 0.0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        w = self.cfg.watch
        self.quiet_s = w.debounce_s if self.debounce_s is None else self.debounce_s
        self.paths = self._read_paths()
        self.runner = Runner(self.root, w.targets, w.lock_retries, w.lock_retry_s,
                             on_line=self._dvc_line)  # fmt: skip
        self.log_file = self.root / self.cfg.paths.watch_log

    def _read_paths(self) -> PipelinePaths:
        """The pipeline's inputs, less the app's raw feedback log: a 👍/👎 click changes no
        training data until someone reviews it, and the review (``paths.feedback_reviews``)
        is the event that counts."""
        paths = PipelinePaths.read(self.root, self.cfg.watch.ignore)
        raw = (self.root / self.cfg.paths.feedback).resolve()
        paths.inputs = [p for p in paths.inputs if p != raw]
        return paths

    # -- output --------------------------------------------------------------------------
    def _record(self, kind: str, line: str, **data) -> None:
        self.echo(f"{datetime.now().strftime('%H:%M:%S')} {line}")
        entry = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "kind": kind, **data}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a", encoding="utf-8") as fh:  # one whole line per write
            fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _dvc_line(self, line: str) -> None:
        if self.verbose:
            self.echo(f"    │ {line}")
        elif RUNNING.search(line):
            self.echo(f"    ▶ {RUNNING.search(line).group(1)}")  # type: ignore[union-attr]

    # -- events --------------------------------------------------------------------------
    def notify(self, kind: str, path: str) -> None:
        if not self.paths.relevant(path):
            return
        rel = self.paths.rel(path)
        with self._cond:
            new = self._pending.get(rel) != kind
            self._pending[rel] = kind
            self._last_event = time.monotonic()
            self._cond.notify_all()
        if new:
            self._record("event", f"{kind:8s} {rel}", event=kind, path=rel)

    def _take_batch(self) -> list[str] | None:
        """Blocks until events have been quiet for ``quiet_s``; None once ``stop`` is set."""
        with self._cond:
            while not self.stop.is_set():
                if self._pending:
                    quiet = time.monotonic() - self._last_event
                    if quiet >= self.quiet_s:
                        batch, self._pending = sorted(self._pending), {}
                        return batch
                    self._cond.wait(self.quiet_s - quiet)
                else:
                    self._cond.wait(0.5)
        return None

    # -- runs ----------------------------------------------------------------------------
    def run(self, trigger: list[str]) -> RunResult | None:
        """One ``dvc repro`` (or, with ``dry_run``, the ``dvc status`` it would act on)."""
        self.runs += 1
        n = self.runs
        if self.dry_run:
            stale = self.runner.status()
            self._record("dry-run", f"run {n} (dry run): would reproduce "
                         f"{', '.join(stale) or 'nothing (up to date)'}", run=n, trigger=trigger,
                         stale=sorted(stale))  # fmt: skip
            return None
        what = f"{len(trigger)} change(s)" if trigger else "stale stages"
        self._record("start", f"run {n}: dvc repro ({what})", run=n, trigger=trigger)
        result = self.runner.repro()
        skipped = self._skipped() if "ingest" in result.ran else {}
        took = result.stage_seconds
        stages = ", ".join(f"{n} ({took[n]:.0f} s)" if n in took else n for n in result.ran)
        stages = stages or "no stage (up to date)"
        restored = (
            f"; restored from the run cache: {', '.join(result.restored)}"
            if result.restored
            else ""
        )
        line = f"run {n}: {result.status} in {result.seconds:.1f} s — re-ran {stages}{restored}"
        if result.reason:
            line += f" — {result.reason}"
        for name, why in skipped.items():
            line += f"\n    ! skipped {name}: {why}"
        data = {k: v for k, v in asdict(result).items() if k != "output"}
        self._record("run", line, run=n, trigger=trigger, skipped=skipped, **data)
        if "dvc.yaml" in trigger or result.ran:
            self._rewatch = True
        return result

    def _skipped(self) -> dict[str, str]:
        report = self.root / self.cfg.paths.ingest_report
        try:
            files = json.loads(report.read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError):
            return {}
        return {
            name: e["skipped_reason"]
            for name, e in sorted(files.items())
            if e.get("skipped_reason")
        }

    def once(self) -> int:
        """``--once``: reproduce if anything is stale (cron); 0 when up to date or the run passed."""
        if self.dry_run:
            self.run([])
            return 0
        stale = self.runner.status()
        if not stale:
            self._record("up-to-date", "up to date: nothing to reproduce", stale=[])
            return 0
        self.echo(f"stale: {', '.join(stale)}")
        result = self.run([])
        return 0 if result is None or result.status == "ok" else 1

    def loop(self) -> int:
        """Watch until ``stop`` is set or Ctrl-C; returns the exit code (130 when interrupted)."""
        from watchdog.observers import Observer

        observer = Observer()
        self._rewatch = False
        watches = Watches(observer, _Handler(self))
        watches.update(self.paths.watch_points())
        observer.start()
        self._record("watching", f"watching {len(self.paths.inputs)} pipeline inputs under "
                     f"{self.root} (debounce {self.quiet_s:g} s; Ctrl-C stops)",
                     inputs=[self.paths.rel(p) for p in self.paths.inputs])  # fmt: skip
        code = 0
        try:
            while True:
                batch = self._take_batch()
                if batch is None:
                    break
                self.run(batch)
                if self._rewatch:  # dvc.yaml changed, or new outputs/inputs may exist now
                    self.paths = self._read_paths()
                    watches.update(self.paths.watch_points())
                    self._rewatch = False
        except KeyboardInterrupt:
            code = 130
            if self.runner.running():
                self.echo("stopping: interrupting the running dvc repro (a stage it did not "
                          "finish is not recorded in dvc.lock; the next run redoes it)")  # fmt: skip
                self.runner.interrupt()
                self._record("run", f"run {self.runs}: interrupted", run=self.runs,
                             status="interrupted", returncode=self.runner.proc.returncode)  # fmt: skip
            self._record("stopped", "stopped (interrupted: Ctrl-C or SIGTERM)")
        finally:
            observer.stop()
            observer.join(5)
        return code


class Watches:
    """watchdog's watch points, kept in step with the pipeline's. New points are added before
    old ones are dropped, and a point that did not change keeps its watch: unscheduling all
    and scheduling again left a gap in which a file event was lost (CI lost a PDF deletion
    that landed while the pipeline was re-read after a run). A folder that was replaced is
    watched afresh: the old watch died with it."""

    def __init__(self, observer, handler):
        self.observer, self.handler = observer, handler
        self.points: dict[tuple[Path, bool], tuple[object, tuple[int, int]]] = {}

    def update(self, wanted: list[tuple[Path, bool]]) -> None:
        for point in sorted(set(wanted)):
            folder, recursive = point
            try:
                st = folder.stat()
            except OSError:  # gone since watch_points looked; the next update sees its parent
                continue
            inode = (st.st_dev, st.st_ino)
            if point in self.points and (self.points[point][1] != inode or self._dead(point)):
                self._drop(point)
            if point not in self.points:
                watch = self.observer.schedule(self.handler, str(folder), recursive=recursive)
                self.points[point] = (watch, inode)
        for point in sorted(set(self.points) - set(wanted)):
            self._drop(point)

    def _dead(self, point: tuple[Path, bool]) -> bool:
        """watchdog stops a folder's emitter when the folder itself is deleted (a new folder
        may reuse the inode number, so the inode alone does not tell)."""
        watch = self.points[point][0]
        return self.observer.is_alive() and not any(
            e.watch == watch and e.is_alive() for e in self.observer.emitters
        )

    def _drop(self, point: tuple[Path, bool]) -> None:
        with contextlib.suppress(KeyError):  # its emitter already went with its folder
            self.observer.unschedule(self.points.pop(point)[0])


class _Handler:
    """watchdog's callback: every file event → ``Watcher.notify`` (directories' own
    'modified' events carry no information and are dropped)."""

    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write", "closed") or (
            event.is_directory and kind == "modified"
        ):
            return
        if kind == "moved":
            self.watcher.notify("deleted", event.src_path)
            self.watcher.notify("created", event.dest_path)
        else:
            self.watcher.notify(kind, event.src_path)


def _repair_rwlock(root: Path) -> None:
    """A SIGINT that lands while DVC rewrites ``.dvc/tmp/rwlock`` leaves it empty, and every
    later ``dvc`` command then fails ("JSON structure is corrupted"). The interrupted run is
    gone, so an unreadable lock file records no live lock: remove it (DVC starts a fresh one)."""
    path = root / ".dvc" / "tmp" / "rwlock"
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    except (ValueError, UnicodeDecodeError):
        log.warning("the interrupted dvc repro left %s unreadable: removed it", path)
        path.unlink(missing_ok=True)


def _lockfile_whole(path: Path) -> bool:
    """Whether DVC itself can load ``dvc.lock`` (absent counts: DVC starts a new one)."""
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from dvc.utils.strictyaml import load

    if not path.exists():
        return True
    try:
        load(str(path), COMPILED_LOCKFILE_SCHEMA)
    except Exception:  # DVC's YAMLSyntaxError, YAMLValidationError, EncodingError
        return False
    return True


def interrupt_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop) stops the watcher like Ctrl-C does; and SIGINT always
    does, even when the watcher was started in the background of a script (a non-interactive
    shell starts background jobs with SIGINT ignored, and Python keeps it ignored)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
