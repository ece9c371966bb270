"""``cc-console migrate backfill / verify``: cut over from the legacy feature-api-client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..engine.gc_tuning import tune_gc
from ..migrate import backfill, verify
from ..migrate.reader import count_window, open_legacy_source
from ..settings import current_user
from .common import console, emit_json, err_console, open_db, session_scope, settings

__all__ = ["app"]

app = typer.Typer(help="Cut over from the legacy feature-api-client: backfill, then verify.")

FromOpt = Annotated[str, typer.Option("--from", help="The legacy database URL (PostgreSQL).")]
ConfigOpt = Annotated[str, typer.Option(help="The config the legacy calls belong to.")]
DaysOpt = Annotated[int, typer.Option(min=1, max=90, help="Window: the last N days (max 90).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _config(database: Any, name: str) -> dict[str, Any]:
    from ..store.configs import get_config

    with session_scope(database) as session:
        row = get_config(session, name)
        masked = {row.auth_header.lower(), *(name.lower() for name in row.masked_headers or ())}
        return {
            "id": row.id,
            "base_url": row.base_url,
            "name": row.name,
            "masked_headers": frozenset(masked),
        }


@app.command(name="backfill")
def backfill_command(
    source: FromOpt,
    config: ConfigOpt,
    days: DaysOpt = 90,
    batch: Annotated[int, typer.Option(min=100, max=50_000, help="Rows per transaction.")] = 5000,
    writers: Annotated[
        int, typer.Option(min=1, max=8, help="Connections landing batches at once.")
    ] = 2,
    dry_run: Annotated[bool, typer.Option(help="Read and count; write nothing.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Copy the last N days of legacy calls (idempotent: rerun it safely after a kill)."""
    user = current_user(settings())
    legacy = open_legacy_source(source)
    tune_gc()  # each batch parses thousands of bodies: collect less often, as the engine does
    now = datetime.now(UTC)
    with open_db() as database:
        target = _config(database, config)
        total = count_window(legacy, now - timedelta(days=days))
        with Progress(
            TextColumn("backfill"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
            disable=json_output or not err_console.is_terminal,
        ) as bar:
            task = bar.add_task("rows", total=total)
            summary = backfill(
                legacy,
                database.engine,
                target,
                days=days,
                batch=batch,
                now=now,
                user=user,
                dry_run=dry_run,
                writers=writers,
                progress=lambda n: bar.advance(task, n),
            )
    legacy.dispose()
    data = {"config": config, "days": days, **summary.as_dict()}
    if json_output:
        emit_json(data)
        return
    verb = "would write" if dry_run else "wrote"
    console.print(
        f"read {summary.read:,} legacy calls, {verb} {summary.written:,} requests "
        f"(skipped {summary.skipped:,} already there or duplicated), {summary.responses:,} "
        f"responses, {summary.error_events:,} error events, {summary.runs:,} runs, "
        f"{summary.cursors:,} cursors; {summary.keys_scrubbed:,} raw keys masked; "
        f"{summary.seconds:.1f}s",
        markup=False,
    )


@app.command(name="verify")
def verify_command(
    source: FromOpt,
    config: ConfigOpt,
    days: DaysOpt = 90,
    sample: Annotated[int, typer.Option(min=1, help="Payloads to compare.")] = 500,
    json_output: JsonOpt = False,
) -> None:
    """Parity of legacy and new per day and endpoint, plus a payload sample (exit 0 = parity)."""
    legacy = open_legacy_source(source)
    with open_db() as database:
        report = verify(
            legacy,
            database.engine,
            _config(database, config),
            days=days,
            sample=sample,
            now=datetime.now(UTC),
        )
    legacy.dispose()
    if json_output:
        emit_json(report)
    else:
        state = "PARITY" if report["parity"] else f"{len(report['mismatches'])} MISMATCH(ES)"
        dual = report["dual_written"]
        console.print(
            f"{state}: {report['legacy_calls']:,} legacy calls, "
            f"{report['new_requests']:,} backfilled requests; "
            f"{dual['legacy_rows']:,} dual-written legacy rows, "
            f"{dual['new_requests']:,} requests of dual-writing runs; "
            f"{report['sampled']} payloads compared",
            markup=False,
        )
        for m in report["mismatches"][:50]:
            console.print(f"  {m}", markup=False)
    if not report["parity"]:
        raise typer.Exit(1)
