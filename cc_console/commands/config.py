"""``cc-console config``: add, list, show, edit, activate, deactivate client configs."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from ..client.config import PRESET_BASE_URL_HINT, PRESETS, ClientConfigSpec, validation_message
from ..client.secrets import SecretUnavailable, key_fingerprint, resolve_secret
from ..errors import UsageError
from ..settings import current_user
from ..store.configs import add_config, get_config, list_configs, update_config
from ..store.models import ApiClientConfig
from ..store.operator_actions import record_action
from ..store.rows import row_as_dict
from .common import (
    console,
    emit_json,
    err_console,
    open_db,
    operator,
    session_scope,
    settings,
)

app = typer.Typer(help="Manage API client configurations (base URL, secret reference, policy).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
BaseUrl = Annotated[str | None, typer.Option(help="API root, e.g. https://host/CCSWeb/api/v1.")]
SecretRef = Annotated[
    str | None, typer.Option(help="Where the key lives: env:NAME or file:PATH (never the key).")
]
AuthHeader = Annotated[str | None, typer.Option(help="Header carrying the key (X-ApiKey).")]
AuthScheme = Annotated[
    str | None,
    typer.Option(help="Send '<scheme> <key>' (e.g. Bearer, with --auth-header Authorization)."),
]
PageSize = Annotated[int | None, typer.Option("--page-size", help="Default $top (1-1000).")]
MaxRetries = Annotated[int | None, typer.Option(help="Retries per request after the first try.")]
ConnectTimeout = Annotated[float | None, typer.Option(help="Connect timeout, seconds.")]
ReadTimeout = Annotated[float | None, typer.Option(help="Read timeout, seconds.")]
TotalTimeout = Annotated[
    float | None, typer.Option(help="Budget for one request, retries included.")
]
BackoffBase = Annotated[float | None, typer.Option(help="First backoff wait, seconds.")]
BackoffMax = Annotated[float | None, typer.Option(help="Longest backoff wait, seconds.")]
Jitter = Annotated[str | None, typer.Option(help="Backoff jitter: full, equal or none.")]
RetryAfterCap = Annotated[float | None, typer.Option(help="Longest Retry-After honoured, seconds.")]
MaxRps = Annotated[float | None, typer.Option("--max-rps", help="Pace to this many requests/s.")]
MaskHeader = Annotated[
    list[str] | None, typer.Option("--mask-header", help="Extra header to mask (repeatable).")
]
DualWrite = Annotated[
    bool | None,
    typer.Option(
        "--dual-write-legacy/--no-dual-write-legacy",
        help="Cutover: also append every attempt to the legacy api_call_log.",
    ),
]
Dialect = Annotated[
    str | None,
    typer.Option(
        help="What the API speaks: clinical-conductor (built-in resource schemas), odata4"
        " (keys and types from $metadata) or generic (keys given with template add --key)."
    ),
]
CaBundle = Annotated[
    str | None, typer.Option(help="A PEM file of CAs to trust for this API (absolute path).")
]
ParseRetries = Annotated[
    int | None,
    typer.Option(help="Fetch a complete body that is no JSON again this often (default 2)."),
]
ServerTimezone = Annotated[
    str | None,
    typer.Option(
        help="The zone the server's timestamps without an offset are in (incremental sync):"
        " UTC (default), -05:00, or America/New_York."
    ),
]
Coordinate = Annotated[
    bool | None,
    typer.Option(
        "--coordinate/--no-coordinate",
        help="Share rate-limit state and pacing with every engine of this config (default);"
        " off: each engine on its own (for A/B comparisons).",
    ),
]
LegacyUrl = Annotated[
    str | None,
    typer.Option(
        help="The legacy database: postgresql://user@host/db (no password) or env:NAME/file:PATH."
    ),
]


def _policy(options: dict[str, Any]) -> dict[str, Any]:
    """Column values of the policy options that were given (the command's locals)."""
    names = {
        "auth_header": "auth_header",
        "auth_scheme": "auth_scheme",
        "page_size": "default_page_size",
        "max_retries": "max_retries",
        "connect_timeout": "connect_timeout_s",
        "read_timeout": "read_timeout_s",
        "total_timeout": "total_timeout_s",
        "backoff_base": "backoff_base_s",
        "backoff_max": "backoff_max_s",
        "jitter": "backoff_jitter",
        "retry_after_cap": "retry_after_cap_s",
        "max_rps": "max_requests_per_second",
        "mask_header": "masked_headers",
        "dual_write_legacy": "dual_write_legacy",
        "legacy_url": "legacy_url",
        "dialect": "dialect",
        "ca_bundle": "ca_bundle",
        "parse_retries": "parse_retries",
        "server_timezone": "server_timezone",
        "coordinate": "coordinate_rate_limits",
        "base_url": "base_url",
        "secret_ref": "secret_ref",
    }
    return {
        column: options[option]
        for option, column in names.items()
        if options.get(option) is not None
    }


def looks_like_a_tenant(base_url: str) -> bool:
    """A Clinical Conductor URL: /CCSWeb/ or /CCEWeb/, or one of the vendor's hosts."""
    lowered = base_url.lower()
    host = lowered.split("://", 1)[-1].split("/", 1)[0]
    return (
        "/ccsweb/" in lowered + "/"
        or "/cceweb/" in lowered + "/"
        or host.endswith((".clinicalconductor.com", ".advarracloud.com"))
    )


def _validated(values: dict[str, Any]) -> dict[str, Any]:
    try:
        return ClientConfigSpec(**values).model_dump()
    except ValidationError as exc:
        raise UsageError(validation_message(exc)) from None


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Unique name of the config.")],
    base_url: BaseUrl = None,
    secret_ref: SecretRef = None,
    preset: Annotated[
        str, typer.Option(help=f"Defaults to start from: {', '.join(PRESETS)}.")
    ] = "generic",
    auth_header: AuthHeader = None,
    auth_scheme: AuthScheme = None,
    page_size: PageSize = None,
    max_retries: MaxRetries = None,
    connect_timeout: ConnectTimeout = None,
    read_timeout: ReadTimeout = None,
    total_timeout: TotalTimeout = None,
    backoff_base: BackoffBase = None,
    backoff_max: BackoffMax = None,
    jitter: Jitter = None,
    retry_after_cap: RetryAfterCap = None,
    max_rps: MaxRps = None,
    mask_header: MaskHeader = None,
    dual_write_legacy: DualWrite = None,
    legacy_url: LegacyUrl = None,
    dialect: Dialect = None,
    ca_bundle: CaBundle = None,
    parse_retries: ParseRetries = None,
    server_timezone: ServerTimezone = None,
    coordinate: Coordinate = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it deactivated.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Add a config. The key is referenced (env:NAME / file:PATH), never stored."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if base_url is None:
        hint = PRESET_BASE_URL_HINT.get(preset, "https://api.example.com/api/v1")
        raise UsageError(f"--base-url is required, e.g. --base-url {hint}")
    if secret_ref is None:
        raise UsageError("--secret-ref is required, e.g. --secret-ref env:CC_API_KEY")
    values = {
        "name": name,
        **PRESETS[preset],
        **_policy(locals()),
        "is_active": not inactive,
    }
    spec = _validated(values)
    user = current_user(settings())
    with open_db() as database, session_scope(database) as session:
        row = add_config(session, spec, user)
        record_action(session.connection(), operator(), "config_add", config_id=row.id)
        payload = row_as_dict(row)
    if json_output:
        emit_json(payload)
    else:
        console.print(f"added config {name} ({payload['id']})")
        if preset == "clinical-conductor" and "/api/v" not in spec["base_url"]:
            console.print(
                f"hint: Clinical Conductor APIs live under {PRESET_BASE_URL_HINT[preset]}"
            )
    if looks_like_a_tenant(spec["base_url"]) and spec["auth_header"].lower() != "ccapikey":
        err_console.print(
            f"note: {spec['base_url']} looks like a Clinical Conductor tenant, which expects the"
            f" key in the CCAPIKey header, not {spec['auth_header']}: `cc-console config edit"
            f" {name} --auth-header CCAPIKey` (or add it with --preset clinical-conductor)",
            markup=False,
        )


@app.command("list")
def list_(
    active: Annotated[bool, typer.Option("--active", help="Only active configs.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """List configs."""
    with open_db() as database, session_scope(database) as session:
        rows = [row_as_dict(r) for r in list_configs(session, active_only=active)]
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print("no configs yet: add one with `cc-console config add NAME --base-url ...`")
        return
    table = Table("name", "base_url", "auth_header", "secret_ref", "page", "active", box=None)
    for row in rows:
        table.add_row(
            row["name"],
            row["base_url"],
            row["auth_header"],
            row["secret_ref"],
            str(row["default_page_size"]),
            "yes" if row["is_active"] else "no",
        )
    console.print(table)


def _secret_state(row: ApiClientConfig) -> dict[str, Any]:
    try:
        key = resolve_secret(row.secret_ref)
    except SecretUnavailable as exc:
        return {"resolves": False, "problem": str(exc)}
    return {"resolves": True, "fingerprint": key_fingerprint(key)}


@app.command()
def show(name: str, json_output: JsonOpt = False) -> None:
    """Show one config, and whether its secret reference resolves here (by fingerprint)."""
    with open_db() as database, session_scope(database) as session:
        row = get_config(session, name)
        payload = row_as_dict(row)
        payload["secret"] = _secret_state(row)
    if json_output:
        emit_json(payload)
        return
    for key, value in payload.items():
        if key == "secret":
            state = value
            shown = (
                f"resolves (key fingerprint {state['fingerprint']})"
                if state["resolves"]
                else f"does not resolve: {state['problem']}"
            )
            console.print(f"{'secret':<24} {shown}", markup=False)
        else:
            console.print(f"{key:<24} {value}", markup=False)


@app.command()
def edit(
    name: str,
    base_url: BaseUrl = None,
    secret_ref: SecretRef = None,
    auth_header: AuthHeader = None,
    auth_scheme: AuthScheme = None,
    page_size: PageSize = None,
    max_retries: MaxRetries = None,
    connect_timeout: ConnectTimeout = None,
    read_timeout: ReadTimeout = None,
    total_timeout: TotalTimeout = None,
    backoff_base: BackoffBase = None,
    backoff_max: BackoffMax = None,
    jitter: Jitter = None,
    retry_after_cap: RetryAfterCap = None,
    max_rps: MaxRps = None,
    mask_header: MaskHeader = None,
    dual_write_legacy: DualWrite = None,
    legacy_url: LegacyUrl = None,
    dialect: Dialect = None,
    ca_bundle: CaBundle = None,
    parse_retries: ParseRetries = None,
    server_timezone: ServerTimezone = None,
    coordinate: Coordinate = None,
    json_output: JsonOpt = False,
) -> None:
    """Change fields of a config (only the options given)."""
    changes = _policy(locals())
    if not changes:
        raise UsageError("nothing to change: give at least one option (see --help)")
    user = current_user(settings())
    with open_db() as database, session_scope(database) as session:
        row = get_config(session, name)
        current = {k: v for k, v in row_as_dict(row).items() if k in ClientConfigSpec.model_fields}
        merged = _validated({**current, **changes})
        row = update_config(session, row, {k: merged[k] for k in changes}, user)
        record_action(
            session.connection(),
            operator(),
            "config_edit",
            config_id=row.id,
            detail={"changed": sorted(changes)},
        )
        payload = row_as_dict(row)
    if json_output:
        emit_json(payload)
    else:
        console.print(f"updated config {name}: {', '.join(sorted(changes))}")


def _set_active(name: str, active: bool) -> None:
    user = current_user(settings())
    with open_db() as database, session_scope(database) as session:
        row = get_config(session, name)
        was = row.is_active
        if was != active:
            update_config(session, row, {"is_active": active}, user)
        action = "config_activate" if active else "config_deactivate"
        record_action(
            session.connection(), operator(), action, config_id=row.id, detail={"was": was}
        )
    state = "active" if active else "inactive"
    console.print(f"config {name} is {'already ' if was == active else 'now '}{state}")


@app.command()
def activate(name: str) -> None:
    """Mark a config active (engines and the console use it)."""
    _set_active(name, True)


@app.command()
def deactivate(name: str) -> None:
    """Mark a config inactive (kept for history; no new syncs)."""
    _set_active(name, False)
