"""``cc-console audit redact``: the redaction policy per resource (what auditors never see).

A policy names JSON paths of one resource's records (``$.lastName``, ``$.phones[*].number``,
``$..dateOfBirth``); their values are shown as ``‹redacted:hmac:…›`` fingerprints in the
read-only console, copy-as-curl, ``silver export`` and the auditor role's views
(``db grant-auditor``). See ``cc_console/redaction.py`` for the grammar.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from ..errors import UsageError
from ..redaction import PathError, Policy, key_id
from ..store.configs import get_config
from ..store.operator_actions import record_action
from ..store.redaction import (
    clear_policy,
    install_key,
    installed_key_id,
    list_policies,
    set_policy,
)
from ..store.templates import list_templates
from .common import console, emit_json, err_console, open_db, operator, redaction_key

__all__ = ["app"]

app = typer.Typer(help="The redaction policy: JSON paths auditors see only as fingerprints.")

ConfigArg = Annotated[str, typer.Argument(help="The config's name.")]
ResourceArg = Annotated[
    str, typer.Argument(help="The template's resource path, e.g. /patients/odata.")
]


def _resource(resource: str) -> str:
    return resource if resource.startswith("/") else "/" + resource


@app.command(name="set")
def set_paths(
    config: ConfigArg,
    resource: ResourceArg,
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...", help="JSON paths: $.name, $.a.b, $.items[*].name, $..name."
        ),
    ],
) -> None:
    """Redact these paths of a resource's records (replaces its previous policy)."""
    try:
        policy = Policy(tuple(paths))
    except PathError as exc:
        raise UsageError(str(exc)) from None
    path = _resource(resource)
    key = redaction_key()
    who = operator()
    with open_db() as database, database.engine.begin() as conn:
        session = Session(bind=conn)
        row = get_config(session, config)
        resources = {t.resource_path for t in list_templates(session, row)}
        set_policy(conn, row.id, path, policy, who.os_user)
        install_key(conn, key, who.os_user)  # the views fingerprint as this process does
        record_action(
            conn,
            who,
            "redact_set",
            config_id=row.id,
            detail={"resource_path": path, "paths": list(policy.paths)},
        )
    console.print(f"{config} {path}: redacting {', '.join(policy.paths)}", markup=False)
    if path not in resources:
        known = ", ".join(sorted(resources)) or "none yet"
        err_console.print(
            f"note: no template of {config} reads {path} yet (its resources: {known})",
            markup=False,
        )


@app.command()
def show(
    json_output: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = (
        False
    ),
) -> None:
    """Every policy, and whether the database's views fingerprint with this process's key."""
    local = key_id(redaction_key())
    with open_db() as database, database.engine.connect() as conn:
        rows = list_policies(conn)
        installed = installed_key_id(conn)
    if json_output:
        emit_json(
            {
                "policies": [r.as_dict() for r in rows],
                "key_id": local,
                "database_key_id": installed,
            }
        )
        return
    for row in rows:
        console.print(f"{row.config} {row.resource_path}: {', '.join(row.paths)}", markup=False)
    if not rows:
        console.print("no redaction policy: nothing is redacted")
    if installed == local:
        console.print(f"key {local}: the auditor's views use the same key")
    else:
        console.print(
            f"key {local}: the auditor's views use {installed or 'no key yet'}"
            " (run `cc-console db grant-auditor NAME` to give them this one)"
        )


@app.command()
def clear(config: ConfigArg, resource: ResourceArg) -> None:
    """Stop redacting a resource (its policy is removed)."""
    path = _resource(resource)
    who = operator()
    with open_db() as database, database.engine.begin() as conn:
        row = get_config(Session(bind=conn), config)
        removed = clear_policy(conn, row.id, path)
        if removed is None:
            raise UsageError(f"{config} {path} has no redaction policy")
        record_action(
            conn,
            who,
            "redact_clear",
            config_id=row.id,
            detail={"resource_path": path, "paths": removed},
        )
    console.print(f"{config} {path}: no longer redacted (was {', '.join(removed)})", markup=False)
