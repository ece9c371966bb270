"""What a response says about its rate limit, in every form servers are seen to send it.

- ``Retry-After`` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
- ``X-RateLimit-Limit / -Remaining / -Reset`` (the de facto GitHub/nginx family): the limit
  as an integer, ``N/60s``, ``N/min``, ``Nr/s; burst=B`` (nginx's ``limit_req`` wording) or
  ``N;w=60``; the reset as epoch seconds or a delta.
- The IETF draft (draft-ietf-httpapi-ratelimit-headers): since -08 structured fields,
  ``RateLimit-Policy: "default";q=100;w=60`` and ``RateLimit: "default";r=50;t=30``; the
  earlier drafts' ``RateLimit-Limit / -Remaining / -Reset`` headers, ``RateLimit-Policy:
  100;w=60`` and the combined ``RateLimit: limit=100, remaining=50, reset=30``.

Scope: what a response says holds for the whole config unless the server names an endpoint
partition — ``X-RateLimit-Scope: endpoint`` (also ``route``, ``path``, ``operation``), or an
IETF policy of that name (``RateLimit-Policy: "endpoint";q=5;w=1``); then it holds for the
endpoint that answered.

Anything else is ignored, never an error: a header this side cannot read says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["RateInfo", "parse_limit", "parse_rate_headers", "parse_retry_after"]

_EPOCH_THRESHOLD = 1_000_000_000  # above: an epoch timestamp, below: delta-seconds
_NUMBER = r"\d+(?:\.\d+)?"
_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}  # fmt: skip
# 100 | 100/60s | 100/min | 20r/s | 20 r/s; burst=10 | 100;w=60
_LIMIT = re.compile(
    rf"^\s*(?P<n>{_NUMBER})\s*(?:r\b|req\b|requests\b)?\s*"
    rf"(?:/\s*(?P<every>{_NUMBER})?\s*(?P<unit>[a-z]+)\s*)?(?P<rest>[;,].*)?$",
    re.IGNORECASE,
)
_ENDPOINT_WORDS = {"endpoint", "route", "path", "operation"}
_PARAM = re.compile(rf"(?P<key>[a-z]+)\s*=\s*(?P<value>{_NUMBER})", re.IGNORECASE)


@dataclass(frozen=True)
class RateInfo:
    """What one response said about the rate limit: ``limit`` requests per ``window_s``
    (with a ``burst`` when the server names one), how many are left until ``reset_at``,
    and how long to wait before trying again."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    retry_after_s: float | None = None
    window_s: float | None = None
    burst: int | None = None
    endpoint_scoped: bool = False  # the server says this is the endpoint's own limit

    @property
    def rate_per_s(self) -> float | None:
        """The allowed rate the policy states (None: it states none)."""
        if self.limit is None or not self.window_s:
            return None
        return self.limit / self.window_s

    @property
    def says_anything(self) -> bool:
        return any(
            v is not None for v in (self.limit, self.remaining, self.reset_at, self.window_s)
        )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(_NUMBER, value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def parse_limit(value: str | None) -> tuple[int | None, float | None, int | None]:
    """(limit, window seconds, burst) of a limit header value; Nones for what it lacks."""
    if not value:
        return None, None, None
    found = _LIMIT.match(value)
    if found is None:
        return None, None, None
    limit = int(float(found["n"]))
    window = None
    if found["unit"]:
        name = found["unit"].lower()
        plural = name[:-1] if len(name) > 3 and name.endswith("s") else None
        unit = _UNITS.get(name) or (_UNITS.get(plural) if plural else None)
        if unit is None:
            return limit, None, None
        window = unit * float(found["every"] or 1)
    params = {m["key"].lower(): float(m["value"]) for m in _PARAM.finditer(found["rest"] or "")}
    if window is None and "w" in params:
        window = params["w"]
    burst = int(params["burst"]) if "burst" in params else None
    return limit, window if window else None, burst


def _int(value: str | None) -> int | None:
    if value is None or not re.fullmatch(rf"\s*{_NUMBER}\s*", value):
        return None
    return int(float(value.strip()))  # \s also matched \x1c-\x1f, which float() refuses


def _reset(value: float | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        if value > _EPOCH_THRESHOLD:
            return datetime.fromtimestamp(value, UTC)
        return now + timedelta(seconds=value)
    except (OverflowError, OSError, ValueError):  # a reset no calendar holds is no reset
        return None


def _structured(value: str) -> dict[str, float]:
    """The parameters of the first item of a structured-field list (``"p";q=1;w=2``)."""
    first = value.split(",")[0]
    return {m["key"].lower(): float(m["value"]) for m in _PARAM.finditer(first.split(";", 1)[-1])}


def parse_rate_headers(headers: Mapping[str, str], now: datetime) -> RateInfo:
    """Everything the headers say (see the module's docstring for the forms)."""
    h = {k.lower(): v for k, v in headers.items()}
    limit = remaining = burst = None
    window = reset = None
    if "x-ratelimit-limit" in h or "x-ratelimit-remaining" in h:
        limit, window, burst = parse_limit(h.get("x-ratelimit-limit"))
        remaining = _int(h.get("x-ratelimit-remaining"))
        reset = _int(h.get("x-ratelimit-reset"))
    elif "ratelimit-limit" in h or "ratelimit-remaining" in h:  # drafts -00 to -06
        limit, window, burst = parse_limit(h.get("ratelimit-limit"))
        remaining = _int(h.get("ratelimit-remaining"))
        reset = _int(h.get("ratelimit-reset"))
    elif "ratelimit" in h:
        value = h["ratelimit"]
        if "=" in value and ";" not in value.split("=")[0] and not value.lstrip().startswith('"'):
            pairs = {m["key"].lower(): float(m["value"]) for m in _PARAM.finditer(value)}
            limit = int(pairs["limit"]) if "limit" in pairs else None  # limit=, remaining=
            left = pairs.get("remaining", pairs.get("r"))
            remaining = int(left) if left is not None else None
            after = pairs.get("reset", pairs.get("t"))
            reset = int(after) if after is not None else None
        else:  # -08 on: "policy";r=50;t=30
            pairs = _structured(value)
            remaining = int(pairs["r"]) if "r" in pairs else None
            reset = int(pairs["t"]) if "t" in pairs else None
    if "ratelimit-policy" in h:
        policy = h["ratelimit-policy"]
        stated = _structured(policy) if policy.lstrip().startswith('"') else {}
        if "q" in stated:
            limit, window = int(stated["q"]), stated.get("w", window)
        else:
            quota, every, _ = parse_limit(policy)
            limit = limit if limit is not None else quota
            window = window if window is not None else every
    return RateInfo(
        limit,
        remaining,
        _reset(reset, now),
        parse_retry_after(h.get("retry-after"), now),
        window,
        burst,
        _endpoint_scoped(h),
    )


def _endpoint_scoped(h: Mapping[str, str]) -> bool:
    """Whether the server names the endpoint's own partition (see the module's docstring)."""
    names = [h.get("x-ratelimit-scope", "")]
    for field in ("ratelimit-policy", "ratelimit"):
        value = h.get(field, "").lstrip()
        if value.startswith('"'):
            names.append(value[1:].split('"', 1)[0])
    for name in names:
        word = name.strip().lower().removeprefix("per-").removeprefix("per_")
        if word in _ENDPOINT_WORDS:
            return True
    return False
