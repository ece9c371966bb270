"""Everything the simulator can be told: envelope, paging, auth, rate limits, faults, drift."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .data import DEFAULT_SIZES
from .odata4.model import DEFAULT_SIZES as ODATA4_SIZES

__all__ = ["PROFILES", "FaultRates", "RateLimitPolicy", "SimConfig", "sim_config"]


class FaultRates(BaseModel):
    """Probability of each fault per API request (at most one fault per request)."""

    model_config = ConfigDict(extra="forbid")

    error_500: float = Field(0.0, ge=0, le=1)
    error_502: float = Field(0.0, ge=0, le=1)
    error_503: float = Field(0.0, ge=0, le=1, description="503 with Retry-After")
    error_503_bare: float = Field(0.0, ge=0, le=1, description="503 without Retry-After")
    error_504: float = Field(0.0, ge=0, le=1)
    stall: float = Field(0.0, ge=0, le=1, description="no answer for stall_seconds")
    reset: float = Field(0.0, ge=0, le=1, description="connection dropped before the answer")
    truncated: float = Field(0.0, ge=0, le=1, description="body cut off before Content-Length")
    malformed: float = Field(0.0, ge=0, le=1, description="200 with invalid JSON")
    html: float = Field(0.0, ge=0, le=1, description="502 HTML page from a proxy")
    wrong_content_type: float = Field(0.0, ge=0, le=1, description="JSON served as text/plain")
    foreign_next_link: float = Field(0.0, ge=0, le=1, description="next link to another host")
    next_link_loop: float = Field(0.0, ge=0, le=1, description="a page whose next link is itself")
    bad_next_link: float = Field(0.0, ge=0, le=1, description="a next link with port 99999")
    redirect: float = Field(0.0, ge=0, le=1, description="307 to the same URL")
    foreign_redirect: float = Field(0.0, ge=0, le=1, description="307 to another host")
    echo_key: float = Field(
        0.0, ge=0, le=1, description="500 echoing the key it got: body, header, a link"
    )

    def table(self) -> list[tuple[str, float]]:
        """(kind, rate) for every fault with a rate above zero, in a fixed order."""
        return [(name, rate) for name, rate in self.model_dump().items() if rate > 0]


class RateLimitPolicy(BaseModel):
    """Token buckets per API key: global per-second and per-minute, optionally per endpoint."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    per_second: float = Field(10.0, gt=0)
    burst: int = Field(10, ge=1)
    per_minute: int = Field(300, ge=1)
    endpoint_per_second: float | None = Field(None, gt=0)
    retry_after_date: bool = False
    x_ratelimit_headers: bool = False
    ietf_headers: bool = False


class SimConfig(BaseModel):
    """One simulator instance's behaviour (reproducible from ``seed``)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = "clean"
    seed: int = 7
    sizes: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SIZES))
    # the standard OData v4 service (at /odata/v4/sales): its entity sets' sizes
    odata4_sizes: dict[str, int] = Field(default_factory=lambda: dict(ODATA4_SIZES))
    dialect: Literal["clinical-conductor", "odata4"] = "clinical-conductor"  # what `sim` shows
    envelope: Literal["pageresult", "array", "odata", "vendor"] = "pageresult"
    casing: Literal["camel", "swagger"] = "camel"
    top_overflow: Literal["reject", "clamp"] = "reject"
    server_page_size: int | None = Field(None, ge=1, le=1000)
    skiptoken: bool = False
    auth_header: str = "X-ApiKey"
    api_key: str = "sim-key-not-a-secret"
    instance_type: Literal["CCS", "CCE"] = "CCE"
    date_suffix_z: bool = False  # the same as timestamps="utc" (kept for old callers)
    # one timestamp shape per tenant: whole minutes, naive (the default); with .NET's seven
    # fractional digits; ending in Z; or with a -05:00 offset (site-local)
    timestamps: Literal["minutes", "fraction", "utc", "offset"] = "minutes"
    # 400 bodies: the InvalidQuery array everywhere, or the vendor's mix per endpoint (an
    # array, a single object, an ASP.NET {"Message"} or no body) with bodyless 500s and 501s
    error_shapes: Literal["array", "vendor"] = "array"
    # $select on PageResult endpoints: honoured, or refused as it is reported to break [R]
    select_on_pageresult: Literal["honour", "reject"] = "honour"
    mutate_rate: float = Field(0.0, ge=0, le=1)
    rate_limit: RateLimitPolicy = Field(default_factory=RateLimitPolicy)
    faults: FaultRates = Field(default_factory=FaultRates)
    latency_ms: float = Field(0.0, ge=0)
    latency_jitter_ms: float = Field(0.0, ge=0)
    deep_skip_ms_per_1000: float = Field(0.0, ge=0, description="patient-visits slowness")
    stall_seconds: float = Field(30.0, gt=0)
    drift_after: int | None = Field(None, ge=0)
    drift_kind: Literal["rename", "retype", "add", "remove"] = "rename"


PROFILES: dict[str, dict[str, Any]] = {
    # the vendor contract as the reference documents it (shared/reference/clinical-conductor-
    # api.md): CCAPIKey, arrays where the vendor serves arrays, no rate limits, its error
    # bodies per endpoint, bodyless 500/501s, $select refused on PageResult endpoints, a base
    # latency and a cost per 1000 skipped patient visits (50 ms + 1 ms [I], here 40 ms + 20 ms
    # jitter + 2 ms), fractional-second timestamps. Where the documentation is silent the
    # stricter behaviour is picked: that is every [I] of the reference.
    "vendor": {
        "envelope": "vendor",
        "auth_header": "CCAPIKey",
        "instance_type": "CCS",
        "rate_limit": {"enabled": False},
        "error_shapes": "vendor",
        "select_on_pageresult": "reject",
        "latency_ms": 40,
        "latency_jitter_ms": 20,
        "deep_skip_ms_per_1000": 2.0,
        "timestamps": "fraction",
    },
    "clean": {},
    "flaky": {
        "latency_ms": 5,
        "latency_jitter_ms": 10,
        "deep_skip_ms_per_1000": 0.2,
        "faults": {
            "error_500": 0.01,
            "error_502": 0.01,
            "error_503": 0.02,
            "error_503_bare": 0.01,
            "error_504": 0.01,
            "reset": 0.005,
            "truncated": 0.005,
        },
        "rate_limit": {"x_ratelimit_headers": True},
    },
    "hostile": {
        "latency_ms": 20,
        "latency_jitter_ms": 40,
        "deep_skip_ms_per_1000": 1.0,
        "mutate_rate": 0.05,
        "drift_after": 200,
        "faults": {
            "error_500": 0.03,
            "error_502": 0.02,
            "error_503": 0.04,
            "error_503_bare": 0.02,
            "error_504": 0.02,
            "stall": 0.005,
            "reset": 0.02,
            "truncated": 0.02,
            "malformed": 0.02,
            "html": 0.02,
            "wrong_content_type": 0.01,
            "foreign_next_link": 0.01,
        },
        "rate_limit": {
            "per_second": 5,
            "burst": 5,
            "per_minute": 120,
            "retry_after_date": True,
            "x_ratelimit_headers": True,
            "ietf_headers": True,
        },
    },
}


def sim_config(profile: str = "clean", **overrides: Any) -> SimConfig:
    """A config from a named profile with ``overrides`` on top (nested dicts merge)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    merged: dict[str, Any] = {"profile": profile, **PROFILES[profile]}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "sizes" and value:
            merged[key] = {**DEFAULT_SIZES, **value}
        elif value is not None:
            merged[key] = value
    return SimConfig(**merged)
