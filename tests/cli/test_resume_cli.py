"""One rule for what resumes, in the CLI as in the console: a run id of 4-32 hex characters
or a whole UUID, and only a failed or partial run."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.store.test_schema import insert_run


@pytest.fixture
def runs(cli, db_url):  # type: ignore[no-untyped-def]
    ref = ["--secret-ref", "env:CC_TEST_API_KEY"]
    assert (
        cli("config", "add", "c1", "--base-url", "https://api.example.test/v1", *ref).exit_code == 0
    )
    assert cli("template", "add", "c1", "/studies/odata", "--name", "studies").exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:
        config_id = conn.execute(text("SELECT id FROM cc_api_client_config")).scalar_one()
        template_id = conn.execute(text("SELECT id FROM cc_odata_query_template")).scalar_one()
        ids = {
            status: str(insert_run(conn, config_id, template_id=template_id, status=status))
            for status in ("succeeded", "partial")
        }
    engine.dispose()
    return ids


def test_a_succeeded_run_does_not_resume(cli, runs) -> None:  # type: ignore[no-untyped-def]
    result = cli("resume", runs["succeeded"])
    assert result.exit_code == 2
    assert "only failed or partial runs resume (this one succeeded)" in result.stderr
    assert "retry" in result.stderr


@pytest.mark.parametrize("ref", ["2", "abc", "zzzz", "0123456789abcdef0123456789abcdef0"])
def test_run_ids_that_are_no_prefix_are_refused(cli, runs, ref: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("resume", ref)
    assert result.exit_code == 2, result.stderr
    assert "hex" in result.stderr and "Traceback" not in result.stderr
