"""The chains as the store writes them: concurrent writers, rolled-back landings, sealed
chains refusing rows, the sweep sealing what ended without a seal, batches outside runs."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from cc_console.client.seal_key import load_seal_key
from cc_console.engine import mark_stale_runs
from cc_console.settings import load_settings
from cc_console.store.audit_log import (
    RequestRef,
    ResponseFields,
    insert_response,
    keep_response,
    write_request,
)
from cc_console.store.audit_seal import seal_chain, seal_open_chains
from cc_console.store.audit_verify import verify_chains
from cc_console.store.cursors import LostCursor
from cc_console.store.database import Database
from tests.store.test_schema import insert_config, insert_run

PAGE = ResponseFields(200, {"content-type": "application/json"}, b'{"value": [1, 2]}', None, 3.5)


def _config_and_run(database: Database, **run: object) -> tuple[uuid.UUID, uuid.UUID]:
    with database.engine.begin() as conn:
        config = insert_config(conn)
        return config, insert_run(conn, config, **run)


async def _request(aengine, config: uuid.UUID, run: uuid.UUID | None) -> RequestRef:  # type: ignore[no-untyped-def]
    return await write_request(
        aengine,
        config_id=config,
        run_id=run,
        template_id=None,
        method="GET",
        url="https://api.example.test/api/v1/x?$top=2",
        endpoint_path="/x",
        query_params={"$top": 2},
        headers={"X-ApiKey": "****"},
        attempt_no=1,
        key_fingerprint=None,
    )


def _proved(database: Database):  # type: ignore[no-untyped-def]
    with database.engine.connect() as conn:
        return verify_chains(conn, load_seal_key(load_settings()))


async def test_concurrent_writers_of_one_run_make_one_chain(database: Database, aengine) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="succeeded")
    requests = await asyncio.gather(*(_request(aengine, config, run) for _ in range(20)))
    async with aengine.begin() as conn:
        for request in requests:
            await insert_response(conn, request, PAGE)
    sealed = await seal_chain(aengine, run, load_seal_key(load_settings()), sealed_by="run")
    assert sealed is not None and (sealed.request_rows, sealed.response_rows) == (20, 20)
    with database.engine.connect() as conn:
        positions = conn.execute(
            text("SELECT array_agg(chain_seq ORDER BY chain_seq) FROM cc_api_request_log")
        ).scalar_one()
    assert positions == list(range(1, 21))
    report = _proved(database)
    assert report.ok and report.rows_proved == 40, report.findings


async def test_a_rolled_back_landing_leaves_the_chain_whole(database: Database, aengine) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="succeeded")
    request = await _request(aengine, config, run)
    with pytest.raises(RuntimeError):
        async with aengine.begin() as conn:
            await insert_response(conn, request, PAGE)
            raise RuntimeError("the landing failed after its response row")
    async with aengine.begin() as conn:  # retried
        await insert_response(conn, request, PAGE)
    await seal_chain(aengine, run, load_seal_key(load_settings()), sealed_by="run")
    report = _proved(database)
    assert report.ok and report.rows_proved == 2, report.findings


async def test_a_sealed_chain_takes_no_more_rows(database: Database, aengine) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="succeeded")
    request = await _request(aengine, config, run)
    await seal_chain(aengine, run, load_seal_key(load_settings()), sealed_by="run")
    with pytest.raises(LostCursor):
        await _request(aengine, config, run)
    with pytest.raises(LostCursor):
        async with aengine.begin() as conn:
            await insert_response(conn, request, PAGE)
    assert _proved(database).ok


async def test_the_sweep_seals_an_interrupted_run(database: Database, aengine) -> None:  # type: ignore[no-untyped-def]
    old = datetime.now(UTC) - timedelta(minutes=5)
    config, run = _config_and_run(database, status="running", heartbeat_at=old)
    await _request(aengine, config, run)
    assert _proved(database).open_chains == 1
    assert await mark_stale_runs(aengine) == [run]
    with database.engine.connect() as conn:
        seal = conn.execute(text("SELECT sealed_by, request_rows FROM cc_audit_seal")).one()
    assert tuple(seal) == ("sweep", 1)
    report = _proved(database)
    assert report.ok and report.rows_proved == 1 and report.open_chains == 0


async def test_a_run_ended_without_the_key_is_named_then_sealed_later(
    database: Database, aengine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="succeeded")
    await _request(aengine, config, run)
    report = _proved(database)
    assert [f.kind for f in report.findings] == ["unsealed"] and str(run) in report.findings[
        0
    ].message
    monkeypatch.setenv("CC_AUDIT_SEAL_KEY_REF", "env:CC_NO_SUCH_SEAL_KEY")
    assert await mark_stale_runs(aengine) == []  # no key: nothing sealed, nothing fails
    monkeypatch.delenv("CC_AUDIT_SEAL_KEY_REF")
    await mark_stale_runs(aengine)
    assert _proved(database).ok


async def test_rows_outside_runs_chain_per_batch(database: Database, aengine) -> None:  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        config = insert_config(conn)
    first = await _request(aengine, config, None)
    key = load_seal_key(load_settings())
    now = datetime.now(UTC) + timedelta(hours=1)
    sealed = await seal_open_chains(aengine, key, now=now, batch_idle_s=60)
    assert [s.chain_id for s in sealed] == [first.chain_id]
    second = await _request(aengine, config, None)  # the sealed batch is done: a new one
    assert second.chain_id != first.chain_id
    async with aengine.begin() as conn:
        await insert_response(conn, second, PAGE)
    await seal_open_chains(aengine, key, now=now + timedelta(hours=1), batch_idle_s=60)
    report = _proved(database)
    assert report.ok and report.rows_proved == 3 and report.chains_proved == 2


async def test_a_page_of_a_run_sealed_under_it_is_kept_in_a_batch(
    database: Database, aengine
) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="partial")
    request = await _request(aengine, config, run)
    key = load_seal_key(load_settings())
    await seal_chain(aengine, run, key, sealed_by="sweep")  # the sweep ended the run
    async with aengine.begin() as conn:
        await keep_response(conn, request, PAGE)  # the engine keeps its unlanded page
    await seal_open_chains(aengine, key, now=datetime.now(UTC) + timedelta(hours=1))
    report = _proved(database)
    assert report.ok and report.rows_proved == 2 and report.chains_proved == 2, report.findings
