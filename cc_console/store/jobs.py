"""What the workers' scheduler asks every tick, and what ``jobs`` and the console show: due
templates, runs to resume, and procrastinate's jobs beside the runs they made.

procrastinate owns its tables (``procrastinate_jobs``, ``_workers``, ``_events``); we only read
them here, joined to ours: a run carries its ``job_id``, a job's template is in its args. One
template has at most one job queued and one running: every sync job of a template carries the
lock and queueing lock :func:`template_lock`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import ErrorKind
from .rows import fetch_dicts

__all__ = [
    "NOTICE_KINDS",
    "SYNC_TASK",
    "ResumeCandidate",
    "auto_resume_candidates",
    "due_templates",
    "expire_finished_jobs",
    "job_counts",
    "schedule_view",
    "list_jobs",
    "list_workers",
    "name_workers",
    "prune_worker_names",
    "workers_alive",
    "run_outcomes",
    "template_lock",
]

SYNC_TASK = "cc:sync"  # procrastinate's name of the sync task (namespace ``cc``)

# kinds a run records beside its work, never the cause it ended with
NOTICE_KINDS = (ErrorKind.CURSOR_RESTARTED.value, ErrorKind.LEGACY_WRITE.value)
AUTO_RESUME_KINDS = tuple(k.value for k in ErrorKind if k.after_run == "auto_resume")


def template_lock(template_id: uuid.UUID | str) -> str:
    """The procrastinate lock and queueing lock of every sync job of a template."""
    return f"template:{template_id}"


_NO_JOB = (
    "NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.status IN ('todo', 'doing')"
    " AND (j.lock = 'template:' || t.id::text OR j.queueing_lock = 'template:' || t.id::text))"
)

# the cause a run ended with: its last event that is not a notice
_CAUSE = (
    "(SELECT e.kind FROM cc_error_event e WHERE e.run_id = r.id AND e.kind <> ALL(:notices)"
    " ORDER BY e.occurred_at DESC LIMIT 1)"
)


async def due_templates(conn: AsyncConnection) -> list[uuid.UUID]:
    """Scheduled templates (active, of an active config) whose interval has passed since
    their last run started, with no run going and no job queued or running: one run each,
    however many ticks were missed."""
    rows = await conn.execute(
        text(
            "SELECT t.id FROM cc_odata_query_template t JOIN cc_api_client_config c"
            " ON c.id = t.config_id WHERE t.is_active AND c.is_active"
            f" AND t.schedule_interval_s IS NOT NULL AND {_NO_JOB}"
            " AND NOT EXISTS (SELECT 1 FROM cc_sync_run r WHERE r.template_id = t.id"
            "   AND (r.status = 'running' OR r.started_at"
            "     > clock_timestamp() - make_interval(secs => t.schedule_interval_s)))"
            " ORDER BY t.id"
        )
    )
    return [row.id for row in rows]


@dataclass(frozen=True)
class ResumeCandidate:
    """A template's latest run, ended by a cause that goes by itself, to be resumed."""

    run_id: uuid.UUID
    template_id: uuid.UUID
    auto_resumes: int
    cause: str
    resume_at: datetime  # its end + the backoff for this many resumes


async def auto_resume_candidates(
    conn: AsyncConnection, *, max_auto_resumes: int, base_delay_s: float
) -> list[ResumeCandidate]:
    """Latest runs of active templates that a worker's job ran, ended failed or partial for
    an auto-resumable cause, resumed fewer than ``max_auto_resumes`` times, with no job queued
    or running for their template; each to be resumed ``base_delay_s * 2**auto_resumes``
    after it ended."""
    rows = await conn.execute(
        text(
            "SELECT r.id, r.template_id, r.auto_resumes, r.cause,"
            " r.finished_at + make_interval(secs => :base * power(2, r.auto_resumes)) AS resume_at"
            " FROM cc_odata_query_template t JOIN cc_api_client_config c ON c.id = t.config_id"
            " CROSS JOIN LATERAL (SELECT r.*, " + _CAUSE + " AS cause FROM cc_sync_run r"
            "   WHERE r.template_id = t.id ORDER BY r.started_at DESC LIMIT 1) r"
            f" WHERE t.is_active AND c.is_active AND {_NO_JOB}"
            " AND r.status IN ('failed', 'partial') AND r.job_id IS NOT NULL"
            " AND r.auto_resumes < :max AND r.cause = ANY(:kinds) ORDER BY r.finished_at"
        ),
        {
            "base": base_delay_s,
            "max": max_auto_resumes,
            "kinds": list(AUTO_RESUME_KINDS),
            "notices": list(NOTICE_KINDS),
        },
    )
    return [
        ResumeCandidate(r.id, r.template_id, r.auto_resumes, r.cause, r.resume_at) for r in rows
    ]


async def list_jobs(
    conn: AsyncConnection, *, states: tuple[str, ...], limit: int
) -> list[dict[str, Any]]:
    """Sync jobs in these procrastinate states, newest first, with the run each made and its
    template's name: what ``jobs`` prints and the Workers view shows."""
    return await fetch_dicts(
        conn,
        text(
            "SELECT j.id, j.status::text AS status, j.queue_name AS queue,"
            " j.args->>'action' AS action, (j.args->>'template_id')::uuid AS template_id,"
            " t.name AS template, j.scheduled_at, j.attempts, j.worker_id,"
            " (SELECT min(ev.at) FROM procrastinate_events ev WHERE ev.job_id = j.id"
            "   AND ev.type = 'deferred') AS deferred_at,"
            " (SELECT max(ev.at) FROM procrastinate_events ev WHERE ev.job_id = j.id"
            "   AND ev.type = 'started') AS started_at,"
            " r.id AS run_id, r.status AS run_status, r.auto_resumes"
            " FROM procrastinate_jobs j"
            " LEFT JOIN cc_odata_query_template t ON t.id::text = j.args->>'template_id'"
            " LEFT JOIN LATERAL (SELECT r.id, r.status, r.auto_resumes FROM cc_sync_run r"
            "   WHERE r.job_id = j.id ORDER BY r.started_at DESC LIMIT 1) r ON true"
            " WHERE j.task_name = :task AND j.status::text = ANY(:states)"
            " ORDER BY j.id DESC LIMIT :limit"
        ),
        task=SYNC_TASK,
        states=list(states),
        limit=limit,
    )


async def list_workers(conn: AsyncConnection) -> list[dict[str, Any]]:
    """procrastinate's registered workers with their last heartbeat and how long ago it was
    (by the database's clock), and the sync jobs each runs."""
    return await fetch_dicts(
        conn,
        text(
            "SELECT w.id, n.name, n.role, n.host, n.pid, w.last_heartbeat,"
            " EXTRACT(EPOCH FROM clock_timestamp() - w.last_heartbeat) AS heartbeat_age_s,"
            " (SELECT count(*) FROM procrastinate_jobs j WHERE j.worker_id = w.id"
            "   AND j.status = 'doing' AND j.task_name = :task) AS running"
            " FROM procrastinate_workers w LEFT JOIN cc_worker n ON n.procrastinate_id = w.id"
            " ORDER BY n.name NULLS LAST, w.id"
        ),
        task=SYNC_TASK,
    )


async def name_workers(
    conn: AsyncConnection, workers: list[tuple[int, str, str]], host: str, pid: int
) -> None:
    """Record which process (``--name``, host, pid) the procrastinate workers ``(id, name,
    role)`` belong to."""
    for worker_id, name, role in workers:
        await conn.execute(
            text(
                "INSERT INTO cc_worker (procrastinate_id, name, role, host, pid)"
                " VALUES (:id, :name, :role, :host, :pid) ON CONFLICT (procrastinate_id)"
                " DO UPDATE SET name = :name, role = :role, host = :host, pid = :pid"
            ),
            {"id": worker_id, "name": name, "role": role, "host": host, "pid": pid},
        )


def prune_worker_names(conn: Connection) -> int:
    """Delete the names of workers procrastinate no longer knows; how many."""
    result = conn.execute(
        text(
            "DELETE FROM cc_worker n WHERE NOT EXISTS"
            " (SELECT 1 FROM procrastinate_workers w WHERE w.id = n.procrastinate_id)"
        )
    )
    return int(result.rowcount)


_OUTCOMES = text(
    "SELECT r.id, r.job_id, r.auto_resumes, " + _CAUSE + " AS cause,"
    " (SELECT c.id FROM cc_sync_run c WHERE c.parent_run_id = r.id"
    "   ORDER BY c.started_at LIMIT 1) AS child,"
    # the run that took its cursor: the newest other run of the cursor started before it ended
    " (SELECT o.id FROM cc_sync_run o WHERE o.config_id = r.config_id"
    "   AND o.resource_path = r.resource_path AND o.filter_hash IS NOT DISTINCT FROM r.filter_hash"
    "   AND o.id <> r.id AND o.started_at <= r.finished_at ORDER BY o.started_at DESC LIMIT 1)"
    "   AS holder"
    " FROM cc_sync_run r WHERE r.id = ANY(:ids) AND r.status IN ('failed', 'partial')"
)


def run_outcomes(
    conn: Connection, run_ids: list[uuid.UUID], *, max_auto_resumes: int
) -> dict[uuid.UUID, str]:
    """What becomes of each failed or partial run (``runs`` shows it): ``resumed by <run>``,
    ``auto-resume`` (a worker will), ``resumable`` (started inline: ``cc-console resume``),
    ``superseded by <run>`` (another run took its cursor) or ``needs attention``."""
    outcomes: dict[uuid.UUID, str] = {}
    rows = conn.execute(_OUTCOMES, {"ids": run_ids, "notices": list(NOTICE_KINDS)})
    for row in rows:
        verdict = ErrorKind(row.cause).after_run if row.cause else "needs_attention"
        if row.child is not None:
            outcomes[row.id] = f"resumed by {str(row.child)[:8]}"
        elif verdict == "superseded":
            holder = "another run" if row.holder is None else str(row.holder)[:8]
            outcomes[row.id] = f"superseded by {holder}"
        elif verdict == "auto_resume" and row.job_id is None:
            outcomes[row.id] = "resumable"
        elif verdict == "auto_resume" and row.auto_resumes < max_auto_resumes:
            outcomes[row.id] = "auto-resume"
        elif verdict == "auto_resume":
            outcomes[row.id] = "needs attention (auto-resumes spent)"
        else:
            outcomes[row.id] = "needs attention"
    return outcomes


async def job_counts(conn: AsyncConnection) -> dict[str, int]:
    """Sync jobs by procrastinate state (``todo`` split into ``queued`` and ``scheduled``:
    due later)."""
    rows = await conn.execute(
        text(
            "SELECT CASE WHEN status = 'todo' AND scheduled_at > clock_timestamp()"
            " THEN 'scheduled' WHEN status = 'todo' THEN 'queued' ELSE status::text END AS state,"
            " count(*) AS n FROM procrastinate_jobs WHERE task_name = :task GROUP BY 1"
        ),
        {"task": SYNC_TASK},
    )
    return {row.state: row.n for row in rows}


async def schedule_view(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Each scheduled template (active, of an active config): its interval, its last run's
    start and status, when it is next due (its last start + interval; now when it has never
    run) and seconds until then, by the database's clock; and whether a job is queued."""
    return await fetch_dicts(
        conn,
        text(
            "SELECT t.id, COALESCE(t.name, t.resource_path) AS template, t.schedule_interval_s,"
            " last.started_at AS last_started_at, last.status AS last_status,"
            " COALESCE(last.started_at + make_interval(secs => t.schedule_interval_s),"
            "   clock_timestamp()) AS next_due_at,"
            " GREATEST(0, EXTRACT(EPOCH FROM COALESCE(last.started_at + make_interval(secs =>"
            "   t.schedule_interval_s), clock_timestamp()) - clock_timestamp())) AS due_in_s,"
            f" NOT {_NO_JOB} AS job_pending"
            " FROM cc_odata_query_template t JOIN cc_api_client_config c ON c.id = t.config_id"
            " LEFT JOIN LATERAL (SELECT r.started_at, r.status FROM cc_sync_run r"
            "   WHERE r.template_id = t.id ORDER BY r.started_at DESC LIMIT 1) last ON true"
            " WHERE t.is_active AND c.is_active AND t.schedule_interval_s IS NOT NULL"
            " ORDER BY next_due_at, template"
        ),
    )


async def workers_alive(conn: AsyncConnection, *, silent_after_s: float) -> int:
    """Workers whose heartbeat is younger than ``silent_after_s`` (by the database's clock)."""
    count: int = (
        await conn.execute(
            text(
                "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat"
                " > clock_timestamp() - make_interval(secs => :s)"
            ),
            {"s": silent_after_s},
        )
    ).scalar_one()
    return count


FINISHED_JOB_STATES = ("succeeded", "failed", "cancelled", "aborted")


def expire_finished_jobs(conn: Connection, *, retention_days: int, dry_run: bool) -> int:
    """Jobs that ended (succeeded, failed, cancelled, aborted) longer than ``retention_days``
    ago, by their newest event — counted, and deleted with their events unless ``dry_run``
    (``db maintain``; the runs they made keep their ``job_id``). Procrastinate's own
    delete_old_jobs query, in the caller's transaction."""
    old = (
        "SELECT j.id FROM procrastinate_jobs j WHERE j.status::text = ANY(:states)"
        " AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id)"
        " < clock_timestamp() - make_interval(days => :days)"
    )
    params = {"states": list(FINISHED_JOB_STATES), "days": retention_days}
    if dry_run:
        return int(conn.execute(text(f"SELECT count(*) FROM ({old}) o"), params).scalar_one())
    deleted = conn.execute(text(f"DELETE FROM procrastinate_jobs WHERE id IN ({old})"), params)
    return int(deleted.rowcount)
