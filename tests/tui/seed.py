"""A database whose every row is known: fixed ids and times around a frozen clock."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from cc_console.odata import canonical_params, filter_hash, params_hash
from cc_console.store.database import Database
from tests.clock import partitions_at

FROZEN = datetime(2026, 11, 26, 14, 0, 0, tzinfo=UTC)
FAKE_KEY_FINGERPRINT = "5e1f00d3"


def uid(n: int) -> uuid.UUID:
    """A readable fixed id: 0000000n-…"""
    return uuid.UUID(f"{n:08x}-0000-4000-8000-{n:012x}")


CONFIG = uid(1)
TEMPLATES = {"subjects": uid(11), "patients": uid(12), "studies": uid(13)}
RUN_OK, RUN_FAILED, RUN_PARTIAL, RUN_RUNNING = uid(21), uid(22), uid(23), uid(24)


def _insert(conn: Any, table: str, **values: Any) -> None:
    columns = ", ".join(f'"{k}"' for k in values)
    params = ", ".join(
        f"CAST(:{k} AS jsonb)" if isinstance(v, dict | list) else f":{k}" for k, v in values.items()
    )
    conn.execute(
        text(f"INSERT INTO {table} ({columns}) VALUES ({params})"),
        {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in values.items()},
    )


def insert_config(conn: Any, config_id: uuid.UUID, base_url: str) -> None:
    """The seeds' config ``acme`` (its key reference points at a fake env variable)."""
    _insert(
        conn,
        "cc_api_client_config",
        id=config_id,
        name="acme",
        base_url=base_url,
        secret_ref="env:CC_TEST_API_KEY",
        created_by="seed",
        updated_by="seed",
    )


def _template(conn: Any, template_id: uuid.UUID, resource: str, options: dict[str, Any]) -> str:
    params = canonical_params(options)
    _insert(
        conn,
        "cc_odata_query_template",
        id=template_id,
        config_id=CONFIG,
        name=f"acme-{resource}",
        resource_path=f"/{resource}",
        params=params,
        params_hash=params_hash(params),
        filter_hash=filter_hash(params),
        sla_target_s=60,
        created_by="seed",
        updated_by="seed",
    )
    return filter_hash(params)


def _run(
    conn: Any,
    run_id: uuid.UUID,
    template: str,
    fh: str,
    status: str,
    minutes_ago: int,
    took_s: int | None,
    **counts: Any,
) -> None:
    started = FROZEN - timedelta(minutes=minutes_ago)
    landed = counts.get("records", 0)  # every fetched record landed, all new
    counts = {
        "records_landed": landed,
        "records_inserted": landed,
        "records_updated": 0,
        "records_unchanged": 0,
        "chain_records_landed": None if took_s is None else landed,
        **counts,
    }
    _insert(
        conn,
        "cc_sync_run",
        id=run_id,
        config_id=CONFIG,
        template_id=TEMPLATES[template],
        resource_path=f"/{template}",
        filter_hash=fh,
        trigger=counts.pop("trigger", "manual"),
        status=status,
        started_at=started,
        # a running run's engine beat two seconds ago (an older beat would make it stale)
        heartbeat_at=FROZEN - timedelta(seconds=2) if status == "running" else started,
        finished_at=None if took_s is None else started + timedelta(seconds=took_s),
        created_by="seed",
        sla_target_s=60,
        **counts,
    )


def _request(
    conn: Any,
    n: int,
    run_id: uuid.UUID,
    resource: str,
    at: datetime,
    skip: int,
    status: int | None,
    attempt: int = 1,
    body: Any = None,
    text_body: str | None = None,
    error: tuple[str, bool, str] | None = None,
) -> None:
    request_id = uid(1000 + n)
    url = f"http://127.0.0.1:8765/api/v1/{resource}?$top=100&$skip={skip}&$orderby=id"
    _insert(
        conn,
        "cc_api_request_log",
        id=request_id,
        sent_at=at,
        config_id=CONFIG,
        run_id=run_id,
        template_id=TEMPLATES[resource],
        method="GET",
        url=url,
        endpoint_path=f"/{resource}",
        query_params={"$top": "100", "$skip": str(skip), "$orderby": "id"},
        headers={
            "Accept": "application/json",
            "X-ApiKey": f"***masked sha256:{FAKE_KEY_FINGERPRINT}",
            "User-Agent": "cc-console/0.1.0",
        },
        attempt_no=attempt,
        key_fingerprint=FAKE_KEY_FINGERPRINT,
    )
    if status is not None:
        response_id = uid(5000 + n)
        raw = json.dumps(body) if body is not None else (text_body or "")
        _insert(
            conn,
            "cc_api_response_log",
            id=response_id,
            sent_at=at,
            request_id=request_id,
            received_at=at + timedelta(milliseconds=120),
            status_code=status,
            headers={"Content-Type": "application/json", "X-RateLimit-Remaining": "3"},
            content_type="application/json",
            size_bytes=len(raw.encode()),
            elapsed_ms=118.0 + n,
            parse_ok=body is not None,
            odata_count=body.get("count") if isinstance(body, dict) else None,
        )
        conn.execute(
            text(
                "UPDATE cc_api_response_log SET body = CAST(:b AS jsonb), body_text = :t "
                "WHERE id = :id"
            ),
            {
                "b": json.dumps(body) if body is not None else None,
                "t": text_body,
                "id": response_id,
            },
        )
        if body is not None and status == 200:
            _insert(
                conn,
                "cc_schema_validation",
                id=uid(7000 + n),
                response_id=response_id,
                response_sent_at=at,
                run_id=run_id,
                resource_path=f"/{resource}",
                schema_name=resource,
                schema_version="1",
                ok=True,
                records_checked=len(body.get("items", [])),
                records_invalid=0,
                checked_at=at,
            )
    if error is not None:
        kind, retryable, message = error
        _insert(
            conn,
            "cc_error_event",
            id=uid(9000 + n),
            occurred_at=at + timedelta(milliseconds=130),
            kind=kind,
            retryable=retryable,
            status_code=status,
            endpoint_path=f"/{resource}",
            message=message,
            config_id=CONFIG,
            run_id=run_id,
            request_id=request_id,
            request_sent_at=at,
        )


def page(resource: str, skip: int, count: int) -> dict[str, Any]:
    items = [
        {"id": skip + i + 1, "name": f"{resource[:-1]} {skip + i + 1}", "status": "Active"}
        for i in range(3)
    ]
    return {"items": items, "count": count, "nextPageLink": None}


def seed_console(database: Database) -> None:
    """Four runs (succeeded, failed, partial, running) with requests, errors, scopes, cursors."""
    with database.engine.begin() as conn:
        partitions_at(conn, FROZEN)
        insert_config(conn, CONFIG, "http://127.0.0.1:8765/api/v1")
        fh = {name: _template(conn, tid, name, {}) for name, tid in TEMPLATES.items()}
        _run(
            conn,
            RUN_OK,
            "studies",
            fh["studies"],
            "succeeded",
            50,
            42,
            pages=3,
            records=300,
            odata_count=300,
            requests=3,
        )
        _run(
            conn,
            RUN_FAILED,
            "patients",
            fh["patients"],
            "failed",
            40,
            20,
            requests=2,
            error_count=2,
            http_429_count=1,
            message="http_401: the API key was refused",
        )
        _run(
            conn,
            RUN_PARTIAL,
            "subjects",
            fh["subjects"],
            "partial",
            30,
            95,
            pages=2,
            records=200,
            odata_count=1000,
            requests=4,
            retries=2,
            http_429_count=2,
            error_count=3,
            wait_s=4.5,
            message="retry budget exhausted on http_503",
        )
        _run(
            conn,
            RUN_RUNNING,
            "studies",
            fh["studies"],
            "running",
            2,
            None,
            pages=1,
            records=100,
            odata_count=300,
            requests=1,
            trigger="console",
        )
        base = FROZEN - timedelta(minutes=50)
        for i in range(3):
            _request(
                conn,
                i,
                RUN_OK,
                "studies",
                base + timedelta(seconds=10 * i),
                100 * i,
                200,
                body=page("studies", 100 * i, 300),
            )
        base = FROZEN - timedelta(minutes=40)
        _request(
            conn,
            10,
            RUN_FAILED,
            "patients",
            base,
            0,
            429,
            error=("http_429", True, "429 Too Many Requests (Retry-After 2s)"),
        )
        _request(
            conn,
            11,
            RUN_FAILED,
            "patients",
            base + timedelta(seconds=3),
            0,
            401,
            attempt=2,
            error=("http_401", False, "401 Unauthorized: the API key was refused"),
        )
        base = FROZEN - timedelta(minutes=8)
        _request(conn, 20, RUN_PARTIAL, "subjects", base, 0, 200, body=page("subjects", 0, 1000))
        _request(
            conn,
            21,
            RUN_PARTIAL,
            "subjects",
            base + timedelta(seconds=5),
            100,
            429,
            error=("http_429", True, "429 Too Many Requests"),
        )
        _request(
            conn,
            22,
            RUN_PARTIAL,
            "subjects",
            base + timedelta(seconds=8),
            100,
            200,
            attempt=2,
            body=page("subjects", 100, 1000),
        )
        _request(
            conn,
            23,
            RUN_PARTIAL,
            "subjects",
            base + timedelta(seconds=70),
            200,
            503,
            text_body="<html><body>Service Unavailable [b]not markup[/b]</body></html>",
            error=("http_503", True, "503 Service Unavailable [red]not markup[/red]"),
        )
        _request(
            conn,
            30,
            RUN_RUNNING,
            "studies",
            FROZEN - timedelta(seconds=90),
            0,
            200,
            body=page("studies", 0, 300),
        )
        _request(conn, 31, RUN_RUNNING, "studies", FROZEN - timedelta(seconds=5), 100, None)
        _insert(
            conn,
            "cc_rate_limit_state",
            id=uid(41),
            config_id=CONFIG,
            scope="global",
            limit=10,
            remaining=3,
            reset_at=FROZEN + timedelta(seconds=42),
            last_429_at=FROZEN - timedelta(minutes=8),
            updated_at=FROZEN,
        )
        _insert(
            conn,
            "cc_rate_limit_state",
            id=uid(42),
            config_id=CONFIG,
            scope="endpoint:/subjects",
            limit=5,
            remaining=0,
            reset_at=FROZEN + timedelta(seconds=7),
            retry_after_until=FROZEN + timedelta(seconds=2),
            updated_at=FROZEN,
        )
        for n, (name, status, skip, count, landed, run) in enumerate(
            [
                ("studies", "running", 100, 300, 100, RUN_RUNNING),
                ("subjects", "partial", 200, 1000, 200, RUN_PARTIAL),
                ("patients", "failed", 0, None, 0, RUN_FAILED),
            ]
        ):
            _insert(
                conn,
                "cc_pagination_state",
                id=uid(61 + n),
                config_id=CONFIG,
                template_id=TEMPLATES[name],
                resource_path=f"/{name}",
                filter_hash=fh[name],
                next_skip=skip,
                page_size=100,
                odata_count=count,
                records_landed=landed,
                status=status,
                last_run_id=run,
                last_sync_at=FROZEN - timedelta(minutes=2 + 10 * n),
            )
