"""What to fetch after a page, by paging mode — pure: no I/O, every stop rule in one place.

``auto`` (the default): send ``$top``; whenever the server sends a next link, follow it (a
  server may cap ``$top`` and answer fewer rows with a link: that is not the end); without
  a link, continue with ``$skip``. Done on an empty page, or a page without a link whose
  rows since our own last request fall short of ``$top``, or once ``$count`` is reached.
``skip``: ``$top`` + ``$skip`` only; links are ignored. Done on an empty page, once
  ``$count`` is reached, or — with no count — on a page shorter than ``$top``.
``server``: no ``$top``; follow next links until a page has none.
Keyset paging (incremental templates, ``auto`` or ``server``): our own request asks for what
  follows the last landed record instead of a ``$skip``; ``$count`` ends nothing (it counted
  the rows after the run's start, and rows modified meanwhile are read again), and a link is
  never kept — a resume continues from the keyset position, not from a server's token.

Next links are resolved by the OData JSON rules (``odata.links``) and followed only to the
configured origin, never twice in one run: another origin is ``foreign_next_link``, a link
that is no URL ``bad_next_link``, a link already followed ``next_link_loop``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ErrorKind, StopRun
from ..odata.links import LinkError, Origin, origin_of, resolve_link

__all__ = ["PAGING_MODES", "Paging", "Step"]

PAGING_MODES = ("auto", "skip", "server")


@dataclass(frozen=True)
class Step:
    """After one page: whether the data is read, what comes next, what the cursor keeps."""

    done: bool
    next_url: str | None  # a resolved next link to follow, or None for our own request
    next_skip: int  # records before the next page (the cursor's position)
    keep_link: str | None  # the absolute link the cursor stores (None: resume by $skip)
    stop: StopRun | None = None  # land this page, then end the run with this


@dataclass
class Paging:
    """The paging state of one run."""

    mode: str
    top: int
    origin: Origin
    count: int | None = None
    window: int = 0  # records served since our own last $skip request (auto)
    # False while a resume follows a stored link: the records before it are unknown, so the
    # end of that chain is checked with a request of our own instead of being trusted
    window_known: bool = True
    keyset: bool = False
    followed: set[str] = field(default_factory=set)

    def restart(self) -> None:
        """The cursor went back to the beginning: counts start over (links stay followed)."""
        self.count = None
        self.window = 0

    def fetched(self, url: str, own: bool) -> None:
        """A request went out for ``url`` (``own``: built by us, not a server's link)."""
        self.followed.add(url)
        if own:
            self.window = 0
            self.window_known = True

    def resuming_from_link(self) -> None:
        """The first request follows a link a previous run stored."""
        self.window_known = False

    def after(
        self,
        *,
        request_url: str,
        skip: int,
        served: int,
        link: str | None,
        context: str | None,
        count: int | None,
    ) -> Step:
        """The step after a page of ``served`` records fetched with ``request_url`` at
        position ``skip``, that carried ``link`` (as sent) and ``count``."""
        if count is not None:
            self.count = count
        self.window += served
        position = skip + served
        counted_out = not self.keyset and self.count is not None and position >= self.count
        if self.mode == "skip":
            short = served < self.top if self.count is None else False
            return Step(served == 0 or counted_out or short, None, position, None)
        resolved: str | None = None
        problem: StopRun | None = None
        if link is not None:
            try:
                resolved = self._checked(resolve_link(link, request_url, context))
            except StopRun as stop:
                problem = stop
            except LinkError as exc:
                problem = StopRun(ErrorKind.BAD_NEXT_LINK, f"a next link is no usable URL: {exc}")
        if problem is not None:
            return Step(False, None, position, None, problem)
        if resolved is not None:
            return Step(False, resolved, position, None if self.keyset else resolved)
        if self.mode == "server":
            return Step(True, None, position, None)
        # a server page cap ends a link chain, not the data
        short = self.window_known and self.window < self.top
        return Step(
            (served == 0 and self.window_known) or short or counted_out, None, position, None
        )

    def _checked(self, url: str) -> str:
        found = origin_of(url)
        if found != self.origin:
            scheme, host, port = found
            raise StopRun(
                ErrorKind.FOREIGN_NEXT_LINK,
                f"refused a next link to another origin: {scheme}://{host}:{port}"
                " (the key is never sent there)",
            )
        if url in self.followed:
            raise StopRun(
                ErrorKind.NEXT_LINK_LOOP,
                "the server sent a next link this run followed already: a loop",
            )
        return url
