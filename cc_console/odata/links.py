"""Next links by the OData JSON Format's rules for relative URLs, and the origin check.

A URL in a payload may be relative. Its base is the context URL of the payload (itself
resolved against the request URL) when there is one, else the request URL; resolution
follows RFC 3986 §5. The link's query — a ``$skiptoken`` included — is kept verbatim: never
decoded, re-encoded or read with ``+`` as a space.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

__all__ = ["LinkError", "Origin", "origin_of", "resolve_link"]

Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


class LinkError(ValueError):
    """A link that is no usable absolute http(s) URL (the message says why)."""


def origin_of(url: str) -> Origin:
    """(scheme, host, port) of an absolute http(s) URL; LinkError for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for ":99999" and ":abc"
    except ValueError as exc:
        raise LinkError(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise LinkError("not an absolute http(s) URL")
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def resolve_link(link: str, request_url: str, context_url: str | None = None) -> str:
    """The absolute URL of a next link found in the answer to ``request_url``."""
    if any(ord(c) < 0x21 or c in '<>"\\^`{|}' for c in link):
        raise LinkError("a next link may not hold spaces, controls or unsafe characters")
    base = request_url
    if context_url:
        base = urljoin(request_url, context_url)
    try:
        absolute = urljoin(base, link)
    except ValueError as exc:
        raise LinkError(f"not a URL: {exc}") from None
    origin_of(absolute)
    # urljoin never touches the query: the skiptoken stays as the server wrote it
    return absolute
