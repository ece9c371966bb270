"""A month is archived (and read back) before retention drops it; an archive restores."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from cc_console.store.archive import ArchiveError, archive_month, restore_month
from cc_console.store.database import Database
from cc_console.store.partitions import apply_plan, plan_maintenance
from tests.store.test_partitions import _six_months_of_rows

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # a fixed clock: no dependence on today


def _seeded(database: Database) -> list:  # type: ignore[type-arg]
    with database.engine.begin() as conn:
        apply_plan(conn, plan_maintenance(conn, now=NOW, retention_days=200, months_ahead=1))
        _six_months_of_rows(conn, NOW)
        return plan_maintenance(conn, now=NOW, retention_days=90).drop


def _rows(conn, table: str, month_sql: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [
        json.loads(r[0])
        for r in conn.execute(
            text(f"SELECT row_to_json(t)::text FROM {table} t WHERE {month_sql} ORDER BY t.id")
        )
    ]


def test_an_archive_holds_the_month_and_reads_back_into_a_schema(
    database: Database, tmp_path: Path
) -> None:
    expired = _seeded(database)
    assert expired, "six months back reach past 90 days"
    month = max(expired)  # the newest expired month holds rows
    where = f"sent_at >= '{month}' AND sent_at < '{month}'::date + interval '1 month'"
    with database.engine.begin() as conn:
        originals = _rows(conn, "cc_api_request_log", where)
        manifest = archive_month(conn, month, tmp_path)
    folder = tmp_path / f"{month:%Y-%m}"
    assert not (tmp_path / f"{month:%Y-%m}.partial").exists()
    written = json.loads((folder / "manifest.json").read_text())
    assert written == manifest.as_dict()
    assert {t: e["rows"] for t, e in written["tables"].items()} == {
        "cc_api_request_log": 2,
        "cc_api_response_log": 2,
        "cc_schema_validation": 2,
    }
    for entry in written["tables"].values():
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    with gzip.open(folder / "cc_api_request_log.jsonl.gz", "rt") as lines:
        assert [json.loads(line) for line in lines] == originals

    with database.engine.begin() as conn:  # the month goes; the archive stays readable
        apply_plan(conn, plan_maintenance(conn, now=NOW, retention_days=90))
        assert conn.scalar(text(f"SELECT count(*) FROM cc_api_request_log WHERE {where}")) == 0
        loaded = restore_month(conn, folder, month)
        assert loaded == {t: e["rows"] for t, e in written["tables"].items()}
        schema = f"cc_restore_{month:%Y_%m}"
        assert _rows(conn, f"{schema}.cc_api_request_log", "true") == originals


def test_a_tampered_archive_is_refused(database: Database, tmp_path: Path) -> None:
    month = max(_seeded(database))
    with database.engine.begin() as conn:
        archive_month(conn, month, tmp_path)
    file = tmp_path / f"{month:%Y-%m}" / "cc_api_response_log.jsonl.gz"
    file.write_bytes(gzip.compress(b'{"id": "forged"}\n'))
    with database.engine.begin() as conn, pytest.raises(ArchiveError, match="SHA-256"):
        restore_month(conn, tmp_path / f"{month:%Y-%m}", month)


def test_a_failing_archive_write_leaves_the_month_in_place(
    cli, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _seeded(database)
    with database.engine.connect() as conn:
        before = conn.scalar(text("SELECT count(*) FROM cc_api_request_log"))
    blocked = tmp_path / "archive"
    blocked.write_text("a file where the archive directory should be")
    monkeypatch.setenv("CC_ARCHIVE_DIR", str(blocked))
    result = cli("db", "maintain")
    assert result.exit_code == 1
    assert "cannot write the archive" in result.stderr and "nothing was dropped" in result.stderr
    assert "Traceback" not in result.stderr
    with database.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_api_request_log")) == before
        assert conn.scalar(text("SELECT count(*) FROM cc_operator_action")) == 0


def test_maintain_archives_then_drops_and_restore_loads_it(
    cli, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _seeded(database)
    monkeypatch.setenv("CC_ARCHIVE_DIR", str(tmp_path / "archive"))
    dry = cli("db", "maintain", "--dry-run")
    assert dry.exit_code == 0 and "archived first to" in dry.stdout
    result = cli("db", "maintain", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["archived"] and [a["month"] for a in report["archived"]] == report["drop"]
    # the CLI plans by the wall clock: whichever months it dropped, one of them held rows
    full = next(a for a in report["archived"] if a["tables"]["cc_api_request_log"]["rows"])
    month = full["month"]
    assert (tmp_path / "archive" / month / "manifest.json").exists()
    restored = cli("audit", "restore", month, "--json")
    assert restored.exit_code == 0, restored.stderr
    rows = {t: e["rows"] for t, e in full["tables"].items()}
    assert json.loads(restored.stdout)["rows"] == rows == {t: 2 for t in rows}
    actions = [a["action"] for a in json.loads(cli("audit", "actions", "--json").stdout)]
    assert actions == ["restore", "maintain"]
    missing = cli("audit", "restore", "1999-01")
    assert missing.exit_code == 3 and "no archive of 1999-01" in missing.stderr
    assert cli("audit", "restore", "January").exit_code == 2


def test_no_archive_must_be_said_to_drop_without_one(
    cli, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _seeded(database)
    monkeypatch.setenv("CC_ARCHIVE_DIR", str(tmp_path / "archive"))
    result = cli("db", "maintain", "--no-archive")
    assert result.exit_code == 0, result.stderr
    assert "not archived (--no-archive)" in result.stdout
    assert not (tmp_path / "archive").exists()
