"""TLS: a config's CA bundle is trusted; without it, an unknown CA is refused in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cc_console.engine import run_template
from cc_console.sim import run_in_thread, sim_config
from tests.simulator_fixture import SMALL
from tests.tenant import SIM_KEY, Tenant

pytestmark = pytest.mark.slow


def make_ca_and_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate it signed for 127.0.0.1 (openssl, one run each)."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=cc-console test CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    extensions = folder / "san.cnf"
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(extensions),
    )
    return ca, cert, key


async def test_a_private_ca_is_trusted_through_the_configs_ca_bundle(
    database, aengine, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CC_TEST_SIM_KEY", SIM_KEY)
    ca, cert, key = make_ca_and_certificate(tmp_path)
    config = sim_config("clean", api_key=SIM_KEY, rate_limit={"enabled": False}, sizes=SMALL)
    with run_in_thread(config, tls=(str(cert), str(key))) as running:
        sim = type("Sim", (), {"running": running})()
        untrusted = Tenant(database, sim, max_retries=0)
        refused = await run_template(aengine, untrusted.template("/sites/odata"))
        assert refused.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.message
        trusted = Tenant(database, sim, ca_bundle=str(ca))
        summary = await run_template(aengine, trusted.template("/sites/odata"))
    assert summary.status == "succeeded" and summary.landed == SMALL["sites"]
