"""One parser of run ids for the CLI, the audit filter and the console."""

from __future__ import annotations

import uuid

import pytest

from cc_console.run_ids import RunIdError, parse_run_id

RUN = uuid.UUID("3f2a9c1e-0b1d-4c2e-9f00-1234567890ab")


@pytest.mark.parametrize(
    "text", ["3f2a", "3F2A9C1E", "3f2a9c1e0b1d4c2e9f001234567890ab", str(RUN), f" {RUN} "]
)
def test_prefixes_and_full_ids_are_ranges_holding_the_run(text: str) -> None:
    low, high = parse_run_id(text).bounds()
    assert low <= RUN <= high


def test_a_full_id_is_exactly_that_run() -> None:
    prefix = parse_run_id(str(RUN).upper())
    assert prefix.is_full and prefix.bounds() == (RUN, RUN) and str(prefix) == str(RUN)


@pytest.mark.parametrize(
    "text",
    ["", "3f2", "zz12", "3f2a9c1e-0b", "a" * 33, "a" * 36, "٣f2a", "3f 2a", "3f2a%", "-" * 8],
)
def test_anything_else_is_refused_saying_what_an_id_looks_like(text: str) -> None:
    with pytest.raises(RunIdError, match="4 to 32 hex digits"):
        parse_run_id(text)


def test_resume_retry_and_cancel_refuse_a_bad_id_with_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    for command in ("resume", "retry", "cancel"):
        result = cli(command, "3f2a9c1e-0b")
        assert result.exit_code == 2 and "4 to 32 hex digits" in result.stderr, command
        assert cli(command, "3f2a9c1e").exit_code == 3  # well-formed, no such run
