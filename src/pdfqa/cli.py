"""``pdfqa`` command line. Imports here stay light so ``pdfqa --help`` answers instantly;
each command imports what it needs when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help=(
        "Korean PDF question answering. The pipeline itself runs with `dvc repro` "
        "(see README); these commands run single steps, inspect inputs, answer questions and "
        "manage the model lifecycle (registry, A/B, promotion, tuning, PR reports) and serve the app."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ParamsOption = Annotated[
    Path, typer.Option("--params", "-p", help="params file", show_default=True)
]


def _run_stage(name: str, params: Path) -> None:
    import importlib
    import logging
    import os
    import sys

    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.logs import setup

    setup()
    if os.getcwd() not in sys.path:  # console scripts don't put the repo root on sys.path
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(f"stages.{name}").main(load_params(params))
    except PdfqaError as exc:
        logging.getLogger(f"pdfqa.{name}").error("%s", exc)
        raise typer.Exit(1) from None
    except ModuleNotFoundError as exc:
        if exc.name == "stages":
            typer.echo("error: run pdfqa from the repository root (where dvc.yaml is)", err=True)
            raise typer.Exit(2) from None
        raise


@app.command()
def ingest(params: ParamsOption = Path("params.yaml")) -> None:
    """Extract and clean page text from the PDF folder (same as the DVC stage `ingest`)."""
    _run_stage("ingest", params)


@app.command()
def chunk(params: ParamsOption = Path("params.yaml")) -> None:
    """Split ingested pages into sentence-aware chunks (same as the DVC stage `chunk`)."""
    _run_stage("chunk", params)


@app.command()
def inspect(
    pdfs: Annotated[list[Path], typer.Argument(help="PDF files to check", exists=True)],
    show_text: Annotated[int, typer.Option(help="print the first N characters of page 1")] = 0,
) -> None:
    """Check PDFs before adding them: readable?, text layer?, Hangul share, warnings."""
    from pdfqa.corpus import FLAG_MESSAGES, read_pdf
    from pdfqa.korean import hangul_ratio

    bad = 0
    for path in pdfs:
        result = read_pdf(path.name, path.read_bytes())
        if result.skipped_reason:
            bad += 1
            typer.echo(f"✗ {path}: {result.skipped_reason}")
            continue
        text = "\n".join(p.text for p in result.pages)
        typer.echo(
            f"✓ {path}: {len(result.pages)} pages, {len(text)} chars, "
            f"Hangul {100 * hangul_ratio(text):.0f}%, pypdf warnings {sum(result.warnings.values())}"
        )
        for flag, message in FLAG_MESSAGES.items():
            pages = [p.page for p in result.pages if flag in p.flags]
            if pages:
                bad += 1
                typer.echo(f"  ! {len(pages)} page(s): {message} — pages {pages[:20]}")
        if show_text:
            typer.echo(result.pages[0].text[:show_text])
    raise typer.Exit(1 if bad else 0)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='question, e.g. "자동 조사 기능을 끄는 방법은?"')],
    k: Annotated[int, typer.Option("-k", help="number of hits")] = 5,
    mode: Annotated[str, typer.Option(help="hybrid | dense | bm25")] = "hybrid",
    index: Annotated[Path, typer.Option(help="index directory (stage index)")] = Path(
        "models/index"
    ),
    chars: Annotated[int, typer.Option(help="characters of each hit to show")] = 160,
) -> None:
    """Search the indexed chunks and print hits with their PDF pages."""
    from pdfqa.errors import PdfqaError

    if mode not in ("hybrid", "dense", "bm25"):
        typer.echo("error: --mode must be hybrid, dense or bm25", err=True)
        raise typer.Exit(2)
    try:
        from pdfqa.retrieval import Retriever

        retriever = Retriever.from_dir(index)
    except PdfqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for rank, hit in enumerate(retriever.search(query, k, mode), 1):  # type: ignore[arg-type]
        snippet = " ".join(hit.text.split())[:chars]
        typer.echo(f"{rank}. [{hit.source} p.{hit.pages()}] score {hit.score:.3f}  {hit.chunk_id}")
        typer.echo(f"   {snippet}")


@app.command()
def ask(
    question: Annotated[
        str, typer.Argument(help='question, e.g. "ko.TeX이 CTAN에 처음 등재된 해는?"')
    ],
    system: Annotated[
        str | None,
        typer.Option(
            help="lora (adapted generator) | base | extractive (no LLM, fast) | openai; "
            "default: the bundle's own system (chosen on val; extractive when no bundle)",
            show_default=False,
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible server for --system openai, e.g. http://localhost:8000/v1"
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="model name (served name for --system openai; default generator.base_model)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the answer as JSON")] = False,
    stage: Annotated[
        str | None,
        typer.Option(help="answer with the registry's bundle at this stage, e.g. prod"),
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="answer with this registered bundle version, e.g. v0.0.1")
    ] = None,
    verbose: Annotated[
        bool, typer.Option(help="show library output (model loading, warnings) here too")
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Answer a question from the indexed PDFs with page citations and a confidence score.

    Needs `dvc repro` to have built the index (and, for lora, the adapter). Prints the
    confidence (probability the answer is correct) and the answerability score; below the
    answerability threshold fitted by eval_generation the engine answers that the documents do
    not contain the answer. With --stage/--version the promoted bundle is fetched through DVC
    (cached under models/.registry/) and answers with its own system unless --system is given.
    Without them the workspace's bundle answers with the system it chose by measurement on val
    (models/bundle/manifest.json). Library output goes to logs/pdfqa.log unless --verbose."""
    import json
    import os

    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.logs import quiet

    quiet(verbose=verbose)
    try:
        cfg = load_params(params)
        workspace_bundle = (cfg.paths.bundle / "manifest.json").exists() and system != "openai"
        if stage or version or workspace_bundle:
            from pdfqa.lifecycle.serving import load_bundle

            bundle = load_bundle(cfg, stage=stage, version=version)
            engine = bundle.engine(system, base_dir=cfg.paths.base_models)
        else:
            from pdfqa.generation import engine_for

            engine = engine_for(system or "extractive", cfg, endpoint=endpoint, model_name=model,
                                api_key=os.environ.get("OPENAI_API_KEY"))  # fmt: skip
        answer = engine.answer(question)
    except PdfqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.text)
    typer.echo("")
    for source, page in answer.citations:
        typer.echo(f"  출처: {source} p.{page}")
    if not answer.citations:
        typer.echo("  출처: —")
    typer.echo(
        f"  confidence {answer.confidence_score:.2f} · answerable {answer.answerable_score:.2f}"
        f" · {answer.latency_ms:.0f} ms · {answer.model}"
    )


def _append_summary(summary: Path | None, command: str, line: str) -> None:
    """A command's outcome as markdown in a job summary file ($GITHUB_STEP_SUMMARY)."""
    if summary:
        with summary.open("a", encoding="utf-8") as fh:
            fh.write(f"### pdfqa {command}\n\n{line}\n\n")


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1) from None


@app.command()
def promote(
    version: Annotated[
        str | None,
        typer.Option(help="roll back: assign the stage to this earlier version (e.g. v0.0.1)"),
    ] = None,
    force: Annotated[
        str | None,
        typer.Option(help="promote although the A/B verdict is hold; REASON goes in the tag"),
    ] = None,
    local: Annotated[
        bool, typer.Option(help="no DVC remote: the bundle stays in this machine's cache only")
    ] = False,
    fresh_ab: Annotated[
        bool,
        typer.Option(
            help="re-run the A/B against the current prod instead of reading "
            "metrics/ab.json (the promote workflow, after a merge)"
        ),
    ] = False,
    push_tags: Annotated[
        bool, typer.Option(help="git push the GTO tags this promotion created to origin")
    ] = False,
    summary: Annotated[
        Path | None,
        typer.Option(help="append the outcome as markdown here (e.g. $GITHUB_STEP_SUMMARY)"),
    ] = None,
    hold_ok: Annotated[
        bool, typer.Option(help="exit 0 when the A/B verdict is hold (a decision, not an error)")
    ] = False,
    outputs: Annotated[
        Path | None,
        typer.Option(
            help="append promoted=true|false, version= and tag= lines here "
            "($GITHUB_OUTPUT: the deploy job runs only after a promotion)"
        ),
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Promote this commit's bundle to prod (gto register + gto assign), or roll back.

    Refuses with one line, tagging nothing, unless: dvc.lock and the metrics are committed, a
    DVC remote is configured (the bundle is pushed there), the A/B verdict in metrics/ab.json is
    promote (or --force REASON), the data-quality gate passed, and the smoke questions in
    params (promotion.smoke) pass on the bundle read back from the artifact store: answerable
    ones with confidence > promotion.min_confidence and a citation, unanswerable ones abstain.
    `git push --tags` shares the promotion; `gto history qa-bundle` shows who moved what."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle import promote as lifecycle
    from pdfqa.logs import setup

    setup()

    def report(line: str) -> None:
        typer.echo(line, err=line.startswith("error"))
        _append_summary(summary, "promote", line)

    def output(promoted: bool, version: str = "", tag: str = "") -> None:
        if outputs:
            with outputs.open("a", encoding="utf-8") as fh:
                fh.write(f"promoted={str(promoted).lower()}\nversion={version}\ntag={tag}\n")

    try:
        cfg = load_params(params)
        before = lifecycle.tags(".")
        if version:
            done = lifecycle.rollback(cfg, version)
            line = f"{cfg.promotion.stage} → {done} (rollback)"
        else:
            done = lifecycle.promote(cfg, force_reason=force, local=local, fresh_ab=fresh_ab)
            line = f"{cfg.promotion.stage} → {done}"
        new = lifecycle.tags(".") - before
        if push_tags:
            lifecycle.push_tags(".", new)
            line += " (tags pushed to origin)"
        elif not version:
            line += "; share it with `git push --tags`"
        report(line)
        output(True, done, next((t for t in sorted(new) if "#" in t), ""))
    except lifecycle.HeldByAB as exc:
        report(f"not promoted: {exc}")
        output(False)
        raise typer.Exit(0 if hold_ok else 1) from None
    except PdfqaError as exc:
        report(f"error: {exc}")
        raise typer.Exit(1) from None


@app.command()
def deploy(
    stage: Annotated[
        str | None, typer.Option(help="the stage to deploy (default deploy.stage: prod)")
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            help="the pushed GTO tag that triggered this, e.g. qa-bundle#prod#3 "
            "(its stage is deployed; the deploy workflow passes $GITHUB_REF_NAME)"
        ),
    ] = None,
    hook: Annotated[
        str | None,
        typer.Option(
            help="shell command to run after the fetch (default deploy.hook, or "
            "$PDFQA_DEPLOY_HOOK)",
            show_default=False,
        ),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option(help="append the outcome as markdown (e.g. $GITHUB_STEP_SUMMARY)")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Deploy the bundle a registry stage points at now (the deploy workflow runs this).

    Fetches it (DVC, cached by version), writes the stage's pointer file and runs the deploy
    hook with PDFQA_VERSION, PDFQA_REV, PDFQA_STAGE and PDFQA_BUNDLE set (e.g. `systemctl
    restart pdfqa`, or an rsync to other hosts).

    The deploy workflow runs this when a `qa-bundle#prod#N` tag is pushed (a promotion or a
    rollback). Running `pdfqa serve` apps need no hook: they poll the registry every
    serve.reload_s and hot-swap to the new version without a restart."""
    import os

    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle import deploy as lifecycle
    from pdfqa.logs import setup

    setup()
    try:
        cfg = load_params(params)
        if tag:
            tagged = lifecycle.stage_of_tag(tag)
            if stage and stage != tagged:
                raise PdfqaError(f"--stage {stage} but the tag {tag} moved {tagged}")
            stage = tagged
        hook = hook if hook is not None else os.environ.get("PDFQA_DEPLOY_HOOK") or None
        done = lifecycle.deploy(cfg, Path("."), stage=stage, hook=hook)
    except PdfqaError as exc:
        _append_summary(summary, "deploy", f"error: {exc}")
        _fail(exc)
    line = (f"{done.stage} → {done.version} ({done.rev[:8]}) at {done.bundle}"
            + (f"; hook ran: {done.hook}" if done.hook.strip() else "; no hook (apps hot-swap)"))  # fmt: skip
    typer.echo(line)
    if done.hook_output:
        typer.echo(done.hook_output)
    _append_summary(summary, "deploy", line)


@app.command()
def registry(
    history: Annotated[bool, typer.Option(help="also print every registration and move")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Registered bundle versions, the stages they hold and their headline test metrics."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle.report import registry_table

    try:
        typer.echo(registry_table(load_params(params), Path("."), history=history))
    except PdfqaError as exc:
        _fail(exc)


@app.command()
def report(
    base: Annotated[str, typer.Option(help="git rev to compare against (the PR's base commit)")],
    head: Annotated[
        str | None, typer.Option(help="git rev to report on (default: this workspace)")
    ] = None,
    output_dir: Annotated[
        Path, typer.Option(help="where report.md, comment.md and images/ are written")
    ] = Path("report"),
    fmt: Annotated[str, typer.Option("--format", help="md (the only format so far)")] = "md",
    plots: Annotated[bool, typer.Option(help="render dvc plots diff to PNG")] = True,
    repro_outcome: Annotated[
        str,
        typer.Option(
            help="how this run's `dvc repro` ended (the workflow passes "
            "steps.repro.outcome); failure puts a warning at the top"
        ),
    ] = "",
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """What a change did to the models, as the markdown a pull request comment shows.

    Params diff, metrics diff with deltas for every metrics file, the A/B verdict and its table,
    the data-quality summary (new/skipped PDFs, QA counts, failed expectations) and the recall@k
    plots of both revisions as PNG: all from real `dvc params/metrics/plots diff` between BASE
    and HEAD. report.md links the images; comment.md (for the PR) points to the artifact
    instead and starts with the hidden marker the comment job updates in place."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle.pr_report import GITHUB_LIMIT, build_report
    from pdfqa.logs import setup

    setup()
    if fmt != "md":
        _fail(PdfqaError(f"--format {fmt!r}: only md is supported"))
    try:
        done = build_report(load_params(params), Path("."), base, head, output_dir, plots=plots,
                            repro_outcome=repro_outcome)  # fmt: skip
    except PdfqaError as exc:
        _fail(exc)
    typer.echo(f"{output_dir / 'report.md'}: {len(done.markdown):,} characters, "
               f"{len(done.images)} plot image(s); comment.md {len(done.comment):,} of "
               f"{GITHUB_LIMIT:,} allowed{' (cut to fit)' if done.truncated else ''}")  # fmt: skip


@app.command()
def ab(
    champion: Annotated[str, typer.Argument(help="A: version (v0.0.1), stage (prod) or git rev")],
    challenger: Annotated[
        str, typer.Argument(help="B: version, stage, git rev or `workspace`")
    ] = "workspace",
    output: Annotated[Path | None, typer.Option(help="also write the markdown here")] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Paired A/B test of two revisions' bundles on the frozen test questions (A = champion).

    Reads each side's committed per-question results and chosen system (no models are loaded),
    so any two revisions compare in seconds; rules from params (ab_test)."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle.ab import render_markdown
    from pdfqa.lifecycle.abtest import run_ab, side

    try:
        cfg = load_params(params)
        result = run_ab(cfg, side(Path("."), cfg, champion), side(Path("."), cfg, challenger))
    except PdfqaError as exc:
        _fail(exc)
    text = render_markdown(result)
    if output:
        output.write_text(text, encoding="utf-8")
    typer.echo(text)


@app.command()
def tune(
    target: Annotated[str, typer.Option(help="fusion | retriever | generator")] = "fusion",
    n_trials: Annotated[int, typer.Option(help="trials to add in this run")] = 20,
    timeout: Annotated[
        float | None, typer.Option(help="stop starting trials after this many seconds")
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="study name: optuna/<study>.db (default: the target)")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Optuna search on the val split; resumable, prints the `dvc exp run -S …` of the best.

    Search spaces come from params (tuning.<target>); the study is SQLite (optuna/<study>.db):
    run it again to add trials. SQLite allows one writer at a time, so run one `pdfqa tune` per
    study; to fan trials out over several machines queue them as DVC experiments instead
    (`dvc exp run --queue -S …` then `dvc queue start -j N`). The first trial of a new study
    measures params.yaml as it is. fusion: seconds for 30 trials; retriever: one fine-tuning per
    trial; generator: one LoRA training per trial, each in a subprocess. W&B logs each trial
    (wandb.mode, offline by default). Report: reports/tuning/<study>.html (opens offline)."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle.tuning import format_result
    from pdfqa.lifecycle.tuning import tune as run_tune
    from pdfqa.logs import setup

    setup()
    try:
        cfg = load_params(params)
        result = run_tune(cfg, target, study=study, n_trials=n_trials, timeout=timeout,
                          params_file=params)  # fmt: skip
    except PdfqaError as exc:
        _fail(exc)
    typer.echo(format_result(result))


@app.command()
def serve(
    stage: Annotated[str, typer.Option(help="serve the bundle at this registry stage")] = "prod",
    version: Annotated[
        str | None, typer.Option(help="serve this registered version instead, e.g. v0.0.1")
    ] = None,
    workspace: Annotated[
        bool, typer.Option(help="serve this workspace's models/bundle (what dvc repro built)")
    ] = False,
    ab: Annotated[
        str | None,
        typer.Option(
            help="online A/B: each session is answered by the served bundle or by "
            "this version (stable hash of the session)"
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="bind address (default serve.host)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default serve.port)")] = None,
    auth: Annotated[
        str | None, typer.Option(help="user:password login (or set PDFQA_AUTH)", show_default=False)
    ] = None,
    root_path: Annotated[
        str | None, typer.Option(help="URL prefix when behind a reverse proxy, e.g. /pdfqa")
    ] = None,
    lang: Annotated[str | None, typer.Option(help="ko | en (default serve.lang)")] = None,
    llm_endpoint: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible LLM server (vLLM) that generates for the lora/base systems, "
            "e.g. http://localhost:8000/v1 (docs/deploy.md); retrieval stays in the app"
        ),
    ] = None,
    llm_lora: Annotated[
        str, typer.Option(help="served name of the adapter (vllm --lora-modules NAME=…)")
    ] = "pdfqa",
    llm_base: Annotated[
        str | None,
        typer.Option(help="served name of the base model; unset: the base system stays local"),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="library output on the terminal too")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Start the Gradio app: ask with page evidence, documents and uploads, A/B votes,
    monitoring and feedback. Serves the bundle at `prod` (or --version / --workspace); when
    nothing is promoted yet it serves the workspace bundle and says so on the page. Binds
    127.0.0.1 unless told otherwise; put --auth on anything reachable from a network."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.logs import quiet

    try:
        cfg = load_params(params)
        quiet(str(cfg.paths.app_dir / "pdfqa.log"), verbose=verbose)
        from pdfqa.app.server import launch_kwargs, make_app, parse_auth

        credentials = parse_auth(auth)
        llm = (
            {"endpoint": llm_endpoint, "lora": llm_lora, "base": llm_base} if llm_endpoint else None
        )
        demo, service = make_app(cfg, stage=stage, version=version, workspace=workspace, ab=ab,
                                 lang=lang, llm=llm)  # fmt: skip
    except PdfqaError as exc:
        _fail(exc)
    kwargs = launch_kwargs(cfg, host=host, port=port, auth=credentials, root_path=root_path)
    if kwargs["server_name"] not in ("127.0.0.1", "localhost") and not credentials:
        typer.echo("warning: listening beyond this machine without --auth", err=True)
    b = service.bundle
    what = f"{b.label} · {b.system}" if b else "no bundle (run `make repro`)"
    if service.follow and cfg.serve.reload_s > 0:
        what += f" · follows {service.follow} (hot swap, polled every {cfg.serve.reload_s:g} s)"
    typer.echo(f"pdfqa serve: {what} → http://{kwargs['server_name']}:{kwargs['server_port']}"
               f"{kwargs['root_path']}  (log: {cfg.paths.app_dir / 'pdfqa.log'})")  # fmt: skip
    demo.launch(**kwargs)


@app.command()
def monitor(
    since: Annotated[str, typer.Option(help="window: 30m, 6h, 1d, 7d")] = "1d",
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    check: Annotated[
        bool, typer.Option(help="exit 3 when an alert rule fires (for cron / a health check)")
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """What the app's Monitoring tab shows, from its SQLite log: requests, latency p50/p95,
    abstention and 👍/👎 rates, and drift of the top-1 retrieval score (KS test), with a
    warning for each alert rule in params (alerts:) the window breaks."""
    import json

    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError

    try:
        cfg = load_params(params)
        from pdfqa.app.alerts import evaluate
        from pdfqa.app.monitor import Monitor, parse_since

        window = parse_since(since)
        db = cfg.paths.app_dir / "monitor.sqlite"
        if not db.exists():
            raise PdfqaError(f"no monitoring data yet ({db}): start the app with `pdfqa serve`")
        summary = Monitor(db).summary(window)
        alerts = evaluate(summary, cfg.alerts)
    except (PdfqaError, ValueError) as exc:
        _fail(exc)
    if as_json:
        payload = {**summary.__dict__, "alerts": [a.__dict__ for a in alerts]}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"last {since}:")
        for line in summary.lines(cfg.serve.lang):
            typer.echo(f"  {line}")
        for alert in alerts:
            typer.echo(alert.message(cfg.serve.lang))
    if check and alerts:
        raise typer.Exit(3)


@app.command()
def watch(
    once: Annotated[
        bool, typer.Option(help="reproduce once if anything is stale, then exit (for cron)")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="print what would be reproduced (dvc status); run nothing")
    ] = False,
    debounce: Annotated[
        float | None, typer.Option(help="seconds of quiet before a run (default watch.debounce_s)")
    ] = None,
    verbose: Annotated[bool, typer.Option(help="show dvc repro's own output")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Run `dvc repro` by itself whenever the pipeline's inputs change.

    Inputs: PDFs in data/pdfs (also those uploaded in the app), human.jsonl, accepted feedback,
    params.yaml, dvc.yaml, the code.

    Which files count comes from dvc.yaml (every stage's deps and params, minus every output),
    so the pipeline's own writes never trigger a run. Waits for watch.debounce_s seconds of
    quiet, runs one `dvc repro` at a time, and folds changes made during a run into one
    follow-up run. A failed run is logged with DVC's error and watching goes on; when another
    DVC process holds the repository lock it waits and retries. Ctrl-C interrupts a run in
    progress cleanly (DVC records nothing for an unfinished stage). One line per event and per
    run here, and as JSON in paths.watch_log (logs/watch.jsonl)."""
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.lifecycle.watch import Watcher, interrupt_on_sigterm
    from pdfqa.logs import setup

    setup()
    if not Path("dvc.yaml").exists():
        _fail(PdfqaError("no dvc.yaml here: run pdfqa watch from the repository root"))
    try:
        cfg = load_params(params)
        watcher = Watcher(cfg, Path("."), dry_run=dry_run, verbose=verbose, debounce_s=debounce,
                          echo=typer.echo)  # fmt: skip
        if once:
            raise typer.Exit(watcher.once())
        interrupt_on_sigterm()
        raise typer.Exit(watcher.loop())
    except PdfqaError as exc:
        _fail(exc)


feedback_app = typer.Typer(help="Review the app's feedback before it becomes training data.",
                           no_args_is_help=True)  # fmt: skip
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("review")
def feedback_review(
    accept: Annotated[
        list[str] | None, typer.Option(help="event id to accept (repeatable)")
    ] = None,
    reject: Annotated[
        list[str] | None, typer.Option(help="event id to reject (repeatable)")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """List pending feedback (👎 and corrections nobody reviewed), or accept / reject events.

    Accepted corrections whose evidence is in the cited document become QA records at the next
    `dvc repro` (never in the test split); accepted 👎 without a correction become eval-only
    hard questions (data/qa/hard_questions.jsonl)."""
    from datetime import UTC, datetime

    from pdfqa.app.feedback_log import append
    from pdfqa.config import load_params
    from pdfqa.errors import PdfqaError
    from pdfqa.qa import feedback

    try:
        cfg = load_params(params)
        events = {e["id"]: e for e in feedback.read_events(cfg.paths.feedback)}
        decisions = [(i, "accept") for i in accept or []] + [(i, "reject") for i in reject or []]
        unknown = [i for i, _ in decisions if i not in events]
        if unknown:
            raise PdfqaError(f"no feedback event {', '.join(unknown)} in {cfg.paths.feedback}")
    except PdfqaError as exc:
        _fail(exc)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for event_id, decision in decisions:
        append(cfg.paths.feedback_reviews, {"id": event_id, "decision": decision, "at": now})
        typer.echo(f"{decision}ed {event_id}: {events[event_id]['question'][:60]}")
    if decisions:
        typer.echo("run `dvc repro` to turn accepted feedback into QA records")
        return
    waiting = feedback.pending(
        list(events.values()), feedback.read_reviews(cfg.paths.feedback_reviews)
    )
    if not waiting:
        typer.echo("nothing to review")
        return
    for e in waiting:
        fix = f" → 고친 답: {e['correction'][:60]}" if e.get("correction") else ""
        cites = ", ".join(f"{s} p.{p}" for s, p in e.get("citations", [])) or "—"
        typer.echo(f"{e['id']}  {e['rating']}  {e.get('reason') or ''}  [{cites}]\n"
                   f"    Q: {e['question'][:80]}\n    A: {e.get('answer', '')[:80]}{fix}")  # fmt: skip
    typer.echo(f"{len(waiting)} pending: pdfqa feedback review --accept ID --reject ID")


models_app = typer.Typer(
    help="Builtin offline models: list them, materialise them.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    base_dir: Annotated[Path, typer.Option(help="where builtins are materialised")] = Path(
        "models/base"
    ),
) -> None:
    """Builtin models, whether they are materialised, and their licences."""
    from pdfqa.models.builtins import BUILTINS, is_materialised

    for name, builtin in BUILTINS.items():
        state = "ready" if is_materialised(base_dir / name) else "not materialised"
        typer.echo(f"builtin:{name}  [{builtin.kind}, {state}]")
        typer.echo(f"    from pip package {builtin.package}: {builtin.source}")
        typer.echo(f"    licence: {builtin.licence}")


@models_app.command("pull")
def models_pull(
    names: Annotated[
        list[str] | None, typer.Argument(help="builtin names (default: all)", show_default=False)
    ] = None,
    base_dir: Annotated[Path, typer.Option(help="where to materialise")] = Path("models/base"),
    force: Annotated[bool, typer.Option(help="rebuild even if present")] = False,
) -> None:
    """Materialise builtin models from their pip packages (what the DVC stage base_models does)."""
    from pdfqa.errors import PdfqaError
    from pdfqa.logs import setup
    from pdfqa.models.builtins import BUILTINS, pull

    setup()
    try:
        for name in names or list(BUILTINS):
            pull(name.removeprefix("builtin:"), base_dir, force=force)
    except PdfqaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def version() -> None:
    """Print the pdfqa version."""
    from pdfqa import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
