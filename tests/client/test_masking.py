"""Header masking: by name (always-masked, the config's own, extra) and by value."""

from __future__ import annotations

from cc_console.client.masking import mask_headers
from cc_console.client.secrets import key_fingerprint

KEY = "FAKE-masking-key-0b1d-not-a-secret"


def test_names_always_masked_and_named_extra_ones() -> None:
    masked = mask_headers(
        {"X-ApiKey": KEY, "CCAPIKey": KEY, "X-Custom-Key": KEY, "Accept": "application/json"},
        extra=["x-CUSTOM-key"],
    )
    assert masked["accept"] == "application/json"
    for name in ("x-apikey", "ccapikey", "x-custom-key"):
        assert masked[name] == f"***sha256:{key_fingerprint(KEY)}"


def test_a_value_containing_the_key_is_masked_under_any_name() -> None:
    masked = mask_headers(
        [("X-Forwarded-Auth", f"token={KEY}; v=1"), ("X-Other", "harmless")], secrets=[KEY]
    )
    assert KEY not in str(masked)
    assert masked["x-forwarded-auth"].startswith("***sha256:")
    assert masked["x-other"] == "harmless"


def test_repeated_headers_keep_every_value_masked() -> None:
    masked = mask_headers([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert len(masked["set-cookie"]) == 2
    assert all(value.startswith("***sha256:") for value in masked["set-cookie"])
