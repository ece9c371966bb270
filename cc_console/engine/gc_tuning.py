"""Garbage-collector settings for a process that lands pages.

A page of 1000 records allocates ~30,000 short-lived containers. With CPython's default
generation-0 threshold (700 allocations) the cyclic collector runs ~40 times per page and
re-walks the pages still in flight each time. Freezing what start-up built and collecting
generation 0 every 20,000 allocations made parsing and validating a page about a third
cheaper (``bench/sync_throughput.py``); memory stays bounded because reference counting,
not the collector, frees those records.
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]

GEN0_THRESHOLD = 20_000
_tuned = False


def tune_gc() -> None:
    """Apply the settings once per process (later calls do nothing)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(GEN0_THRESHOLD, gc.get_threshold()[0]), gen1, gen2)
