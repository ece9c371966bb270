"""Names, paths, URLs and server messages are printed as they are: markup-like text is no
markup, control characters are shown, not obeyed — in every table and message of the CLI."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table
from sqlalchemy import create_engine, text

from cc_console.commands.common import console, err_console
from tests.store.test_schema import insert_run

HOSTILE = "[/]evil[bold]name[/link] :smile: [link=https://x.invalid]y"


def test_a_template_with_a_markup_name_is_listed_verbatim(cli, db_url) -> None:  # type: ignore[no-untyped-def]
    base = ["--base-url", "https://api.example.test/api/v1", "--secret-ref", "env:CC_TEST_API_KEY"]
    assert cli("config", "add", "c1", *base).exit_code == 0
    added = cli("template", "add", "c1", "/studies/odata", "--name", HOSTILE, "--json")
    assert added.exit_code == 0, added.stderr
    template_id = json.loads(added.stdout)["id"]
    engine = create_engine(db_url)
    with engine.begin() as conn:
        config_id = conn.execute(text("SELECT id FROM cc_api_client_config")).scalar_one()
        insert_run(conn, config_id, template_id=template_id, status="failed",
                   message=f"HTTP 400 from /studies/odata: {HOSTILE}")  # fmt: skip
    engine.dispose()
    shown_in = (  # where the name or the run's message is part of the output
        ["template", "list"],
        ["template", "show", HOSTILE],
        ["runs", "--json"],
        ["report", "sla"],
        ["report", "sla", "--json"],
    )
    for args in (*shown_in, ["runs"], ["report", "validation"], ["template", "list", "--json"]):
        result = cli(*args)
        assert result.exit_code in (0, 1), (args, result.stderr)  # a report may find a breach
        assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr
        if args in shown_in:
            assert HOSTILE in result.stdout or json.dumps(HOSTILE)[1:-1] in result.stdout, args


def test_a_name_with_control_characters_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    base = ["--base-url", "https://api.example.test/api/v1", "--secret-ref", "env:CC_TEST_API_KEY"]
    cli("config", "add", "c1", *base)
    result = cli("template", "add", "c1", "/studies/odata", "--name", "a\x1b]52;c;eA==\x07b")
    assert result.exit_code == 2 and "control characters" in result.stderr


MARKUP_LIKE = st.text(
    alphabet=st.sampled_from(list("[]/=:#@ bold link red on x 0 \x1b\x07\\")), max_size=40
)


@settings(max_examples=200, deadline=None)
@given(MARKUP_LIKE)
def test_the_printers_print_any_text_as_it_is(value: str) -> None:
    for printer in (console, err_console):
        with printer.capture() as captured:
            printer.print(value)
            table = Table("column")
            table.add_row(value)
            printer.print(table)
        shown = captured.get()
        assert "\x1b" not in shown and "\x07" not in shown  # shown as \x1b, never sent
        expected = value.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert expected.strip() in shown.replace("\n", "") or not expected.strip()
