"""Secrets that reached the database before they were masked: find them, mask them, say so.

Used by migration 0005 (once, on upgrade) and by ``cc-console db scrub`` (again, e.g. where
a key that did not resolve during the upgrade does). Each config's rows are masked by
header name (always-masked names, its own auth header, its extra masked headers) and, when
its secret reference resolves here, by the key's value wherever it occurs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from ..store.audit_amendment import Amender
from ..store.scrub import ScrubCounts, configs_to_scrub, scrub_config_rows
from .masking import ALWAYS_MASKED
from .secrets import SecretUnavailable, resolve_secret

__all__ = ["ConfigScrub", "describe_scrub", "scrub_leaked_secrets"]


@dataclass(frozen=True)
class ConfigScrub:
    """What scrubbing did to one config's rows."""

    config: str
    secret_ref: str
    key_resolved: bool
    counts: ScrubCounts

    def as_dict(self) -> dict[str, object]:
        return {
            "config": self.config,
            "secret_ref": self.secret_ref,
            "key_resolved": self.key_resolved,
            **self.counts.as_dict(),
        }


def scrub_leaked_secrets(
    conn: Connection, environ: Mapping[str, str] | None = None, amender: Amender | None = None
) -> list[ConfigScrub]:
    """Mask every config's leaked secrets in the caller's transaction; with ``amender``, the
    chained audit rows changed are recorded as amendments (``store/audit_amendment.py``)."""
    results = []
    for config in configs_to_scrub(conn):
        key_names = [*ALWAYS_MASKED, config.auth_header]
        names = [*key_names, *config.masked_headers]
        try:
            keys = [resolve_secret(config.secret_ref, environ)]
        except SecretUnavailable:
            keys = []
        counts = scrub_config_rows(conn, config.id, names, keys, amender, key_names)
        results.append(ConfigScrub(config.name, config.secret_ref, bool(keys), counts))
    return results


def describe_scrub(results: list[ConfigScrub], *, dry_run: bool = False) -> list[str]:
    """Lines for the operator: rows changed per config, and what to do about it."""
    verb = "would mask" if dry_run else "masked"
    lines = []
    for result in results:
        counts = result.counts
        searched = (
            "by header name and by key value"
            if result.key_resolved
            else f"by header name only ({result.secret_ref} does not resolve here)"
        )
        lines.append(
            f"secret scrub: config {result.config}: {verb} {counts.total} rows ({searched}):"
            f" {counts.requests} requests, {counts.responses} responses,"
            f" {counts.error_events} error events, {counts.runs} run messages"
        )
        if counts.amended:
            lines.append(
                f"secret scrub: config {result.config}: {counts.amended} chained audit rows"
                " recorded as amended (signed; `cc-console audit verify` proves them)"
            )
        if counts.key_found:
            lines.append(
                f"secret scrub: config {result.config}: its key was stored in clear;"
                f" rotate the key behind {result.secret_ref} at the API provider"
            )
        elif counts.total:
            lines.append(
                f"secret scrub: config {result.config}: only headers of its --mask-header list"
                " were masked; no key was found in clear"
            )
        if not result.key_resolved:
            lines.append(
                f"secret scrub: config {result.config}: run `cc-console db scrub` where"
                f" {result.secret_ref} resolves to search for the key's value too"
            )
    return lines
