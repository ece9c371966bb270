"""One vocabulary of error kinds: the enum, the schema's CHECK and the classifiers agree."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import text

from cc_console.client.errors import classify_exception, classify_status
from cc_console.errors import ApiError, ErrorKind, StopRun, SyncError


def test_the_schema_accepts_exactly_the_kinds(database) -> None:  # type: ignore[no-untyped-def]
    with database.engine.connect() as conn:
        check = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conname = 'ck_cc_error_event_kind_known'"
            )
        ).scalar_one()
    assert set(re.findall(r"'([a-z_0-9]+)'", check)) == {kind.value for kind in ErrorKind}


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, ErrorKind.HTTP_429, True),
        (503, ErrorKind.HTTP_503, True),
        (500, ErrorKind.HTTP_500, True),
        (404, ErrorKind.HTTP_404, False),
        (418, ErrorKind.HTTP_OTHER, False),
    ],
)
def test_statuses_map_to_kinds(status: int, kind: ErrorKind, retryable: bool) -> None:
    assert classify_status(status) == (kind, retryable)


def test_a_config_may_make_500_final() -> None:
    assert classify_status(500, retry_http_500=False) == (ErrorKind.HTTP_500, False)


def test_transport_failures_map_to_kinds() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/x")
    assert classify_exception(httpx.ReadTimeout("t", request=request)) == (ErrorKind.TIMEOUT, True)
    assert classify_exception(httpx.ConnectError("c", request=request)) == (ErrorKind.CONNECT, True)
    assert classify_exception(httpx.RemoteProtocolError("r")) == (ErrorKind.RESET, True)


def test_one_hierarchy_and_no_unknown_kind() -> None:
    assert issubclass(ApiError, SyncError) and issubclass(StopRun, SyncError)
    assert ApiError(ErrorKind.HTTP_503, "m").retryable
    assert not StopRun(ErrorKind.FOREIGN_NEXT_LINK, "m").retryable
    with pytest.raises(ValueError):
        ApiError("no_such_kind", "m")  # type: ignore[arg-type]  # a str that is no kind


def test_resumable_without_an_operator_only_when_the_cause_goes_by_itself() -> None:
    auto = {kind for kind in ErrorKind if kind.auto_resumable}
    assert {ErrorKind.HTTP_429, ErrorKind.INTERRUPTED, ErrorKind.DB, ErrorKind.TIMEOUT} <= auto
    assert not auto & {ErrorKind.HTTP_401, ErrorKind.CANCELLED, ErrorKind.SECRET_UNAVAILABLE}


def test_every_kind_says_what_happens_to_a_run_it_ended() -> None:
    verdicts = {kind: kind.after_run for kind in ErrorKind}
    assert set(verdicts.values()) == {"auto_resume", "superseded", "needs_attention"}
    assert verdicts[ErrorKind.LOST_CURSOR] == "superseded"  # another run has the cursor
    for kind in (
        ErrorKind.HTTP_429,
        ErrorKind.HTTP_503,
        ErrorKind.TRUNCATED,
        ErrorKind.INTERRUPTED,
    ):
        assert verdicts[kind] == "auto_resume", kind
    for kind in (
        ErrorKind.HTTP_400,
        ErrorKind.HTTP_401,
        ErrorKind.PARSE,
        ErrorKind.VALIDATION,
        ErrorKind.FOREIGN_NEXT_LINK,
        ErrorKind.NEXT_LINK_LOOP,
        ErrorKind.CANCELLED,
    ):
        assert verdicts[kind] == "needs_attention", kind
