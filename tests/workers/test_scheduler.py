"""The workers' tick on a real database, without worker processes: what it queues, when, and
what it leaves for a person (the processes themselves: test_worker_pool.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import procrastinate
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_console.errors import ErrorKind
from cc_console.settings import Settings
from cc_console.store.error_events import record_error_event
from cc_console.store.listen import psycopg_conninfo
from cc_console.store.runs import create_run, finish_run
from cc_console.workers.app import WorkerRuntime, build_app, defer_sync
from cc_console.workers.jobs import schedule_tick
from tests.tenant import Tenant

BASE_DELAY_S = 10.0


@pytest.fixture
async def queue(database) -> AsyncIterator[procrastinate.App]:  # type: ignore[no-untyped-def]
    app = build_app(psycopg_conninfo(database.url))
    async with app.open_async():
        yield app


@pytest.fixture
def runtime(aengine: AsyncEngine) -> WorkerRuntime:
    settings = Settings(worker_resume_delay_s=BASE_DELAY_S, worker_max_auto_resumes=2)
    return WorkerRuntime(engine=aengine, name="test", settings=settings)


def scheduled(t: Tenant, resource: str = "/studies/odata", every_s: int = 60) -> uuid.UUID:
    template = t.template(resource)
    with t.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_odata_query_template SET schedule_interval_s = :s WHERE id = :t"),
            {"s": every_s, "t": template},
        )
    return template


def jobs_of(t: Tenant, template: uuid.UUID) -> list[Any]:
    return t.rows(
        "SELECT id, status::text AS status, args, scheduled_at FROM procrastinate_jobs"
        " WHERE args->>'template_id' = :t ORDER BY id",
        t=str(template),
    )


def finish_jobs(t: Tenant) -> None:
    """As if a worker had run every queued job."""
    with t.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE status = 'todo'")
        )


async def ended_run(
    engine: AsyncEngine,
    t: Tenant,
    template: uuid.UUID,
    *,
    status: str = "partial",
    cause: ErrorKind | None = ErrorKind.HTTP_429,
    job_id: int | None = 1,
    auto_resumes: int = 0,
    ago_s: float = 120,
) -> uuid.UUID:
    """A run of ``template`` that ended ``ago_s`` seconds ago for ``cause``."""
    run_id = await create_run(
        engine,
        config_id=t.config_id,
        template_id=template,
        parent_run_id=None,
        resource_path="/studies/odata",
        filter_hash="",
        trigger="schedule",
        sla_target_s=None,
        created_by="t",
        job_id=job_id,
        auto_resumes=auto_resumes,
    )
    if cause is not None:
        async with engine.begin() as conn:
            await record_error_event(
                conn, kind=cause, message="m", config_id=t.config_id, run_id=run_id
            )
            await record_error_event(  # a notice after it is not the cause
                conn,
                kind=ErrorKind.CURSOR_RESTARTED,
                message="n",
                config_id=t.config_id,
                run_id=run_id,
            )
    await finish_run(engine, run_id, status, None)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cc_sync_run SET started_at = started_at - make_interval(secs => :s),"
                " finished_at = finished_at - make_interval(secs => :s) WHERE id = :id"
            ),
            {"s": ago_s, "id": run_id},
        )
    return run_id


async def test_a_due_template_is_queued_once_and_missed_ticks_make_one_run(
    tenant, queue, runtime
) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t)
    unscheduled = t.template("/sites/odata")
    first = await schedule_tick(queue, runtime)
    assert len(first.started) == 1
    assert (await schedule_tick(queue, runtime)).started == []  # queued already: not twice
    [job] = jobs_of(t, template)
    assert job.args["action"] == "start" and job.args["trigger"] == "schedule"
    assert jobs_of(t, unscheduled) == []

    finish_jobs(t)  # it ran: a run started 10 s ago is not due again for 50 s
    await ended_run(runtime.engine, t, template, status="succeeded", cause=None, ago_s=10)
    assert (await schedule_tick(queue, runtime)).started == []
    # an hour of ticks missed (no worker ran): one run, not sixty
    with t.database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_sync_run SET started_at = started_at - interval '1 hour',"
                " finished_at = finished_at - interval '1 hour'"
            )
        )
    assert len((await schedule_tick(queue, runtime)).started) == 1
    assert (await schedule_tick(queue, runtime)).started == []


async def test_inactive_templates_and_configs_are_not_scheduled(tenant, queue, runtime) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t)
    with t.database.engine.begin() as conn:
        conn.execute(text("UPDATE cc_api_client_config SET is_active = false"))
    assert (await schedule_tick(queue, runtime)).started == []
    with t.database.engine.begin() as conn:
        conn.execute(text("UPDATE cc_api_client_config SET is_active = true"))
        conn.execute(
            text("UPDATE cc_odata_query_template SET is_active = false WHERE id = :t"),
            {"t": template},
        )
    assert (await schedule_tick(queue, runtime)).started == []


async def test_a_run_that_ended_for_a_passing_cause_is_resumed_with_backoff(
    tenant, queue, runtime
) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t)
    run_id = await ended_run(runtime.engine, t, template, auto_resumes=1)
    result = await schedule_tick(queue, runtime)
    assert len(result.resumed) == 1 and result.started == []  # the resume holds the queue
    [job] = jobs_of(t, template)
    assert job.args == {
        "template_id": str(template),
        "action": "resume",
        "trigger": "resume",
        "created_by": "worker:test",
        "run_id": str(run_id),
        "auto_resumes": 2,
    }
    finished = t.scalar("SELECT finished_at FROM cc_sync_run WHERE id = :r", r=run_id)
    # the second automatic resume waits twice the base delay after the run ended
    assert (job.scheduled_at - finished).total_seconds() == pytest.approx(2 * BASE_DELAY_S)


@pytest.mark.parametrize(
    ("cause", "status", "job_id", "auto_resumes"),
    [
        (ErrorKind.HTTP_401, "failed", 1, 0),  # needs attention
        (ErrorKind.PARSE, "partial", 1, 0),
        (ErrorKind.CANCELLED, "partial", 1, 0),  # an operator stopped it
        (ErrorKind.LOST_CURSOR, "failed", 1, 0),  # superseded by the run that has the cursor
        (None, "partial", 1, 0),  # rejected records: no event says it passes by itself
        (ErrorKind.HTTP_429, "partial", None, 0),  # started inline: its operator decides
        (ErrorKind.HTTP_429, "partial", 1, 2),  # resumed the maximum number of times
        (ErrorKind.HTTP_429, "succeeded", 1, 0),
    ],
)
async def test_what_is_not_resumed_by_itself(
    tenant, queue, runtime, cause, status, job_id, auto_resumes
) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t, every_s=3600)
    await ended_run(
        runtime.engine,
        t,
        template,
        status=status,
        cause=cause,
        job_id=job_id,
        auto_resumes=auto_resumes,
        ago_s=60,
    )
    assert (await schedule_tick(queue, runtime)).resumed == []


async def test_only_the_latest_run_of_a_template_is_resumed(tenant, queue, runtime) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t, every_s=3600)
    await ended_run(runtime.engine, t, template, ago_s=300)  # resumable, but not the latest
    await ended_run(runtime.engine, t, template, status="succeeded", cause=None, ago_s=60)
    assert (await schedule_tick(queue, runtime)).resumed == []


async def test_jobs_of_a_dead_worker_are_failed_so_their_template_can_run(
    tenant, queue, runtime
) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = scheduled(t, every_s=3600)
    job_id = await defer_sync(queue, template, action="start", trigger="schedule", created_by="t")
    with t.database.engine.begin() as conn:
        dead = conn.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) VALUES"
                " (now() - interval '10 minutes') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :j"),
            {"w": dead, "j": job_id},
        )
    result = await schedule_tick(queue, runtime)
    assert result.failed_jobs == [job_id]
    assert [j.status for j in jobs_of(t, template)][0] == "failed"
    assert t.scalar("SELECT count(*) FROM procrastinate_workers WHERE id = :w", w=dead) == 0
    assert len(result.started) == 1  # its lock is free: the template runs again


async def test_runs_say_what_becomes_of_each_that_did_not_succeed(tenant, runtime) -> None:  # type: ignore[no-untyped-def]
    from cc_console.store.jobs import run_outcomes

    t = tenant()
    engine = runtime.engine
    cases = {
        "auto-resume": await ended_run(engine, t, t.template("/studies/odata")),
        "resumable": await ended_run(engine, t, t.template("/sites/odata"), job_id=None),
        "needs attention": await ended_run(
            engine, t, t.template("/patients/odata"), cause=ErrorKind.HTTP_401
        ),
        "needs attention (auto-resumes spent)": await ended_run(
            engine, t, t.template("/visits/odata"), auto_resumes=2
        ),
    }
    subjects = t.template("/subjects/odata")
    holder = await ended_run(engine, t, subjects, ago_s=200)
    lost = await ended_run(engine, t, subjects, cause=ErrorKind.LOST_CURSOR)
    with t.database.engine.begin() as conn:  # both of one cursor: the same path and filter
        conn.execute(
            text("UPDATE cc_sync_run SET resource_path = '/subjects/odata' WHERE id IN (:a, :b)"),
            {"a": holder, "b": lost},
        )
        parent = cases["resumable"]
        child = conn.execute(
            text(
                "INSERT INTO cc_sync_run (config_id, template_id, parent_run_id, resource_path,"
                " trigger, status, created_by) SELECT config_id, template_id, id, resource_path,"
                " 'resume', 'running', 't' FROM cc_sync_run WHERE id = :p RETURNING id"
            ),
            {"p": parent},
        ).scalar_one()
        outcomes = run_outcomes(conn, [*cases.values(), lost, child], max_auto_resumes=2)
    assert outcomes[lost] == f"superseded by {str(holder)[:8]}"
    assert outcomes[parent] == f"resumed by {str(child)[:8]}"
    assert child not in outcomes  # running: nothing to say yet
    for expected, run_id in cases.items():
        if run_id != parent:
            assert outcomes[run_id] == expected


async def test_an_auto_resume_of_a_run_someone_resumed_meanwhile_does_nothing(
    tenant, runtime
) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from cc_console.workers.jobs import sync_job

    t = tenant("clean")
    template = scheduled(t)
    first = await ended_run(runtime.engine, t, template, ago_s=300)
    # an operator resumed it by hand before the worker's delayed resume came due
    child = await ended_run(runtime.engine, t, template, ago_s=60)
    with t.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_sync_run SET parent_run_id = :p, trigger = 'resume' WHERE id = :c"),
            {"p": first, "c": child},
        )
    context = SimpleNamespace(additional_context={"runtime": runtime}, job=SimpleNamespace(id=7))
    await sync_job(
        context,  # type: ignore[arg-type]
        str(template),
        "resume",
        "resume",
        "worker:test",
        run_id=str(first),
        auto_resumes=1,
    )
    assert t.scalar("SELECT count(*) FROM cc_sync_run") == 2  # no second child of the first
