"""The stop rules and next-link rules of each paging mode, without a server."""

from __future__ import annotations

import pytest

from cc_console.engine.paging import Paging
from cc_console.errors import ErrorKind
from cc_console.odata.links import LinkError, origin_of, resolve_link

ROOT = "https://host.example/odata/v4/sales"
ORIGIN = origin_of(ROOT)


def step(paging: Paging, served: int, link: str | None = None, skip: int = 0, count=None):  # type: ignore[no-untyped-def]
    return paging.after(
        request_url=f"{ROOT}/Orders?$top=100",
        skip=skip,
        served=served,
        link=link,
        context="$metadata#Orders",
        count=count,
    )


def test_relative_links_resolve_against_the_context_url_and_keep_the_token_verbatim() -> None:
    link = "Orders?$top=900&$skiptoken=eyJv+Ijo1/MH0="
    resolved = resolve_link(link, f"{ROOT}/Orders?$top=1000", "$metadata#Orders")
    assert resolved == f"{ROOT}/Orders?$top=900&$skiptoken=eyJv+Ijo1/MH0="
    assert resolve_link("Orders?x=1", f"{ROOT}/Orders") == f"{ROOT}/Orders?x=1"  # no context
    assert resolve_link("/other/path", f"{ROOT}/Orders") == "https://host.example/other/path"


@pytest.mark.parametrize(
    "link",
    [
        "http://host.example:99999/x",
        "http://host.example:abc/x",
        "ftp://host.example/x",
        "Orders?a b",
    ],
)
def test_unusable_links_are_link_errors(link: str) -> None:
    with pytest.raises(LinkError):
        resolve_link(link, f"{ROOT}/Orders")


def test_auto_follows_a_link_even_on_a_short_page_and_ends_on_a_short_own_page() -> None:
    paging = Paging("auto", 100, ORIGIN)
    paging.fetched(f"{ROOT}/Orders?$top=100", own=True)
    followed = step(paging, 50, "Orders?$skiptoken=a")
    assert not followed.done and followed.next_url == f"{ROOT}/Orders?$skiptoken=a"
    paging.fetched(followed.next_url, own=False)
    assert not step(paging, 50, skip=50).done  # 100 since our own request: not short
    paging.fetched(f"{ROOT}/Orders?$top=100&$skip=100", own=True)
    assert step(paging, 30, skip=100).done  # a short own page without a link: the end


def test_skip_ignores_links_and_trusts_the_count() -> None:
    paging = Paging("skip", 100, ORIGIN)
    first = step(paging, 50, "Orders?$skiptoken=a", count=120)  # the server capped at 50
    assert not first.done and first.next_url is None and first.next_skip == 50
    assert step(paging, 50, skip=50).done is False
    assert step(paging, 20, skip=100).done  # 120 counted, 120 read


def test_server_mode_ends_when_a_page_has_no_link() -> None:
    paging = Paging("server", 100, ORIGIN)
    assert not step(paging, 0, "Orders?$skiptoken=b").done  # even an empty page may link on
    assert step(paging, 0).done


@pytest.mark.parametrize(
    ("link", "kind"),
    [
        ("https://mirror.example/odata/v4/sales/Orders", ErrorKind.FOREIGN_NEXT_LINK),
        ("http://host.example:99999/x", ErrorKind.BAD_NEXT_LINK),
        (f"{ROOT}/Orders?$top=100", ErrorKind.NEXT_LINK_LOOP),  # the page we just fetched
    ],
)
def test_hostile_links_stop_the_run_after_the_page(link: str, kind: ErrorKind) -> None:
    paging = Paging("auto", 100, ORIGIN)
    paging.fetched(f"{ROOT}/Orders?$top=100", own=True)
    result = step(paging, 100, link)
    assert result.stop is not None and result.stop.kind is kind
    assert result.keep_link is None and result.next_skip == 100  # resumable by $skip
