"""Async database and config fixtures for client and engine tests."""

from __future__ import annotations

import uuid

import pytest

from cc_console.client.http import ClientPolicy
from cc_console.store.database import Database
from tests.store.test_schema import insert_config

BASE = "https://api.example.test/api/v1"


@pytest.fixture
def config_id(database: Database) -> uuid.UUID:
    with database.engine.begin() as conn:
        return insert_config(conn, "respx", base_url=BASE)


def policy(config_id: uuid.UUID, **overrides: object) -> ClientPolicy:
    values = dict(
        config_id=config_id,
        base_url=BASE,
        auth_header="X-ApiKey",
        connect_timeout_s=1,
        read_timeout_s=1,
        total_timeout_s=60,
        max_retries=3,
        backoff_base_s=0.5,
        backoff_max_s=8,
        backoff_jitter="none",
        retry_after_cap_s=30,
        retry_http_500=True,
        max_requests_per_second=None,
    )
    values.update(overrides)
    return ClientPolicy(**values)  # type: ignore[arg-type]
