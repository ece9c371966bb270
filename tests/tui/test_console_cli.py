"""``cc-console`` (console), ``cc-console demo``, keymaps and themes from the outside."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cc_console.commands.console import (
    DEMO_EVERY_S,
    DEMO_TEMPLATES,
    _demo_key_file,
    never_synced,
    seed_demo,
)
from cc_console.errors import UsageError
from cc_console.settings import Settings
from cc_console.sim import run_in_thread, sim_config
from cc_console.tui import make_app
from cc_console.tui.screens.picker import TemplatePicker
from tests.simulator_fixture import SMALL

from .conftest import loaded
from .test_live_pilot import runs, until


def test_console_without_a_terminal_says_so(cli) -> None:
    result = cli()
    assert result.exit_code == 2
    assert "needs an interactive terminal" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_console_options_and_demo(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for word in ("--read-only", "--theme", "demo", "sync", "no command: the console"):
        assert word in result.stdout
    demo = cli("demo", "--help")
    assert demo.exit_code == 0 and "--records" in demo.stdout and "--no-sync" in demo.stdout


def test_seed_demo_is_idempotent_and_keeps_the_key_in_a_private_file(database, tmp_path) -> None:
    key_file = _demo_key_file(tmp_path / "data")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = seed_demo(database, "http://127.0.0.1:1/api/v1", "tester", key_file)
    second = seed_demo(database, "http://127.0.0.1:2/api/v1", "tester", key_file)
    assert first == second and len(first) == len(DEMO_TEMPLATES)
    with database.engine.connect() as conn:
        from sqlalchemy import text

        config = conn.execute(text("SELECT base_url, secret_ref FROM cc_api_client_config")).one()
    assert config.base_url == "http://127.0.0.1:2/api/v1"
    assert config.secret_ref == f"file:{key_file}"


def _settings(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path, **extra)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("start_sync = ", "keymap", id="not-toml"),
        pytest.param('launch = "L"', "unknown binding id 'launch'", id="unknown-id"),
        pytest.param("start_sync = 3", "must be a key string", id="not-a-key"),
    ],
)
def test_a_bad_keymap_is_one_clear_error(database, db_url, tmp_path, content, message) -> None:
    (tmp_path / "keymap.toml").write_text(content)
    with pytest.raises(UsageError, match=message):
        make_app(_settings(db_url, tmp_path), database)


def test_an_unknown_theme_lists_the_known_ones(database, db_url, tmp_path) -> None:
    with pytest.raises(UsageError, match="unknown theme 'neon'.*ansi-dark"):
        make_app(_settings(db_url, tmp_path), database, theme="neon")


async def test_a_remapped_key_opens_the_picker(seeded, db_url, tmp_path) -> None:
    (tmp_path / "keymap.toml").write_text('start_sync = "ctrl+n"\n')
    app = make_app(_settings(db_url, tmp_path, theme="ansi-dark"), seeded, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.theme == "ansi-dark"
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, TemplatePicker)
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TemplatePicker)


async def test_demo_setup_starts_every_template_against_the_flaky_simulator(
    database, db_url, tmp_path
) -> None:
    config = sim_config(
        "flaky",
        api_key="demo-key-not-a-secret",
        sizes=SMALL,
        rate_limit={"enabled": True, "per_second": 15, "burst": 15},
    )
    with run_in_thread(config) as running:
        key_file = _demo_key_file(tmp_path)
        ids = seed_demo(database, running.api_url, "tester", key_file, page_size=50)
        app = make_app(_settings(db_url, tmp_path), database, start_templates=ids, trigger="demo")
        async with app.run_test(size=(120, 40)) as pilot:
            await loaded(pilot)
            await until(
                pilot,
                lambda: (
                    len(runs(app)) == len(ids) and all(r["status"] != "running" for r in runs(app))
                ),
                "the demo runs",
            )
            await until(
                pilot,
                lambda: app.dashboard_screen.panes["requests"].table.row_count,
                "requests in the live pane",
            )
        assert {r["trigger"] for r in runs(app)} == {"demo"}
        assert all(r["records"] > 0 for r in runs(app))


def test_the_demo_schedules_its_templates_and_starts_only_the_never_synced(
    database, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.store.test_schema import insert_run

    ids = seed_demo(database, "http://127.0.0.1:1/api/v1", "tester", _demo_key_file(tmp_path))
    with database.engine.begin() as conn:
        every = conn.execute(
            text("SELECT DISTINCT schedule_interval_s FROM cc_odata_query_template")
        ).all()
        config = conn.execute(text("SELECT id FROM cc_api_client_config")).scalar_one()
        insert_run(conn, config, template_id=ids[0], status="partial")
    assert every == [(DEMO_EVERY_S,)]  # its worker keeps them syncing
    assert never_synced(database, ids) == ids[1:]  # the partial one is the worker's to resume
