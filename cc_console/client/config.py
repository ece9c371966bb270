"""The validated shape of a client configuration, and the presets that fill it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UsageError
from ..odata.keyset import zone_of
from ..store.vocabulary import AUTH_SCHEME_PATTERN
from .secrets import validate_secret_ref

__all__ = ["PRESETS", "ClientConfigSpec", "validation_message"]

_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"

PRESETS: dict[str, dict[str, Any]] = {
    "generic": {},
    # real tenants: header CCAPIKey, /CCSWeb/api/v1 (site) or /CCEWeb/api/v1 (enterprise),
    # $top up to 1000 (see shared/reference/clinical-conductor-api.md)
    "clinical-conductor": {
        "auth_header": "CCAPIKey",
        "default_page_size": 1000,
        "dialect": "clinical-conductor",
    },
    # a standard OData v4 service: record keys and types come from its $metadata
    "odata4": {"dialect": "odata4"},
}
PRESET_BASE_URL_HINT = {
    "clinical-conductor": "https://<tenant>.clinicalconductor.com/CCSWeb/api/v1",
}


class ClientConfigSpec(BaseModel):
    """Everything a config row holds except identity and audit fields."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    base_url: str
    auth_header: str = Field(default="X-ApiKey", pattern=_HEADER_NAME, max_length=100)
    auth_scheme: str | None = Field(default=None, pattern=AUTH_SCHEME_PATTERN, max_length=40)
    secret_ref: str
    connect_timeout_s: float = Field(default=5, gt=0, le=600)
    read_timeout_s: float = Field(default=30, gt=0, le=3600)
    total_timeout_s: float = Field(default=120, gt=0, le=86400)
    max_retries: int = Field(default=5, ge=0, le=100)
    backoff_base_s: float = Field(default=0.5, gt=0, le=3600)
    backoff_max_s: float = Field(default=30, gt=0, le=86400)
    backoff_jitter: Literal["full", "equal", "none"] = "full"
    retry_after_cap_s: float = Field(default=120, gt=0, le=86400)
    retry_http_500: bool = True
    default_page_size: int = Field(default=100, ge=1, le=1000)
    max_requests_per_second: float | None = Field(default=None, gt=0)
    masked_headers: list[str] = Field(default_factory=list)
    is_active: bool = True
    dual_write_legacy: bool = False
    legacy_url: str | None = None
    # what the API speaks: the vendor's (built-in schemas), OData v4 ($metadata), or generic
    dialect: Literal["clinical-conductor", "odata4", "generic"] = "clinical-conductor"
    ca_bundle: str | None = None  # a PEM file of CAs to trust (else the system's / SSL_CERT_FILE)
    parse_retries: int = Field(default=2, ge=0, le=10)
    server_timezone: str = "UTC"
    coordinate_rate_limits: bool = True

    @field_validator("server_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_of(value)  # ValueError says what is accepted
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _absolute_file(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from pathlib import Path

        path = Path(value.strip()).expanduser()
        if not path.is_absolute():
            raise ValueError("must be an absolute path to a PEM file")
        if not path.is_file():
            raise ValueError(f"{path} is not a file")
        return str(path)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in {"http", "https"} or not rest or rest.startswith("/"):
            raise ValueError("must be an http:// or https:// URL with a host")
        if "?" in rest or "#" in rest:
            raise ValueError("must not carry a query string or fragment")
        if "@" in rest.split("/", 1)[0]:
            raise ValueError("must not embed credentials; use secret_ref")
        return value

    @field_validator("secret_ref")
    @classmethod
    def _reference(cls, value: str) -> str:
        try:
            return validate_secret_ref(value.strip())
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix("secret_ref ")) from None

    @field_validator("legacy_url")
    @classmethod
    def _legacy_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value.startswith(("env:", "file:")):
            try:
                return validate_secret_ref(value)
            except UsageError as exc:
                raise ValueError(str(exc).removeprefix("secret_ref ")) from None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in {"postgresql", "postgres"} or not rest:
            raise ValueError("must be a postgresql:// URL, or env:NAME / file:PATH holding one")
        userinfo = rest.split("/", 1)[0].rpartition("@")[0]
        if ":" in userinfo:
            raise ValueError(
                "must not embed a password; use ~/.pgpass or PGPASSWORD, or store the URL "
                "behind env:NAME / file:PATH"
            )
        return value

    @field_validator("masked_headers")
    @classmethod
    def _header_names(cls, value: list[str]) -> list[str]:
        import re

        names = sorted({name.strip().lower() for name in value if name.strip()})
        for name in names:
            if not re.match(_HEADER_NAME, name):
                raise ValueError(f"{name!r} is not a valid header name")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> ClientConfigSpec:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        if self.total_timeout_s < self.read_timeout_s:
            raise ValueError("total_timeout_s must be >= read_timeout_s")
        if self.dual_write_legacy and self.legacy_url is None:
            raise ValueError("dual_write_legacy needs legacy_url (the legacy database)")
        return self


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad field — never echoing input (it may be a pasted key)."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "config"
        parts.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "invalid config: " + "; ".join(parts)
