"""``cc-console sync / resume / retry / cancel / runs``: the headless engine."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ..engine import RunSummary, mark_stale_runs, run_template
from ..engine.control import continue_job, request_cancel, resolve_run, settle_run
from ..errors import NotFoundError, UsageError
from ..settings import current_user
from ..store.database import Database
from ..store.jobs import run_outcomes
from ..store.operator_actions import OPERATOR_ACTION, record_action
from ..store.runs import RunRow, database_clock, latest_run_id, recent_runs
from ..store.templates import active_template_ids, find_template
from ..workers.app import action_of
from .common import (
    console,
    emit_json,
    err_console,
    open_db,
    operator,
    session_scope,
    settings,
    with_async_engine,
)
from .progress import watch_runs

__all__ = ["cancel", "resume", "retry", "runs", "sync"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
EnqueueOpt = Annotated[
    bool,
    typer.Option(
        "--enqueue",
        help="Queue it for the workers (`cc-console worker`) instead of running it here.",
    ),
]
QueueOpt = Annotated[
    str, typer.Option("--queue", help="With --enqueue: the sync queue (default: sync).")
]


def _record(
    database: Database, jobs: list[dict[str, Any]], job_ids: list[int | None] | None = None
) -> None:
    """Record each job as the operator's action; a job run here carries its action's id."""
    who = operator()
    options = ("full_refresh", "detect_deletes", "coordinate")
    with database.engine.begin() as conn:
        for n, job in enumerate(jobs):
            detail: dict[str, Any] = {k: job[k] for k in options if k in job}
            if job_ids is not None:
                detail["queued"] = True
                detail["already_queued"] = job_ids[n] is None
            action_id = record_action(
                conn,
                who,
                OPERATOR_ACTION[job["trigger"]],
                template_id=job["template_id"],
                run_id=job.get("parent_run_id"),
                job_id=None if job_ids is None else job_ids[n],
                detail=detail,
            )
            if job_ids is None:
                job["action_id"] = action_id


def _enqueued(
    database: Database, jobs: list[dict[str, Any]], queue: str, json_output: bool
) -> None:
    """Defer each job to the workers and say so (a template already queued is skipped)."""
    from .worker import enqueue

    done: list[dict[str, Any]] = []
    for job in jobs:
        action = action_of(job["trigger"])
        job_id = enqueue(
            database,
            job["template_id"],
            action=action,
            trigger=job["trigger"],
            created_by=job["created_by"],
            run_id=job.get("parent_run_id"),
            queue=queue,
        )
        done.append({"template_id": str(job["template_id"]), "action": action, "job_id": job_id})
    _record(database, jobs, [item["job_id"] for item in done])
    if json_output:
        emit_json(done if len(done) > 1 else done[0])
        return
    for item in done:
        if item["job_id"] is None:
            console.print(
                f"template {item['template_id'][:8]}: a job is queued for it already; not queued"
                " again (`cc-console jobs`)"
            )
        else:
            console.print(
                f"queued job {item['job_id']} ({item['action']}) for template"
                f" {item['template_id'][:8]} on queue {queue}; a worker runs it (`cc-console jobs`)"
            )


def _template_ids(database: Database, refs: list[str], all_active: bool) -> list[uuid.UUID]:
    with session_scope(database) as session:
        if all_active:
            ids = active_template_ids(session)
            if not ids:
                raise UsageError("no active templates; add one with `cc-console template add`")
            return ids
        if not refs:
            raise UsageError("name a template with --template (or use --all-active)")
        return [find_template(session, ref).id for ref in refs]


def _say_waiting(line: str) -> None:
    err_console.print(line, markup=False, soft_wrap=True)


async def _run_all(database: Database, jobs: list[dict[str, Any]]) -> list[RunSummary]:
    from ..engine.silver_views import SilverViews
    from ..migrate.follower import DualWrite

    engine = database.async_engine()
    dual_write = DualWrite(engine)  # the summary waits for its catch-up
    views = SilverViews(engine)  # templates added with --views
    stop = asyncio.Event()
    watcher = None
    if err_console.is_terminal:
        since = await database_clock(engine)
        templates = [job["template_id"] for job in jobs]
        watcher = asyncio.create_task(watch_runs(engine, templates, since, err_console, stop))
    try:
        results = await asyncio.gather(
            *(
                run_template(engine, **job, companions=[dual_write, views], on_wait=_say_waiting)
                for job in jobs
            ),
            return_exceptions=True,
        )
    finally:
        stop.set()
        if watcher is not None:
            await watcher
        await dual_write.aclose()
        await engine.dispose()
    summaries = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        summaries.append(result)
    return summaries


def _report(summaries: list[RunSummary], json_output: bool) -> None:
    if json_output:
        emit_json(
            [s.as_dict() for s in summaries] if len(summaries) > 1 else summaries[0].as_dict()
        )
    else:
        for s in summaries:
            console.print(
                f"run {s.run_id[:8]} {s.resource_path}: {s.status} — {landing_line(s)};"
                f" {s.pages} pages, {s.requests} requests, {s.retries} retries, {s.http_429} 429s,"
                f" {s.errors} errors, waited {s.wait_s:.1f}s, {s.duration_s:.1f}s",
                markup=False,
            )
            if s.learned_rps is not None:
                console.print(f"  paced at the learned {s.learned_rps:g} req/s", markup=False)
            if s.sync_mode != "full" or s.keyset_from not in (None, "everything"):
                console.print(f"  {s.sync_mode}: asked for {s.keyset_from}", markup=False)
            if s.message:
                console.print(f"  {s.message}", markup=False)
            if s.legacy_writes is not None:
                lost = s.legacy_write_failures or 0
                console.print(
                    f"  dual-write: {s.legacy_writes:,} attempts mirrored to the legacy store"
                    + (
                        f", {lost:,} NOT written (see the run's legacy_write event)" if lost else ""
                    ),
                    markup=False,
                )
    if any(s.status != "succeeded" for s in summaries):
        raise typer.Exit(1)


def landing_line(s: RunSummary) -> str:
    """What a run fetched, landed and rejected, and whether the chain reconciles."""
    count = "?" if s.odata_count is None else f"{s.odata_count:,}"
    check = {True: "reconciled", False: "NOT reconciled", None: "no count"}[s.reconciled]
    split = (
        f" ({s.inserted:,} new, {s.updated:,} changed, {s.unchanged:,} unchanged)"
        if s.inserted is not None and s.updated is not None and s.unchanged is not None
        else ""
    )
    chain = s.chain_landed if s.chain_landed is not None else s.landed
    resumed = f", {chain:,} by the resume chain" if chain != s.landed else ""
    rejected = f", {s.rejected:,} rejected" if s.rejected else ""
    if s.deleted is not None:
        rejected += f", {s.deleted:,} marked deleted"
    return (
        f"{s.records:,} fetched, {s.landed:,} landed{split}{rejected}{resumed}"
        f" of {count} counted ({check})"
    )


def sync(
    template: Annotated[
        list[str] | None, typer.Option("--template", "-t", help="Template id/prefix/name.")
    ] = None,
    all_active: Annotated[bool, typer.Option(help="Every active template, concurrently.")] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Incremental templates read everything once, ignoring their watermark.",
        ),
    ] = False,
    detect_deletes: Annotated[
        bool,
        typer.Option(
            "--detect-deletes",
            help="With --full-refresh (no $filter): mark Silver rows the server no longer has"
            " as deleted — proven by the count, or checked one by one.",
        ),
    ] = False,
    no_coordination: Annotated[
        bool,
        typer.Option(
            "--no-coordination",
            help="This run paces itself alone: no shared rate-limit state or pacing (for"
            " comparing against coordinated runs).",
        ),
    ] = False,
    enqueue: EnqueueOpt = False,
    queue: QueueOpt = "sync",
    json_output: JsonOpt = False,
) -> None:
    """Run a sync of templates (exit 0 succeeded, 1 partial/failed): a full one from the
    start, or — for an incremental template — what changed since its last completed run."""
    user = current_user(settings())
    if enqueue and (full_refresh or detect_deletes or no_coordination):
        raise UsageError(
            "--enqueue runs a template as scheduled; --full-refresh, --detect-deletes and"
            " --no-coordination are for a sync run here"
        )
    with open_db() as database:
        ids = _template_ids(database, template or [], all_active)
        jobs = [
            {
                "template_id": i,
                "trigger": "manual",
                "created_by": user,
                "full_refresh": full_refresh,
                "detect_deletes": detect_deletes,
                "coordinate": not no_coordination,
            }
            for i in ids
        ]
        if enqueue:
            _enqueued(database, jobs, queue, json_output)
            return
        _record(database, jobs)
        summaries = asyncio.run(_run_all(database, jobs))
    _report(summaries, json_output)


async def _stale(database: Database) -> None:
    await with_async_engine(database, mark_stale_runs)


def _continue(
    run_ref: str, trigger: str, json_output: bool, enqueue: bool = False, queue: str = "sync"
) -> None:
    user = current_user(settings())
    with open_db() as database:
        if enqueue:

            async def check(engine: AsyncEngine) -> dict[str, Any]:
                return continue_job(await resolve_run(engine, run_ref), trigger, user)

            _enqueued(
                database, [asyncio.run(with_async_engine(database, check))], queue, json_output
            )
            return

        def waiting(left_s: float) -> None:
            err_console.print(
                f"that run holds its cursor's lease for {left_s:.0f} s more; waiting to see"
                " whether its engine is alive…"
            )

        async def job(engine: AsyncEngine) -> dict[str, Any]:  # settle_run sweeps if need be
            found = await settle_run(engine, await resolve_run(engine, run_ref), waiting)
            return continue_job(found, trigger, user)

        jobs = [asyncio.run(with_async_engine(database, job))]
        _record(database, jobs)
        summaries = asyncio.run(_run_all(database, jobs))
    _report(summaries, json_output)


def resume(
    run: Annotated[
        str | None, typer.Argument(help="Id (or prefix) of a failed/partial run.")
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", "-t", help="Resume the latest run of this template."),
    ] = None,
    enqueue: EnqueueOpt = False,
    queue: QueueOpt = "sync",
    json_output: JsonOpt = False,
) -> None:
    """Continue a failed or partial run from its cursor (a new run, parent linked)."""
    if (run is None) == (template is None):
        raise UsageError("give a run id, or --template NAME (one of the two)")
    if template is not None:
        with open_db() as database, session_scope(database) as session:
            latest = latest_run_id(session.connection(), find_template(session, template).id)
        if latest is None:
            raise NotFoundError(f"template {template!r} has no run to resume; use `sync`")
        run = str(latest)
    assert run is not None
    _continue(run, "resume", json_output, enqueue, queue)


def retry(
    run: Annotated[str, typer.Argument(help="Id (or prefix) of a run to redo.")],
    enqueue: EnqueueOpt = False,
    queue: QueueOpt = "sync",
    json_output: JsonOpt = False,
) -> None:
    """Run that run's template again from the start (Silver upserts keep it exact)."""
    _continue(run, "retry", json_output, enqueue, queue)


def cancel(run: Annotated[str, typer.Argument(help="Id (or prefix) of a running run.")]) -> None:
    """Ask a running run to stop between attempts (it ends partial and can be resumed)."""
    with open_db() as database:

        async def flag(engine: AsyncEngine) -> tuple[RunRow, bool]:
            found = await resolve_run(engine, run)
            return found, await request_cancel(engine, found.id)

        found, flagged = asyncio.run(with_async_engine(database, flag))
        with database.engine.begin() as conn:
            record_action(
                conn,
                operator(),
                "cancel",
                template_id=found.template_id,
                run_id=found.id,
                detail={"flagged": flagged, "status": found.status},
            )
    state = "cancel requested" if flagged else f"already {found.status}"
    console.print(f"run {str(found.id)[:8]}: {state}")


# what `runs --json` prints of each run
_RUN_JSON = (
    "id",
    "parent_run_id",
    "resource_path",
    "trigger",
    "sync_mode",
    "keyset_from",
    "status",
    "started_at",
    "finished_at",
    "pages",
    "records",
    "records_landed",
    "records_deleted",
    "records_inserted",
    "records_updated",
    "records_unchanged",
    "records_rejected",
    "chain_records_landed",
    "odata_count",
    "requests",
    "retries",
    "http_429_count",
    "error_count",
    "wait_s",
    "message",
    "job_id",
    "auto_resumes",
)


def runs(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recent sync runs (stale running runs are marked interrupted first)."""
    with open_db() as database:
        asyncio.run(_stale(database))
        with database.engine.connect() as conn:
            rows = recent_runs(conn, limit)
            after = run_outcomes(
                conn,
                [r.id for r in rows],
                max_auto_resumes=settings().worker_max_auto_resumes,
            )
    if json_output:
        emit_json(
            [
                {
                    **{name: getattr(r, name) for name in _RUN_JSON},
                    "reconciled": r.reconciled,
                    "after": after.get(r.id),
                }
                for r in rows
            ]
        )
        return
    if not rows:
        console.print("no runs yet: `cc-console sync --template NAME`")
        return
    table = Table(
        "run",
        "resource",
        "trigger",
        "mode",
        "status",
        "landed/count",
        "rejected",
        "req",
        "429",
        "err",
        "after",
        box=None,
    )
    for r in rows:
        count = "?" if r.odata_count is None else f"{r.odata_count:,}"
        chain = r.chain_records_landed if r.chain_records_landed is not None else r.records_landed
        table.add_row(
            str(r.id)[:8],
            r.resource_path,
            r.trigger,
            r.sync_mode,
            r.status,
            f"{chain:,}/{count}",
            f"{r.records_rejected:,}",
            str(r.requests),
            str(r.http_429_count),
            str(r.error_count),
            after.get(r.id, ""),
        )
    console.print(table)
