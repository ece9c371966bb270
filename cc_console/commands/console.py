"""``cc-console`` (no subcommand) opens the console; ``cc-console demo`` sets up a playground."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from ..engine import RunCompanion
from ..errors import NotFoundError, UsageError
from ..odata import canonical_params
from ..settings import current_user
from ..sim import run_in_thread, sim_config
from ..store.configs import add_config, get_config, update_config
from ..store.database import Database
from ..store.runs import latest_run_id
from ..store.templates import add_template
from .common import err_console, open_db, redaction_key, session_scope, settings

__all__ = ["DEMO_TEMPLATES", "demo", "open_console", "run_companions", "seed_demo"]

ReadOnly = Annotated[
    bool, typer.Option("--read-only", help="Watch and browse only: actions are disabled.")
]
Theme = Annotated[
    str | None, typer.Option(help="Theme, e.g. textual-dark or ansi-dark (keeps SSH colours).")
]

DEMO_CONFIG = "demo"
DEMO_KEY = "demo-key-not-a-secret"  # the simulator's fake key; it is masked like a real one
DEMO_EVERY_S = 120  # the demo's worker syncs each template again this often
# name, resource, OData options
DEMO_TEMPLATES: list[tuple[str, str, dict[str, Any]]] = [
    ("demo-studies", "/studies/odata", {}),
    ("demo-subjects", "/subjects/odata", {}),
    ("demo-active-patients", "/patients/odata", {"$filter": "status eq 'Active'"}),
    ("demo-patient-visits", "/patient-visits/odata", {}),
]


def run_companions(engine: AsyncEngine) -> list[RunCompanion]:
    """What goes along with every run the console starts: the cutover's log follower, and
    the typed Silver views of templates added with --views."""
    from ..engine.silver_views import SilverViews
    from ..migrate.follower import DualWrite

    return [DualWrite(engine), SilverViews(engine)]


def _need_terminal() -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the console needs an interactive terminal; see `cc-console --help` for commands"
        )


def open_console(read_only: bool, theme: str | None) -> None:
    """Run the console on the configured database until the operator quits."""
    from ..tui import make_app

    _need_terminal()
    current = settings()
    with open_db() as database:
        make_app(
            current,
            database,
            read_only=read_only,
            theme=theme,
            companions=run_companions,
            redaction_key=redaction_key() if read_only else None,
        ).run()


def _demo_key_file(data_dir: Path) -> Path:
    """The simulator's fake key in a 0600 file, so the demo config can reference it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "demo-api-key"
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(DEMO_KEY, encoding="utf-8")
    return path


def seed_demo(
    database: Database, base_url: str, user: str, key_file: Path, page_size: int = 100
) -> list[Any]:
    """Create (or re-aim) the demo config and its templates; return the template ids."""
    with session_scope(database) as session:
        try:
            config = get_config(session, DEMO_CONFIG)
            changes = {"base_url": base_url, "secret_ref": f"file:{key_file}", "is_active": True}
            update_config(session, config, changes, user)
        except NotFoundError:
            config = add_config(
                session,
                {
                    "name": DEMO_CONFIG,
                    "base_url": base_url,
                    "secret_ref": f"file:{key_file}",
                    "default_page_size": page_size,
                    "max_retries": 6,
                    "backoff_base_s": 0.2,
                    "backoff_max_s": 5,
                    "read_timeout_s": 5,
                },
                user,
            )
        ids = []
        for name, resource, options in DEMO_TEMPLATES:
            params = canonical_params(options)
            row, _ = add_template(
                session,
                config,
                resource_path=resource,
                params=params,
                name=name,
                schedule_interval_s=DEMO_EVERY_S,
                sla_target_s=120,
                user=user,
            )
            ids.append(row.id)
    return ids


def never_synced(database: Database, template_ids: list[Any]) -> list[Any]:
    """The templates of ``template_ids`` that have no run yet."""
    with database.engine.connect() as conn:
        return [t for t in template_ids if latest_run_id(conn, t) is None]


def demo(
    read_only: ReadOnly = False,
    theme: Theme = None,
    records: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Records per big resource.")
    ] = 20_000,
    per_second: Annotated[
        float, typer.Option(min=1, help="The simulated API's rate limit (requests/s).")
    ] = 15,
    sync: Annotated[bool, typer.Option("--sync/--no-sync", help="Start the syncs at once.")] = True,
) -> None:
    """Embedded database + simulated API (flaky, rate-limited) + seeded templates + the console."""
    from ..tui import make_app

    _need_terminal()
    current = settings()
    user = current_user(current)
    sizes = {"subjects": records, "patients": records, "patient-visits": records * 2}
    config = sim_config(
        "flaky",
        api_key=DEMO_KEY,
        sizes=sizes,
        rate_limit={"enabled": True, "per_second": per_second, "burst": int(per_second)},
    )
    key_file = _demo_key_file(current.data_dir)
    with open_db() as database, run_in_thread(config) as running:
        err_console.print(f"simulated API on {running.api_url} (flaky, {per_second:g} req/s)")
        template_ids = seed_demo(database, running.api_url, user, key_file)
        app = make_app(
            current,
            database,
            read_only=read_only,
            theme=theme,
            trigger="demo",
            companions=run_companions,
            redaction_key=redaction_key() if read_only else None,
        )
        if read_only or not sync:
            app.run()
            return
        from .worker import background_worker, enqueue

        log = current.data_dir / "demo-worker.log"
        with background_worker(log, "demo", len(template_ids)):
            # never synced: at once; the others when due, and partial runs are resumed
            for template_id in never_synced(database, template_ids):
                enqueue(database, template_id, action="start", trigger="demo", created_by=user)
            err_console.print(
                f"a worker syncs the demo's templates now and every {DEMO_EVERY_S} s, resuming"
                f" partial runs by itself (log: {log})"
            )
            app.run()
