"""The key canary: under every header name and key shape, through every fault, a foreign next
link, a server that echoes the key and a 401, its bytes appear nowhere — not in a pg_dump,
the captured output and logs, the server's log, an audit export or a copy-as-curl."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cc_console.client.masking import key_forms
from cc_console.engine import run_template
from cc_console.sim.config import FaultRates
from cc_console.store.audit_query import audit_page, parse_audit_filter
from cc_console.store.details import as_curl
from tests.test_secrets_never_persist import pg_dump

HEADERS = [  # (the server's header, the config's header, the config's auth scheme)
    pytest.param("X-ApiKey", "X-ApiKey", None, id="x-apikey"),
    pytest.param("CCAPIKey", "CCAPIKey", None, id="ccapikey"),
    pytest.param("Authorization", "Authorization", "Bearer", id="bearer"),
    pytest.param("X-Custom-Key", "X-Custom-Key", None, id="custom"),
    pytest.param("X-Custom-Key", "x-cUSTOM-kEY", None, id="odd-casing"),
]
SHAPES = {
    "base64": "RkFLRS1jYW5hcnk+a2V5/bm90LWEtc2VjcmV0+/w==",
    "long": "FAKE-canary-" + "0123456789abcdef" * 32,
    "file-newline": "FAKE-canary-from-a-file-9c1d",  # written with a trailing newline
}
EVERY_FAULT = {name: 0.02 for name in FaultRates.model_fields} | {"echo_key": 0.1}


def leaks(key: str, blob: bytes) -> list[str]:
    """The forms of ``key`` found in ``blob``."""
    return [form for form in key_forms(key) if form.encode() in blob]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("server_header", "config_header", "scheme"), HEADERS)
async def test_the_key_appears_nowhere(  # type: ignore[no-untyped-def]
    tenant,
    aengine,
    cli,
    db_url,
    pg_server,
    capsys,
    caplog,
    tmp_path,
    monkeypatch,
    server_header,
    config_header,
    scheme,
    shape,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = SHAPES[shape]
    if shape == "file-newline":
        key_file = tmp_path / "key"
        key_file.write_bytes(key.encode() + b"\n")
        key_file.chmod(0o600)
        secret = {"secret_ref": f"file:{key_file}"}
    else:
        monkeypatch.setenv("CC_CANARY_KEY", key)
        secret = {"secret_ref": "env:CC_CANARY_KEY"}
    sent = f"{scheme} {key}" if scheme else key
    t = tenant(
        sim={
            "api_key": sent,
            "auth_header": server_header,
            "faults": EVERY_FAULT,
            "stall_seconds": 0.6,
            "rate_limit": {"per_second": 40, "burst": 4},
        },
        default_page_size=40,
        max_retries=30,
        read_timeout_s=0.3,
        auth_header=config_header,
        auth_scheme=scheme,
        **secret,
    )
    for path in ("/sites/odata", "/patients/odata", "/subjects/odata"):
        await run_template(aengine, t.template(path))
    # a second config whose key the server does not know: every request a 401
    denied = tenant(
        sim={"api_key": "FAKE-the-server-wants-another-key", "auth_header": server_header},
        auth_header=config_header,
        auth_scheme=scheme,
        max_retries=0,
        **secret,
    )
    assert (await run_template(aengine, denied.template("/sites/odata"))).status == "failed"

    seen = t.sim.stats()
    assert sum(c.get("200", 0) for c in seen["by_endpoint"].values()) > 3  # the key went out
    assert seen["faults"].get("echo_key")  # the server did send the key back
    assert sum(c.get("401", 0) for c in denied.sim.stats()["by_endpoint"].values()) == 1
    commands = (
        ["runs", "--json"],
        ["runs"],
        ["report", "sla"],
        ["report", "validation", "--json"],
        ["report", "audit", "--json"],
    )
    outputs = [await asyncio.to_thread(cli, *args) for args in commands]  # its own event loop
    assert all(result.exit_code in (0, 1) for result in outputs)  # a report finds problems: 1

    dump = pg_dump(pg_server, db_url)
    assert b"cc_api_request_log" in dump and b"***sha256:" in dump  # a real dump, masked
    requests = t.rows("SELECT method, url, headers FROM cc_api_request_log")
    curls = "\n".join(as_curl(row._asdict()) for row in requests)
    now = datetime.now(UTC)
    with t.database.engine.connect() as conn:
        exported, _ = audit_page(conn, parse_audit_filter("since:1d"), now=now, limit=10_000)
        bodies = (
            conn.execute(
                text("SELECT coalesce(body::text, body_text, '') FROM cc_api_response_log")
            )
            .scalars()
            .all()
        )
    export = "\n".join(json.dumps(row, default=str) for row in exported)
    out, err = capsys.readouterr()
    captured = "\n".join([out, err, curls, export, *(r.stdout + r.stderr for r in outputs)])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    server_log = pg_server.data_dir / "pgdata" / "log"
    server_logs = b"".join(p.read_bytes() for p in server_log.rglob("*") if p.is_file())
    for where, blob in [
        ("pg_dump", dump),
        ("output, curl, export", captured.encode()),
        ("logs", logged.encode()),
        ("server log", server_logs),
        ("response bodies", "".join(bodies).encode()),
    ]:
        assert not leaks(key, blob), where
