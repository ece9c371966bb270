"""SLA: per template — runs, success rate, durations, freshness and reconciliation."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, text

from ..store.runs import reconciled
from .window import Window, percentile

__all__ = ["RECENT_RUNS", "sla_report"]

_TEMPLATES = text(
    """
    SELECT t.id, COALESCE(t.name, t.resource_path) AS template, t.resource_path,
           t.sla_target_s, t.schedule_interval_s, t.created_at, c.name AS config
    FROM cc_odata_query_template t JOIN cc_api_client_config c ON c.id = t.config_id
    WHERE t.is_active AND (CAST(:config AS uuid) IS NULL OR t.config_id = :config)
    ORDER BY c.name, template
    """
)

_RUNS = text(
    """
    SELECT id, template_id, status, started_at, finished_at, records, records_landed,
           records_rejected, chain_records_landed, odata_count,
           extract(epoch FROM finished_at - started_at) AS duration_s, sla_target_s
    FROM cc_sync_run
    WHERE started_at >= :start AND started_at < :end AND template_id IS NOT NULL
      AND (CAST(:config AS uuid) IS NULL OR config_id = :config)
    ORDER BY started_at
    """
)

_LAST_SUCCESS = text(
    """
    SELECT template_id, max(finished_at) AS at FROM cc_sync_run
    WHERE status = 'succeeded' AND finished_at < :end GROUP BY template_id
    """
)


_FIRST_RUN = text(
    """
    SELECT template_id, min(started_at) AS at FROM cc_sync_run
    WHERE started_at < :end AND template_id IS NOT NULL GROUP BY template_id
    """
)

RECENT_RUNS = 3  # a template whose last this many runs all failed is in breach


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def sla_report(conn: Connection, window: Window) -> dict[str, Any]:
    """Per active template over the window: run durations against the SLA target, freshness
    (time since the last success, at the window's end) against the schedule interval."""
    runs_by_template: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for run in conn.execute(_RUNS, window.params).mappings():
        runs_by_template[run["template_id"]].append(dict(run))
    last_success = {r.template_id: r.at for r in conn.execute(_LAST_SUCCESS, window.params)}
    first_run = {r.template_id: r.at for r in conn.execute(_FIRST_RUN, window.params)}
    templates = []
    breaches = 0
    for t in conn.execute(_TEMPLATES, window.params).mappings():
        runs = runs_by_template.get(t["id"], [])
        finished = [r for r in runs if r["finished_at"] is not None]
        durations = [float(r["duration_s"]) for r in finished]
        target = t["sla_target_s"]
        slow = [
            {
                "run_id": str(r["id"]),
                "duration_s": _round(float(r["duration_s"])),
                "target_s": target,
            }
            for r in finished
            if target and float(r["duration_s"]) > target
        ]
        counted = [r for r in finished if r["odata_count"] is not None]
        unreconciled = [
            {
                "run_id": str(r["id"]),
                "status": r["status"],
                "records": r["records"],
                "landed": r["records_landed"],
                "chain_landed": r["chain_records_landed"],
                "rejected": r["records_rejected"],
                "odata_count": r["odata_count"],
            }
            for r in counted
            if not reconciled(r["odata_count"], r["chain_records_landed"], r["records_landed"])
        ]
        succeeded = sum(1 for r in runs if r["status"] == "succeeded")
        last = last_success.get(t["id"])
        freshness = None if last is None else (window.end - last).total_seconds()
        limit = t["schedule_interval_s"]
        recent = finished[-RECENT_RUNS:]
        failing = bool(recent) and all(r["status"] != "succeeded" for r in recent)
        # never succeeded, though its first run (or first due run) plus its SLA has passed
        due = first_run.get(t["id"])
        if due is None and limit:
            due = t["created_at"] + timedelta(seconds=limit)
        deadline = None if due is None else due + timedelta(seconds=target or 0)
        never = last is None and deadline is not None and deadline < window.end
        # a scheduled template should have succeeded within its interval (once it was due)
        stale = bool(limit) and (never if freshness is None else freshness > limit)
        breached = len(slow) + int(stale or failing or never)
        breaches += breached
        templates.append(
            {
                "template": t["template"],
                "config": t["config"],
                "resource_path": t["resource_path"],
                "runs": len(runs),
                "succeeded": succeeded,
                "success_rate": _round(succeeded / len(runs)) if runs else None,
                "duration_p50_s": _round(percentile(durations, 0.5)),
                "duration_p95_s": _round(percentile(durations, 0.95)),
                "duration_max_s": _round(max(durations, default=None) if durations else None),
                "sla_target_s": target,
                "breaches": breached,  # slow runs, and one for not fresh / failing / never ok
                "sla_breaches": slow,
                "last_success_at": last.isoformat() if last else None,
                "freshness_s": _round(freshness),
                "freshness_limit_s": limit,
                "freshness_breach": stale,
                "failing": failing,
                "never_succeeded": never,
                "reconciled_runs": len(counted) - len(unreconciled),
                "unreconciled_runs": unreconciled,
            }
        )
    return {
        "report": "sla",
        "window": window.describe(),
        "breaches": breaches,
        "templates": templates,
    }
