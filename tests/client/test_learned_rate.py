"""The learned rate through the database: shared by engines, kept across restarts, per scope."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from cc_console.client.ratelimit import RateLimitCoordinator, parse_rate_headers

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RETRY_ONLY = parse_rate_headers({"Retry-After": "0"}, NOW)  # 429 + Retry-After: 0 (no wait)


async def no_sleep(_: float) -> None:
    return None


def coordinator(aengine, config_id, **kw):  # type: ignore[no-untyped-def]
    return RateLimitCoordinator(aengine, config_id, sleep=no_sleep, **kw)


async def scope(aengine, config_id, name="global"):  # type: ignore[no-untyped-def]
    async with aengine.connect() as conn:
        return (
            (
                await conn.execute(
                    text("SELECT * FROM cc_rate_limit_state WHERE config_id = :c AND scope = :s"),
                    {"c": config_id, "s": name},
                )
            )
            .mappings()
            .one()
        )


async def set_ceiling(aengine, config_id, rps, *, ago_s=30.0, name="global"):  # type: ignore[no-untyped-def]
    async with aengine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cc_rate_limit_state SET ceiling_rps = :r, slow_start_rps = NULL,"
                " curve_started_at = clock_timestamp() - make_interval(secs => :ago),"
                " sent = 0, throttled = 0, confirmations = 2"
                " WHERE config_id = :c AND scope = :s"
            ),
            {"r": rps, "ago": ago_s, "c": config_id, "s": name},
        )


async def test_a_first_429_is_learned_and_paces_every_engine(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    first = coordinator(aengine, config_id)
    for _ in range(5):
        await first.acquire("/studies/odata")  # unpaced: nothing learned yet
    assert first.rate("global") is None
    leave = await first.acquire("/studies/odata")
    await first.record("/studies/odata", 429, RETRY_ONLY, leave.sent_at)
    row = await scope(aengine, config_id)
    assert row["slow_start_rps"] is not None and row["ceiling_rps"] is None
    assert row["last_429_at"] is not None and row["sent"] == 0
    # another engine, or the same after a restart, starts from what was learned
    other = coordinator(aengine, config_id)
    await other.acquire("/sites/odata")
    assert other.rate("global") is not None


async def test_engines_pace_to_the_learned_rate_through_shared_slots(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engines = [coordinator(aengine, config_id) for _ in range(2)]
    await engines[0].acquire("/x")
    await set_ceiling(aengine, config_id, 10.0)  # on the plateau: 9.8/s
    for engine in engines:
        await engine.acquire("/x")  # each reads the learned state
    slots = []
    for n in range(6):
        slots.append((await engines[n % 2].acquire("/x")).sent_at)
    gaps = [(b - a).total_seconds() for a, b in zip(slots, slots[1:], strict=False)]
    assert all(abs(gap - 1 / 9.8) < 0.01 for gap in gaps), gaps


async def test_max_rps_stays_a_hard_ceiling_over_the_learned_rate(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engine = coordinator(aengine, config_id, max_requests_per_second=2.0)
    await engine.acquire("/x")
    await set_ceiling(aengine, config_id, 100.0)
    await engine.acquire("/x")
    assert engine.rate("global") == 2.0


async def test_429s_sent_before_the_decrease_are_one_loss(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engines = [coordinator(aengine, config_id) for _ in range(3)]
    await engines[0].acquire("/x")
    await set_ceiling(aengine, config_id, 5000.0)  # slots 0.2 ms apart: all leave at once
    leaves = [await e.acquire("/x") for e in engines]  # three requests in flight
    for engine, leave in zip(engines, leaves, strict=True):
        await engine.record("/x", 429, RETRY_ONLY, leave.sent_at)
    row = await scope(aengine, config_id)
    assert row["throttled"] == 2  # the first decreased; the other two only counted
    assert row["ceiling_rps"] <= 5000.0 * 0.98


async def test_an_endpoint_scoped_429_teaches_only_its_endpoint(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engine = coordinator(aengine, config_id)
    leave = await engine.acquire("/visits/odata")
    said = parse_rate_headers({"Retry-After": "0", "X-RateLimit-Scope": "endpoint"}, NOW)
    assert said.endpoint_scoped
    await engine.record("/visits/odata", 429, said, leave.sent_at)
    endpoint = await scope(aengine, config_id, "endpoint:/visits/odata")
    whole = await scope(aengine, config_id)
    assert endpoint["slow_start_rps"] is not None and endpoint["last_429_at"] is not None
    assert whole["slow_start_rps"] is None and whole["last_429_at"] is None
    other = coordinator(aengine, config_id)
    await other.acquire("/sites/odata")  # another endpoint is not slowed
    assert other.rate("global") is None and other.rate("endpoint:/sites/odata") is None


async def test_an_unscoped_429_teaches_the_config(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engine = coordinator(aengine, config_id)
    leave = await engine.acquire("/visits/odata")
    await engine.record("/visits/odata", 429, RETRY_ONLY, leave.sent_at)
    assert (await scope(aengine, config_id))["slow_start_rps"] is not None
    endpoint = await scope(aengine, config_id, "endpoint:/visits/odata")
    assert endpoint["slow_start_rps"] is None
