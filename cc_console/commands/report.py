"""``cc-console report sla|throttling|validation|audit``: the numbers, in one look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import NotFoundError, UsageError
from ..reports import resolve_window, run_report
from ..reports.sla import RECENT_RUNS
from .common import console, emit_json, open_db, parse_duration

__all__ = ["ReportName", "metrics", "report"]


class ReportName(StrEnum):
    sla = "sla"
    throttling = "throttling"
    validation = "validation"
    audit = "audit"


def report(
    name: Annotated[ReportName, typer.Argument(help="sla, throttling, validation or audit.")],
    since: Annotated[str, typer.Option(help="Window length, e.g. 24h, 7d, 30d.")] = "7d",
    config: Annotated[str | None, typer.Option(help="Only this config.")] = None,
    until: Annotated[
        str | None, typer.Option(help="End of the window, ISO 8601 (default: now).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print an operational report over a bounded window.

    Exit 1 when it finds a problem: an SLA or freshness breach, an expected endpoint below 95%
    parse_ok, a request without response or explanation, a response without a run, or a
    rising 429 rate.
    """
    seconds = parse_duration(since, "--since")
    assert seconds is not None
    end = _instant(until) if until else datetime.now(UTC)
    with open_db() as database, database.engine.connect() as conn:
        try:
            window = resolve_window(conn, now=end, since=timedelta(seconds=seconds), config=config)
        except LookupError as exc:
            raise NotFoundError(str(exc)) from None
        data = run_report(conn, name.value, window)
    if json_output:
        emit_json(data)
    else:
        RENDER[name.value](data)
    if _breached(data):
        raise typer.Exit(1)


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--until takes an ISO 8601 time like 2026-11-26T12:00Z (got {value!r})"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _breached(data: dict[str, Any]) -> bool:
    return bool(
        data.get("breaches")
        or data.get("endpoints_below_target")
        or data.get("unexplained")
        or data.get("responses_without_run")
        or data.get("trend") == "rising"
    )


def _table(*columns: str) -> Table:
    return Table(*columns, box=None, pad_edge=False, header_style="bold")


def _n(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _title(data: dict[str, Any], headline: str) -> None:
    w = data["window"]
    scope = f", config {w['config']}" if w["config"] else ""
    console.print(
        f"{data['report']} report {w['start'][:16]} → {w['end'][:16]}{scope}: {headline}",
        markup=False,
    )


def _sla(data: dict[str, Any]) -> None:
    _title(data, f"{data['breaches']} breach(es)")
    table = _table(
        "template",
        "runs",
        "ok %",
        "p50 s",
        "p95 s",
        "max s",
        "SLA s",
        "fresh s",
        "breaches",
        "reconciled",
    )
    for t in data["templates"]:
        rate = None if t["success_rate"] is None else t["success_rate"] * 100
        fresh = _n(t["freshness_s"], 0) + (" BREACH" if t["freshness_breach"] else "")
        table.add_row(
            t["template"],
            _n(t["runs"]),
            _n(rate),
            _n(t["duration_p50_s"]),
            _n(t["duration_p95_s"]),
            _n(t["duration_max_s"]),
            _n(t["sla_target_s"]),
            fresh,
            _n(t["breaches"]),
            f"{t['reconciled_runs']} ok, {len(t['unreconciled_runs'])} not",
        )
    console.print(table)
    for t in data["templates"]:
        if t["failing"]:
            console.print(
                f"  breach: {t['template']}: its last {min(t['runs'], RECENT_RUNS)} runs all"
                " failed",
                markup=False,
            )
        if t["never_succeeded"]:
            console.print(
                f"  breach: {t['template']} has never succeeded, and its first run plus its"
                " SLA has passed",
                markup=False,
            )
        for b in t["sla_breaches"]:
            console.print(
                f"  breach: {t['template']} run {b['run_id'][:8]} took "
                f"{b['duration_s']:.1f}s > {b['target_s']}s",
                markup=False,
            )


def _throttling(data: dict[str, Any]) -> None:
    ratio = "—" if data["ratio"] is None else f"{data['ratio']:.2%}"
    _title(
        data,
        f"{data['http_429']} × 429 of {data['requests']:,} requests ({ratio}), "
        f"waited {data['wait_s']:.1f}s, trend {data['trend']}",
    )
    table = _table("day", "requests", "429", "ratio")
    for d in data["daily"]:
        table.add_row(
            d["day"],
            _n(d["requests"]),
            _n(d["http_429"]),
            "—" if d["ratio"] is None else f"{d['ratio']:.2%}",
        )
    console.print(table)
    hours = _table("hour", "endpoint", "429")
    for h in data["by_endpoint_hour"]:
        hours.add_row(h["hour"][:13], h["endpoint"], _n(h["count"]))
    console.print(hours)
    for scope in data["exhausted_scopes"]:
        console.print(
            f"  remaining hit 0 on {scope['endpoint']}: {scope['responses_at_zero']}×", markup=False
        )
    if data["suggestion"]:
        console.print(
            f"suggestion: max {data['suggestion']['max_requests_per_second']} req/s — "
            f"{data['suggestion']['why']}",
            markup=False,
        )


def _validation(data: dict[str, Any]) -> None:
    _title(
        data,
        f"{data['endpoints_below_target']} expected endpoint(s) below "
        f"{data['target']:.0%} parse_ok",
    )
    table = _table("endpoint", "2xx responses", "parse_ok", "%", "")
    for e in data["endpoints"]:
        flag = "BELOW TARGET" if e["below_target"] else ("" if e["expected"] else "(unexpected)")
        table.add_row(
            e["endpoint"], _n(e["responses"]), _n(e["parse_ok"]), f"{e['parse_ok_ratio']:.1%}", flag
        )
    console.print(table)
    for k in data["error_kinds"]:
        console.print(f"  {k['resource_path']}: {k['kind']} × {k['count']}", markup=False)
    for d in data["drift"]:
        console.print(
            f"  drift on {d['resource_path']} since {d['first_seen'][:19]}: {d['drift']} "
            f"(first in response {d['first_response_id'][:8]}, {d['pages']} page(s))",
            markup=False,
        )


def _audit(data: dict[str, Any]) -> None:
    _title(data, f"{data['correlation_pct']}% correlated")
    console.print(
        f"requests {data['requests']:,}, responses {data['responses']:,}, without a "
        f"response {data['requests_without_response']:,} "
        f"({', '.join(f'{k} {v}' for k, v in data['explained'].items())}, "
        f"unexplained {data['unexplained']})",
        markup=False,
    )
    console.print(
        f"responses without a run: {data['responses_without_run']} (must be 0); runs "
        f"without requests: {len(data['runs_without_requests'])}",
        markup=False,
    )


RENDER = {"sla": _sla, "throttling": _throttling, "validation": _validation, "audit": _audit}


def metrics(
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless told otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 9464,
) -> None:
    """Serve /metrics (OpenMetrics, read from the database at each scrape) until Ctrl+C."""
    import threading

    from ..reports.metrics import serve_metrics

    with open_db() as database:
        try:
            server, _thread = serve_metrics(database.engine, host, port)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
            ) from None
        console.print(
            f"serving http://{host}:{server.server_port}/metrics from {database.display_url}"
            " (Ctrl+C stops)",
            markup=False,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
