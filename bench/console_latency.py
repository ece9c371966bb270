"""Console responsiveness: first paint and key-press-to-screen latency, idle vs while ingesting.

The console runs headless (Textual's test driver, 120x40) in this process, live on the
database (LISTEN + batched re-reads). The engine runs at full speed in its own process
(``cc-console sync``) against the simulator in a third (clean profile, no rate limit,
page 1000) — the way an SRE watches a running engine. A key press is timed from posting the
key event (as the terminal driver does) until the app next hands a rendered screen update to
its driver (``App._display``), with 20–60 ms between presses like a person typing; Pilot's
own polling is not in the figure. The baseline is the same measurement with the engine idle,
in the same process.

    python bench/console_latency.py [--records 400000] [--presses 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from textual import events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import start_clean_sim  # noqa: E402
from sync_throughput import KEY, fresh_database, seed  # noqa: E402

from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402
from cc_console.tui import make_app  # noqa: E402

# an operator's mix: into the live requests, scroll down and back, out to the runs; every key
# changes the screen (the cursor, or the focused pane)
KEYS = ["2", "down", "down", "down", "up", "up", "up", "1"]
SWITCH = {"1", "2"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ScreenProbe:
    """Signals each screen update the app hands to its driver."""

    def __init__(self, app: Any) -> None:
        self.updated = asyncio.Event()
        display = app._display

        def probe(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.updated.set()

        app._display = probe


CHARACTERS = {"tab": "\t"}


async def presses(app: Any, probe: ScreenProbe, count: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    timings: dict[str, list[float]] = {"all": [], "cursor": [], "pane_switch": []}
    for n in range(count):
        key = KEYS[n % len(KEYS)]
        await asyncio.sleep(rng.uniform(0.02, 0.06))
        probe.updated.clear()
        started = time.perf_counter()
        app.post_message(events.Key(key, CHARACTERS.get(key, key)))
        await asyncio.wait_for(probe.updated.wait(), timeout=10)
        elapsed = (time.perf_counter() - started) * 1000
        timings["all"].append(elapsed)
        timings["pane_switch" if key in SWITCH else "cursor"].append(elapsed)
    return timings


def summary(timings: dict[str, list[float]]) -> dict[str, Any]:
    def figures(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 0.95), 2),
            "max_ms": round(max(values), 2),
        }

    return {
        **figures(timings["all"]),
        "cursor": figures(timings["cursor"]),
        "pane_switch": figures(timings["pane_switch"]),
    }


async def measure(url: str, template: str, count: int) -> dict[str, Any]:
    database = open_database(Settings(database_url=url), migrate=False)
    app = make_app(Settings(database_url=url), database)
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while app.loads < 1:
            await pilot.pause(0.005)
        await pilot.pause()
        first_paint = (time.perf_counter() - started) * 1000
        probe = ScreenProbe(app)
        env = {**os.environ, "CC_DATABASE_URL": url, "CC_BENCH_KEY": KEY}
        engine = subprocess.Popen(
            [sys.executable, "-m", "cc_console", "sync", "-t", template, "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        while not app.dashboard_screen.panes["requests"].table.row_count:
            await pilot.pause(0.05)
        loads_before, watch_started = app.loads, time.perf_counter()
        await pilot.pause(5)  # an operator watching: how often the panes refresh
        watching = (app.loads - loads_before) / (time.perf_counter() - watch_started)
        loads_before = app.loads
        busy_started = time.perf_counter()
        busy = await presses(app, probe, count)
        busy_s = time.perf_counter() - busy_started
        still_running = engine.poll() is None
        typing = (app.loads - loads_before) / busy_s
        read_ms = list(app.read_ms)
        while engine.poll() is None:  # the baseline: the same data on screen, the engine idle
            await pilot.pause(0.1)
        await pilot.pause(1)
        idle = await presses(app, probe, count)
    output = engine.communicate(timeout=600)[0]
    database.dispose()
    run = json.loads(output)
    return {
        "first_paint_ms": round(first_paint, 1),
        "idle": summary(idle),
        "ingesting": summary(busy),
        "engine_still_running_at_end": still_running,
        "refreshes_per_s_while_ingesting": {
            "watching": round(watching, 1),
            "typing": round(typing, 1),
        },
        "dashboard_read_ms_while_ingesting": {
            "p50": round(statistics.median(read_ms), 1),
            "p95": round(percentile(read_ms, 0.95), 1),
        },
        "engine_records_per_s": round(run["records"] / run["duration_s"]),
        "engine_status": run["status"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--presses", type=int, default=200)
    args = parser.parse_args()
    sim, port = start_clean_sim(args.records, KEY)
    try:
        url = fresh_database("cc_bench_console")
        template = seed(url, f"http://127.0.0.1:{port}/api/v1")
        result = asyncio.run(measure(url, template, args.presses))
    finally:
        sim.terminate()
        sim.wait(10)
    result["p95_ratio_ingesting_vs_idle"] = round(
        result["ingesting"]["p95_ms"] / max(result["idle"]["p95_ms"], 0.01), 2
    )
    print(json.dumps({"bench": "console_latency", "records": args.records, **result}))


if __name__ == "__main__":
    main()
