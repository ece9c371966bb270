"""A config in the test database aimed at a running simulator (engine and console tests)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from cc_console.odata import canonical_params, filter_hash, params_hash
from cc_console.store.database import Database

KEY_ENV = "CC_TEST_SIM_KEY"
SIM_KEY = "FAKE-sim-key-5a1e-not-a-secret"


class Tenant:
    """A config in the test database aimed at one simulator."""

    def __init__(self, database: Database, sim: Any, **config: Any) -> None:
        self.database = database
        self.sim = sim
        values = {
            "name": f"sim-{uuid.uuid4().hex[:6]}",
            "base_url": sim.running.api_url,
            "secret_ref": f"env:{KEY_ENV}",
            "auth_header": sim.running.config.auth_header,
            "created_by": "t",
            "updated_by": "t",
            "max_retries": 4,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
            "read_timeout_s": 2,
            "total_timeout_s": 30,
            "retry_after_cap_s": 1,
            **config,
        }
        columns = ", ".join(values)
        params = ", ".join(f":{k}" for k in values)
        with database.engine.begin() as conn:
            self.config_id = conn.execute(
                text(
                    f"INSERT INTO cc_api_client_config ({columns}) VALUES ({params}) RETURNING id"
                ),
                values,
            ).scalar_one()

    def template(
        self,
        resource_path: str,
        key: list[str] | None = None,
        paging: str = "auto",
        incremental: dict[str, Any] | None = None,
        **options: Any,
    ) -> uuid.UUID:
        """A template of ``resource_path``; ``key``: its record key (else the built-in one);
        ``incremental``: its replication key (``odata.keyset.Replication.as_dict()``)."""
        params = canonical_params(options)
        with self.database.engine.begin() as conn:
            return conn.execute(
                text(
                    "INSERT INTO cc_odata_query_template (config_id, resource_path, params,"
                    " params_hash, filter_hash, record_key, paging, incremental, created_by,"
                    " updated_by) VALUES (:c, :p, CAST(:params AS jsonb), :ph, :fh,"
                    " CAST(:key AS jsonb), :paging, CAST(:inc AS jsonb), 't', 't') RETURNING id"
                ),
                {
                    "c": self.config_id,
                    "p": resource_path,
                    "params": _json(params),
                    "ph": params_hash(params),
                    "fh": filter_hash(params),
                    "key": None if key is None else _json(key),
                    "paging": paging,
                    "inc": None if incremental is None else _json(incremental),
                },
            ).scalar_one()

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.database.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.database.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def assert_audit_trail_proved(self) -> None:
        """`audit verify`'s proof holds: every request and response row is in a sealed chain
        that recomputes (the runs have ended, so none is open)."""
        from cc_console.client.seal_key import load_seal_key
        from cc_console.settings import load_settings
        from cc_console.store.audit_verify import verify_chains

        with self.database.engine.connect() as conn:
            report = verify_chains(conn, load_seal_key(load_settings()))
        assert report.ok, [f.message for f in report.findings]
        assert report.open_chains == 0 and report.predating_rows == 0
        rows = self.scalar(
            "SELECT (SELECT count(*) FROM cc_api_request_log)"
            " + (SELECT count(*) FROM cc_api_response_log)"
        )
        assert report.rows_proved == rows > 0


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


@pytest.fixture
def tenant(database: Database, simulator, monkeypatch):  # type: ignore[no-untyped-def]
    """``tenant(profile="clean", sim={...}, **config)``: a simulator plus a config for it."""
    monkeypatch.setenv(KEY_ENV, SIM_KEY)

    def make(profile: str = "clean", sim: dict[str, Any] | None = None, **config: Any) -> Tenant:
        running = simulator(profile, **{"api_key": SIM_KEY, **(sim or {})})
        return Tenant(database, running, **config)

    return make
