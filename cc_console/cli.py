"""The ``cc-console`` command line: one entry point, one-line errors, sensible exit codes."""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Annotated

import typer

from . import __version__
from .client.masking import process_mask
from .commands import audit, config, db, migrate, redact, silver, template
from .commands.common import err_console
from .commands.console import ReadOnly, Theme, demo, open_console
from .commands.discover import discover
from .commands.report import metrics, report
from .commands.sim import sim
from .commands.sync import cancel, resume, retry, runs, sync
from .commands.worker import jobs, worker
from .errors import CcError
from .store.outage import cause_of, is_transient

__all__ = ["app", "main", "run"]

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

app = typer.Typer(
    name="cc-console",
    help="Operator console and sync engine for the Clinical Conductor API (no command: the console).",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(template.app, name="template")
app.add_typer(migrate.app, name="migrate")
audit.app.add_typer(redact.app, name="redact")
app.add_typer(audit.app, name="audit")
app.add_typer(silver.app, name="silver")
app.command(name="sim")(sim)
app.command(name="demo")(demo)
app.command(name="report")(report)
app.command(name="metrics")(metrics)
app.command(name="discover")(discover)
for _command in (sync, resume, retry, cancel, runs, worker, jobs):
    app.command()(_command)


def _version(value: bool) -> None:
    if value:
        print(f"cc-console {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    read_only: ReadOnly = False,
    theme: Theme = None,
) -> None:
    """Operator console and sync engine for the Clinical Conductor API (no command: the console).

    Without CC_DATABASE_URL an embedded PostgreSQL is started on demand under CC_DATA_DIR.
    """
    if ctx.invoked_subcommand is None:
        open_console(read_only, theme)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of raising."""
    from .commands.common import settings

    with contextlib.suppress(CcError):  # bad settings are reported by the command itself
        logging.basicConfig(level=settings().log_level, format=LOG_FORMAT)
    try:
        app(args=argv, prog_name="cc-console")  # standalone: usage errors exit via SystemExit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CcError as exc:
        err_console.print(process_mask().text(f"error: {exc}"), markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # an operator tool prints one line, the traceback goes to the log
        logging.getLogger("cc_console").debug("unexpected error", exc_info=True)
        if is_transient(exc):  # the database went away under the command
            err_console.print(
                process_mask().text(
                    f"error: the database went away ({cause_of(exc)}); check that it runs"
                    " (`cc-console db status`) and try again — a sync left running is ended"
                    " as interrupted by the next command, then resume it"
                ),
                markup=False,
            )
            return 2
        first_line = process_mask().text((str(exc).strip().splitlines() or [""])[0])
        err_console.print(
            f"error: unexpected {type(exc).__name__}: {first_line} "
            "(set CC_LOG_LEVEL=DEBUG for the traceback)",
            markup=False,
        )
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
