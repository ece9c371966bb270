"""Copy-as-curl gives a command that runs: the key comes from the config's secret reference
when the shell runs it, the URL's ``$filter`` stays literal, masked headers stay masked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cc_console.store.details import as_curl

URL = "https://tenant.example.test/api/v1/studies/odata?$filter=name eq 'O''Brien'&$top=5"
FAKE_KEY = "FAKE-curl-key-3c1d-not-a-secret"


def shell_args(command: str, env: dict[str, str]) -> list[str]:
    """The arguments ``curl`` would get from ``bash``: curl is a function printing them."""
    bash = shutil.which("bash")
    assert bash is not None
    script = f'curl() {{ printf "%s\\0" "$@"; }}; {command}'
    done = subprocess.run([bash, "-c", script], env=env, capture_output=True, check=True)
    return done.stdout.decode().split("\0")[:-1]


def request(**config: object) -> dict[str, object]:
    return {
        "method": "GET",
        "url": URL,
        "headers": {"accept": "application/json", "x-apikey": "***sha256:6b81", "cookie": "***"},
        "auth_header": "X-ApiKey",
        "auth_scheme": None,
        "secret_ref": "env:CC_TEST_CURL_KEY",
        **config,
    }


def test_an_env_reference_is_read_when_the_command_runs() -> None:
    command = as_curl(request())
    assert FAKE_KEY not in command and "***sha256:6b81" not in command
    args = shell_args(command, {"CC_TEST_CURL_KEY": FAKE_KEY, "filter": "EXPANDED"})
    assert args[:3] == ["-X", "GET", URL]  # $filter and the doubled quote kept verbatim
    assert f"X-ApiKey: {FAKE_KEY}" in args
    assert "cookie: ***" in args  # another masked header stays masked


def test_a_file_reference_with_a_scheme(tmp_path: Path) -> None:
    key_file = tmp_path / "my keys" / "cc key"
    key_file.parent.mkdir()
    key_file.write_text(FAKE_KEY)
    command = as_curl(
        request(
            auth_header="Authorization",
            auth_scheme="Bearer",
            secret_ref=f"file:{key_file}",
            headers={"authorization": "***sha256:6b81"},
        )
    )
    assert FAKE_KEY not in command
    assert shell_args(command, {})[3:] == ["-H", f"Authorization: Bearer {FAKE_KEY}"]


@pytest.mark.parametrize("ref", [None, "vault:x", "file:/tmp/a$(reboot)", "env:BAD-NAME"])
def test_without_a_usable_reference_the_header_stays_masked(ref: str | None) -> None:
    command = as_curl(request(secret_ref=ref))
    assert "x-apikey: ***sha256:6b81" in shell_args(command, {})
