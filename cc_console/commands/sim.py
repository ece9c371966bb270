"""``cc-console sim``: serve the simulated Clinical Conductor API."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from ..errors import UsageError
from ..sim import PROFILES, RESOURCES, FaultRates, serve_forever, sim_config
from ..sim.app import ODATA4_ROOT
from .common import console, err_console

__all__ = ["sim"]


def _pairs(values: list[str] | None, option: str, known: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values or []:
        for part in item.split(","):
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in known:
                raise UsageError(f"{option} takes NAME=VALUE with NAME one of {', '.join(known)}")
            pairs[name.strip()] = value.strip()
    return pairs


def _count(value: str) -> int:
    if not value.isdigit():
        raise UsageError(f"--records takes whole numbers, e.g. subjects=50000 (got {value!r})")
    return int(value)


def _rate(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise UsageError(
            f"--fault takes a probability, e.g. error_503=0.05 (got {value!r})"
        ) from None


def sim(
    host: Annotated[str, typer.Option(help="Address to bind (loopback unless told otherwise).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8765,
    profile: Annotated[str, typer.Option(help=f"Behaviour: {', '.join(PROFILES)}.")] = "flaky",
    seed: Annotated[int, typer.Option(help="Seed of data, faults and latency.")] = 7,
    records: Annotated[
        list[str] | None, typer.Option(help="Sizes, e.g. subjects=50000 (repeatable).")
    ] = None,
    envelope: Annotated[
        str | None,
        typer.Option(help="pageresult, array, odata or vendor (the real mix)."),
    ] = None,
    casing: Annotated[str | None, typer.Option(help="camel or swagger.")] = None,
    auth_header: Annotated[str | None, typer.Option(help="Header carrying the key.")] = None,
    api_key: Annotated[str | None, typer.Option(help="The fake key to accept.")] = None,
    server_page_size: Annotated[
        int | None, typer.Option(help="Cap pages and emit next links.")
    ] = None,
    skiptoken: Annotated[bool, typer.Option(help="Next links use $skiptoken.")] = False,
    top_overflow: Annotated[str | None, typer.Option(help="reject or clamp $top > 1000.")] = None,
    mutate_rate: Annotated[
        float | None, typer.Option(help="Chance of an insert/delete per request.")
    ] = None,
    instance_type: Annotated[str | None, typer.Option(help="CCE or CCS (501 on payments).")] = None,
    rate_limit: Annotated[
        bool | None, typer.Option("--rate-limit/--no-rate-limit", help="Token buckets on/off.")
    ] = None,
    per_second: Annotated[float | None, typer.Option(help="Requests per second per key.")] = None,
    per_minute: Annotated[int | None, typer.Option(help="Requests per minute per key.")] = None,
    burst: Annotated[int | None, typer.Option(help="Requests a key may send at once.")] = None,
    endpoint_per_second: Annotated[
        float | None,
        typer.Option(help="Each endpoint's own limit per key (429s say X-RateLimit-Scope)."),
    ] = None,
    retry_after_date: Annotated[bool, typer.Option(help="Retry-After as an HTTP-date.")] = False,
    x_ratelimit_headers: Annotated[bool, typer.Option(help="Send X-RateLimit-*.")] = False,
    ietf_ratelimit_headers: Annotated[
        bool, typer.Option(help="Send RateLimit / RateLimit-Policy.")
    ] = False,
    fault: Annotated[
        list[str] | None, typer.Option(help="Fault rate, e.g. error_503=0.05 (repeatable).")
    ] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Base latency per request.")] = None,
    stall_seconds: Annotated[float | None, typer.Option(help="Length of a stall fault.")] = None,
    drift_after: Annotated[
        int | None, typer.Option(help="Schema drift after this many requests.")
    ] = None,
    drift_kind: Annotated[str | None, typer.Option(help="rename, retype, add or remove.")] = None,
    date_suffix_z: Annotated[bool, typer.Option(help="Timestamps end in Z.")] = False,
    timestamps: Annotated[
        str | None,
        typer.Option(
            help="One shape per tenant: minutes, fraction (.NET's 7 digits), utc, offset."
        ),
    ] = None,
    error_shapes: Annotated[
        str | None,
        typer.Option(help="array (InvalidQuery everywhere) or vendor (the documented mix)."),
    ] = None,
    dialect: Annotated[
        str,
        typer.Option(
            help="Which API to announce: clinical-conductor (/api/v1) or odata4 (a standard"
            " OData v4 service at /odata/v4/sales, built from the specification). Both are served."
        ),
    ] = "clinical-conductor",
) -> None:
    """Serve the simulated Clinical Conductor API and a standard OData v4 service until Ctrl+C."""
    if dialect not in ("clinical-conductor", "odata4"):
        raise UsageError("--dialect is clinical-conductor or odata4")
    sizes = {k: _count(v) for k, v in _pairs(records, "--records", RESOURCES).items()} or None
    fault_rates = {
        k: _rate(v) for k, v in _pairs(fault, "--fault", tuple(FaultRates.model_fields)).items()
    }
    limits: dict[str, Any] = {
        "enabled": rate_limit,
        "per_second": per_second,
        "per_minute": per_minute,
        "burst": burst,
        "endpoint_per_second": endpoint_per_second,
        "retry_after_date": retry_after_date or None,
        "x_ratelimit_headers": x_ratelimit_headers or None,
        "ietf_headers": ietf_ratelimit_headers or None,
    }
    try:
        config = sim_config(
            profile,
            seed=seed,
            sizes=sizes,
            envelope=envelope,
            casing=casing,
            auth_header=auth_header,
            api_key=api_key or f"sim-{secrets.token_hex(8)}",
            server_page_size=server_page_size,
            skiptoken=skiptoken or None,
            top_overflow=top_overflow,
            mutate_rate=mutate_rate,
            instance_type=instance_type,
            rate_limit={k: v for k, v in limits.items() if v is not None},
            faults=fault_rates or None,
            latency_ms=latency_ms,
            stall_seconds=stall_seconds,
            drift_after=drift_after,
            drift_kind=drift_kind,
            date_suffix_z=date_suffix_z or None,
            timestamps=timestamps,
            error_shapes=error_shapes,
            dialect=dialect,
        )
    except (ValueError, ValidationError) as exc:
        raise UsageError(f"invalid simulator option: {str(exc).splitlines()[0]}") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"warning: binding {host}, not loopback")
    if dialect == "odata4":
        console.print(f"simulated OData v4 service ({config.profile}, seed {config.seed})")
        console.print(f"base URL  http://{host}:{port}{ODATA4_ROOT}", markup=False)
        console.print(f"metadata  http://{host}:{port}{ODATA4_ROOT}/$metadata", markup=False)
    else:
        console.print(f"simulated Clinical Conductor API ({config.profile}, seed {config.seed})")
        console.print(f"base URL  http://{host}:{port}/api/v1", markup=False)
    console.print(f"auth      {config.auth_header}: {config.api_key}   (a fake key)", markup=False)
    console.print("stats     GET /__sim/stats    reset: POST /__sim/reset    Ctrl+C stops")
    try:
        serve_forever(config, host, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
