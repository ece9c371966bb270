"""`sync/resume/retry --enqueue`, `jobs` and `worker` on the command line (the processes
themselves run in tests/workers/test_worker_pool.py)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.store.test_schema import insert_run


@pytest.fixture
def studies(cli, db_url):  # type: ignore[no-untyped-def]
    ref = ["--secret-ref", "env:CC_TEST_API_KEY"]
    assert (
        cli("config", "add", "c1", "--base-url", "https://api.example.test/v1", *ref).exit_code == 0
    )
    assert cli("template", "add", "c1", "/studies/odata", "--name", "studies").exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:
        ids = {
            "config": conn.execute(text("SELECT id FROM cc_api_client_config")).scalar_one(),
            "template": conn.execute(text("SELECT id FROM cc_odata_query_template")).scalar_one(),
        }
    yield ids
    engine.dispose()


def test_enqueue_queues_one_job_per_template_and_jobs_lists_it(cli, studies) -> None:  # type: ignore[no-untyped-def]
    first = cli("sync", "-t", "studies", "--enqueue", "--json")
    assert first.exit_code == 0, first.stderr
    queued = json.loads(first.stdout)
    assert queued["action"] == "start" and isinstance(queued["job_id"], int)
    again = cli("sync", "-t", "studies", "--enqueue")
    assert again.exit_code == 0 and "queued for it already" in again.stdout
    listed = cli("jobs", "--json")
    [job] = json.loads(listed.stdout)
    assert job["id"] == queued["job_id"] and job["status"] == "todo"
    assert job["template"] == "studies" and job["action"] == "start" and job["run_id"] is None
    table = cli("jobs")
    assert "studies" in table.stdout and "start" in table.stdout


def test_resume_and_retry_enqueue_under_the_same_rule_as_inline(cli, studies, db_url) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    with engine.begin() as conn:
        done = insert_run(
            conn, studies["config"], template_id=studies["template"], status="succeeded"
        )
    engine.dispose()
    refused = cli("resume", str(done), "--enqueue")
    assert refused.exit_code == 2 and "only failed or partial runs resume" in refused.stderr
    assert json.loads(cli("jobs", "--json").stdout) == []  # nothing was queued
    retried = cli("retry", str(done), "--enqueue", "--queue", "nightly", "--json")
    assert retried.exit_code == 0, retried.stderr
    [job] = json.loads(cli("jobs", "--json").stdout)
    assert job["action"] == "retry" and job["queue"] == "nightly"


def test_enqueue_refuses_what_only_an_inline_run_does(cli, studies) -> None:  # type: ignore[no-untyped-def]
    result = cli("sync", "-t", "studies", "--enqueue", "--full-refresh")
    assert result.exit_code == 2 and "--enqueue" in result.stderr


def test_jobs_refuses_an_unknown_state(cli, studies) -> None:  # type: ignore[no-untyped-def]
    result = cli("jobs", "--state", "sleeping")
    assert result.exit_code == 2 and "unknown job state 'sleeping'" in result.stderr


def test_a_worker_refuses_a_queue_schema_other_than_its_own(cli, studies, db_url) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cc_queue_schema SET applied = '03.00.00_01_older.sql'"))
    engine.dispose()
    result = cli("worker")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: the job queue's schema")
    assert "db upgrade" in result.stderr and "Traceback" not in result.stderr


def test_db_maintain_expires_jobs_that_ended_before_the_retention(cli, studies, db_url) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    with engine.begin() as conn:
        for status, age in (("succeeded", 40), ("failed", 40), ("succeeded", 5), ("todo", 40)):
            job = conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args)"
                    " VALUES ('sync', 'cc:sync', :s, '{}') RETURNING id"
                ),
                {"s": status},
            ).scalar_one()
            conn.execute(text("DELETE FROM procrastinate_events WHERE job_id = :j"), {"j": job})
            conn.execute(  # when it was deferred (for a finished one: its newest event)
                text(
                    "INSERT INTO procrastinate_events (job_id, type, at) VALUES"
                    " (:j, 'deferred', now() - make_interval(days => :d))"
                ),
                {"d": age, "j": job},
            )
    dry = cli("db", "maintain", "--retention-days", "30", "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["finished_jobs_expired"] == 2
    done = cli("db", "maintain", "--retention-days", "30")
    assert done.exit_code == 0 and "deleted 2 worker job(s)" in done.stdout
    with engine.connect() as conn:
        left = (
            conn.execute(text("SELECT status::text FROM procrastinate_jobs ORDER BY id"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert left == ["succeeded", "todo"]  # the recent one, and the one still queued
