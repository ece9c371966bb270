"""Each report's numbers on a seeded week whose answers are known (see seed.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cc_console.reports import resolve_window, run_report

from .seed import NOW, seed_reports

UNTIL = "2026-11-26T12:00:00Z"


@pytest.fixture
def seeded(database):  # type: ignore[no-untyped-def]
    seed_reports(database)
    return database


def report(database: Any, name: str, **options: Any) -> dict[str, Any]:
    with database.engine.connect() as conn:
        window = resolve_window(conn, now=NOW, since=timedelta(days=7), **options)
        return run_report(conn, name, window)


def test_sla(seeded) -> None:
    data = report(seeded, "sla")
    studies, patients = (
        next(t for t in data["templates"] if t["template"] == name)
        for name in ("studies", "patients")
    )
    # studies: one slow run, and not fresh; patients: every run failed and it never succeeded
    assert data["breaches"] == 3
    assert (studies["runs"], studies["succeeded"], studies["success_rate"]) == (4, 3, 0.75)
    assert (studies["duration_p50_s"], studies["duration_p95_s"], studies["duration_max_s"]) == (
        40,
        70,
        70,
    )
    assert [b["duration_s"] for b in studies["sla_breaches"]] == [70]
    assert studies["freshness_s"] == 10760 and studies["freshness_breach"] is True
    assert studies["reconciled_runs"] == 3
    assert [(r["records"], r["odata_count"]) for r in studies["unreconciled_runs"]] == [(500, 1000)]
    assert (patients["runs"], patients["succeeded"], patients["success_rate"]) == (3, 0, 0.0)
    assert (patients["duration_p50_s"], patients["duration_p95_s"]) == (1, 20)
    assert patients["freshness_s"] is None and patients["freshness_breach"] is False
    assert patients["sla_breaches"] == [] and patients["reconciled_runs"] == 0
    assert patients["failing"] is True and patients["never_succeeded"] is True
    assert (studies["breaches"], patients["breaches"]) == (2, 1)  # they add up to the total
    assert studies["failing"] is False and studies["never_succeeded"] is False


def test_throttling_shows_the_falling_rate_and_a_suggestion(seeded) -> None:
    data = report(seeded, "throttling")
    assert (data["http_429"], data["requests"], data["ratio"], data["wait_s"]) == (
        7,
        45,
        0.1556,
        14.0,
    )
    assert [(h["hour"], h["count"]) for h in data["by_endpoint_hour"]] == [
        ("2026-11-23T09:00:00+00:00", 4),
        ("2026-11-24T09:00:00+00:00", 2),
        ("2026-11-25T09:00:00+00:00", 1),
    ]
    busy = [d for d in data["daily"] if d["requests"]]
    assert [(d["day"], d["requests"], d["http_429"], d["ratio"]) for d in busy] == [
        ("2026-11-23", 10, 4, 0.4),
        ("2026-11-24", 11, 2, 0.1818),
        ("2026-11-25", 10, 1, 0.1),
        ("2026-11-26", 14, 0, 0.0),
    ]
    assert len(data["daily"]) == 8  # every day of the window, quiet ones too
    assert data["trend"] == "falling" and data["trend_slope_per_day"] == pytest.approx(
        -0.1282, abs=1e-4
    )
    assert [r["http_429"] for r in data["by_run"]] == [4, 2, 1]
    assert data["exhausted_scopes"] == [
        {"endpoint": "/studies/odata", "responses_at_zero": 7, "limit_header": "10"}
    ]
    assert data["suggestion"]["max_requests_per_second"] == 0.16


def test_validation(seeded) -> None:
    data = report(seeded, "validation")
    endpoints = {e["endpoint"]: e for e in data["endpoints"]}
    assert (endpoints["/studies/odata"]["responses"], endpoints["/studies/odata"]["parse_ok"]) == (
        33,
        31,
    )
    assert endpoints["/studies/odata"]["parse_ok_ratio"] == 0.9394
    assert endpoints["/studies/odata"]["below_target"] is True
    assert endpoints["/patients/odata"]["parse_ok_ratio"] == 1.0
    assert data["endpoints_below_target"] == 1
    assert data["schema_checks"] == [
        {
            "resource_path": "/studies/odata",
            "pages": 3,
            "records_checked": 300,
            "records_invalid": 2,
        }
    ]
    assert sorted((k["kind"], k["count"]) for k in data["error_kinds"]) == [
        ("int_type", 1),
        ("missing", 1),
    ]
    [drift] = data["drift"]
    assert drift["drift"] == {"added": ["newField"]} and drift["pages"] == 2
    assert drift["first_seen"] == "2026-11-25T09:01:00+00:00"


def test_audit_completeness(seeded) -> None:
    data = report(seeded, "audit")
    assert (data["requests"], data["responses"], data["requests_without_response"]) == (45, 41, 4)
    assert data["explained"] == {
        "in_flight": 1,
        "timed_out": 1,
        "failed_before_response": 1,
        "interrupted": 1,
    }
    assert data["unexplained"] == 0 and data["responses_without_run"] == 0
    assert len(data["runs_without_requests"]) == 1 and data["correlation_pct"] == 100.0


def test_a_config_filter_and_an_unknown_config(seeded) -> None:
    assert report(seeded, "audit", config="acme")["requests"] == 45
    with pytest.raises(LookupError, match="no config named 'nope' \\(known: acme\\)"):
        report(seeded, "audit", config="nope")


@pytest.mark.parametrize("name", ["sla", "throttling", "validation", "audit"])
def test_cli_text_and_json_agree(cli, seeded, name: str) -> None:
    as_json = cli("report", name, "--until", UNTIL, "--json")
    assert as_json.exit_code in (0, 1), as_json.stderr
    assert json.loads(as_json.stdout) == report(seeded, name)
    text = cli("report", name, "--until", UNTIL)
    assert text.exit_code == as_json.exit_code
    expected_headline = {
        "sla": "3 breach(es)",
        "throttling": "7 × 429 of 45 requests (15.56%), waited 14.0s, trend falling",
        "validation": "1 expected endpoint(s) below 95% parse_ok",
        "audit": "100.0% correlated",
    }[name]
    assert expected_headline in text.stdout
    assert as_json.exit_code == (1 if name in ("sla", "validation") else 0)  # problems exit 1


def test_cli_errors_are_one_line(cli, seeded) -> None:
    for args, message in [
        (("report", "sla", "--until", "yesterday"), "--until takes an ISO 8601 time"),
        (("report", "sla", "--config", "nope"), "no config named 'nope'"),
        (("report", "sla", "--since", "week"), "--since must be a positive duration"),
    ]:
        result = cli(*args)
        assert result.exit_code in (2, 3) and message in result.stderr
        assert "Traceback" not in result.stderr


def test_a_never_synced_scheduled_template_breaches_once_it_was_due(seeded) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with seeded.engine.begin() as conn:
        config_id = conn.execute(text("SELECT id FROM cc_api_client_config LIMIT 1")).scalar_one()
        for name, created in (("due", NOW - timedelta(hours=3)), ("not-yet", NOW)):
            conn.execute(
                text(
                    "INSERT INTO cc_odata_query_template (config_id, name, resource_path, params,"
                    " params_hash, filter_hash, schedule_interval_s, sla_target_s, created_at,"
                    " created_by, updated_by) VALUES (:c, :n, '/sites/odata', '{}', :h, :h,"
                    " 3600, 600, :at, 't', 't')"
                ),
                {"c": config_id, "n": name, "h": (name * 64)[:64], "at": created},
            )
    data = report(seeded, "sla")
    by_name = {t["template"]: t for t in data["templates"]}
    assert by_name["due"]["never_succeeded"] is True  # created 3 h ago, due after 1 h + 10 min
    assert by_name["not-yet"]["never_succeeded"] is False
    assert data["breaches"] == 3 + 1  # the due one, once (not fresh and never succeeded)


def test_throttling_suggests_the_rate_the_engines_learned(seeded) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from .seed import CONFIG

    with seeded.engine.begin() as conn:  # the engines found 12/s and confirmed it twice
        conn.execute(
            text(
                "INSERT INTO cc_rate_limit_state (config_id, scope, ceiling_rps, confirmations,"
                " curve_started_at) VALUES (:c, 'global', 12.0, 2, clock_timestamp())"
            ),
            {"c": CONFIG},
        )
    data = report(seeded, "throttling")
    (learned,) = data["learned"]
    assert (learned["scope"], learned["ceiling_rps"], learned["confirmations"]) == (
        "global",
        12.0,
        2,
    )
    assert not learned["probing"] and 0.9 * 12.0 <= learned["learned_rps"] <= 12.0
    suggestion = data["suggestion"]
    assert suggestion["max_requests_per_second"] == round(learned["learned_rps"], 2)
    assert "learned" in suggestion["why"] and "confirmed ×2" in suggestion["why"]
