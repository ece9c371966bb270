"""A legacy store with the schema and no rows (the dual-write tests write into it)."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.conftest import create_database, drop_database

SCHEMA = Path(__file__).resolve().parents[2] / "db/legacy/schema.sql"


@pytest.fixture
def empty_legacy(pg_server):  # type: ignore[no-untyped-def]
    name = f"cc_legacy_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name).replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA.read_text())
    yield url
    drop_database(pg_server, name)
