"""The resilient HTTP client: one GET with retries (``http.py``), shared rate limits
(``ratelimit.py``), masking (``masking.py``), failure classification (``errors.py``), secret
references resolved in memory (``secrets.py``), and leaked secrets scrubbed (``leaks.py``).

The package exports the secret helpers the CLI needs; import the rest from its module."""

from __future__ import annotations

from .secrets import (
    SecretUnavailable,
    key_fingerprint,
    resolve_secret,
    validate_secret_ref,
)

__all__ = ["SecretUnavailable", "key_fingerprint", "resolve_secret", "validate_secret_ref"]
