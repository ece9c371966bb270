"""Resilient HTTP client pieces (the foundation ships secret resolution)."""

from __future__ import annotations

from .secrets import (
    SecretUnavailable,
    key_fingerprint,
    resolve_secret,
    validate_secret_ref,
)

__all__ = ["SecretUnavailable", "key_fingerprint", "resolve_secret", "validate_secret_ref"]
