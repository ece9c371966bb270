"""The embedded PostgreSQL: started on demand, shared by concurrent processes, stoppable.

These run the real ``cc-console`` entry point in subprocesses, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import PgServer

pytestmark = pytest.mark.slow


def cc(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cc_console", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"CC_DATA_DIR": str(data_dir), **extra})
    return env


def test_concurrent_first_use_shares_one_server_and_migrates_once(pg_server: PgServer) -> None:
    name = f"cc_conc_{uuid.uuid4().hex[:8]}"
    env = base_env(pg_server.data_dir, CC_EMBEDDED_DATABASE=name)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: cc(env, "config", "list", "--json"), range(4)))
    for result in results:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == []
    notices = [r.stderr for r in results if "applying migrations" in r.stderr]
    assert len(notices) == 1  # one process migrated; the others waited and found it done
    status = json.loads(cc(env, "db", "status", "--json").stdout)
    assert status["embedded"] is True and status["up_to_date"] is True
    assert f"/{name}?" in status["url"]
    from tests.conftest import drop_database

    drop_database(pg_server, name)


def test_fresh_data_dir_start_status_stop(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data")
    first = cc(env, "config", "list")
    try:
        assert first.returncode == 0, first.stderr
        assert "applying migrations" in first.stderr and "no configs yet" in first.stdout
        status = json.loads(cc(env, "db", "status", "--json").stdout)
        assert status["embedded"] is True
        assert str(tmp_path / "data" / "pgdata") in status["url"].replace("%2F", "/")
        assert cc(env, "config", "list").stderr == ""  # no second migration notice
    finally:
        stopped = cc(env, "db", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    again = cc(env, "db", "stop")
    assert again.returncode == 0 and "no embedded PostgreSQL is running" in again.stdout


def test_python_dash_m_and_console_script_agree(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    module = cc(env, "--help")
    assert module.returncode == 0 and "config" in module.stdout and "template" in module.stdout
