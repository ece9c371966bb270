"""``cc-console db``: upgrade, downgrade, status, stop, maintain, scrub."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Annotated, Any

import typer
from rich.table import Table

from ..engine.sealing import seal_ended
from ..errors import CcError, UsageError
from ..store import migrations
from ..store.archive import ArchiveError, archive_month
from ..store.audit_anchor import append_anchors, latest_seals
from ..store.audit_query import audit_clock
from ..store.audit_seal import Sealed
from ..store.auditor import AUDITOR_SCHEMA
from ..store.auditor import grant_auditor as grant_auditor_role
from ..store.embedded import stop_embedded
from ..store.jobs import expire_finished_jobs, prune_worker_names
from ..store.operator_actions import record_action
from ..store.partitions import apply_plan, plan_maintenance
from ..store.silver_reader import grant_reader as grant_reader_role
from ..store.silver_views import DEFAULT_SCHEMA
from ..store.status import database_status
from .common import (
    console,
    emit_json,
    err_console,
    open_db,
    operator,
    redaction_key,
    settings,
    with_async_engine,
)
from .db_client import PASSTHROUGH, dump, psql, url

app = typer.Typer(help="Manage the database: schema migrations, status, partitions.")
app.command()(url)
app.command(context_settings=PASSTHROUGH)(psql)
app.command(context_settings=PASSTHROUGH)(dump)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command()
def upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply schema migrations (creates the embedded database on first use)."""
    started = time.perf_counter()
    with open_db(migrate=False) as database:
        before = migrations.current_revision(database)
        migrations.upgrade(
            database, revision, notice=lambda line: err_console.print(line, markup=False)
        )
        after = migrations.current_revision(database)
    elapsed = time.perf_counter() - started
    if before == after:
        console.print(f"schema already at {after} ({database.display_url})")
    else:
        console.print(
            f"schema upgraded {before or 'empty'} -> {after} in {elapsed:.2f} s "
            f"({database.display_url})"
        )


@app.command()
def downgrade(
    revision: Annotated[str, typer.Option(help="Target revision; 'base' drops every table.")] = (
        "base"
    ),
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Revert schema migrations (to base: drop all cc-console tables and their data)."""
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("downgrade deletes data; pass --yes to confirm")
        typer.confirm(f"Downgrade to {revision} and delete the data it removes?", abort=True)
    with open_db(migrate=False) as database:
        before = migrations.current_revision(database)
        migrations.downgrade(database, revision)
        after = migrations.current_revision(database)
    console.print(f"schema downgraded {before or 'empty'} -> {after or 'base'}")


@app.command()
def status(json_output: JsonOpt = False) -> None:
    """Show the database in use, its server version, schema revision and table sizes."""
    with open_db(migrate=False) as database:
        report = database_status(database)
    if json_output:
        emit_json(report)
        return
    kind = "embedded" if report["embedded"] else "external"
    console.print(f"database  {report['url']} ({kind})")
    console.print(f"server    PostgreSQL {report['server_version']}")
    state = "up to date" if report["up_to_date"] else f"head is {report['schema_head']}"
    console.print(f"schema    {report['schema_revision'] or 'not migrated'} ({state})")
    if not report["tables"]:
        console.print("tables    none: run `cc-console db upgrade`")
        return
    table = Table("table", "rows", "size", "partitions", box=None, pad_edge=False)
    for row in report["tables"]:
        rows = f"{row['rows']:,}" if row["rows_exact"] else f"~{row['rows']:,} (estimate)"
        table.add_row(row["name"], rows, _human(row["bytes"]), str(row["partitions"]))
    console.print(table)


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL server (it restarts on the next command)."""
    config = settings()
    if config.database_url:
        raise UsageError("CC_DATABASE_URL is set: cc-console does not manage that server")
    if stop_embedded(config.pgdata):
        console.print(f"stopped the embedded PostgreSQL in {config.pgdata}")
    else:
        console.print(f"no embedded PostgreSQL is running in {config.pgdata}")


@app.command()
def maintain(
    retention_days: Annotated[
        int, typer.Option(min=1, help="Drop whole months older than this many days.")
    ] = 90,
    months_ahead: Annotated[
        int, typer.Option(min=0, max=24, help="Create partitions this many months ahead.")
    ] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
    no_archive: Annotated[
        bool,
        typer.Option(
            "--no-archive",
            help="Drop expired months without archiving them first (their audit trail is gone).",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Create monthly log partitions ahead and drop months past retention (and the workers'
    jobs that ended before it).

    A month is archived before it is dropped (gzip JSON lines per table and a manifest of row
    counts, sizes and SHA-256 under CC_ARCHIVE_DIR, default <data dir>/archive), read back,
    and only then dropped; a failing archive leaves the month in place. Rows that landed in
    the default partition (their month did not exist yet) move into their new month in the
    same transaction, with everything that points at them.
    """
    archive_dir = settings().archive_path
    archived: list[dict[str, Any]] = []
    sealed: list[Sealed] = []
    anchored = 0
    with open_db() as database:
        if not dry_run:  # runs that ended unsealed, sealed before their months are archived
            sealed = asyncio.run(with_async_engine(database, seal_ended))
        with database.engine.begin() as conn:
            plan = plan_maintenance(conn, retention_days=retention_days, months_ahead=months_ahead)
            if not dry_run:
                if not no_archive:
                    try:
                        for month in plan.drop:
                            manifest = archive_month(conn, month, archive_dir)
                            archived.append(
                                {**manifest.as_dict(), "path": str(archive_dir / manifest.month)}
                            )
                    except ArchiveError as exc:
                        raise CcError(
                            f"{exc}; nothing was dropped (fix it, or --no-archive)"
                        ) from None
                apply_plan(conn, plan)
            jobs = expire_finished_jobs(conn, retention_days=retention_days, dry_run=dry_run)
            if not dry_run:  # a dry run changes nothing: not an action either
                prune_worker_names(conn)  # names of workers procrastinate has pruned
                record_action(
                    conn,
                    operator(),
                    "maintain",
                    detail={
                        **plan.as_dict(),
                        "finished_jobs_expired": jobs,
                        "archived": [a["path"] for a in archived],
                        "no_archive": no_archive and bool(plan.drop),
                    },
                )
        if not dry_run:  # the heads, outside the database: see `audit verify --anchor`
            with database.engine.connect() as conn:
                anchored = append_anchors(
                    settings().anchor_path, latest_seals(conn), audit_clock(conn)
                )
    if json_output:
        emit_json(
            {
                **plan.as_dict(),
                "finished_jobs_expired": jobs,
                "dry_run": dry_run,
                "archived": archived,
                "sealed": [str(s.chain_id) for s in sealed],
                "anchored": anchored,
            }
        )
        return
    if jobs:
        verb = "would delete" if dry_run else "deleted"
        console.print(
            f"{verb} {jobs:,} worker job(s) that ended more than {retention_days} days ago"
        )
    verb_create, verb_drop = ("would create", "would drop") if dry_run else ("created", "dropped")
    verb_move = "would move" if dry_run else "moved"
    for entry in archived:
        rows = ", ".join(f"{t['rows']:,} {name}" for name, t in entry["tables"].items())
        console.print(f"archived month {entry['month']} to {entry['path']} ({rows})", markup=False)
    for month in plan.drop:
        kept = ""
        if dry_run and not no_archive:
            kept = f", archived first to {archive_dir / f'{month:%Y-%m}'}"
        if no_archive:
            kept = ", not archived (--no-archive)"
        console.print(
            f"{verb_drop} month {month:%Y-%m} (request and response logs{kept})", markup=False
        )
    for month in plan.create:
        stranded = plan.move_from_default.get(month)
        moved = (
            f" ({verb_move} its {stranded:,} request rows, with their responses and what points"
            " at them, out of the default partition)"
            if stranded
            else ""
        )
        console.print(f"{verb_create} month {month:%Y-%m}{moved}")
    if not plan.drop and not plan.create:
        console.print("partitions already in shape: nothing to do")
    if sealed:
        console.print(f"sealed {len(sealed)} audit chain(s) that had ended without a seal")
    if anchored:
        console.print(
            f"anchored {anchored} config head(s) in {settings().anchor_path}", markup=False
        )


@app.command()
def scrub(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change, change nothing.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Mask keys stored in clear by older versions (also done once by `db upgrade`).

    Per config: its auth header, its masked headers and always-masked headers by name, and —
    where its secret reference resolves in this environment — every value containing its key,
    in the request and response logs, error events and run messages. Each chained audit row
    changed is recorded as an amendment signed with the seal key, so `audit verify` still
    proves it and says it was amended. Exit code 1 when any row held a key, 2 when the seal
    key cannot be read (nothing is changed then).
    """
    from ..client.leaks import describe_scrub, scrub_leaked_secrets
    from ..client.seal_key import SecretUnavailable, load_seal_key
    from ..store.audit_amendment import Amender

    amender = None
    who = operator()
    if not dry_run:
        try:
            key = load_seal_key(settings())
        except SecretUnavailable as exc:
            raise UsageError(
                f"cannot scrub without the seal key, which records the change in the audit"
                f" trail: {exc} (`--dry-run` counts without it)"
            ) from None
        action_id = uuid.uuid4()
        amender = Amender(key, "db scrub: a secret stored in clear was masked", action_id)
    with open_db() as database, database.engine.connect() as conn, conn.begin() as tx:
        results = scrub_leaked_secrets(conn, amender=amender)
        if dry_run:
            tx.rollback()
        elif amender is not None:
            record_action(
                conn,
                who,
                "scrub",
                detail={
                    "rows": sum(r.counts.total for r in results),
                    "amended": sum(r.counts.amended for r in results),
                    "key_found": [r.config for r in results if r.counts.key_found],
                    "configs": [r.config for r in results if r.counts.total],
                },
                action_id=amender.action_id,
            )
    if json_output:
        emit_json({"dry_run": dry_run, "configs": [r.as_dict() for r in results]})
    else:
        for line in describe_scrub(results, dry_run=dry_run) or ["no configs: nothing to scrub"]:
            console.print(line, markup=False)
    if any(r.counts.key_found for r in results):
        raise typer.Exit(1)


@app.command(name="grant-reader")
def grant_reader(
    name: Annotated[str, typer.Argument(help="The role's name, e.g. analyst.")],
    schema: Annotated[
        str, typer.Option("--schema", help="The schema of the typed Silver views.")
    ] = DEFAULT_SCHEMA,
    json_output: JsonOpt = False,
) -> None:
    """A read-only role that may select the typed Silver views and nothing else (no audit
    trail, no configs): created with LOGIN and no password if it does not exist; views made
    later are granted to it too. Exit code 1 when it can already read other tables."""
    with open_db() as database:
        grant = grant_reader_role(database.engine, name, schema)
    if json_output:
        emit_json(
            {
                "role": grant.role,
                "schema": grant.schema,
                "created": grant.created,
                "views": grant.views,
                "also_reads": grant.also_reads,
            }
        )
    else:
        verb = "created role" if grant.created else "role"
        console.print(
            f"{verb} {grant.role}: may select the {grant.views} view(s) of schema"
            f" {grant.schema} and those created there later"
        )
        if grant.created:
            console.print(f'give it a password: cc-console db psql -c "\\password {grant.role}"')
    if grant.also_reads:
        err_console.print(
            f"{grant.role} can also read {', '.join(grant.also_reads)} (granted outside"
            " cc-console): revoke that for a read-only analyst role"
        )
        raise typer.Exit(1)


@app.command(name="grant-auditor")
def grant_auditor(
    name: Annotated[str, typer.Argument(help="The role's name, e.g. auditor.")],
    json_output: JsonOpt = False,
) -> None:
    """A role that reads the audit trail only through the redacting views of schema
    cc_audit_redacted (request and response logs, validations, error events, runs, operator
    actions, the policy): no table, no Silver, no key. Created with LOGIN and no password if
    it does not exist; the views get this deployment's redaction key. Exit code 1 when it can
    already read other tables."""
    who = operator()
    key = redaction_key()
    with open_db() as database:
        grant = grant_auditor_role(database.engine, name, key, who.os_user)
        with database.engine.begin() as conn:
            record_action(
                conn,
                who,
                "grant_auditor",
                detail={"role": grant.role, "created": grant.created, "views": grant.views},
            )
    if json_output:
        emit_json(
            {
                "role": grant.role,
                "schema": AUDITOR_SCHEMA,
                "created": grant.created,
                "views": grant.views,
                "key_installed": grant.key_installed,
                "also_reads": grant.also_reads,
            }
        )
    else:
        verb = "created role" if grant.created else "role"
        console.print(
            f"{verb} {grant.role}: may select {len(grant.views)} redacting view(s) of schema"
            f" {AUDITOR_SCHEMA} ({', '.join(grant.views)}) and nothing else"
        )
        if grant.key_installed:
            console.print("the views now fingerprint with this deployment's redaction key")
        if grant.created:
            console.print(f'give it a password: cc-console db psql -c "\\password {grant.role}"')
    if grant.also_reads:
        err_console.print(
            f"{grant.role} can also read {', '.join(grant.also_reads)} (granted outside"
            " cc-console): revoke that for an auditor role"
        )
        raise typer.Exit(1)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
