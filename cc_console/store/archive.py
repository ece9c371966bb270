"""Archive a month of the audit trail before retention drops it, and restore one.

``db maintain`` writes each month it is about to drop to ``<archive dir>/<YYYY-MM>/``: one
gzip-compressed JSON-lines file per table (the month's request log, response log and the
schema validations that go with it), and ``manifest.json`` with each file's row count, byte
size and SHA-256. The archive is written under ``<YYYY-MM>.partial``, read back (every file's
hash and row count against the manifest and against the database), and only then renamed and
the month dropped — in the transaction that read it, so nothing lands unarchived in between.
A failing write raises :class:`ArchiveError` and the month stays.

``audit restore`` loads an archive into a schema of its own (``cc_restore_YYYY_MM``), tables
shaped like the live ones, for an investigation; the files' hashes are checked first.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from .partitions import REQUEST, RESPONSE, add_months, partition_name

__all__ = [
    "ARCHIVED_TABLES",
    "ArchiveError",
    "Manifest",
    "archive_month",
    "is_restored",
    "read_manifest",
    "restore_month",
    "restore_schema",
]

VALIDATION = "cc_schema_validation"
ARCHIVED_TABLES = (REQUEST, RESPONSE, VALIDATION)
BATCH = 2000


class ArchiveError(Exception):
    """The archive could not be written or does not read back as written."""


@dataclass
class Manifest:
    """What an archive of one month holds."""

    month: str
    written_at: str
    tables: dict[str, dict[str, Any]]
    chains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "written_at": self.written_at,
            "tables": self.tables,
            "chains": self.chains,
        }


def _chain_heads(conn: Connection, month: date) -> dict[str, list[dict[str, Any]]]:
    """Per log, each chain's first and last position in the month and its last link: where
    the month's part of a chain ends (a run that crossed into the next month goes on there)."""
    heads: dict[str, list[dict[str, Any]]] = {}
    for table in (REQUEST, RESPONSE):
        rows = conn.execute(
            text(
                "SELECT chain_id, min(chain_seq) AS first_seq, max(chain_seq) AS last_seq,"
                " encode((array_agg(chain_hash ORDER BY chain_seq DESC))[1], 'hex') AS last_link"
                f" FROM {partition_name(table, month)} WHERE chain_id IS NOT NULL"
                " GROUP BY chain_id ORDER BY chain_id"
            )
        )
        heads[table] = [{**row._mapping, "chain_id": str(row.chain_id)} for row in rows]
    return heads


def _source(table: str, month: date) -> tuple[str, str, dict[str, Any]]:
    """Where the month's rows of ``table`` are (FROM … WHERE …), their stable order, params."""
    if table == VALIDATION:  # the validations of the month's responses go with them
        bounds = {"lo": month.isoformat(), "hi": add_months(month, 1).isoformat()}
        return (
            f"FROM {VALIDATION} t WHERE t.response_sent_at >= CAST(:lo AS timestamptz)"
            " AND t.response_sent_at < CAST(:hi AS timestamptz)",
            "t.response_sent_at, t.id",
            bounds,
        )
    return f"FROM {partition_name(table, month)} t", "t.id", {}


def _rows_sql(table: str, month: date) -> tuple[str, dict[str, Any]]:
    """The month's rows of ``table`` as JSON text, in a stable order."""
    source, order, params = _source(table, month)
    return f"SELECT row_to_json(t)::text {source} ORDER BY {order}", params


def _write_table(conn: Connection, table: str, month: date, path: Path) -> dict[str, Any]:
    sql, params = _rows_sql(table, month)
    rows = 0
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        # a server-side cursor for this statement only (Connection.execution_options would
        # turn every later statement of the transaction into one)
        streamed = text(sql).execution_options(stream_results=True, yield_per=BATCH)
        result = conn.execute(streamed, params)
        for (line,) in result:
            out.write(line)
            out.write("\n")
            rows += 1
    return {"file": path.name, "rows": rows, "bytes": path.stat().st_size, "sha256": _sha(path)}


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _count(conn: Connection, table: str, month: date) -> int:
    source, _, params = _source(table, month)  # no JSON, no sort: only how many
    return int(conn.execute(text(f"SELECT count(*) {source}"), params).scalar_one())


def _check(folder: Path, manifest: dict[str, Any], expected: dict[str, int] | None) -> None:
    """Read every file back: its hash, and its rows against the manifest (and the database)."""
    for table, entry in manifest["tables"].items():
        path = folder / entry["file"]
        if _sha(path) != entry["sha256"]:
            raise ArchiveError(f"{path}: its SHA-256 is not the manifest's")
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows = sum(1 for line in lines if json.loads(line) is not None)
        if rows != entry["rows"] or (expected is not None and rows != expected[table]):
            raise ArchiveError(f"{path}: {rows} rows read back, {entry['rows']} written")


def archive_month(conn: Connection, month: date, directory: Path) -> Manifest:
    """Write ``month`` to ``directory/<YYYY-MM>/`` and prove it reads back (see the module)."""
    name = month.strftime("%Y-%m")
    final, partial = directory / name, directory / f"{name}.partial"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        expected = {table: _count(conn, table, month) for table in ARCHIVED_TABLES}
        if final.exists():  # an earlier maintain archived it, then did not drop it
            found = read_manifest(final)
            _check(final, found, expected)
            return Manifest(
                found["month"], found["written_at"], found["tables"], found.get("chains", {})
            )
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        tables = {
            table: _write_table(conn, table, month, partial / f"{table}.jsonl.gz")
            for table in ARCHIVED_TABLES
        }
        written = Manifest(name, datetime.now(UTC).isoformat(), tables, _chain_heads(conn, month))
        (partial / "manifest.json").write_text(
            json.dumps(written.as_dict(), indent=2) + "\n", encoding="utf-8"
        )
        _check(partial, written.as_dict(), expected)
        partial.rename(final)
    except OSError as exc:
        raise ArchiveError(f"cannot write the archive of {name} under {directory}: {exc}") from exc
    return written


def read_manifest(folder: Path) -> dict[str, Any]:
    """An archive's manifest; a clear error when there is none."""
    try:
        manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{folder} is no readable archive: {exc}") from None
    return manifest


def restore_schema(month: date) -> str:
    return f"cc_restore_{month:%Y_%m}"


def is_restored(conn: Connection, month: date) -> bool:
    """Whether ``audit restore`` loaded ``month`` (its schema exists)."""
    found = conn.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": restore_schema(month)}
    ).first()
    return found is not None


def restore_month(conn: Connection, folder: Path, month: date) -> dict[str, int]:
    """Load the archive in ``folder`` into :func:`restore_schema` (made anew); rows per table."""
    manifest = read_manifest(folder)
    _check(folder, manifest, None)
    schema = restore_schema(month)
    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    conn.execute(text(f"CREATE SCHEMA {schema}"))
    loaded: dict[str, int] = {}
    for table, entry in manifest["tables"].items():
        if table not in ARCHIVED_TABLES:
            raise ArchiveError(f"{folder}: unknown table {table!r} in the manifest")
        conn.execute(text(f"CREATE TABLE {schema}.{table} (LIKE public.{table})"))
        insert = text(
            f"INSERT INTO {schema}.{table} SELECT r.* FROM jsonb_populate_recordset("
            f"NULL::{schema}.{table}, CAST(:rows AS jsonb)) r"
        )
        batch: list[str] = []
        with gzip.open(folder / entry["file"], "rt", encoding="utf-8") as lines:
            for line in lines:
                batch.append(line.rstrip("\n"))
                if len(batch) == BATCH:
                    conn.execute(insert, {"rows": "[" + ",".join(batch) + "]"})
                    batch = []
        if batch:
            conn.execute(insert, {"rows": "[" + ",".join(batch) + "]"})
        loaded[table] = int(
            conn.execute(text(f"SELECT count(*) FROM {schema}.{table}")).scalar_one()
        )
    return loaded
