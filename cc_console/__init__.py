"""cc-console: sync engine and operator console for the Clinical Conductor API."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
