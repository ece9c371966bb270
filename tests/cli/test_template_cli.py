"""``cc-console template``: canonical hashing, idempotent add, lookup, removal."""

from __future__ import annotations

import json

import pytest

from cc_console.odata import filter_hash, params_hash


@pytest.fixture
def with_config(cli):  # type: ignore[no-untyped-def]
    result = cli(
        "config",
        "add",
        "t1",
        "--base-url",
        "https://api.example.test/api/v1",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
    )
    assert result.exit_code == 0, result.stderr
    return cli


def test_add_is_idempotent_across_spellings(with_config) -> None:  # type: ignore[no-untyped-def]
    cli = with_config
    first = cli(
        "template",
        "add",
        "t1",
        "/studies/odata",
        "--filter",
        "name eq 'O''Brien' and id gt 3",
        "--top",
        "500",
        "--json",
    )
    assert first.exit_code == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["created"] is True
    assert created["params"] == {"$filter": "name eq 'O''Brien' and id gt 3", "$top": 500}
    assert created["params_hash"] == params_hash(created["params"])
    assert created["filter_hash"] == filter_hash("name eq 'O''Brien' and id gt 3")
    second = cli(
        "template",
        "add",
        "t1",
        "studies/odata/",
        "--top",
        "500",
        "--filter",
        "  name  eq 'O''Brien'   and id gt 3 ",
        "--json",
    )
    again = json.loads(second.stdout)
    assert again["created"] is False and again["id"] == created["id"]
    human = cli(
        "template",
        "add",
        "t1",
        "/studies/odata",
        "--filter",
        "name eq 'O''Brien' and id gt 3",
        "--top",
        "500",
    )
    assert "already exists" in human.stdout
    assert len(json.loads(cli("template", "list", "--json").stdout)) == 1


def test_schedule_and_sla_durations(with_config) -> None:  # type: ignore[no-untyped-def]
    cli = with_config
    row = json.loads(
        cli(
            "template", "add", "t1", "/sites/odata", "--every", "15m", "--sla", "2h", "--json"
        ).stdout
    )
    assert row["schedule_interval_s"] == 900 and row["sla_target_s"] == 7200
    bad = cli("template", "add", "t1", "/sites/odata", "--every", "soon")
    assert bad.exit_code == 2 and "--every" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["/studies/odata?$top=5"], "path only", id="query-in-path"),
        pytest.param(["/studies/odata", "--filter", "name eq 'x"], "unterminated", id="quote"),
        pytest.param(
            ["/studies/odata", "--filter", "(id eq 1"],
            "the '(' at position 1 is unclosed",
            id="paren",
        ),
        pytest.param(["/studies/odata", "--filter", "status eq"], "position 8", id="no-operand"),
        pytest.param(
            ["/studies/odata", "--filter", "name equals 'x'"], "found 'equals'", id="no-operator"
        ),
        pytest.param(["/studies/odata", "--top", "1001"], "--top", id="top"),
        pytest.param(["/studies/odata", "--name", "two\nlines"], "--name", id="name-newline"),
    ],
)
def test_bad_templates_are_refused(with_config, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = with_config("template", "add", "t1", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert json.loads(with_config("template", "list", "--json").stdout) == []


def test_an_unknown_function_warns_and_no_validate_skips_the_check(with_config) -> None:  # type: ignore[no-untyped-def]
    warned = with_config("template", "add", "t1", "/studies/odata", "--filter", "vendorfn(x)")
    assert (
        warned.exit_code == 0 and "warning: --filter: unknown function 'vendorfn'" in warned.stderr
    )
    unchecked = with_config(
        "template", "add", "t1", "/sites/odata", "--filter", "status eq", "--no-validate"
    )
    assert unchecked.exit_code == 0, unchecked.stderr
    assert len(json.loads(with_config("template", "list", "--json").stdout)) == 2


def test_unknown_config(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("template", "add", "ghost", "/studies/odata")
    assert result.exit_code == 3 and "no config named 'ghost'" in result.stderr


def test_show_by_prefix_and_name_then_remove(with_config) -> None:  # type: ignore[no-untyped-def]
    cli = with_config
    row = json.loads(
        cli("template", "add", "t1", "/sites/odata", "--name", "all-sites", "--json").stdout
    )
    by_prefix = json.loads(cli("template", "show", row["id"][:8], "--json").stdout)
    by_name = json.loads(cli("template", "show", "all-sites", "--json").stdout)
    assert by_prefix["id"] == by_name["id"] == row["id"] and by_name["config"] == "t1"
    refused = cli("template", "remove", "all-sites")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    removed = cli("template", "remove", "all-sites", "--yes")
    assert removed.exit_code == 0 and "removed" in removed.stdout
    assert cli("template", "show", row["id"]).exit_code == 3


def test_remove_keeps_a_template_with_history(with_config, database) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    cli = with_config
    row = json.loads(cli("template", "add", "t1", "/sites/odata", "--json").stdout)
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cc_sync_run (config_id, template_id, resource_path, trigger,"
                " created_by) VALUES (:c, :t, '/sites/odata', 'manual', 't')"
            ),
            {"c": row["config_id"], "t": row["id"]},
        )
    result = cli("template", "remove", row["id"], "--yes")
    assert result.exit_code == 0 and "deactivated" in result.stdout
    assert json.loads(cli("template", "show", row["id"], "--json").stdout)["is_active"] is False


def test_list_filters_by_config(with_config) -> None:  # type: ignore[no-untyped-def]
    cli = with_config
    cli("config", "add", "t2", "--base-url", "https://b.test", "--secret-ref", "env:X")
    cli("template", "add", "t1", "/sites/odata")
    cli("template", "add", "t2", "/studies/odata")
    only = json.loads(cli("template", "list", "--config", "t2", "--json").stdout)
    assert [(t["config"], t["resource_path"]) for t in only] == [("t2", "/studies/odata")]
    text_out = cli("template", "list").stdout
    assert "/sites/odata" in text_out and "/studies/odata" in text_out


def test_history_is_opt_in_and_adding_again_turns_it_on(with_config) -> None:  # type: ignore[no-untyped-def]
    cli = with_config
    plain = cli("template", "add", "t1", "/sites/odata", "--json")
    assert plain.exit_code == 0 and json.loads(plain.stdout)["keep_history"] is False
    kept = cli("template", "add", "t1", "/studies/odata", "--history")
    assert kept.exit_code == 0 and "keeps history" in kept.stdout
    again = cli("template", "add", "t1", "/sites/odata", "--history", "--json")
    assert json.loads(again.stdout)["created"] is False
    assert json.loads(again.stdout)["keep_history"] is True
    views = cli("silver", "views", "--json")
    by_view = {v["view"]: v for v in json.loads(views.stdout)["views"]}
    assert by_view["silver.t1__sites"]["history_view"] == "silver.t1__sites__history"
