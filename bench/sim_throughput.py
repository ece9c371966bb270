"""Simulator throughput at page size 1000: pages/s and records/s, against a static baseline.

The simulator runs in its own process (as in the demo), the client here pages through
patient-visits with $top=1000: one cold pass (records generated) and one warm pass (cached
chunks). The baseline is the same HTTP stack serving one pre-built 1000-record body, so
the ratio shows what the simulator's own work costs. Prints one JSON line.

    python bench/sim_throughput.py [--records 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import httpx

STATIC_SERVER = """
import sys, uvicorn, orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from cc_console.sim.data import RecordFactory
factory = RecordFactory(7, {})
body = orjson.dumps({"items": [factory.record("patient-visits", i) for i in range(1, 1001)],
                     "nextPageLink": None, "count": None})
async def page(request):
    return Response(body, media_type="application/json; charset=utf-8")
app = Starlette(routes=[Route("/api/v1/patient-visits/odata", page),
                        Route("/__sim/stats", page)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/__sim/stats", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def start_clean_sim(
    records: int, key: str, latency_ms: float = 0
) -> tuple[subprocess.Popen[bytes], int]:
    """``cc-console sim`` (clean, no rate limit, ``records`` patient-visits, ``latency_ms``
    added to each request) on a free port."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "cc_console",
        "sim",
        "--port",
        str(port),
        "--profile",
        "clean",
        "--no-rate-limit",
        "--api-key",
        key,
        "--records",
        f"patient-visits={records}",
        "--latency-ms",
        str(latency_ms),
    ]
    return start(command, port), port


def page_through(port: int, records: int, pages: int | None = None) -> tuple[int, int, float]:
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1", headers={"X-ApiKey": "bench-key"}, timeout=30
    )
    served = count = 0
    started = time.perf_counter()
    skip = 0
    while (pages is None and skip < records) or (pages is not None and count < pages):
        response = client.get("/patient-visits/odata", params={"$top": "1000", "$skip": str(skip)})
        response.raise_for_status()
        served += len(response.json()["items"])
        count += 1
        skip += 1000
    elapsed = time.perf_counter() - started
    client.close()
    return count, served, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    env = {**os.environ}
    sim, sim_port = start_clean_sim(args.records, "bench-key")
    try:
        cold = page_through(sim_port, args.records)
        warm = page_through(sim_port, args.records)
    finally:
        sim.terminate()
        sim.wait(10)
    base_port = free_port()
    baseline = start([sys.executable, "-c", STATIC_SERVER, str(base_port)], base_port)
    try:
        base = page_through(base_port, args.records, pages=cold[0])
    finally:
        baseline.terminate()
        baseline.wait(10)
    del env

    def rates(run: tuple[int, int, float]) -> dict[str, float]:
        pages, served, elapsed = run
        return {"pages_per_s": round(pages / elapsed, 1), "records_per_s": round(served / elapsed)}

    result = {
        "bench": "sim_throughput",
        "page_size": 1000,
        "records": args.records,
        "cold": rates(cold),
        "warm": rates(warm),
        "baseline_static": rates(base),
        "cold_vs_baseline": round(rates(cold)["records_per_s"] / rates(base)["records_per_s"], 3),
        "warm_vs_baseline": round(rates(warm)["records_per_s"] / rates(base)["records_per_s"], 3),
        "target_records_per_s": 20_000,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
