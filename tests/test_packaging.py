"""The built wheel carries the Alembic migrations, and `db upgrade` works from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PgServer, create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("cc_console-*.whl")
    return built


def test_wheel_ships_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "cc_console/_migrations/env.py" in names
    assert "cc_console/_migrations/script.py.mako" in names
    versions = [n for n in names if n.startswith("cc_console/_migrations/versions/")]
    assert any(n.endswith("0001_initial_schema.py") for n in versions)


def test_db_upgrade_from_the_installed_wheel(
    wheel: Path, tmp_path: Path, pg_server: PgServer
) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    name = f"cc_whl_{os.getpid()}"
    url = create_database(pg_server, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"PYTHONPATH": str(target), "CC_DATABASE_URL": url})
    env["CC_DATA_DIR"] = os.environ["CC_DATA_DIR"]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cc_console", "db", "upgrade"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        where = subprocess.run(
            [
                sys.executable,
                "-c",
                "import cc_console.store.migrations as m; print(m.migrations_dir())",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        drop_database(pg_server, name)
    assert result.returncode == 0, result.stderr
    from cc_console.store.migrations import head_revision

    assert f"upgraded empty -> {head_revision()}" in result.stdout
    assert where.stdout.strip() == str(target / "cc_console" / "_migrations")
