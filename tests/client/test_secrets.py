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


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_one_line_ending_is_stripped_from_a_key_file(tmp_path: Path, ending: str) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes((FAKE_KEY + ending).encode())
    key_file.chmod(0o600)
    assert resolve_secret(f"file:{key_file}") == FAKE_KEY


@pytest.mark.parametrize(
    ("value", "what"),
    [
        pytest.param(FAKE_KEY + "\n\n", "control characters", id="two-newlines"),
        pytest.param(f"{FAKE_KEY[:8]}\n{FAKE_KEY[8:]}", "control characters", id="inner-newline"),
        pytest.param(f"Bearer {FAKE_KEY}", "--auth-scheme Bearer", id="scheme-and-key"),
        pytest.param(f"{FAKE_KEY}\x00", "control characters", id="nul"),
        pytest.param(f"{FAKE_KEY}é", "non-ASCII", id="non-ascii"),
        pytest.param(f" {FAKE_KEY}", "surrounding whitespace", id="leading-space"),
    ],
)
def test_a_key_that_cannot_travel_in_a_header_is_refused_unshown(
    tmp_path: Path, value: str, what: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(value.encode())
    key_file.chmod(0o600)
    for ref, environ in ((f"file:{key_file}", None), ("env:K", {"K": value})):
        with pytest.raises(SecretUnavailable, match=what) as info:
            resolve_secret(ref, environ)
        assert FAKE_KEY[:8] not in str(info.value) and FAKE_KEY[8:] not in str(info.value)
        assert info.value.exit_code == 2


def test_a_relative_key_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "key").write_text(FAKE_KEY)
    (tmp_path / "key").chmod(0o600)
    for ref in ("file:key", "file:./key", "file:~/key"):
        with pytest.raises(UsageError, match="absolute path"):
            validate_secret_ref(ref)
        with pytest.raises(SecretUnavailable, match="absolute path"):  # stored before the rule
            resolve_secret(ref)


def test_a_key_file_of_another_user_is_refused_unless_a_root_read_only_mount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cc_console.client import secrets

    key_file = tmp_path / "key"
    key_file.write_text(FAKE_KEY)
    key_file.chmod(0o444)  # as a container runtime mounts a secret
    monkeypatch.setattr(secrets.os, "geteuid", lambda: 1000)  # we are not its owner (root)
    monkeypatch.setattr(secrets, "_read_only_mount", lambda path: False)
    with pytest.raises(SecretUnavailable, match="read-only mount"):
        resolve_secret(f"file:{key_file}")
    monkeypatch.setattr(secrets, "_read_only_mount", lambda path: True)
    assert resolve_secret(f"file:{key_file}") == FAKE_KEY
    key_file.chmod(0o446)  # others may write it: never
    with pytest.raises(SecretUnavailable):
        resolve_secret(f"file:{key_file}")


def test_a_key_path_that_is_not_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretUnavailable, match="not a regular file"):
        resolve_secret(f"file:{tmp_path}")
