"""A week of runs, requests and errors whose report numbers are known by construction.

Window: the 7 days before NOW (2026-11-26 12:00 UTC). Config ``acme``:
- template ``studies`` (/studies/odata, SLA 60 s, every hour), template ``patients``
  (/patients/odata, SLA 60 s, no schedule).
- studies: one run per day on days -3..0 at 09:00, durations 30/50/70/40 s; day -2 ends
  partial with 500 of 1000 records, the others succeed with 1000 of 1000. Each run sends 10
  requests; 429s per day 4/2/1/0 (a falling rate: 0.4, 0.2, 0.1, 0.0), each 429 with
  ``x-ratelimit-remaining: 0`` and an http_429 event. Of the 33 other responses two are not
  parseable (day -3, day -1): parse_ok 31/33. The partial run has one more request that never
  got a response and no event (interrupted).
- patients: day 0 a failed run with 3 requests — a 200, a timeout, a reset (no responses for
  the last two, each with its event); day 0 a running run with one request in flight; day -1 a
  failed run that never sent a request.
- schema checks: the day -1 run's first two pages report drift (added newField); one page of
  day -3 failed validation with errors int_type and missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cc_console.odata import canonical_params, filter_hash, params_hash
from cc_console.store.database import Database
from tests.clock import partitions_at
from tests.tui.seed import _insert, insert_config, uid

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CONFIG = uid(1)
STUDIES, PATIENTS = uid(11), uid(12)


def day(n: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return (NOW + timedelta(days=n)).replace(hour=hour, minute=minute, second=second)


def _template(conn: Any, tid: Any, name: str, path: str, every: int | None) -> str:
    params = canonical_params({})
    _insert(
        conn,
        "cc_odata_query_template",
        id=tid,
        config_id=CONFIG,
        name=name,
        resource_path=path,
        params=params,
        params_hash=params_hash(params),
        filter_hash=filter_hash(params),
        sla_target_s=60,
        schedule_interval_s=every,
        created_by="seed",
        updated_by="seed",
    )
    return filter_hash(params)


class Writer:
    def __init__(self, conn: Any) -> None:
        self.conn, self.n = conn, 0

    def run(
        self,
        rid: Any,
        template: Any,
        path: str,
        fh: str,
        status: str,
        start: datetime,
        took: float | None,
        **counts: Any,
    ) -> None:
        _insert(
            self.conn,
            "cc_sync_run",
            id=rid,
            config_id=CONFIG,
            template_id=template,
            resource_path=path,
            filter_hash=fh,
            trigger="manual",
            status=status,
            started_at=start,
            heartbeat_at=start,
            finished_at=None if took is None else start + timedelta(seconds=took),
            created_by="seed",
            **counts,
        )

    def request(
        self,
        run: Any,
        path: str,
        at: datetime,
        status: int | None = 200,
        parse_ok: bool = True,
        event: str | None = None,
    ) -> Any:
        self.n += 1
        rid = uid(100_000 + self.n)
        _insert(
            self.conn,
            "cc_api_request_log",
            id=rid,
            sent_at=at,
            config_id=CONFIG,
            run_id=run,
            method="GET",
            url=f"http://sim/api/v1{path}?$skip={self.n}",
            endpoint_path=path,
            attempt_no=1,
        )
        if status is not None:
            headers = {
                "content-type": "application/json",
                "x-ratelimit-limit": "10",
                "x-ratelimit-remaining": "0" if status == 429 else "5",
            }
            _insert(
                self.conn,
                "cc_api_response_log",
                id=uid(200_000 + self.n),
                sent_at=at,
                request_id=rid,
                received_at=at + timedelta(milliseconds=50),
                status_code=status,
                headers=headers,
                parse_ok=parse_ok and status == 200,
                size_bytes=10,
                elapsed_ms=50,
            )
        if event is not None:
            _insert(
                self.conn,
                "cc_error_event",
                id=uid(300_000 + self.n),
                kind=event,
                occurred_at=at + timedelta(milliseconds=60),
                retryable=event in ("http_429", "timeout", "reset"),
                status_code=status,
                endpoint_path=path,
                message=event,
                config_id=CONFIG,
                run_id=run,
                request_id=rid,
                request_sent_at=at,
            )
        return uid(200_000 + self.n)

    def check(
        self,
        run: Any,
        response: Any,
        at: datetime,
        ok: bool = True,
        drift: dict[str, Any] | None = None,
        errors: list[Any] | None = None,
    ) -> None:
        self.n += 1
        _insert(
            self.conn,
            "cc_schema_validation",
            id=uid(400_000 + self.n),
            checked_at=at,
            response_id=response,
            response_sent_at=at,
            run_id=run,
            resource_path="/studies/odata",
            schema_name="Study",
            schema_version="1",
            ok=ok,
            records_checked=100,
            records_invalid=0 if ok else 2,
            errors_sample=errors,
            drift=drift,
        )


def seed_reports(database: Database) -> None:
    with database.engine.begin() as conn:
        partitions_at(conn, NOW)
        insert_config(conn, CONFIG, "http://sim/api/v1")
        fs = _template(conn, STUDIES, "studies", "/studies/odata", 3600)
        fp = _template(conn, PATIENTS, "patients", "/patients/odata", None)
        w = Writer(conn)
        throttled = {-3: 4, -2: 2, -1: 1, 0: 0}
        unparseable = {-3: 1, -1: 1}
        durations = {-3: 30, -2: 50, -1: 70, 0: 40}
        for d, took in durations.items():
            run = uid(500 + d + 10)
            partial = d == -2
            w.run(
                run,
                STUDIES,
                "/studies/odata",
                fs,
                "partial" if partial else "succeeded",
                day(d),
                took,
                records=500 if partial else 1000,
                records_landed=500 if partial else 1000,
                records_inserted=500 if partial else 1000,
                records_updated=0,
                records_unchanged=0,
                chain_records_landed=500 if partial else 1000,
                odata_count=1000,
                requests=10,
                http_429_count=throttled[d],
                wait_s=2.0 * throttled[d],
            )
            first_response = None
            for i in range(10):
                at = day(d, minute=i)
                if i < throttled[d]:
                    w.request(run, "/studies/odata", at, 429, event="http_429")
                    continue
                bad = i == 9 and d in unparseable
                response = w.request(run, "/studies/odata", at, 200, parse_ok=not bad)
                if first_response is None:
                    first_response = (response, at)
                if d == -1 and i in (1, 2):
                    w.check(run, response, at, drift={"added": ["newField"]})
            if d == -3:
                w.check(
                    run,
                    first_response[0],
                    first_response[1],
                    ok=False,
                    errors=[{"error": "int_type"}, {"error": "missing"}],
                )
            if partial:
                w.request(run, "/studies/odata", day(d, minute=20), None)  # interrupted
        failed, running, empty = uid(601), uid(602), uid(603)
        w.run(
            failed,
            PATIENTS,
            "/patients/odata",
            fp,
            "failed",
            day(0, 8),
            20,
            requests=3,
            error_count=2,
        )
        w.request(failed, "/patients/odata", day(0, 8, 0, 1))
        w.request(failed, "/patients/odata", day(0, 8, 0, 2), None, event="timeout")
        w.request(failed, "/patients/odata", day(0, 8, 0, 3), None, event="reset")
        w.run(running, PATIENTS, "/patients/odata", fp, "running", day(0, 11, 59), None, requests=1)
        w.request(running, "/patients/odata", day(0, 11, 59, 30), None)  # in flight
        w.run(
            empty,
            PATIENTS,
            "/patients/odata",
            fp,
            "failed",
            day(-1, 8),
            1,
            error_count=1,
            message="secret_unavailable",
        )
