"""Header masking: by name (always-masked, the config's own, extra) and by value."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_console.client.masking import KeyMask, key_forms, mask_headers
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


SHAPES = [
    "FAKE-plain-key-0b1d-not-a-secret",
    "RkFLRS1iYXNlNjQ+a2V5/with+slash=/==",  # base64 with + / =
    "FAKE-" + "x9" * 300,  # long
    "sh0rt+",  # too short for the cheap probe: the pattern is searched
    "FAKE\"quote\\back'slash",
]


@pytest.mark.parametrize("key", SHAPES)
def test_every_form_a_key_takes_is_masked_in_text_and_bytes(key: str) -> None:
    mask = KeyMask([key])
    carriers = [
        f"?apikey={quote(key, safe='')}&x=1",
        "?apikey=" + re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quote(key, safe="")),
        f"?apikey={quote_plus(key)}",
        json.dumps({"message": f"bad key {key}"}),
        json.dumps({"message": f"bad key {key}"}).replace("/", "\\/"),
        f"Illegal header value {key.encode()!r}",
        f"LocalProtocolError({key!r})",
        key,
    ]
    for text in carriers:
        masked = mask.text(text)
        assert key not in masked and f"***sha256:{key_fingerprint(key)}" in masked, text
        assert mask.found_in(text)
        masked_bytes = mask.bytes(text.encode())
        assert key.encode() not in masked_bytes and b"***sha256:" in masked_bytes, text
    for text in carriers:  # nothing of the key's spellings survives in any form
        for form in key_forms(key):
            assert form not in mask.text(text)


KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_.~!*$@"


@given(st.text(alphabet=KEY_ALPHABET, min_size=12, max_size=200))
def test_any_printable_key_is_masked_in_any_json_body(key: str) -> None:
    body = json.dumps({"items": [{"note": key}], "nextPageLink": f"/x?k={quote(key)}"}).encode()
    masked = KeyMask([key]).bytes(body)
    for form in key_forms(key):
        assert form.encode() not in masked
    json.loads(masked)  # still a JSON body


def test_a_body_without_the_key_is_returned_as_it_is() -> None:
    body = json.dumps({"items": [{"id": n} for n in range(1000)]}).encode()
    assert KeyMask([SHAPES[0]]).bytes(body) is body
