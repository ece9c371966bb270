"""One resilient GET: shared rate limits, write-ahead audit, retries with tenacity.

Each attempt waits for the rate-limit coordinator, commits its request row, sends, and on
failure records the response and a typed error event before deciding whether to retry.
A successful attempt is returned unlogged-in-response: the engine lands it with its page.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from .. import __version__
from ..errors import ApiError, ErrorKind
from ..odata.links import LinkError, origin_of
from ..store.audit_log import (
    RequestRef,
    ResponseFields,
    write_failure,
    write_request,
    write_response,
)
from ..store.configs import ConfigRow
from ..store.cursors import Lease
from ..store.outage import OutageGuard
from .errors import classify_exception, classify_status
from .masking import KeyMask, key_fingerprint, mask_headers, remember_key
from .pause import Interruptible
from .ratelimit import Pass, RateInfo, RateLimitCoordinator, parse_rate_headers
from .reasons import server_reason

__all__ = ["MAX_REDIRECTS", "Attempt", "ClientPolicy", "ResilientClient"]

MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def _tls(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """The config's CA bundle, or the default trust (with SSL_CERT_FILE honoured)."""
    if ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=ca_bundle)


def _origin_text(url: str) -> str:
    try:
        scheme, host, port = origin_of(url)
    except LinkError:
        return "not a URL"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class ClientPolicy:
    """The parts of a config row the client needs (a plain snapshot, no ORM)."""

    config_id: uuid.UUID
    base_url: str
    auth_header: str
    connect_timeout_s: float
    read_timeout_s: float
    total_timeout_s: float
    max_retries: int
    backoff_base_s: float
    backoff_max_s: float
    backoff_jitter: str
    retry_after_cap_s: float
    retry_http_500: bool
    max_requests_per_second: float | None
    masked_headers: tuple[str, ...] = ()
    ca_bundle: str | None = None
    auth_scheme: str | None = None  # "Bearer": the header says "Bearer <key>"
    config_name: str = "NAME"  # what `config edit` takes, for the hints of errors

    @classmethod
    def from_config(cls, config: ConfigRow) -> ClientPolicy:
        """The client's part of a config."""
        return cls(
            config_id=config.id,
            base_url=config.base_url,
            auth_header=config.auth_header,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            total_timeout_s=config.total_timeout_s,
            max_retries=config.max_retries,
            backoff_base_s=config.backoff_base_s,
            backoff_max_s=config.backoff_max_s,
            backoff_jitter=config.backoff_jitter,
            retry_after_cap_s=config.retry_after_cap_s,
            retry_http_500=config.retry_http_500,
            max_requests_per_second=config.max_requests_per_second,
            masked_headers=config.masked_headers,
            ca_bundle=config.ca_bundle,
            config_name=config.name,
            auth_scheme=config.auth_scheme,
        )


@dataclass(frozen=True)
class Attempt:
    """A successful (2xx) attempt, ready to be landed by the engine."""

    request: RequestRef
    attempt_no: int
    response: ResponseFields
    url: str  # where the answer came from (after the redirects followed)


@dataclass
class _Stats:
    """Counters not yet written to the run row (the engine takes them when it writes)."""

    waited_s: float = 0.0
    attempts: int = 0
    retries: int = 0

    def take(self) -> tuple[int, int, float]:
        """(attempts, retries, seconds waited) since the last take, resetting them."""
        taken = (self.attempts, self.retries, self.waited_s)
        self.attempts, self.retries, self.waited_s = 0, 0, 0.0
        return taken


class ResilientClient:
    """GETs pages of one config with retries, shared rate limits and a complete audit trail."""

    def __init__(
        self,
        policy: ClientPolicy,
        api_key: str,
        engine: AsyncEngine,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        coordinate: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.clock = clock  # reads Retry-After and reset dates; tests fix it
        self._key = api_key
        self._auth_value = f"{policy.auth_scheme} {api_key}" if policy.auth_scheme else api_key
        # the config's own auth header is masked whatever its name (X-Custom-Key, ...), and
        # the key in any form wherever it turns up: URLs, bodies, messages
        self._masked_names = (policy.auth_header, *policy.masked_headers)
        self.mask = KeyMask([api_key])
        remember_key(api_key)  # and in every log record (HTTP libraries log headers)
        self.fingerprint = key_fingerprint(api_key)
        self.engine = engine
        self.sleep = sleep
        # every wait of an attempt; the engine has it end early when the run is asked to stop
        self.pause = Interruptible(sleep)
        self.rng = rng or random.Random()
        self.coordinator = (
            RateLimitCoordinator(
                engine,
                policy.config_id,
                max_requests_per_second=policy.max_requests_per_second,
                retry_after_cap_s=policy.retry_after_cap_s,
                sleep=self.pause,
            )
            if coordinate
            else None
        )
        timeout = httpx.Timeout(policy.read_timeout_s, connect=policy.connect_timeout_s)
        self.http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # followed by hand: same origin only, every hop logged
            verify=_tls(policy.ca_bundle),
            trust_env=True,  # HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE
            headers={"Accept": "application/json", "User-Agent": f"cc-console/{__version__}"},
        )
        self.stats = _Stats()
        # a run's lease on its cursor, once it has one: no request row — and so no request
        # — unless it still holds
        self.fence: Lease | None = None
        # database work of an attempt waits out an outage (no request goes out meanwhile)
        self.outage = OutageGuard()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    def _wait(self, state: RetryCallState) -> float:
        p = self.policy
        ceiling = min(p.backoff_max_s, p.backoff_base_s * 2 ** (state.attempt_number - 1))
        if p.backoff_jitter == "full":
            delay = self.rng.uniform(0, ceiling)
        elif p.backoff_jitter == "equal":
            delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        else:
            delay = ceiling
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ApiError) and exc.retry_after_s is not None:
            delay = max(delay, min(exc.retry_after_s, p.retry_after_cap_s))
        self.stats.waited_s += delay
        return delay

    async def get(
        self,
        url: str,
        *,
        endpoint_path: str,
        run_id: uuid.UUID | None = None,
        template_id: uuid.UUID | None = None,
    ) -> Attempt:
        """GET ``url`` until it succeeds, fails for good, or the budget runs out."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_retries + 1)
            | stop_after_delay(self.policy.total_timeout_s),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, ApiError) and e.retryable),
            sleep=self.pause,
            reraise=True,
        )
        attempt_no = 0
        async for attempt in retrying:
            with attempt:
                attempt_no += 1
                return await self._attempt(url, endpoint_path, run_id, template_id, attempt_no)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        url: str,
        endpoint_path: str,
        run_id: uuid.UUID | None,
        template_id: uuid.UUID | None,
        attempt_no: int,
    ) -> Attempt:
        """One attempt: its redirects within the configured origin are followed, each hop
        its own request and response rows; a redirect elsewhere is refused."""
        coordinator = self.coordinator
        leave = (
            await self.outage.run(lambda: coordinator.acquire(endpoint_path), "pacing a request")
            if coordinator
            else None
        )
        self.stats.waited_s += leave.waited_s if leave else 0.0
        self.stats.attempts += 1
        self.stats.retries += 1 if attempt_no > 1 else 0
        hops = 0
        while True:
            request, fields, info = await self._send(
                url, endpoint_path, run_id, template_id, attempt_no, leave
            )
            location = self._redirect(fields)
            if location is None:
                return await self._answered(
                    request, fields, info, url, endpoint_path, run_id, attempt_no
                )
            if hops == MAX_REDIRECTS:
                await self._fail_with(
                    request,
                    fields,
                    ErrorKind.TOO_MANY_REDIRECTS,
                    f"more than {MAX_REDIRECTS} redirects from {endpoint_path}",
                    endpoint_path,
                    run_id,
                )
            url = await self._hop(request, fields, url, location, endpoint_path, run_id)
            hops += 1

    async def _send(
        self,
        url: str,
        endpoint_path: str,
        run_id: uuid.UUID | None,
        template_id: uuid.UUID | None,
        attempt_no: int,
        leave: Pass | None = None,
    ) -> tuple[RequestRef, ResponseFields, RateInfo]:
        """Log the request, send it, read the whole body; failures are typed and logged."""
        headers = {**self.http.headers, self.policy.auth_header: self._auth_value}
        query = {
            self.mask.text(name): self.mask.text(value)
            for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        }
        masked = mask_headers(headers, self._masked_names, self.mask)
        try:
            request = await self.outage.run(
                lambda: write_request(
                    self.engine,
                    config_id=self.policy.config_id,
                    run_id=run_id,
                    template_id=template_id,
                    method="GET",
                    url=self.mask.text(url),
                    endpoint_path=endpoint_path,
                    query_params=query,
                    headers=masked,
                    attempt_no=attempt_no,
                    key_fingerprint=self.fingerprint,
                    fence=self.fence,
                ),
                "writing a request row",
            )
        except (SQLAlchemyError, OSError) as exc:
            # invariant 1: no request leaves unlogged
            raise ApiError(
                ErrorKind.DB, f"cannot write the request log: {type(exc).__name__}", retryable=False
            ) from None
        started = time.perf_counter()
        request_obj = self.http.build_request(
            "GET", url, headers={self.policy.auth_header: self._auth_value}
        )
        try:
            response = await self.http.send(request_obj, stream=True)
        except httpx.HTTPError as exc:  # no answer at all
            await self._transport_failure(
                request, exc, classify_exception(exc), endpoint_path, run_id
            )
        try:
            body = await response.aread()
        except httpx.HTTPError as exc:  # the answer began and was cut off
            kind = (
                classify_exception(exc)
                if isinstance(exc, httpx.TimeoutException)
                else (ErrorKind.TRUNCATED, True)
            )
            await self._transport_failure(request, exc, kind, endpoint_path, run_id)
        finally:
            await response.aclose()
        fields = ResponseFields(
            status_code=response.status_code,
            headers=mask_headers(response.headers.multi_items(), self._masked_names, self.mask),
            body=self.mask.bytes(body),  # a server that echoes the key gets it masked
            content_type=response.headers.get("content-type"),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
        info = parse_rate_headers(response.headers, self.clock())
        if coordinator := self.coordinator:
            await self.outage.run(
                lambda: coordinator.record(
                    endpoint_path,
                    response.status_code,
                    info,
                    leave.sent_at if leave else None,
                ),
                "recording rate-limit headers",
            )
        return request, fields, info

    async def _transport_failure(
        self,
        request: RequestRef,
        exc: httpx.HTTPError,
        classified: tuple[ErrorKind, bool],
        endpoint_path: str,
        run_id: uuid.UUID | None,
    ) -> NoReturn:
        kind, retryable = classified
        message = self.mask.text(f"{type(exc).__name__}: {exc}")
        await self._fail(request, None, kind, retryable, message, None, endpoint_path, run_id)
        raise ApiError(kind, message, retryable=retryable) from None

    @staticmethod
    def _redirect(fields: ResponseFields) -> str | None:
        if fields.status_code not in REDIRECT_STATUSES:
            return None
        location = fields.headers.get("location")
        return location if isinstance(location, str) and location else None

    async def _hop(
        self,
        request: RequestRef,
        fields: ResponseFields,
        url: str,
        location: str,
        endpoint_path: str,
        run_id: uuid.UUID | None,
    ) -> str:
        """The URL a same-origin redirect leads to (its answer logged as it is); a redirect
        to another origin or to no URL is refused before anything is sent there."""
        try:
            target = urljoin(url, location)
            same = origin_of(target) == origin_of(self.policy.base_url)
        except (LinkError, ValueError):
            target, same = location, False
        if not same:
            await self._fail_with(
                request,
                fields,
                ErrorKind.FOREIGN_REDIRECT,
                f"refused a redirect from {endpoint_path} to another origin"
                f" ({_origin_text(target)}): the key is never sent there",
                endpoint_path,
                run_id,
            )
        try:
            await self.outage.run(
                lambda: write_response(self.engine, request, fields), "writing a redirect"
            )
        except (SQLAlchemyError, OSError):
            raise ApiError(
                ErrorKind.DB, "cannot write a redirect to the audit log", retryable=False
            ) from None
        return target

    async def _answered(
        self,
        request: RequestRef,
        fields: ResponseFields,
        info: RateInfo,
        url: str,
        endpoint_path: str,
        run_id: uuid.UUID | None,
        attempt_no: int,
    ) -> Attempt:
        if 200 <= fields.status_code < 300:
            return Attempt(request, attempt_no, fields, url)
        kind, retryable = classify_status(
            fields.status_code, retry_http_500=self.policy.retry_http_500
        )
        message = f"HTTP {fields.status_code} from {endpoint_path}"
        reason = server_reason(fields.body, self.mask)
        if reason:
            message += f": {reason}"
        if fields.status_code in (401, 403):  # the most common cause: the key in another header
            message += (
                f" (the key went in the {self.policy.auth_header} header; if this API expects"
                f" another, `cc-console config edit {self.policy.config_name} --auth-header"
                " NAME`)"
            )
        await self._fail(
            request, fields, kind, retryable, message, fields.status_code, endpoint_path, run_id
        )
        raise ApiError(
            kind,
            message,
            retryable=retryable,
            status_code=fields.status_code,
            retry_after_s=info.retry_after_s,
        )

    async def _fail_with(
        self,
        request: RequestRef,
        fields: ResponseFields,
        kind: ErrorKind,
        message: str,
        endpoint_path: str,
        run_id: uuid.UUID | None,
    ) -> NoReturn:
        await self._fail(
            request, fields, kind, False, message, fields.status_code, endpoint_path, run_id
        )
        raise ApiError(kind, message, retryable=False, status_code=fields.status_code)

    async def _fail(
        self,
        request: RequestRef,
        fields: ResponseFields | None,
        kind: ErrorKind,
        retryable: bool,
        message: str,
        status: int | None,
        endpoint_path: str,
        run_id: uuid.UUID | None,
    ) -> None:
        try:
            await self.outage.run(
                lambda: write_failure(
                    self.engine,
                    request=request,
                    response=fields,
                    kind=kind,
                    retryable=retryable,
                    message=message,
                    status_code=status,
                    endpoint_path=endpoint_path,
                    config_id=self.policy.config_id,
                    run_id=run_id,
                ),
                "writing a failed attempt",
            )
        except (SQLAlchemyError, OSError):
            raise ApiError(
                ErrorKind.DB, "cannot write the failure to the audit log", retryable=False
            ) from None
