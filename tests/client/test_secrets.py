"""Secret references resolve in memory only, and refuse unsafe or malformed input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cc_console.client.secrets import (
    SecretUnavailable,
    key_fingerprint,
    resolve_secret,
    validate_secret_ref,
)
from cc_console.errors import UsageError
from tests.conftest import FAKE_KEY


def test_env_reference_resolves() -> None:
    assert resolve_secret("env:MY_KEY", {"MY_KEY": FAKE_KEY}) == FAKE_KEY


def test_missing_env_names_the_variable_not_a_value() -> None:
    with pytest.raises(SecretUnavailable, match="environment variable MY_KEY is not set"):
        resolve_secret("env:MY_KEY", {})


def test_file_reference_resolves_when_private(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(FAKE_KEY + "\n")
    key_file.chmod(0o600)
    assert resolve_secret(f"file:{key_file}") == FAKE_KEY


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(FAKE_KEY)
    key_file.chmod(mode)
    with pytest.raises(SecretUnavailable, match="chmod 600") as info:
        resolve_secret(f"file:{key_file}")
    assert FAKE_KEY not in str(info.value)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailable, match="cannot read"):
        resolve_secret(f"file:{tmp_path / 'nope'}")


@pytest.mark.parametrize(
    "ref",
    [
        pytest.param("vault:kv/x", id="unknown-scheme"),
        pytest.param("env:", id="empty-target"),
        pytest.param("env:1BAD", id="bad-env-name"),
    ],
)
def test_malformed_references_are_refused(ref: str) -> None:
    with pytest.raises(UsageError, match="secret_ref"):
        validate_secret_ref(ref)


@pytest.mark.parametrize("pasted", [FAKE_KEY, "sk_live_51Habcdef0123456789"])
def test_a_pasted_key_is_refused_without_being_echoed(pasted: str) -> None:
    with pytest.raises(UsageError) as info:
        validate_secret_ref(pasted)
    assert pasted not in str(info.value)
    assert "never stored" in str(info.value)


def test_fingerprint_is_short_and_not_the_key() -> None:
    fingerprint = key_fingerprint(FAKE_KEY)
    assert len(fingerprint) == 8 and fingerprint not in FAKE_KEY
    assert fingerprint == key_fingerprint(FAKE_KEY) != key_fingerprint(FAKE_KEY + "x")


def test_resolution_reads_now_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATE_KEY", "one")
    assert resolve_secret("env:LATE_KEY") == "one"
    monkeypatch.setenv("LATE_KEY", "two")
    assert resolve_secret("env:LATE_KEY") == os.environ["LATE_KEY"] == "two"
